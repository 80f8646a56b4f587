//! `peer node start`: the configuration with the command's flags applied, logging from
//! `FABRIC_LOGGING_SPEC`, then the node until SIGINT/SIGTERM.

use tracing_subscriber::EnvFilter;

use super::CliError;
use super::args::StartArgs;
use crate::config::{ChaincodeMode, PeerConfig};

/// Applies `peer node start`'s flags: `--peer-chaincodedev` sets `chaincode.mode` to
/// `dev`, as in Fabric.
pub fn apply_start_flags(config: &mut PeerConfig, args: &StartArgs) {
    if args.peer_chaincodedev {
        config.chaincode.mode = ChaincodeMode::Dev;
    }
}

/// Logs to stderr at the levels `FABRIC_LOGGING_SPEC` asks for (see [`logspec_filter`]);
/// an unusable spec falls back to `info` with a warning.
pub fn init_logging() {
    let spec = std::env::var("FABRIC_LOGGING_SPEC").unwrap_or_default();
    let (filter, problem) = match EnvFilter::try_new(logspec_filter(&spec)) {
        Ok(filter) => (filter, None),
        Err(e) => (EnvFilter::new("info"), Some(e.to_string())),
    };
    let installed = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init()
        .is_ok();
    if let (true, Some(problem)) = (installed, problem) {
        tracing::warn!(spec = %spec, %problem, "FABRIC_LOGGING_SPEC not understood; logging at info");
    }
}

/// Fabric's logging spec (`[module[,module]=]level[:...]`, the bare level being the
/// default) as `tracing` filter directives: Fabric's levels map to tracing's
/// (`warning` → `warn`, `dpanic`/`panic`/`fatal` → `error`); module names are used as
/// targets as given.
pub fn logspec_filter(spec: &str) -> String {
    let level = |l: &str| match l.trim().to_ascii_lowercase().as_str() {
        "warning" => "warn".to_owned(),
        "dpanic" | "panic" | "fatal" => "error".to_owned(),
        other => other.to_owned(),
    };
    let mut default = "info".to_owned();
    let mut directives = Vec::new();
    for token in spec.split(':').map(str::trim).filter(|t| !t.is_empty()) {
        match token.split_once('=') {
            None => default = level(token),
            Some((modules, l)) => {
                for m in modules.split(',').map(str::trim).filter(|m| !m.is_empty()) {
                    directives.push(format!("{m}={}", level(l)));
                }
            }
        }
    }
    directives.insert(0, default);
    directives.join(",")
}

/// Runs the node with `config` until SIGINT/SIGTERM ([`crate::node::run`]).
pub async fn start(config: PeerConfig) -> Result<(), CliError> {
    crate::node::run(config)
        .await
        .map_err(|e| CliError::Node(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_mode_flag() {
        let mut config = PeerConfig::default();
        apply_start_flags(&mut config, &StartArgs::default());
        assert_eq!(config.chaincode.mode, ChaincodeMode::Net);
        apply_start_flags(
            &mut config,
            &StartArgs {
                peer_chaincodedev: true,
            },
        );
        assert_eq!(config.chaincode.mode, ChaincodeMode::Dev);
    }

    #[test]
    fn logspec_to_directives() {
        assert_eq!(logspec_filter(""), "info");
        assert_eq!(logspec_filter("DEBUG"), "debug");
        assert_eq!(
            logspec_filter("gossip,ledger=warning:weft_peer=debug:fatal"),
            "error,gossip=warn,ledger=warn,weft_peer=debug"
        );
        assert!(EnvFilter::try_new(logspec_filter("grpc=debug:info")).is_ok());
    }
}
