//! Raft consensus for a channel: durable log storage ([`storage`]), what the log holds
//! ([`entry`]), and the chain that drives raft-rs and writes blocks ([`chain`]).

pub mod chain;
pub mod entry;
pub mod storage;
