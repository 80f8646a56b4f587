//! Fabric's `FABRIC_LOGGING_SPEC` (`[<logger>[,<logger>…]=]<level>[:…]`) for `tracing`:
//! the translation into `EnvFilter` directives and [`LogSpec`], the process's active spec
//! that `/logspec` reads and changes at run time.

use std::collections::BTreeMap;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;

/// A `FABRIC_LOGGING_SPEC` that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogSpecError {
    /// A segment is neither a level nor `loggers=level`.
    #[error("invalid logging specification '{spec}': bad segment '{segment}'")]
    BadSegment {
        /// The whole spec.
        spec: String,
        /// The offending segment.
        segment: String,
    },
    /// A `=level` segment without logger names.
    #[error("invalid logging specification '{spec}': no logger specified in segment '{segment}'")]
    NoLogger {
        /// The whole spec.
        spec: String,
        /// The offending segment.
        segment: String,
    },
    /// A logger name with characters Fabric does not allow.
    #[error("invalid logging specification '{spec}': bad logger name '{logger}'")]
    BadLoggerName {
        /// The whole spec.
        spec: String,
        /// The offending name.
        logger: String,
    },
    /// The translated directives were refused by `EnvFilter`.
    #[error("invalid logging specification '{spec}': {reason}")]
    Filter {
        /// The whole spec.
        spec: String,
        /// `EnvFilter`'s complaint.
        reason: String,
    },
    /// The new filter could not be installed.
    #[error("cannot apply logging specification: {0}")]
    Apply(String),
}

/// Fabric's log levels, ordered from most to least verbose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Payload,
    Debug,
    Info,
    Warn,
    Error,
    DPanic,
    Panic,
    Fatal,
}

impl Level {
    fn parse(name: &str) -> Option<Level> {
        Some(match name.to_ascii_lowercase().as_str() {
            "payload" => Level::Payload,
            "debug" => Level::Debug,
            "info" | "notice" => Level::Info,
            "warning" | "warn" => Level::Warn,
            "error" | "critical" => Level::Error,
            "dpanic" => Level::DPanic,
            "panic" => Level::Panic,
            "fatal" => Level::Fatal,
            _ => return None,
        })
    }

    /// The name Fabric prints in a normalized spec.
    fn name(self) -> &'static str {
        match self {
            Level::Payload => "payload",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
            Level::DPanic => "dpanic",
            Level::Panic => "panic",
            Level::Fatal => "fatal",
        }
    }

    /// The `tracing` level: payload is trace; the panic/fatal levels are error.
    fn directive(self) -> &'static str {
        match self {
            Level::Payload => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error | Level::DPanic | Level::Panic | Level::Fatal => "error",
        }
    }
}

/// A parsed spec: the default level and per-logger levels.
struct ParsedSpec {
    default: Level,
    loggers: BTreeMap<String, Level>,
}

fn valid_logger_name(name: &str) -> bool {
    !name.is_empty()
        && name.split('.').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '#' | '-'))
        })
}

fn parse_spec(spec: &str) -> Result<ParsedSpec, LogSpecError> {
    let mut parsed = ParsedSpec {
        default: Level::Info,
        loggers: BTreeMap::new(),
    };
    for segment in spec.split(':') {
        let bad = || LogSpecError::BadSegment {
            spec: spec.to_owned(),
            segment: segment.to_owned(),
        };
        let parts: Vec<&str> = segment.split('=').collect();
        match parts.as_slice() {
            [""] => parsed.default = Level::Info,
            [level] => parsed.default = Level::parse(level).ok_or_else(bad)?,
            ["", _] => {
                return Err(LogSpecError::NoLogger {
                    spec: spec.to_owned(),
                    segment: segment.to_owned(),
                });
            }
            [loggers, level] => {
                let level = Level::parse(level).ok_or_else(bad)?;
                for logger in loggers.split(',') {
                    if !valid_logger_name(logger.strip_suffix('.').unwrap_or(logger)) {
                        return Err(LogSpecError::BadLoggerName {
                            spec: spec.to_owned(),
                            logger: logger.to_owned(),
                        });
                    }
                    parsed.loggers.insert(logger.to_owned(), level);
                }
            }
            _ => return Err(bad()),
        }
    }
    Ok(parsed)
}

/// Translates a `FABRIC_LOGGING_SPEC` (`[<logger>[,<logger>…]=]<level>[:…]`, e.g.
/// `info:endorser,gossip=debug`) into `EnvFilter` directives (`info,endorser=debug,
/// gossip=debug`).
///
/// Logger names become `tracing` targets with `.` replaced by `::` (so
/// `weft_orderer.consensus=debug` selects `weft_orderer::consensus`); a trailing `.`
/// (Fabric's "exactly this logger") is dropped, targets matching by prefix. Levels map
/// payload → trace, warning → warn, dpanic/panic/fatal/critical → error, notice → info;
/// an empty spec is `info`.
pub fn logspec_to_filter(spec: &str) -> Result<String, LogSpecError> {
    let parsed = parse_spec(spec)?;
    let mut directives = vec![parsed.default.directive().to_owned()];
    for (logger, level) in &parsed.loggers {
        let target = logger
            .strip_suffix('.')
            .unwrap_or(logger)
            .replace('.', "::");
        directives.push(format!("{target}={}", level.directive()));
    }
    let filter = directives.join(",");
    EnvFilter::try_new(&filter).map_err(|e| LogSpecError::Filter {
        spec: spec.to_owned(),
        reason: e.to_string(),
    })?;
    Ok(filter)
}

/// The `EnvFilter` for a `FABRIC_LOGGING_SPEC` (see [`logspec_to_filter`]).
pub fn env_filter_from_logspec(spec: &str) -> Result<EnvFilter, LogSpecError> {
    let directives = logspec_to_filter(spec)?;
    EnvFilter::try_new(directives).map_err(|e| LogSpecError::Filter {
        spec: spec.to_owned(),
        reason: e.to_string(),
    })
}

/// Fabric's normalized form of a spec: `logger=level` segments sorted, then the default.
fn normalize(parsed: &ParsedSpec) -> String {
    let mut segments: Vec<String> = parsed
        .loggers
        .iter()
        .map(|(logger, level)| format!("{logger}={}", level.name()))
        .collect();
    segments.push(parsed.default.name().to_owned());
    segments.join(":")
}

type ApplyFilter = dyn Fn(EnvFilter) -> Result<(), String> + Send + Sync;

/// The process's active log spec, changeable at run time through `/logspec`.
pub struct LogSpec {
    current: Mutex<String>,
    apply: Box<ApplyFilter>,
}

impl std::fmt::Debug for LogSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogSpec")
            .field("current", &self.spec())
            .finish_non_exhaustive()
    }
}

impl LogSpec {
    /// A log spec whose changes are installed by `apply`. `initial` is the spec the
    /// subscriber was built with (it is validated, not applied again).
    pub fn new<F>(initial: &str, apply: F) -> Result<Self, LogSpecError>
    where
        F: Fn(EnvFilter) -> Result<(), String> + Send + Sync + 'static,
    {
        let parsed = parse_spec(initial)?;
        logspec_to_filter(initial)?;
        Ok(Self {
            current: Mutex::new(normalize(&parsed)),
            apply: Box::new(apply),
        })
    }

    /// A log spec driving the `EnvFilter` behind a `tracing_subscriber::reload` layer.
    pub fn from_reload_handle<S: 'static>(
        initial: &str,
        handle: tracing_subscriber::reload::Handle<EnvFilter, S>,
    ) -> Result<Self, LogSpecError> {
        Self::new(initial, move |filter| {
            handle.reload(filter).map_err(|e| e.to_string())
        })
    }

    /// The active spec, normalized as Fabric prints it (`gossip=debug:info`).
    pub fn spec(&self) -> String {
        self.current
            .lock()
            .map(|s| s.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    /// Validates, translates and installs `spec`.
    pub fn activate(&self, spec: &str) -> Result<(), LogSpecError> {
        let parsed = parse_spec(spec)?;
        let filter = env_filter_from_logspec(spec)?;
        let mut current = self
            .current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        (self.apply)(filter).map_err(LogSpecError::Apply)?;
        *current = normalize(&parsed);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn logspec_translation() {
        assert_eq!(logspec_to_filter("info").expect("spec"), "info");
        assert_eq!(logspec_to_filter("").expect("spec"), "info");
        assert_eq!(
            logspec_to_filter("info:endorser,gossip=debug").expect("spec"),
            "info,endorser=debug,gossip=debug"
        );
        assert_eq!(
            logspec_to_filter("gossip=debug:WARNING").expect("spec"),
            "warn,gossip=debug"
        );
        assert_eq!(
            logspec_to_filter("weft_orderer.consensus=payload:fatal").expect("spec"),
            "error,weft_orderer::consensus=trace"
        );
        assert_eq!(
            logspec_to_filter("orderer.common.=error").expect("spec"),
            "info,orderer::common=error"
        );
        assert_eq!(
            logspec_to_filter("a-b#c=notice:critical").expect("spec"),
            "error,a-b#c=info"
        );
    }

    #[test]
    fn logspec_errors_name_the_segment() {
        assert_eq!(
            logspec_to_filter("chatty")
                .expect_err("bad level")
                .to_string(),
            "invalid logging specification 'chatty': bad segment 'chatty'"
        );
        assert!(matches!(
            logspec_to_filter("=debug"),
            Err(LogSpecError::NoLogger { .. })
        ));
        assert!(matches!(
            logspec_to_filter("a=b=c"),
            Err(LogSpecError::BadSegment { .. })
        ));
        assert!(matches!(
            logspec_to_filter("bad name=debug"),
            Err(LogSpecError::BadLoggerName { .. })
        ));
        assert!(matches!(
            logspec_to_filter(".leading=debug"),
            Err(LogSpecError::BadLoggerName { .. })
        ));
    }

    #[test]
    fn logspec_normalizes_and_applies() {
        let applied = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = Arc::clone(&applied);
        let spec = LogSpec::new("info", move |filter| {
            sink.lock().expect("lock").push(filter.to_string());
            Ok(())
        })
        .expect("logspec");
        assert_eq!(spec.spec(), "info");
        spec.activate("info:gossip,endorser=debug")
            .expect("activate");
        assert_eq!(spec.spec(), "endorser=debug:gossip=debug:info");
        assert!(spec.activate("nope").is_err());
        assert_eq!(spec.spec(), "endorser=debug:gossip=debug:info");
        assert_eq!(applied.lock().expect("lock").len(), 1);
    }

    #[test]
    fn logspec_drives_a_reload_handle() {
        use tracing_subscriber::layer::SubscriberExt;
        let (layer, handle) = tracing_subscriber::reload::Layer::new(EnvFilter::new("info"));
        let subscriber = tracing_subscriber::registry().with(layer);
        let spec = LogSpec::from_reload_handle("info", handle.clone()).expect("logspec");
        spec.activate("weft=debug:warn").expect("activate");
        let current = handle
            .with_current(|f| f.to_string())
            .expect("current filter");
        assert!(current.contains("weft=debug"), "{current}");
        drop(subscriber);
        // The subscriber is gone: reloading reports it instead of panicking.
        assert!(matches!(spec.activate("info"), Err(LogSpecError::Apply(_))));
    }
}
