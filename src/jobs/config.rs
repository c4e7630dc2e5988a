//! Settings of the job workers, read from the environment by [`crate::config::Config`].

use std::time::Duration;

use crate::config::ConfigError;

/// How this process works the job queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobsConfig {
    /// Worker tasks in this process; 0 makes an API-only replica (`JOB_WORKERS`).
    pub workers: usize,
    /// Most due jobs one worker claims at once (`JOB_BATCH`): claimed, started and settled
    /// together, their upstream calls made concurrently.
    pub batch: usize,
    /// How long a claimed job is held before another worker may take it over; a live
    /// worker renews it every third of this (`JOB_LEASE_MS`).
    pub lease: Duration,
    /// How often an idle worker looks for due jobs when no notification woke it
    /// (`JOB_POLL_INTERVAL_MS`).
    pub poll_interval: Duration,
    /// Attempts of a job before it is dead-lettered (`JOB_MAX_ATTEMPTS`).
    pub max_attempts: u32,
    /// Backoff after the first failed attempt; doubles per attempt (`JOB_BACKOFF_BASE_MS`).
    pub backoff_base: Duration,
    /// Longest backoff between two attempts (`JOB_BACKOFF_MAX_MS`).
    pub backoff_max: Duration,
    /// Finished (`done`, `dead`) jobs older than this are deleted by the retention job
    /// (`JOB_RETENTION_DAYS`).
    pub job_retention: Duration,
    /// Provisioning events (each tenant keeps its newest) and handled Stripe events older
    /// than this are deleted by the retention job (`EVENT_RETENTION_DAYS`).
    pub event_retention: Duration,
    /// Time between two rounds of service probes (`SERVICE_PROBE_INTERVAL`, seconds).
    pub service_probe_interval: Duration,
    /// How long one probe may take before the service counts as down
    /// (`SERVICE_PROBE_TIMEOUT_MS`).
    pub service_probe_timeout: Duration,
}

const DAY: Duration = Duration::from_secs(86_400);

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            workers: 2,
            batch: 16,
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_secs(5),
            max_attempts: 8,
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(300),
            job_retention: DAY * 30,
            event_retention: DAY * 90,
            service_probe_interval: Duration::from_secs(60),
            service_probe_timeout: Duration::from_secs(5),
        }
    }
}

impl JobsConfig {
    /// Reads the `JOB_*` variables through `get` (blank already counts as unset).
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let number = |name: &'static str, default: u64| -> Result<u64, ConfigError> {
            get(name).map_or(Ok(default), |v| {
                v.trim().parse().map_err(|_| ConfigError {
                    name,
                    message: format!("`{v}` is not a whole number"),
                })
            })
        };
        let millis = |name: &'static str, default: Duration| -> Result<Duration, ConfigError> {
            let ms = number(name, u64::try_from(default.as_millis()).unwrap_or(u64::MAX))?;
            if ms == 0 {
                return Err(ConfigError {
                    name,
                    message: "must be at least 1".into(),
                });
            }
            Ok(Duration::from_millis(ms))
        };
        let days = |name: &'static str, default: Duration| -> Result<Duration, ConfigError> {
            let n = number(name, default.as_secs() / DAY.as_secs())?;
            if !(1..=36_500).contains(&n) {
                return Err(ConfigError {
                    name,
                    message: "must be between 1 and 36500 days".into(),
                });
            }
            Ok(DAY * u32::try_from(n).unwrap_or(1))
        };
        let max_attempts = number("JOB_MAX_ATTEMPTS", defaults.max_attempts.into())?;
        let max_attempts = u32::try_from(max_attempts)
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| ConfigError {
                name: "JOB_MAX_ATTEMPTS",
                message: "must be between 1 and 100".into(),
            })?;
        let config = Self {
            workers: usize::try_from(number("JOB_WORKERS", defaults.workers as u64)?)
                .unwrap_or(usize::MAX),
            batch: usize::try_from(number("JOB_BATCH", defaults.batch as u64)?)
                .unwrap_or(usize::MAX),
            lease: millis("JOB_LEASE_MS", defaults.lease)?,
            poll_interval: millis("JOB_POLL_INTERVAL_MS", defaults.poll_interval)?,
            max_attempts,
            backoff_base: millis("JOB_BACKOFF_BASE_MS", defaults.backoff_base)?,
            backoff_max: millis("JOB_BACKOFF_MAX_MS", defaults.backoff_max)?,
            job_retention: days("JOB_RETENTION_DAYS", defaults.job_retention)?,
            event_retention: days("EVENT_RETENTION_DAYS", defaults.event_retention)?,
            service_probe_interval: Duration::from_secs(number(
                "SERVICE_PROBE_INTERVAL",
                defaults.service_probe_interval.as_secs(),
            )?),
            service_probe_timeout: millis(
                "SERVICE_PROBE_TIMEOUT_MS",
                defaults.service_probe_timeout,
            )?,
        };
        if !(5..=3600).contains(&config.service_probe_interval.as_secs()) {
            return Err(ConfigError {
                name: "SERVICE_PROBE_INTERVAL",
                message: "must be between 5 and 3600 seconds".into(),
            });
        }
        if config.workers > 64 {
            return Err(ConfigError {
                name: "JOB_WORKERS",
                message: "at most 64 (each holds a database connection while it works)".into(),
            });
        }
        if !(1..=256).contains(&config.batch) {
            return Err(ConfigError {
                name: "JOB_BATCH",
                message: "must be between 1 and 256".into(),
            });
        }
        if config.backoff_max < config.backoff_base {
            return Err(ConfigError {
                name: "JOB_BACKOFF_MAX_MS",
                message: "must not be below JOB_BACKOFF_BASE_MS".into(),
            });
        }
        Ok(config)
    }

    /// The wait before attempt `attempt + 1`, after `attempt` (1-based) failed:
    /// `base · 2^(attempt-1)`, capped, then spread by ±20 % with `jitter` in `[0, 1)` so
    /// jobs that failed together do not retry together.
    pub fn backoff(&self, attempt: u32, jitter: f64) -> Duration {
        let exp = attempt.saturating_sub(1).min(30);
        let raw = self.backoff_base.saturating_mul(1u32 << exp);
        let capped = raw.min(self.backoff_max);
        capped.mul_f64(0.8 + 0.4 * jitter.clamp(0.0, 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(vars: &[(&str, &str)]) -> Result<JobsConfig, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        JobsConfig::from_lookup(&|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_and_overrides() {
        assert_eq!(read(&[]).unwrap(), JobsConfig::default());
        let c = read(&[("JOB_WORKERS", "0"), ("JOB_LEASE_MS", "1500")]).unwrap();
        assert_eq!(c.workers, 0);
        assert_eq!(c.lease, Duration::from_millis(1500));
        let c = read(&[("JOB_RETENTION_DAYS", "7"), ("EVENT_RETENTION_DAYS", "1")]).unwrap();
        assert_eq!(c.job_retention, Duration::from_secs(7 * 86_400));
        assert_eq!(c.event_retention, Duration::from_secs(86_400));
        for bad in [
            ("JOB_WORKERS", "two"),
            ("JOB_WORKERS", "65"),
            ("JOB_BATCH", "0"),
            ("JOB_BATCH", "257"),
            ("JOB_LEASE_MS", "0"),
            ("JOB_MAX_ATTEMPTS", "0"),
            ("JOB_BACKOFF_MAX_MS", "10"),
            ("JOB_RETENTION_DAYS", "0"),
            ("EVENT_RETENTION_DAYS", "x"),
            ("SERVICE_PROBE_INTERVAL", "1"),
            ("SERVICE_PROBE_INTERVAL", "soon"),
            ("SERVICE_PROBE_TIMEOUT_MS", "0"),
        ] {
            let err = read(&[bad]).unwrap_err();
            assert_eq!(err.name, bad.0, "{err}");
        }
    }

    #[test]
    fn backoff_doubles_caps_and_spreads() {
        let c = JobsConfig {
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(10),
            ..JobsConfig::default()
        };
        assert_eq!(c.backoff(1, 0.5), Duration::from_secs(1));
        assert_eq!(c.backoff(2, 0.5), Duration::from_secs(2));
        assert_eq!(c.backoff(3, 0.5), Duration::from_secs(4));
        assert_eq!(c.backoff(9, 0.5), Duration::from_secs(10));
        assert_eq!(c.backoff(200, 0.5), Duration::from_secs(10));
        assert_eq!(c.backoff(1, 0.0), Duration::from_millis(800));
        assert_eq!(c.backoff(1, 1.0), Duration::from_millis(1200));
    }
}
