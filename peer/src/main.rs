//! `peer`: the Weft peer node. The endorser, ledger and deliver flows land with issues 4–7.

fn main() -> std::process::ExitCode {
    eprintln!("peer: the peer node is not built yet (see ARCHITECTURE.md, 'Not yet built')");
    std::process::ExitCode::from(2)
}
