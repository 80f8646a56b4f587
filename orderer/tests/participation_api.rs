//! The channel participation API over real HTTPS with mutual TLS, against a fake
//! registrar: every status Fabric's API answers.

mod support;

use std::sync::Arc;

use hyper::{Method, StatusCode};
use support::{Pki, Server, app_block, config_block, multipart, request};
use weft_proto::Message;
use weft_proto::common::Block;

const MAX_BODY: usize = 1024 * 1024;
const CHANNELS: &str = "/participation/v1/channels";

struct Fixture {
    pki: Pki,
    server: Server,
    client: Arc<rustls::ClientConfig>,
}

async fn fixture() -> Fixture {
    let pki = Pki::new();
    let server = Server::start(Some(pki.server_config()), MAX_BODY).await;
    let client = pki.client_config();
    Fixture {
        pki,
        server,
        client,
    }
}

impl Fixture {
    async fn call(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> support::Reply {
        request(
            self.server.addr,
            Some(Arc::clone(&self.client)),
            method,
            path,
            headers,
            body,
        )
        .await
        .expect("request")
    }

    async fn get(&self, path: &str) -> support::Reply {
        self.call(Method::GET, path, &[], Vec::new()).await
    }

    async fn join_bytes(&self, block: &[u8]) -> support::Reply {
        let (content_type, body) = multipart(&[("config-block", Some("config.block"), block)]);
        self.call(
            Method::POST,
            CHANNELS,
            &[("content-type", &content_type)],
            body,
        )
        .await
    }

    async fn join(&self, block: &Block) -> support::Reply {
        self.join_bytes(&block.encode_to_vec()).await
    }
}

#[tokio::test]
async fn join_list_info_remove() {
    let f = fixture().await;

    // Nothing joined yet: channels is null.
    let reply = f.get(CHANNELS).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        std::str::from_utf8(&reply.body).expect("utf-8"),
        "{\"systemChannel\":null,\"channels\":null}\n"
    );

    let reply = f.join(&app_block("mychannel")).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(
        reply.header("location"),
        Some("/participation/v1/channels/mychannel")
    );
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(
        std::str::from_utf8(&reply.body).expect("utf-8"),
        "{\"name\":\"mychannel\",\"url\":\"/participation/v1/channels/mychannel\",\
         \"consensusRelation\":\"consenter\",\"status\":\"active\",\"height\":1}\n"
    );

    let reply = f.get(CHANNELS).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(
        reply.json(),
        serde_json::json!({
            "systemChannel": null,
            "channels": [{"name": "mychannel", "url": "/participation/v1/channels/mychannel"}]
        })
    );

    let reply = f.get("/participation/v1/channels/mychannel").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(reply.json()["height"], 1);
    assert_eq!(reply.json()["consensusRelation"], "consenter");

    let reply = f
        .call(
            Method::DELETE,
            "/participation/v1/channels/mychannel",
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert!(reply.body.is_empty());

    let reply = f.get("/participation/v1/channels/mychannel").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.error(), "channel does not exist");

    let reply = f
        .call(
            Method::DELETE,
            "/participation/v1/channels/mychannel",
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.error(), "cannot remove: channel does not exist");
    f.server.stop().await;
}

#[tokio::test]
async fn http1_clients_are_served_too() {
    let f = fixture().await;
    // Without ALPN the server speaks HTTP/1.1 (Go's osnadmin offers none).
    let mut config = (*f.client).clone();
    config.alpn_protocols.clear();
    let reply = request(
        f.server.addr,
        Some(Arc::new(config)),
        Method::GET,
        CHANNELS,
        &[],
        Vec::new(),
    )
    .await
    .expect("request");
    assert_eq!(reply.status, StatusCode::OK);
    f.server.stop().await;
}

#[tokio::test]
async fn join_rejects_bad_blocks_with_400() {
    let f = fixture().await;

    // Not a config block: a block without data.
    let empty = Block::default().encode_to_vec();
    let reply = f.join_bytes(&empty).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.error(),
        "invalid join block: block is not a config block"
    );

    // Not a config block: a block of two envelopes.
    let mut two = app_block("mychannel");
    if let Some(data) = two.data.as_mut() {
        let first = data.data[0].clone();
        data.data.push(first);
    }
    let reply = f.join(&two).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.error(),
        "invalid join block: block is not a config block"
    );

    // Garbage.
    let reply = f.join_bytes(b"\xff\xff\xff garbage").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply
            .error()
            .starts_with("cannot unmarshal file part config-block into a block: "),
        "{}",
        reply.error()
    );

    // No Application group.
    let reply = f.join(&config_block("mychannel", &["Orderer"])).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.error(),
        "invalid join block: invalid config: must have at least one of application or consortiums"
    );

    // A system channel block.
    let reply = f
        .join(&config_block("system", &["Consortiums", "Orderer"]))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply.error().contains("system channel"),
        "{}",
        reply.error()
    );

    // An illegal channel ID inside the block.
    let reply = f.join(&app_block("My_Channel")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply
            .error()
            .ends_with("'My_Channel' contains illegal characters"),
        "{}",
        reply.error()
    );

    // Missing part.
    let (content_type, body) = multipart(&[("block", Some("b"), b"x")]);
    let reply = f
        .call(
            Method::POST,
            CHANNELS,
            &[("content-type", &content_type)],
            body,
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.error(),
        "form does not contains part key: config-block"
    );

    // Too many parts.
    let block = app_block("mychannel").encode_to_vec();
    let (content_type, body) = multipart(&[
        ("config-block", Some("config.block"), &block),
        ("comment", None, b"hello"),
    ]);
    let reply = f
        .call(
            Method::POST,
            CHANNELS,
            &[("content-type", &content_type)],
            body,
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.error(), "form contains too many parts");

    // Not multipart at all.
    let reply = f
        .call(
            Method::POST,
            CHANNELS,
            &[("content-type", "application/json")],
            b"{}".to_vec(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.error(),
        "unsupported Content-Type: [application/json]"
    );

    // Nothing reached the registrar.
    assert!(f.server.registrar.channels.lock().expect("lock").is_empty());
    f.server.stop().await;
}

#[tokio::test]
async fn join_errors_from_the_registrar() {
    let f = fixture().await;
    assert_eq!(
        f.join(&app_block("mychannel")).await.status,
        StatusCode::CREATED
    );

    let reply = f.join(&app_block("mychannel")).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.header("allow"), Some("GET, DELETE"));
    assert_eq!(reply.error(), "cannot join: channel already exists");

    let reply = f.join(&app_block("pending-removal")).await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.error(), "cannot join: channel pending removal");

    let reply = f.join(&app_block("broken")).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);

    let reply = f
        .call(
            Method::DELETE,
            "/participation/v1/channels/pending-removal",
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    f.server.stop().await;
}

#[tokio::test]
async fn methods_not_allowed_carry_allow() {
    let f = fixture().await;
    let reply = f.call(Method::PUT, CHANNELS, &[], Vec::new()).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.header("allow"), Some("GET, POST"));
    assert_eq!(reply.error(), "invalid request method: PUT");

    let reply = f
        .call(
            Method::PATCH,
            "/participation/v1/channels/mychannel",
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.header("allow"), Some("GET, DELETE"));
    assert_eq!(reply.error(), "invalid request method: PATCH");

    let reply = f
        .call(
            Method::POST,
            "/participation/v1/channels/mychannel",
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    f.server.stop().await;
}

#[tokio::test]
async fn accept_must_allow_json() {
    let f = fixture().await;
    for path in [CHANNELS, "/participation/v1/channels/mychannel"] {
        let reply = f
            .call(Method::GET, path, &[("accept", "text/html")], Vec::new())
            .await;
        assert_eq!(reply.status, StatusCode::NOT_ACCEPTABLE, "{path}");
        assert_eq!(
            reply.error(),
            "response Content-Type is application/json only"
        );
    }
    let (content_type, body) = multipart(&[(
        "config-block",
        Some("config.block"),
        &app_block("mychannel").encode_to_vec(),
    )]);
    let reply = f
        .call(
            Method::POST,
            CHANNELS,
            &[("content-type", &content_type), ("accept", "text/plain")],
            body,
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_ACCEPTABLE);
    let reply = f
        .call(
            Method::GET,
            CHANNELS,
            &[("accept", "text/html, application/json;q=0.9")],
            Vec::new(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    f.server.stop().await;
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let pki = Pki::new();
    let server = Server::start(Some(pki.server_config()), 1024).await;
    let big = vec![7u8; 4096];
    let (content_type, body) = multipart(&[("config-block", Some("config.block"), &big)]);
    let reply = request(
        server.addr,
        Some(pki.client_config()),
        Method::POST,
        CHANNELS,
        &[("content-type", &content_type)],
        body,
    )
    .await
    .expect("request");
    // Fabric's answer to a body over MaxRequestBodySize (its MaxBytesReader error).
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.error(),
        "cannot read form from request body: http: request body too large"
    );
    server.stop().await;
}

#[tokio::test]
async fn bad_channel_ids_redirect_and_unknown_paths() {
    let f = fixture().await;
    let reply = f.get("/participation/v1/channels/Bad_Channel").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.error(),
        "invalid channel ID: 'Bad_Channel' contains illegal characters"
    );
    let reply = f
        .call(
            Method::DELETE,
            "/participation/v1/channels/Bad_Channel",
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);

    let reply = f.get("/participation/v1/").await;
    assert_eq!(reply.status, StatusCode::FOUND);
    assert_eq!(reply.header("location"), Some(CHANNELS));

    for path in [
        "/participation/v2/channels",
        "/participation/v1/channels/a/b",
        "/",
    ] {
        let reply = f.get(path).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
    }
    f.server.stop().await;
}

#[tokio::test]
async fn clients_without_a_valid_certificate_are_refused_by_tls() {
    let f = fixture().await;
    for (what, config) in [
        ("no certificate", f.pki.anonymous_client_config()),
        ("certificate of another CA", f.pki.rogue_client_config()),
    ] {
        let result = request(
            f.server.addr,
            Some(config),
            Method::GET,
            CHANNELS,
            &[],
            Vec::new(),
        )
        .await;
        // With TLS 1.3 the refusal surfaces on the first read after the handshake.
        assert!(result.is_err(), "{what}: the server answered");
    }
    // Plain HTTP to the TLS port gets nothing useful either.
    assert!(
        request(f.server.addr, None, Method::GET, CHANNELS, &[], Vec::new())
            .await
            .is_err()
    );
    f.server.stop().await;
}

#[tokio::test]
async fn disabled_api_answers_503() {
    let server = Server::start_disabled().await;
    for path in [
        CHANNELS,
        "/participation/v1/channels/x",
        "/participation/v1/",
    ] {
        let reply = request(server.addr, None, Method::GET, path, &[], Vec::new())
            .await
            .expect("request");
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert_eq!(reply.error(), "channel participation API is disabled");
    }
    server.stop().await;
}

#[tokio::test]
async fn plain_http_when_tls_is_off() {
    let server = Server::start(None, MAX_BODY).await;
    let (content_type, body) = multipart(&[(
        "config-block",
        Some("config.block"),
        &app_block("mychannel").encode_to_vec(),
    )]);
    let reply = request(
        server.addr,
        None,
        Method::POST,
        CHANNELS,
        &[("content-type", &content_type)],
        body,
    )
    .await
    .expect("request");
    assert_eq!(reply.status, StatusCode::CREATED);
    server.stop().await;
}
