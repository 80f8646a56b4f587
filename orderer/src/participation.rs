//! The channel participation REST API (Fabric's `orderer/common/channelparticipation`),
//! served on the admin endpoint and driven by `osnadmin`.
//!
//! | request | success | errors |
//! |---|---|---|
//! | `GET /participation/v1/channels` | `200` `{"systemChannel":null,"channels":[{"name","url"}]\|null}` | 406 |
//! | `GET /participation/v1/channels/{id}` | `200` `{"name","url","consensusRelation","status","height"}` | 400, 404, 406 |
//! | `POST /participation/v1/channels` (multipart, one file part `config-block`) | `201` + `Location`, channel info | 400, 405 (`Allow: GET, DELETE`), 406, 409, 500 |
//! | `DELETE /participation/v1/channels/{id}` | `204` | 400, 404, 405, 406, 409, 500 |
//! | `GET /participation/v1/` | `302` → `/participation/v1/channels` | |
//! | other methods | `405` + `Allow` | |
//!
//! Errors are `{"error":"…"}` (JSON followed by a newline, as Go's encoder writes), with
//! Fabric's texts. Responses are JSON only: an `Accept` header that excludes it gets
//! `406`. The backend is a [`ChannelParticipation`] (the registrar); its calls run on the
//! blocking thread pool.
//!
//! A body larger than `ChannelParticipation.MaxRequestBodySize` is answered as Fabric
//! does: `400` with `cannot read form from request body: http: request body too large`.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{any, get};
use prost::Message;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use weft_common::protoutil;
use weft_proto::common::Block;

use crate::http::{self, json_line, json_response};

/// The API's base path.
pub const URL_BASE_V1: &str = "/participation/v1/";
/// The channels collection.
pub const URL_BASE_V1_CHANNELS: &str = "/participation/v1/channels";
/// The multipart field carrying the config block of a join.
pub const FORM_DATA_CONFIG_BLOCK_KEY: &str = "config-block";
/// Longest channel ID Fabric accepts.
pub const MAX_CHANNEL_ID_LENGTH: usize = 249;

/// The status used when the request body exceeds the configured maximum. Fabric answers
/// `400` (its `MaxBytesReader` error surfaces as a form-reading failure).
const BODY_TOO_LARGE: StatusCode = StatusCode::BAD_REQUEST;

/// How this node takes part in a channel's consensus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConsensusRelation {
    /// In the channel's consenter set (`consenter`).
    Consenter,
    /// Pulls blocks without being a consenter (`follower`).
    Follower,
    /// Only tracks the channel's config, waiting to be added (`config-tracker`).
    ConfigTracker,
    /// A non-cluster consensus type (`other`).
    Other,
}

/// The state of this node in a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelStatus {
    /// Taking part, height above the join block (`active`).
    Active,
    /// Catching up to the join block (`onboarding`).
    Onboarding,
    /// Storing no blocks (`inactive`).
    Inactive,
    /// The last operation on the channel failed (`failed`).
    Failed,
}

/// What the API reports about one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelInfo {
    /// The channel ID.
    pub name: String,
    /// How this node takes part in consensus.
    pub consensus_relation: ConsensusRelation,
    /// This node's state in the channel.
    pub status: ChannelStatus,
    /// The ledger height (last block number + 1).
    pub height: u64,
}

/// A failed participation operation. The text is sent as the response's `error` as is;
/// Fabric's texts are e.g. `cannot join: channel already exists`,
/// `cannot remove: channel does not exist`, `cannot join: channel pending removal`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParticipationError {
    /// The request cannot be served as given: `400`.
    #[error("{0}")]
    BadRequest(String),
    /// Join of a channel this node already has: `405` with `Allow: GET, DELETE`.
    #[error("{0}")]
    AlreadyExists(String),
    /// The channel does not exist: `404`.
    #[error("{0}")]
    NotFound(String),
    /// The channel is being removed: `409`.
    #[error("{0}")]
    Conflict(String),
    /// The node failed (e.g. storage): `500`.
    #[error("{0}")]
    Internal(String),
}

/// The node side of the API: the registrar of channels. Calls may block briefly; they
/// run on the blocking thread pool.
pub trait ChannelParticipation: Send + Sync + 'static {
    /// Joins (creates) the channel of `config_block`, a genesis or later config block
    /// that already passed [`validate_join_block`].
    fn join(&self, config_block: Block) -> Result<ChannelInfo, ParticipationError>;
    /// The names of the channels this node serves.
    fn list(&self) -> Vec<String>;
    /// The state of `channel`, or `None` if this node does not serve it.
    fn info(&self, channel: &str) -> Option<ChannelInfo>;
    /// Removes `channel` from this node.
    fn remove(&self, channel: &str) -> Result<(), ParticipationError>;
}

/// The relative URL of a channel: `/participation/v1/channels/{name}`.
pub fn channel_url(name: &str) -> String {
    format!("{URL_BASE_V1_CHANNELS}/{name}")
}

/// Fabric's channel ID rule (`configtx.ValidateChannelID`): `[a-z][a-z0-9.-]*`, at most
/// 249 characters. The error text is Fabric's.
pub fn validate_channel_id(channel_id: &str) -> Result<(), String> {
    if channel_id.is_empty() {
        return Err("channel ID illegal, cannot be empty".to_owned());
    }
    if channel_id.len() > MAX_CHANNEL_ID_LENGTH {
        return Err(format!(
            "channel ID illegal, cannot be longer than {MAX_CHANNEL_ID_LENGTH}"
        ));
    }
    let mut chars = channel_id.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    let rest_ok =
        chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-');
    if !(first_ok && rest_ok) {
        return Err(format!("'{channel_id}' contains illegal characters"));
    }
    Ok(())
}

/// What Fabric checks of a join block before handing it to the registrar: a config
/// block (one CONFIG envelope), a valid channel ID, and an `Application` group (Weft has
/// no system channel, so a `Consortiums` block is refused). Returns the channel ID.
pub fn validate_join_block(block: &Block) -> Result<String, String> {
    if !protoutil::is_config_block(block) {
        return Err("block is not a config block".to_owned());
    }
    let envelope = protoutil::config_envelope_from_block(block).map_err(|e| e.to_string())?;
    let channel_id = protoutil::block_channel_id(block).map_err(|e| e.to_string())?;
    validate_channel_id(&channel_id)
        .map_err(|e| format!("initializing configtx manager failed: bad channel ID: {e}"))?;
    let group = envelope
        .config
        .and_then(|c| c.channel_group)
        .ok_or_else(|| "config has no channel group".to_owned())?;
    if group.groups.contains_key("Application") {
        return Ok(channel_id);
    }
    if group.groups.contains_key("Consortiums") {
        return Err(
            "system channel join blocks (Consortiums group) are not supported: \
             Weft has no system channel"
                .to_owned(),
        );
    }
    Err("invalid config: must have at least one of application or consortiums".to_owned())
}

// ---------------------------------------------------------------------------------------
// Wire shapes (field order as Fabric's Go structs)

#[derive(Serialize)]
struct ErrorResponse<'a> {
    error: &'a str,
}

#[derive(Serialize)]
struct ChannelInfoShort {
    name: String,
    url: String,
}

#[derive(Serialize)]
struct ChannelList {
    #[serde(rename = "systemChannel")]
    system_channel: Option<ChannelInfoShort>,
    channels: Option<Vec<ChannelInfoShort>>,
}

#[derive(Serialize)]
struct ChannelInfoJson<'a> {
    name: &'a str,
    url: String,
    #[serde(rename = "consensusRelation")]
    consensus_relation: ConsensusRelation,
    status: ChannelStatus,
    height: u64,
}

impl<'a> From<&'a ChannelInfo> for ChannelInfoJson<'a> {
    fn from(info: &'a ChannelInfo) -> Self {
        Self {
            name: &info.name,
            url: channel_url(&info.name),
            consensus_relation: info.consensus_relation,
            status: info.status,
            height: info.height,
        }
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    json_response(status, json_line(&ErrorResponse { error: message }))
}

fn not_allowed(message: &str, allow: &'static str) -> Response {
    let mut response = error(StatusCode::METHOD_NOT_ALLOWED, message);
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Fabric's content negotiation: no `Accept`, or one mentioning `application/json`,
/// `application/*` or `*/*`.
fn negotiate(headers: &HeaderMap) -> Result<(), Box<Response>> {
    let Some(accept) = headers.get(header::ACCEPT) else {
        return Ok(());
    };
    let accept = String::from_utf8_lossy(accept.as_bytes());
    if accept.is_empty()
        || accept.split(',').any(|option| {
            option.contains("application/json")
                || option.contains("application/*")
                || option.contains("*/*")
        })
    {
        return Ok(());
    }
    Err(Box::new(error(
        StatusCode::NOT_ACCEPTABLE,
        "response Content-Type is application/json only",
    )))
}

// ---------------------------------------------------------------------------------------
// Router and server

type Backend = Arc<dyn ChannelParticipation>;

/// The API's routes. With `backend` `None` (participation disabled) every request under
/// `/participation/v1/` is answered `503 {"error":"channel participation API is
/// disabled"}`, as Fabric does. `max_body` bounds request bodies.
pub fn router(backend: Option<Backend>, max_body: usize) -> Router {
    let api = match backend {
        Some(backend) => Router::new()
            .route(
                URL_BASE_V1_CHANNELS,
                get(list_channels)
                    .post(join_channel)
                    .fallback(collection_not_allowed),
            )
            .route(
                &format!("{URL_BASE_V1_CHANNELS}/{{channel_id}}"),
                get(channel_info)
                    .delete(remove_channel)
                    .fallback(channel_not_allowed),
            )
            .route(URL_BASE_V1, any(base_v1))
            .with_state(backend),
        None => Router::new()
            .route(URL_BASE_V1, any(disabled))
            .route(&format!("{URL_BASE_V1}{{*rest}}"), any(disabled)),
    };
    api.route_layer(middleware::from_fn(require_cert))
        .route("/participation/v1", any(base_v1_without_slash))
        .fallback(|| async { http::not_found() })
        .layer(DefaultBodyLimit::max(max_body))
}

/// Serves the API on `listener` until `shutdown` completes (open connections then get
/// up to 5s). With `tls` (mutual TLS, from [`weft_common::tls`], e.g. through
/// [`crate::config::HttpTls::server_config`]) clients without a certificate signed by
/// the configured client CAs are refused during the handshake.
pub async fn serve<F>(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    backend: Arc<dyn ChannelParticipation>,
    max_body: usize,
    shutdown: F,
) where
    F: Future<Output = ()> + Send,
{
    http::serve(listener, tls, router(Some(backend), max_body), shutdown).await;
}

/// Serves the admin endpoint with participation disabled
/// (`ChannelParticipation.Enabled: false`): every API request gets `503`.
pub async fn serve_disabled<F>(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: F,
) where
    F: Future<Output = ()> + Send,
{
    http::serve(listener, tls, router(None, 0), shutdown).await;
}

async fn require_cert(request: Request, next: Next) -> Response {
    let info = http::conn_info(&request);
    if !info.authorized() {
        tracing::warn!(
            uri = %request.uri(),
            method = %request.method(),
            remote = %info.remote,
            "client request not authorized: a valid client certificate is required"
        );
        return http::unauthorized();
    }
    next.run(request).await
}

async fn disabled() -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "channel participation API is disabled",
    )
}

async fn base_v1(request: Request) -> Response {
    if request.method() != axum::http::Method::GET {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET"));
        return response;
    }
    redirect(StatusCode::FOUND, URL_BASE_V1_CHANNELS)
}

async fn base_v1_without_slash() -> Response {
    redirect(StatusCode::MOVED_PERMANENTLY, URL_BASE_V1)
}

fn redirect(status: StatusCode, location: &'static str) -> Response {
    let body = format!(
        "<a href=\"{location}\">{}</a>.\n\n",
        status.canonical_reason().unwrap_or("")
    );
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, HeaderValue::from_static(location));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

async fn collection_not_allowed(request: Request) -> Response {
    not_allowed(
        &format!("invalid request method: {}", request.method()),
        "GET, POST",
    )
}

async fn channel_not_allowed(request: Request) -> Response {
    not_allowed(
        &format!("invalid request method: {}", request.method()),
        "GET, DELETE",
    )
}

/// Runs a backend call on the blocking pool; a panic becomes a `500`.
async fn blocking<T, F>(backend: &Backend, call: F) -> Result<T, Response>
where
    F: FnOnce(&dyn ChannelParticipation) -> T + Send + 'static,
    T: Send + 'static,
{
    let backend = Arc::clone(backend);
    tokio::task::spawn_blocking(move || call(backend.as_ref()))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "channel participation backend failed");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error in the channel participation backend",
            )
        })
}

async fn list_channels(State(backend): State<Backend>, headers: HeaderMap) -> Response {
    if let Err(response) = negotiate(&headers) {
        return *response;
    }
    let names = match blocking(&backend, |b| b.list()).await {
        Ok(names) => names,
        Err(response) => return response,
    };
    let channels: Vec<ChannelInfoShort> = names
        .into_iter()
        .map(|name| ChannelInfoShort {
            url: channel_url(&name),
            name,
        })
        .collect();
    let list = ChannelList {
        system_channel: None,
        channels: (!channels.is_empty()).then_some(channels),
    };
    no_store(json_response(StatusCode::OK, json_line(&list)))
}

async fn channel_info(
    State(backend): State<Backend>,
    Path(channel_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(response) = negotiate(&headers) {
        return *response;
    }
    if let Err(e) = validate_channel_id(&channel_id) {
        return error(StatusCode::BAD_REQUEST, &format!("invalid channel ID: {e}"));
    }
    let info = match blocking(&backend, move |b| b.info(&channel_id)).await {
        Ok(info) => info,
        Err(response) => return response,
    };
    match info {
        Some(info) => no_store(json_response(
            StatusCode::OK,
            json_line(&ChannelInfoJson::from(&info)),
        )),
        None => error(StatusCode::NOT_FOUND, "channel does not exist"),
    }
}

async fn remove_channel(
    State(backend): State<Backend>,
    Path(channel_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(response) = negotiate(&headers) {
        return *response;
    }
    if let Err(e) = validate_channel_id(&channel_id) {
        return error(StatusCode::BAD_REQUEST, &format!("invalid channel ID: {e}"));
    }
    let result = match blocking(&backend, move |b| b.remove(&channel_id)).await {
        Ok(result) => result,
        Err(response) => return response,
    };
    match result {
        Ok(()) => {
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::NO_CONTENT;
            response
        }
        Err(e @ ParticipationError::NotFound(_)) => error(StatusCode::NOT_FOUND, &e.to_string()),
        Err(e @ ParticipationError::Conflict(_)) => error(StatusCode::CONFLICT, &e.to_string()),
        Err(e @ ParticipationError::AlreadyExists(_)) => not_allowed(&e.to_string(), "GET"),
        Err(e @ ParticipationError::Internal(_)) => {
            error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())
        }
        Err(e @ ParticipationError::BadRequest(_)) => {
            error(StatusCode::BAD_REQUEST, &e.to_string())
        }
    }
}

fn form_error(e: &axum::extract::multipart::MultipartError) -> Response {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return error(
            BODY_TOO_LARGE,
            "cannot read form from request body: http: request body too large",
        );
    }
    error(
        StatusCode::BAD_REQUEST,
        &format!("cannot read form from request body: {}", e.body_text()),
    )
}

async fn join_channel(State(backend): State<Backend>, request: Request) -> Response {
    // Fabric routes only multipart/form-data POSTs to the join handler.
    let content_types: Vec<String> = request
        .headers()
        .get_all(header::CONTENT_TYPE)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    if !content_types
        .iter()
        .any(|ct| ct.contains("multipart/form-data"))
    {
        return error(
            StatusCode::BAD_REQUEST,
            &format!("unsupported Content-Type: [{}]", content_types.join(" ")),
        );
    }
    if let Err(response) = negotiate(request.headers()) {
        return *response;
    }

    let mut form = match Multipart::from_request(request, &()).await {
        Ok(form) => form,
        Err(rejection) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!(
                    "cannot read form from request body: {}",
                    rejection.body_text()
                ),
            );
        }
    };
    // Read the whole form first, as Go's ReadForm does, then check its parts.
    let mut config_block = None;
    let mut other_parts = 0usize;
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => return form_error(&e),
        };
        let is_block = field.name() == Some(FORM_DATA_CONFIG_BLOCK_KEY);
        let bytes = match field.bytes().await {
            Ok(bytes) => bytes,
            Err(e) => return form_error(&e),
        };
        if is_block {
            config_block.get_or_insert(bytes);
        } else {
            other_parts += 1;
        }
    }
    let Some(block_bytes) = config_block else {
        return error(
            StatusCode::BAD_REQUEST,
            &format!("form does not contains part key: {FORM_DATA_CONFIG_BLOCK_KEY}"),
        );
    };
    if other_parts != 0 {
        return error(StatusCode::BAD_REQUEST, "form contains too many parts");
    }

    let block = match Block::decode(block_bytes) {
        Ok(block) => block,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!(
                    "cannot unmarshal file part {FORM_DATA_CONFIG_BLOCK_KEY} into a block: {e}"
                ),
            );
        }
    };
    if let Err(e) = validate_join_block(&block) {
        return error(StatusCode::BAD_REQUEST, &format!("invalid join block: {e}"));
    }

    let result = match blocking(&backend, move |b| b.join(block)).await {
        Ok(result) => result,
        Err(response) => return response,
    };
    match result {
        Ok(info) => {
            let url = channel_url(&info.name);
            let mut response = json_response(
                StatusCode::CREATED,
                json_line(&ChannelInfoJson::from(&info)),
            );
            if let Ok(location) = HeaderValue::from_str(&url) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            tracing::debug!(%url, "joined channel");
            response
        }
        Err(e @ ParticipationError::AlreadyExists(_)) => not_allowed(&e.to_string(), "GET, DELETE"),
        Err(e @ ParticipationError::Conflict(_)) => error(StatusCode::CONFLICT, &e.to_string()),
        Err(e @ ParticipationError::Internal(_)) => {
            error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())
        }
        Err(e @ (ParticipationError::BadRequest(_) | ParticipationError::NotFound(_))) => {
            error(StatusCode::BAD_REQUEST, &e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_ids() {
        for ok in ["mychannel", "a", "a.b-c9", &"a".repeat(249)] {
            assert_eq!(validate_channel_id(ok), Ok(()), "{ok}");
        }
        assert_eq!(
            validate_channel_id(""),
            Err("channel ID illegal, cannot be empty".to_owned())
        );
        assert_eq!(
            validate_channel_id(&"a".repeat(250)),
            Err("channel ID illegal, cannot be longer than 249".to_owned())
        );
        for bad in ["MyChannel", "1abc", "a_b", "-a", "a b", ".."] {
            assert_eq!(
                validate_channel_id(bad),
                Err(format!("'{bad}' contains illegal characters")),
                "{bad}"
            );
        }
    }

    #[test]
    fn json_shapes_follow_fabric() {
        let info = ChannelInfo {
            name: "mychannel".into(),
            consensus_relation: ConsensusRelation::ConfigTracker,
            status: ChannelStatus::Onboarding,
            height: 7,
        };
        assert_eq!(
            String::from_utf8(json_line(&ChannelInfoJson::from(&info))).expect("utf-8"),
            "{\"name\":\"mychannel\",\"url\":\"/participation/v1/channels/mychannel\",\
             \"consensusRelation\":\"config-tracker\",\"status\":\"onboarding\",\"height\":7}\n"
        );
        let empty = ChannelList {
            system_channel: None,
            channels: None,
        };
        assert_eq!(
            String::from_utf8(json_line(&empty)).expect("utf-8"),
            "{\"systemChannel\":null,\"channels\":null}\n"
        );
    }

    #[test]
    fn accept_negotiation() {
        let mut headers = HeaderMap::new();
        assert!(negotiate(&headers).is_ok());
        for ok in ["application/json", "text/html, */*;q=0.1", "application/*"] {
            headers.insert(header::ACCEPT, HeaderValue::from_static(ok));
            assert!(negotiate(&headers).is_ok(), "{ok}");
        }
        headers.insert(header::ACCEPT, HeaderValue::from_static("text/html"));
        assert!(negotiate(&headers).is_err());
    }
}
