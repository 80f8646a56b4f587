//! Serving an axum router over plain TCP or TLS with Fabric's "secure handler" rule: the
//! orderer's admin endpoint uses [`weft_common::operations::http`], as the operations
//! endpoint does.

pub(crate) use weft_common::operations::http::{
    conn_info, json_line, json_response, not_found, serve, unauthorized,
};
