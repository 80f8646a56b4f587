//! The peer's Prometheus metrics, with Fabric's names, help texts and labels (from
//! `core/endorser/metrics.go` and `core/chaincode/metrics.go`), so dashboards written for a
//! Fabric peer work unchanged. Weft's additions carry a `weft_` prefix: simulation and
//! endorsement durations, and the WASM runtime's counters (read from the engine at each
//! scrape).
//!
//! A labelled series appears in the exposition only once it has been touched.

use std::sync::Arc;

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry, TextEncoder,
};
use weft_wasm_host::WasmStats;

/// The content type of [`PeerMetrics::encode_text`]'s output.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Every metric the peer exports, registered in one private [`Registry`].
#[derive(Debug, Clone)]
pub struct PeerMetrics {
    registry: Registry,

    /// `endorser_proposals_received`: proposals received.
    pub proposals_received: IntCounter,
    /// `endorser_successful_proposals`: proposals endorsed (or answered, channel-less).
    pub successful_proposals: IntCounter,
    /// `endorser_proposal_validation_failures`: proposals refused in pre-processing.
    pub proposal_validation_failures: IntCounter,
    /// `endorser_proposal_acl_failures{channel,chaincode}`: proposals refused by an ACL.
    pub proposal_acl_failures: IntCounterVec,
    /// `endorser_duplicate_transaction_failures{channel,chaincode}`: replayed txids.
    pub duplicate_transaction_failures: IntCounterVec,
    /// `endorser_proposal_simulation_failures{channel,chaincode}`: failed simulations.
    pub proposal_simulation_failures: IntCounterVec,
    /// `endorser_endorsement_failures{channel,chaincode,chaincodeerror}`: failed
    /// endorsements (`chaincodeerror` true: the chaincode answered ≥ 400).
    pub endorsement_failures: IntCounterVec,
    /// `endorser_proposal_duration{channel,chaincode,success}`: seconds per proposal.
    pub proposal_duration: HistogramVec,
    /// `weft_endorser_simulation_duration{channel,chaincode}`: seconds simulating.
    pub simulation_duration: HistogramVec,
    /// `weft_endorser_endorsement_duration{channel,chaincode}`: seconds signing.
    pub endorsement_duration: HistogramVec,

    /// `chaincode_launch_duration{chaincode,success}`: seconds to launch a chaincode.
    pub launch_duration: HistogramVec,
    /// `chaincode_launch_failures{chaincode}`: failed launches.
    pub launch_failures: IntCounterVec,
    /// `chaincode_launch_timeouts{chaincode}`: launches that timed out.
    pub launch_timeouts: IntCounterVec,
    /// `chaincode_execute_timeouts{chaincode}`: executions that timed out.
    pub execute_timeouts: IntCounterVec,
    /// `chaincode_shim_requests_received{type,channel,chaincode}`: shim requests.
    pub shim_requests_received: IntCounterVec,
    /// `chaincode_shim_requests_completed{type,channel,chaincode,success}`.
    pub shim_requests_completed: IntCounterVec,
    /// `chaincode_shim_request_duration{type,channel,chaincode,success}`: seconds.
    pub shim_request_duration: HistogramVec,
}

fn counter(registry: &Registry, name: &str, help: &str) -> prometheus::Result<IntCounter> {
    let c = IntCounter::new(name, help)?;
    registry.register(Box::new(c.clone()))?;
    Ok(c)
}

fn counter_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<IntCounterVec> {
    let c = IntCounterVec::new(Opts::new(name, help), labels)?;
    registry.register(Box::new(c.clone()))?;
    Ok(c)
}

fn histogram_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<HistogramVec> {
    let h = HistogramVec::new(HistogramOpts::new(name, help), labels)?;
    registry.register(Box::new(h.clone()))?;
    Ok(h)
}

impl PeerMetrics {
    /// Registers every metric in a fresh registry.
    pub fn new() -> prometheus::Result<Self> {
        let r = Registry::new();
        let ch_cc = ["channel", "chaincode"];
        Ok(Self {
            proposals_received: counter(
                &r,
                "endorser_proposals_received",
                "The number of proposals received.",
            )?,
            successful_proposals: counter(
                &r,
                "endorser_successful_proposals",
                "The number of successful proposals.",
            )?,
            proposal_validation_failures: counter(
                &r,
                "endorser_proposal_validation_failures",
                "The number of proposals that have failed initial validation.",
            )?,
            proposal_acl_failures: counter_vec(
                &r,
                "endorser_proposal_acl_failures",
                "The number of proposals that failed ACL checks.",
                &ch_cc,
            )?,
            duplicate_transaction_failures: counter_vec(
                &r,
                "endorser_duplicate_transaction_failures",
                "The number of failed proposals due to duplicate transaction ID.",
                &ch_cc,
            )?,
            proposal_simulation_failures: counter_vec(
                &r,
                "endorser_proposal_simulation_failures",
                "The number of failed proposal simulations",
                &ch_cc,
            )?,
            endorsement_failures: counter_vec(
                &r,
                "endorser_endorsement_failures",
                "The number of failed endorsements.",
                &["channel", "chaincode", "chaincodeerror"],
            )?,
            proposal_duration: histogram_vec(
                &r,
                "endorser_proposal_duration",
                "The time to complete a proposal.",
                &["channel", "chaincode", "success"],
            )?,
            simulation_duration: histogram_vec(
                &r,
                "weft_endorser_simulation_duration",
                "The time to simulate a proposal through its chaincode.",
                &ch_cc,
            )?,
            endorsement_duration: histogram_vec(
                &r,
                "weft_endorser_endorsement_duration",
                "The time to sign an endorsement.",
                &ch_cc,
            )?,
            launch_duration: histogram_vec(
                &r,
                "chaincode_launch_duration",
                "The time to launch a chaincode.",
                &["chaincode", "success"],
            )?,
            launch_failures: counter_vec(
                &r,
                "chaincode_launch_failures",
                "The number of chaincode launches that have failed.",
                &["chaincode"],
            )?,
            launch_timeouts: counter_vec(
                &r,
                "chaincode_launch_timeouts",
                "The number of chaincode launches that have timed out.",
                &["chaincode"],
            )?,
            execute_timeouts: counter_vec(
                &r,
                "chaincode_execute_timeouts",
                "The number of chaincode executions (Init or Invoke) that have timed out.",
                &["chaincode"],
            )?,
            shim_requests_received: counter_vec(
                &r,
                "chaincode_shim_requests_received",
                "The number of chaincode shim requests received.",
                &["type", "channel", "chaincode"],
            )?,
            shim_requests_completed: counter_vec(
                &r,
                "chaincode_shim_requests_completed",
                "The number of chaincode shim requests completed.",
                &["type", "channel", "chaincode", "success"],
            )?,
            shim_request_duration: histogram_vec(
                &r,
                "chaincode_shim_request_duration",
                "The time to complete chaincode shim requests.",
                &["type", "channel", "chaincode", "success"],
            )?,
            registry: r,
        })
    }

    /// Exports the WASM runtime's counters (`weft_wasm_instantiations`,
    /// `weft_wasm_transactions_completed`, `weft_wasm_transactions_failed`,
    /// `weft_wasm_fuel_consumed`), read from `stats` at each scrape.
    pub fn register_wasm_stats(&self, stats: Arc<dyn WasmStatsSource>) -> prometheus::Result<()> {
        self.registry.register(Box::new(WasmCollector::new(stats)?))
    }

    /// The text exposition of every metric.
    pub fn encode_text(&self) -> prometheus::Result<Vec<u8>> {
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out)?;
        Ok(out)
    }

    /// The registry (to gather from or add to).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }
}

/// Where the WASM counters come from (the engine's [`WasmStats`]).
pub trait WasmStatsSource: Send + Sync {
    /// The engine's counters now.
    fn stats(&self) -> &WasmStats;
}

impl WasmStatsSource for weft_wasm_host::WasmEngine {
    fn stats(&self) -> &WasmStats {
        weft_wasm_host::WasmEngine::stats(self)
    }
}

/// A collector reading the WASM engine's atomics at scrape time.
struct WasmCollector {
    source: Arc<dyn WasmStatsSource>,
    counters: [IntCounter; 4],
    descs: Vec<Desc>,
}

impl WasmCollector {
    fn new(source: Arc<dyn WasmStatsSource>) -> prometheus::Result<Self> {
        let counters = [
            IntCounter::new(
                "weft_wasm_instantiations",
                "WASM chaincode instances created (one per transaction).",
            )?,
            IntCounter::new(
                "weft_wasm_transactions_completed",
                "WASM chaincode transactions that completed.",
            )?,
            IntCounter::new(
                "weft_wasm_transactions_failed",
                "WASM chaincode transactions that failed (trap, fuel, memory, timeout, ABI misuse).",
            )?,
            IntCounter::new(
                "weft_wasm_fuel_consumed",
                "Fuel consumed by WASM chaincode transactions.",
            )?,
        ];
        let descs = counters
            .iter()
            .flat_map(|c| c.desc().into_iter().cloned())
            .collect();
        Ok(Self {
            source,
            counters,
            descs,
        })
    }
}

impl Collector for WasmCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let stats = self.source.stats();
        let values = [
            stats.instantiations(),
            stats.completed(),
            stats.failed(),
            stats.fuel_consumed(),
        ];
        self.counters
            .iter()
            .zip(values)
            .flat_map(|(counter, value)| {
                counter.reset();
                counter.inc_by(value);
                counter.collect()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fabric_names_appear_once_touched() {
        let m = PeerMetrics::new().expect("metrics");
        m.proposals_received.inc();
        m.proposal_duration
            .with_label_values(&["mychannel", "basic", "true"])
            .observe(0.01);
        m.shim_requests_received
            .with_label_values(&["GET_STATE", "mychannel", "basic"])
            .inc();
        let engine = weft_wasm_host::WasmEngine::new(weft_wasm_host::EngineConfig {
            max_instances: 2,
            ..Default::default()
        })
        .expect("engine");
        m.register_wasm_stats(Arc::new(engine)).expect("wasm stats");
        let text = String::from_utf8(m.encode_text().expect("encode")).expect("utf8");
        assert!(text.contains("endorser_proposals_received 1"), "{text}");
        assert!(text.contains(
            "endorser_proposal_duration_count{chaincode=\"basic\",channel=\"mychannel\",success=\"true\"} 1"
        ));
        assert!(text.contains(
            "chaincode_shim_requests_received{chaincode=\"basic\",channel=\"mychannel\",type=\"GET_STATE\"} 1"
        ));
        assert!(text.contains("weft_wasm_instantiations 0"), "{text}");
    }
}
