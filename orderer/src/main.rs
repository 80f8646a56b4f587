//! `orderer`: the Weft ordering node. `orderer` or `orderer start` runs it with
//! `orderer.yaml` (found through `FABRIC_CFG_PATH`) and `ORDERER_*` overrides;
//! `orderer version` prints the version.

use std::process::ExitCode;
use std::sync::Arc;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, reload};
use weft_orderer::config::OrdererConfig;
use weft_orderer::operations::{LogSpec, logspec_to_filter};

fn main() -> ExitCode {
    let command = std::env::args().nth(1);
    match command.as_deref() {
        None | Some("start") => start(),
        Some("version") => {
            println!(
                "orderer:\n Version: {}\n Go version: n/a (Weft, Rust)\n OS/Arch: {}/{}",
                env!("CARGO_PKG_VERSION"),
                std::env::consts::OS,
                std::env::consts::ARCH
            );
            ExitCode::SUCCESS
        }
        Some("help" | "--help" | "-h") => {
            println!(
                "usage: orderer [start|version]\n\nConfiguration: orderer.yaml in $FABRIC_CFG_PATH, overridden by ORDERER_* variables."
            );
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("orderer: unknown command {other:?}; usage: orderer [start|version]");
            ExitCode::from(2)
        }
    }
}

/// Sets up logging from `FABRIC_LOGGING_SPEC` with a reload handle for `/logspec`.
fn init_logging() -> Result<Arc<LogSpec>, String> {
    let spec = std::env::var("FABRIC_LOGGING_SPEC").unwrap_or_else(|_| "info".to_owned());
    let directives = logspec_to_filter(&spec).map_err(|e| format!("FABRIC_LOGGING_SPEC: {e}"))?;
    let filter =
        EnvFilter::try_new(&directives).map_err(|e| format!("FABRIC_LOGGING_SPEC: {e}"))?;
    let (filter, handle) = reload::Layer::new(filter);
    tracing_subscriber::registry()
        .with(filter)
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .init();
    let logspec = LogSpec::new(&spec, move |filter| {
        handle.reload(filter).map_err(|e| e.to_string())
    })
    .map_err(|e| format!("FABRIC_LOGGING_SPEC: {e}"))?;
    Ok(Arc::new(logspec))
}

fn start() -> ExitCode {
    let logspec = match init_logging() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("orderer: {e}");
            return ExitCode::FAILURE;
        }
    };
    let config = match OrdererConfig::load() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("orderer: configuration error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("orderer: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(weft_orderer::server::run(
        config,
        Some(logspec),
        shutdown_signal(),
    ));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "orderer failed");
            eprintln!("orderer: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutdown requested");
}
