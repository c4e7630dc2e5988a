//! CPU time and resident memory of processes, from `/proc`.

use std::sync::OnceLock;

/// utime + stime of `pid` in milliseconds.
pub fn cpu_ms(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')').ok_or_else(|| anyhow::anyhow!("bad stat"))? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state); utime is field 14, stime field 15.
    let utime: f64 = fields[11].parse()?;
    let stime: f64 = fields[12].parse()?;
    Ok((utime + stime) * 1000.0 / clock_ticks())
}

/// utime + stime of every process whose parent is `ppid` (PostgreSQL backends), in ms.
pub fn children_cpu_ms(ppid: u32) -> f64 {
    let mut total = 0.0;
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
        if fields.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(ppid)
            && let Ok(ms) = cpu_ms(pid)
        {
            total += ms;
        }
    }
    total
}

/// VmRSS of `pid` in KiB.
pub fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .ok_or_else(|| anyhow::anyhow!("no VmRSS for {pid}"))?;
    Ok(line.split_whitespace().nth(1).unwrap_or("0").parse()?)
}

fn clock_ticks() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// CPU used by a server (and optionally the database's backends) over a measured interval.
pub struct CpuMeter {
    pid: Option<u32>,
    db_ppid: Option<u32>,
    start: (f64, f64),
}

impl CpuMeter {
    /// Starts measuring.
    pub fn start(pid: Option<u32>, db_ppid: Option<u32>) -> Self {
        let mut m = Self {
            pid,
            db_ppid,
            start: (0.0, 0.0),
        };
        m.start = m.now();
        m
    }

    fn now(&self) -> (f64, f64) {
        (
            self.pid.and_then(|p| cpu_ms(p).ok()).unwrap_or(0.0),
            self.db_ppid.map(children_cpu_ms).unwrap_or(0.0),
        )
    }

    /// (server CPU ms, database CPU ms) since the start; `None` for what is not measured.
    pub fn stop(&self) -> (Option<f64>, Option<f64>) {
        let end = self.now();
        (
            self.pid.map(|_| end.0 - self.start.0),
            self.db_ppid.map(|_| end.1 - self.start.1),
        )
    }
}
