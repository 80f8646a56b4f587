//! `weft-ccrunner`: runs a WASM chaincode as its own process, registering with a peer as
//! a Fabric chaincode container does. Settings come from the environment Fabric gives a
//! chaincode container (see `weft_chaincode_runner::RunnerConfig`).

use std::process::ExitCode;

use weft_chaincode_runner::{RunnerConfig, run};

fn main() -> ExitCode {
    let filter = std::env::var("CORE_CHAINCODE_LOGGING_LEVEL")
        .ok()
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| "info".to_owned())
        .to_lowercase();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().collect();
    let config = match RunnerConfig::from_env(|name| std::env::var(name).ok(), &args) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("Error: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("Error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::FAILURE
        }
    }
}
