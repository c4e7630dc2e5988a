#!/usr/bin/env bash
# The soak of issue 21 in one command: see bench/README.md, "Soak".
#
#   bench/soak.sh                                   # 10,000 jobs, 2 x 5 minutes of mixed load
#   SOAK_JOBS=500 SOAK_SECS=30 bench/soak.sh        # a smoke run
#
# Runs the `#[ignore]`d tests of tests/api/soak.rs (the real app in-process, the loopback
# upstream fakes, a private PostgreSQL started by the test support) and writes their figures
# to bench/results/soak-<UTC time>.json.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RESULTS=$ROOT/bench/results
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
export SOAK_JOBS=${SOAK_JOBS:-10000}
export SOAK_SECS=${SOAK_SECS:-300}
export SOAK_RATE=${SOAK_RATE:-50}
export SOAK_MAX_P99_RATIO=${SOAK_MAX_P99_RATIO:-2}
export RUST_LOG=${SOAK_RUST_LOG:-error}
PROFILE=${SOAK_PROFILE:-release}
FLAGS=(--locked --test api)
[[ $PROFILE == release ]] && FLAGS+=(--release)
WHICH=${SOAK_ONLY:-soak::}

mkdir -p "$RESULTS"
LOG=$RESULTS/soak-$STAMP.log
cd "$ROOT"
set +e
cargo test "${FLAGS[@]}" "$WHICH" -- --ignored --nocapture --test-threads=1 2>&1 | tee "$LOG"
status=${PIPESTATUS[0]}
set -e
grep '^SOAK ' "$LOG" | sed 's/^SOAK //' | jq -s '.' > "$RESULTS/soak-$STAMP.json" 2>/dev/null \
  || grep '^SOAK ' "$LOG" | sed 's/^SOAK //' > "$RESULTS/soak-$STAMP.json"
echo "figures: $RESULTS/soak-$STAMP.json" >&2
exit "$status"
