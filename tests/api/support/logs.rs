//! Captures the process's log output (JSON lines, like `LOG_FORMAT=json`) so tests can
//! check what was logged, e.g. that a masked error's cause sits next to its request id.

use std::io::Write;
use std::sync::{Mutex, OnceLock};

use tracing_subscriber::fmt::MakeWriter;

static CAPTURED: Mutex<Vec<u8>> = Mutex::new(Vec::new());
static INSTALLED: OnceLock<()> = OnceLock::new();

#[derive(Clone, Copy)]
struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURED
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        *self
    }
}

/// Installs the capturing subscriber once per process.
pub fn install() {
    INSTALLED.get_or_init(|| {
        let _ = tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_env_filter("info,platform_api=debug")
            .with_writer(Capture)
            .try_init();
    });
}

/// Every captured line that contains `needle`.
pub fn lines_containing(needle: &str) -> Vec<String> {
    let bytes = CAPTURED.lock().unwrap_or_else(|p| p.into_inner()).clone();
    String::from_utf8_lossy(&bytes)
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_owned)
        .collect()
}
