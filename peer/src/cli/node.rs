//! `peer node start`: the configuration with the command's flags applied, logging from
//! `FABRIC_LOGGING_SPEC`, then the node until SIGINT/SIGTERM.

use std::sync::Arc;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, reload};
use weft_common::operations::{LogSpec, env_filter_from_logspec};

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

/// Logs to stderr at the levels `FABRIC_LOGGING_SPEC` asks for (Fabric's grammar, see
/// [`weft_common::operations::logspec_to_filter`]); an unusable spec falls back to `info`
/// with a warning. The filter sits behind a reload layer: the returned [`LogSpec`] changes
/// it at run time (the operations endpoint's `/logspec`). `None` when a subscriber was
/// already installed.
pub fn init_logging() -> Option<Arc<LogSpec>> {
    let requested = std::env::var("FABRIC_LOGGING_SPEC").unwrap_or_default();
    let (spec, filter, problem) = match env_filter_from_logspec(&requested) {
        Ok(filter) => (requested.clone(), filter, None),
        Err(e) => (
            "info".to_owned(),
            EnvFilter::new("info"),
            Some(e.to_string()),
        ),
    };
    let (filter, handle) = reload::Layer::new(filter);
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
        )
        .try_init()
        .is_ok();
    if !installed {
        return None;
    }
    if let Some(problem) = problem {
        tracing::warn!(spec = %requested, %problem, "FABRIC_LOGGING_SPEC not understood; logging at info");
    }
    match LogSpec::from_reload_handle(&spec, handle) {
        Ok(logspec) => Some(Arc::new(logspec)),
        Err(e) => {
            tracing::warn!(error = %e, "the log spec cannot be changed at run time");
            None
        }
    }
}

/// Runs the node with `config` until SIGINT/SIGTERM ([`crate::node::run`]); `logspec`
/// (from [`init_logging`]) is served on `/logspec`.
pub async fn start(config: PeerConfig, logspec: Option<Arc<LogSpec>>) -> Result<(), CliError> {
    crate::node::run(config, logspec)
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
        use weft_common::operations::logspec_to_filter;
        assert_eq!(logspec_to_filter("").expect("spec"), "info");
        assert_eq!(logspec_to_filter("DEBUG").expect("spec"), "debug");
        assert_eq!(
            logspec_to_filter("gossip,ledger=warning:weft_peer=debug:fatal").expect("spec"),
            "error,gossip=warn,ledger=warn,weft_peer=debug"
        );
        assert_eq!(
            logspec_to_filter("weft_peer.node=debug:info").expect("spec"),
            "info,weft_peer::node=debug"
        );
        assert!(env_filter_from_logspec("grpc=debug:info").is_ok());
        assert!(env_filter_from_logspec("chatty").is_err());
    }
}
