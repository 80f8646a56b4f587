//! The client commands' informational lines on stderr, in Fabric's default log format
//! (`2024-05-01 10:00:00.123 UTC [channelCmd] InitCmdFactory -> INFO 001 Endorser and
//! orderer connections initialized`), silenced when `FABRIC_LOGGING_SPEC` sets the
//! module's level above INFO.

use std::sync::atomic::{AtomicU32, Ordering};

use time::OffsetDateTime;
use time::macros::format_description;

/// Fabric's logger module of the channel commands.
pub const CHANNEL_CMD: &str = "channelCmd";
/// Fabric's logger module of the shared client code (deliver client).
pub const CLI_COMMON: &str = "cli.common";
/// Fabric's logger module of `peer chaincode`.
pub const CHAINCODE_CMD: &str = "chaincodeCmd";
/// Fabric's logger module of `peer lifecycle chaincode`.
pub const LIFECYCLE_CMD: &str = "cli.lifecycle.chaincode";

/// Writes Fabric-formatted INFO lines to stderr.
#[derive(Debug)]
pub struct Logger {
    spec: String,
    sequence: AtomicU32,
}

impl Logger {
    /// A logger honouring `spec` (a `FABRIC_LOGGING_SPEC` value).
    pub fn new(spec: &str) -> Self {
        Self {
            spec: spec.to_owned(),
            sequence: AtomicU32::new(0),
        }
    }

    /// A logger honouring the process's `FABRIC_LOGGING_SPEC`.
    pub fn from_env() -> Self {
        Self::new(&std::env::var("FABRIC_LOGGING_SPEC").unwrap_or_default())
    }

    /// Logs `message` at INFO for `module`, from function `func`.
    pub fn info(&self, module: &str, func: &str, message: &str) {
        if let Some(line) = self.format_info(module, func, message, OffsetDateTime::now_utc()) {
            eprintln!("{line}");
        }
    }

    /// The line [`Logger::info`] prints at `now`, or `None` when INFO is disabled for
    /// `module`.
    pub fn format_info(
        &self,
        module: &str,
        func: &str,
        message: &str,
        now: OffsetDateTime,
    ) -> Option<String> {
        if !info_enabled(&self.spec, module) {
            return None;
        }
        let seq = self.sequence.fetch_add(1, Ordering::Relaxed) + 1;
        let stamp = now
            .format(format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:3]"
            ))
            .unwrap_or_default();
        Some(format!(
            "{stamp} UTC [{module}] {func} -> INFO {seq:03x} {message}"
        ))
    }
}

/// Whether `spec` (Fabric's `module[,module]=level:...:defaultlevel`) lets INFO through
/// for `module`. The most specific module prefix wins; unknown levels count as INFO.
pub fn info_enabled(spec: &str, module: &str) -> bool {
    let mut default = "info";
    let mut best: Option<(usize, &str)> = None;
    for token in spec.split(':').map(str::trim).filter(|t| !t.is_empty()) {
        match token.split_once('=') {
            None => default = token,
            Some((modules, level)) => {
                for m in modules.split(',').map(str::trim) {
                    let matches = module == m
                        || module
                            .strip_prefix(m)
                            .is_some_and(|rest| rest.starts_with('.'));
                    if matches && best.is_none_or(|(len, _)| m.len() >= len) {
                        best = Some((m.len(), level));
                    }
                }
            }
        }
    }
    let level = best.map_or(default, |(_, l)| l).to_ascii_lowercase();
    !matches!(
        level.as_str(),
        "warn" | "warning" | "error" | "dpanic" | "panic" | "fatal"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fabric_line_format_with_sequence() {
        let log = Logger::new("");
        let now = OffsetDateTime::from_unix_timestamp(1_714_557_600).expect("time")
            + time::Duration::milliseconds(123);
        assert_eq!(
            log.format_info(CHANNEL_CMD, "InitCmdFactory", "hello", now)
                .as_deref(),
            Some("2024-05-01 10:00:00.123 UTC [channelCmd] InitCmdFactory -> INFO 001 hello")
        );
        let second = log
            .format_info(CHANNEL_CMD, "executeJoin", "again", now)
            .expect("line");
        assert!(
            second.ends_with("executeJoin -> INFO 002 again"),
            "{second}"
        );
    }

    #[test]
    fn spec_levels() {
        assert!(info_enabled("", CHANNEL_CMD));
        assert!(info_enabled("INFO", CHANNEL_CMD));
        assert!(info_enabled("debug", CHANNEL_CMD));
        assert!(!info_enabled("WARNING", CHANNEL_CMD));
        assert!(!info_enabled("error", CLI_COMMON));
        assert!(info_enabled("channelCmd=info:error", CHANNEL_CMD));
        assert!(!info_enabled("channelCmd=info:error", CLI_COMMON));
        assert!(info_enabled("cli=debug:warn", CLI_COMMON));
        assert!(!info_enabled("cli=debug:cli.common=error:info", CLI_COMMON));
        assert!(!info_enabled("gossip=debug:info:fatal", CHANNEL_CMD));
        assert!(!info_enabled("gossip,cli=error:info", CLI_COMMON));
        let quiet = Logger::new("error");
        assert_eq!(
            quiet.format_info(CHANNEL_CMD, "f", "m", OffsetDateTime::now_utc()),
            None
        );
    }
}
