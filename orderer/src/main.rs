//! `orderer`: the Weft ordering node. Broadcast, Raft and Deliver land with issue 3.

fn main() -> std::process::ExitCode {
    eprintln!("orderer: the ordering node is not built yet (see ARCHITECTURE.md, 'Not yet built')");
    std::process::ExitCode::from(2)
}
