//! Ledger tests over real endorser transactions committed in real blocks.

mod fixtures;

mod commit;
mod history;
mod reads;
mod recovery;
