//! `peer`: the Weft peer node and its administration commands (`peer node start`,
//! `peer channel join|list|getinfo|fetch`, `peer version`). See [`weft_peer::cli`].

fn main() -> std::process::ExitCode {
    weft_peer::cli::main_with(std::env::args_os())
}
