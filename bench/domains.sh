#!/usr/bin/env bash
# The domain recheck benchmark: BENCH_DOMAINS domains (default 10000) rechecked against the
# loopback DNS server of the tests (tests/api/domains/bench.rs), in a release build. Prints
# checks/s, SQL statements per check, DNS queries per check, the peak of DNS queries in flight
# (asserted never above BENCH_DNS_MAX_INFLIGHT, default 64) and the latency per check.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo test --release --locked --test api domains::bench -- --ignored --nocapture
