//! Fabric policies: signature policies, implicit-meta policies, the policy-string parser.

mod signed_data;

pub use signed_data::SignedData;
