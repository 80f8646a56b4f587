//! The orderer's operations endpoint (`Operations.ListenAddress`): Fabric's
//! `core/operations` as [`weft_common::operations`] serves it for both processes
//! (`/healthz`, `/metrics`, `/logspec`, `/version`; see there). What is the orderer's own:
//! [`OrdererMetrics`] as the `/metrics` source (with `Metrics.Provider: prometheus`) and
//! the health checker of its chains (in [`crate::server`]).

pub use weft_common::operations::{
    AlreadyRegistered, FailedCheck, HealthChecker, HealthStatus, LogSpec, LogSpecError,
    MetricsSource, OperationsState, STATUS_OK, STATUS_UNAVAILABLE, VersionInfo,
    env_filter_from_logspec, logspec_to_filter, router, serve,
};

use crate::metrics::{OrdererMetrics, TEXT_CONTENT_TYPE};

impl MetricsSource for OrdererMetrics {
    fn encode_text(&self) -> Result<Vec<u8>, String> {
        OrdererMetrics::encode_text(self).map_err(|e| e.to_string())
    }

    fn content_type(&self) -> &'static str {
        TEXT_CONTENT_TYPE
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use axum::Router;
    use axum::body::{Body, to_bytes};
    use axum::http::{Method, StatusCode, header};

    use super::*;

    async fn call(
        router: &Router,
        method: Method,
        path: &str,
        body: &str,
    ) -> (StatusCode, String, Option<String>) {
        let request = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .body(Body::from(body.to_owned()))
            .expect("request");
        let response = tower::Service::call(&mut router.clone(), request)
            .await
            .expect("infallible");
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        (
            status,
            String::from_utf8(body.to_vec()).expect("utf-8"),
            content_type,
        )
    }

    fn state_with_everything() -> (Arc<OperationsState>, Arc<OrdererMetrics>, Arc<LogSpec>) {
        let metrics = Arc::new(OrdererMetrics::new("0.1.0").expect("metrics"));
        let logspec = Arc::new(LogSpec::new("info", |_| Ok(())).expect("logspec"));
        let state = OperationsState::new(VersionInfo {
            commit_sha: "abc123".into(),
            version: "0.1.0".into(),
        })
        .with_metrics(metrics.clone())
        .with_logspec(Arc::clone(&logspec));
        (Arc::new(state), metrics, logspec)
    }

    #[tokio::test]
    async fn metrics_exposition() {
        let (state, metrics, _) = state_with_everything();
        metrics
            .etcdraft_cluster_size
            .with_label_values(&["mychannel"])
            .set(3);
        metrics.broadcast_processed(
            "mychannel",
            "ENDORSER_TRANSACTION",
            "SUCCESS",
            Duration::from_millis(2),
        );
        let (status, body, content_type) = call(&router(state), Method::GET, "/metrics", "").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type.as_deref(), Some(TEXT_CONTENT_TYPE));
        for name in [
            "consensus_etcdraft_cluster_size{channel=\"mychannel\"} 3",
            "# TYPE broadcast_enqueue_duration histogram",
            "broadcast_processed_count{",
            "deliver_streams_opened 0",
            "fabric_version{version=\"0.1.0\"} 1",
        ] {
            assert!(body.contains(name), "{name} missing from\n{body}");
        }

        // Metrics.Provider disabled: no /metrics.
        let plain = Arc::new(OperationsState::new(VersionInfo::current()));
        let (status, _, _) = call(&router(plain), Method::GET, "/metrics", "").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}
