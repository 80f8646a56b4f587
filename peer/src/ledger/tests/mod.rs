//! Ledger tests over real endorser transactions committed in real blocks.

pub(crate) mod fixtures;

mod commit;
mod history;
mod reads;
mod recovery;
