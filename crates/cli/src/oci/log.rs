//! `--log FILE` and `--log-format`: errors as runc's logrus writes them,
//! one line each, appended (engines read the last error from the file).

use super::{GlobalOpts, LogFormat};
use std::io::Write;

pub struct Logger {
    file: Option<std::fs::File>,
    format: LogFormat,
}

impl Logger {
    pub fn new(global: &GlobalOpts) -> Logger {
        let file = global.log.as_ref().and_then(|path| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .inspect_err(|e| crate::report(format!("--log {}: {e}", path.display())))
                .ok()
        });
        Logger {
            file,
            format: global.log_format,
        }
    }

    pub fn error(&self, msg: &str) {
        let Some(mut file) = self.file.as_ref() else { return };
        let msg = nsbox_sys::errno::strip_os_error_codes(msg);
        let time = nsbox_runtime::container::now();
        let line = match self.format {
            LogFormat::Json => serde_json::json!({"level": "error", "msg": msg, "time": time}).to_string(),
            LogFormat::Text => format!("time={time:?} level=error msg={msg:?}"),
        };
        let _ = writeln!(file, "{line}");
    }
}
