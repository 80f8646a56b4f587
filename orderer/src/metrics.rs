//! The orderer's Prometheus metrics, with Fabric's names, help texts and labels, so
//! dashboards and alert rules written for a Fabric orderer work unchanged.
//!
//! Names are Fabric's `namespace_subsystem_name` (from `orderer/common/broadcast`,
//! `orderer/common/blockcutter`, `orderer/consensus/etcdraft`, `common/deliver`,
//! `common/ledger/blkstorage`, `orderer/common/multichannel` and `core/operations`).
//! Histograms use Prometheus' default buckets, as Fabric does where it sets none.
//! Metrics Fabric does not have carry a `weft_` prefix.
//!
//! A labelled series appears in the exposition only once it has been touched.

use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// The content type of [`OrdererMetrics::encode_text`]'s output.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A metrics registration or encoding failure.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// The Prometheus library refused a metric or failed to encode.
    #[error("prometheus: {0}")]
    Prometheus(#[from] prometheus::Error),
}

/// Why a block was cut (label `reason` of `weft_blockcutter_blocks_cut`).
pub use crate::blockcutter::CutReason;

/// Every metric the orderer exports, registered in one private [`Registry`].
///
/// Fields are the Prometheus vectors themselves; label order is the one given in each
/// field's doc (Fabric's).
#[derive(Debug, Clone)]
pub struct OrdererMetrics {
    registry: Registry,

    /// `broadcast_validate_duration{channel,type,status}`: seconds to validate a transaction.
    pub broadcast_validate_duration: HistogramVec,
    /// `broadcast_enqueue_duration{channel,type,status}`: seconds to enqueue a transaction.
    pub broadcast_enqueue_duration: HistogramVec,
    /// `broadcast_processed_count{channel,type,status}`: transactions processed.
    pub broadcast_processed_count: IntCounterVec,

    /// `blockcutter_block_fill_duration{channel}`: seconds from the first envelope of a
    /// batch to the cut.
    pub blockcutter_block_fill_duration: HistogramVec,
    /// `weft_blockcutter_blocks_cut{channel,reason}`: blocks cut, by [`CutReason`].
    pub weft_blockcutter_blocks_cut: IntCounterVec,

    /// `consensus_etcdraft_cluster_size{channel}`: nodes in the channel.
    pub etcdraft_cluster_size: IntGaugeVec,
    /// `consensus_etcdraft_is_leader{channel}`: 1 if this node leads, else 0.
    pub etcdraft_is_leader: IntGaugeVec,
    /// `consensus_etcdraft_active_nodes{channel}`: active nodes in the channel.
    pub etcdraft_active_nodes: IntGaugeVec,
    /// `consensus_etcdraft_committed_block_number{channel}`: latest committed block.
    pub etcdraft_committed_block_number: IntGaugeVec,
    /// `consensus_etcdraft_snapshot_block_number{channel}`: block of the latest snapshot.
    pub etcdraft_snapshot_block_number: IntGaugeVec,
    /// `consensus_etcdraft_leader_changes{channel}`: leader changes since process start.
    pub etcdraft_leader_changes: IntCounterVec,
    /// `consensus_etcdraft_proposal_failures{channel}`: failed proposals.
    pub etcdraft_proposal_failures: IntCounterVec,
    /// `consensus_etcdraft_data_persist_duration{channel}`: seconds to persist Raft data.
    pub etcdraft_data_persist_duration: HistogramVec,
    /// `consensus_etcdraft_normal_proposals_received{channel}`: normal proposals received.
    pub etcdraft_normal_proposals_received: IntCounterVec,
    /// `consensus_etcdraft_config_proposals_received{channel}`: config proposals received.
    pub etcdraft_config_proposals_received: IntCounterVec,

    /// `deliver_streams_opened`: Deliver gRPC streams opened.
    pub deliver_streams_opened: IntCounter,
    /// `deliver_streams_closed`: Deliver gRPC streams closed.
    pub deliver_streams_closed: IntCounter,
    /// `deliver_requests_received{channel,filtered,data_type}`: Deliver requests received.
    pub deliver_requests_received: IntCounterVec,
    /// `deliver_requests_completed{channel,filtered,data_type,success}`: Deliver requests
    /// completed.
    pub deliver_requests_completed: IntCounterVec,
    /// `deliver_blocks_sent{channel,filtered,data_type}`: blocks sent by Deliver.
    pub deliver_blocks_sent: IntCounterVec,

    /// `ledger_blockchain_height{channel}`: chain height in blocks.
    pub ledger_blockchain_height: IntGaugeVec,
    /// `ledger_blockstorage_commit_time{channel}`: seconds to commit a block to storage.
    pub ledger_blockstorage_commit_time: HistogramVec,

    /// `participation_status{channel}`: 0 inactive, 1 active, 2 onboarding, 3 failed.
    pub participation_status: IntGaugeVec,
    /// `participation_consensus_relation{channel}`: 0 other, 1 consenter, 2 follower,
    /// 3 config-tracker.
    pub participation_consensus_relation: IntGaugeVec,

    /// `fabric_version{version}`: 1 for the running version.
    pub fabric_version: IntGaugeVec,
}

fn histogram(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
    buckets: Option<Vec<f64>>,
) -> Result<HistogramVec, MetricsError> {
    let mut opts = HistogramOpts::new(name, help);
    if let Some(buckets) = buckets {
        opts = opts.buckets(buckets);
    }
    let metric = HistogramVec::new(opts, labels)?;
    registry.register(Box::new(metric.clone()))?;
    Ok(metric)
}

fn counter(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> Result<IntCounterVec, MetricsError> {
    let metric = IntCounterVec::new(Opts::new(name, help), labels)?;
    registry.register(Box::new(metric.clone()))?;
    Ok(metric)
}

fn gauge(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> Result<IntGaugeVec, MetricsError> {
    let metric = IntGaugeVec::new(Opts::new(name, help), labels)?;
    registry.register(Box::new(metric.clone()))?;
    Ok(metric)
}

fn plain_counter(registry: &Registry, name: &str, help: &str) -> Result<IntCounter, MetricsError> {
    let metric = IntCounter::new(name, help)?;
    registry.register(Box::new(metric.clone()))?;
    Ok(metric)
}

const BROADCAST: &[&str] = &["channel", "type", "status"];
const CHANNEL: &[&str] = &["channel"];
const DELIVER: &[&str] = &["channel", "filtered", "data_type"];

impl OrdererMetrics {
    /// Registers every metric in a new registry and sets `fabric_version{version}` to 1
    /// for `version` (the running Weft version).
    pub fn new(version: &str) -> Result<Self, MetricsError> {
        let r = Registry::new();
        let metrics = Self {
            broadcast_validate_duration: histogram(
                &r,
                "broadcast_validate_duration",
                "The time to validate a transaction in seconds.",
                BROADCAST,
                None,
            )?,
            broadcast_enqueue_duration: histogram(
                &r,
                "broadcast_enqueue_duration",
                "The time to enqueue a transaction in seconds.",
                BROADCAST,
                None,
            )?,
            broadcast_processed_count: counter(
                &r,
                "broadcast_processed_count",
                "The number of transactions processed.",
                BROADCAST,
            )?,
            blockcutter_block_fill_duration: histogram(
                &r,
                "blockcutter_block_fill_duration",
                "The time from first transaction enqueing to the block being cut in seconds.",
                CHANNEL,
                None,
            )?,
            weft_blockcutter_blocks_cut: counter(
                &r,
                "weft_blockcutter_blocks_cut",
                "The number of blocks cut, by reason: count, bytes, timeout or config.",
                &["channel", "reason"],
            )?,
            etcdraft_cluster_size: gauge(
                &r,
                "consensus_etcdraft_cluster_size",
                "Number of nodes in this channel.",
                CHANNEL,
            )?,
            etcdraft_is_leader: gauge(
                &r,
                "consensus_etcdraft_is_leader",
                "The leadership status of the current node: 1 if it is the leader else 0.",
                CHANNEL,
            )?,
            etcdraft_active_nodes: gauge(
                &r,
                "consensus_etcdraft_active_nodes",
                "Number of active nodes in this channel.",
                CHANNEL,
            )?,
            etcdraft_committed_block_number: gauge(
                &r,
                "consensus_etcdraft_committed_block_number",
                "The block number of the latest block committed.",
                CHANNEL,
            )?,
            etcdraft_snapshot_block_number: gauge(
                &r,
                "consensus_etcdraft_snapshot_block_number",
                "The block number of the latest snapshot.",
                CHANNEL,
            )?,
            etcdraft_leader_changes: counter(
                &r,
                "consensus_etcdraft_leader_changes",
                "The number of leader changes since process start.",
                CHANNEL,
            )?,
            etcdraft_proposal_failures: counter(
                &r,
                "consensus_etcdraft_proposal_failures",
                "The number of proposal failures.",
                CHANNEL,
            )?,
            etcdraft_data_persist_duration: histogram(
                &r,
                "consensus_etcdraft_data_persist_duration",
                "The time taken for etcd/raft data to be persisted in storage (in seconds).",
                CHANNEL,
                None,
            )?,
            etcdraft_normal_proposals_received: counter(
                &r,
                "consensus_etcdraft_normal_proposals_received",
                "The total number of proposals received for normal type transactions.",
                CHANNEL,
            )?,
            etcdraft_config_proposals_received: counter(
                &r,
                "consensus_etcdraft_config_proposals_received",
                "The total number of proposals received for config type transactions.",
                CHANNEL,
            )?,
            deliver_streams_opened: plain_counter(
                &r,
                "deliver_streams_opened",
                "The number of GRPC streams that have been opened for the deliver service.",
            )?,
            deliver_streams_closed: plain_counter(
                &r,
                "deliver_streams_closed",
                "The number of GRPC streams that have been closed for the deliver service.",
            )?,
            deliver_requests_received: counter(
                &r,
                "deliver_requests_received",
                "The number of deliver requests that have been received.",
                DELIVER,
            )?,
            deliver_requests_completed: counter(
                &r,
                "deliver_requests_completed",
                "The number of deliver requests that have been completed.",
                &["channel", "filtered", "data_type", "success"],
            )?,
            deliver_blocks_sent: counter(
                &r,
                "deliver_blocks_sent",
                "The number of blocks sent by the deliver service.",
                DELIVER,
            )?,
            ledger_blockchain_height: gauge(
                &r,
                "ledger_blockchain_height",
                "Height of the chain in blocks.",
                CHANNEL,
            )?,
            ledger_blockstorage_commit_time: histogram(
                &r,
                "ledger_blockstorage_commit_time",
                "Time taken in seconds for committing the block to storage.",
                CHANNEL,
                Some(vec![0.005, 0.01, 0.015, 0.05, 0.1, 1.0, 10.0]),
            )?,
            participation_status: gauge(
                &r,
                "participation_status",
                "The channel participation status of the node: 0 if inactive, 1 if active, \
                 2 if onboarding, 3 if failed.",
                CHANNEL,
            )?,
            participation_consensus_relation: gauge(
                &r,
                "participation_consensus_relation",
                "The channel participation consensus relation of the node: 0 if other, \
                 1 if consenter, 2 if follower, 3 if config-tracker.",
                CHANNEL,
            )?,
            fabric_version: gauge(
                &r,
                "fabric_version",
                "The active version of Fabric.",
                &["version"],
            )?,
            registry: r,
        };
        metrics.fabric_version.with_label_values(&[version]).set(1);
        Ok(metrics)
    }

    /// The registry holding every metric (to add more, or to gather).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Every metric in the Prometheus text exposition format ([`TEXT_CONTENT_TYPE`]).
    pub fn encode_text(&self) -> Result<Vec<u8>, MetricsError> {
        let mut buf = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buf)?;
        Ok(buf)
    }

    /// Records the validation of one Broadcast envelope: `broadcast_validate_duration`.
    /// `kind` is the header type name (`ENDORSER_TRANSACTION`, `CONFIG_UPDATE`, ...),
    /// `status` the response status name (`SUCCESS`, `BAD_REQUEST`, ...).
    pub fn broadcast_validated(&self, channel: &str, kind: &str, status: &str, elapsed: Duration) {
        self.broadcast_validate_duration
            .with_label_values(&[channel, kind, status])
            .observe(elapsed.as_secs_f64());
    }

    /// Records the end of one Broadcast envelope: counts it in
    /// `broadcast_processed_count` and observes `elapsed` (from receipt to the response,
    /// i.e. including the hand-off to consensus) in `broadcast_enqueue_duration`.
    pub fn broadcast_processed(&self, channel: &str, kind: &str, status: &str, elapsed: Duration) {
        let labels = [channel, kind, status];
        self.broadcast_enqueue_duration
            .with_label_values(&labels)
            .observe(elapsed.as_secs_f64());
        self.broadcast_processed_count
            .with_label_values(&labels)
            .inc();
    }

    /// Records a cut block: `weft_blockcutter_blocks_cut{reason}` and, when the batch's
    /// first envelope time is known, `blockcutter_block_fill_duration`.
    pub fn block_cut(&self, channel: &str, reason: CutReason, fill: Option<Duration>) {
        self.weft_blockcutter_blocks_cut
            .with_label_values(&[channel, reason.as_str()])
            .inc();
        if let Some(fill) = fill {
            self.blockcutter_block_fill_duration
                .with_label_values(&[channel])
                .observe(fill.as_secs_f64());
        }
    }

    /// Removes every series of `channel` (after the channel is removed from this node).
    pub fn forget_channel(&self, channel: &str) {
        let gauges: [&IntGaugeVec; 8] = [
            &self.etcdraft_cluster_size,
            &self.etcdraft_is_leader,
            &self.etcdraft_active_nodes,
            &self.etcdraft_committed_block_number,
            &self.etcdraft_snapshot_block_number,
            &self.ledger_blockchain_height,
            &self.participation_status,
            &self.participation_consensus_relation,
        ];
        for vec in gauges {
            // Absent series are not an error worth reporting.
            let _ = vec.remove_label_values(&[channel]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_fabric_names_help_and_labels() {
        let m = OrdererMetrics::new("0.1.0").expect("metrics");
        m.broadcast_processed(
            "mychannel",
            "ENDORSER_TRANSACTION",
            "SUCCESS",
            Duration::from_millis(3),
        );
        m.broadcast_validated(
            "mychannel",
            "ENDORSER_TRANSACTION",
            "SUCCESS",
            Duration::from_millis(1),
        );
        m.block_cut(
            "mychannel",
            CutReason::Timeout,
            Some(Duration::from_secs(2)),
        );
        m.etcdraft_is_leader
            .with_label_values(&["mychannel"])
            .set(1);
        m.etcdraft_leader_changes
            .with_label_values(&["mychannel"])
            .inc();
        m.ledger_blockchain_height
            .with_label_values(&["mychannel"])
            .set(5);
        m.deliver_requests_completed
            .with_label_values(&["mychannel", "false", "block", "true"])
            .inc();
        m.deliver_streams_opened.inc();
        let text = String::from_utf8(m.encode_text().expect("encode")).expect("utf-8");
        for needle in [
            "# HELP broadcast_processed_count The number of transactions processed.",
            "# TYPE broadcast_processed_count counter",
            "broadcast_processed_count{channel=\"mychannel\",status=\"SUCCESS\",type=\"ENDORSER_TRANSACTION\"} 1",
            "# TYPE broadcast_enqueue_duration histogram",
            "broadcast_validate_duration_count{channel=\"mychannel\",status=\"SUCCESS\",type=\"ENDORSER_TRANSACTION\"} 1",
            "blockcutter_block_fill_duration_sum{channel=\"mychannel\"} 2",
            "weft_blockcutter_blocks_cut{channel=\"mychannel\",reason=\"timeout\"} 1",
            "consensus_etcdraft_is_leader{channel=\"mychannel\"} 1",
            "consensus_etcdraft_leader_changes{channel=\"mychannel\"} 1",
            "ledger_blockchain_height{channel=\"mychannel\"} 5",
            "deliver_requests_completed{channel=\"mychannel\",data_type=\"block\",filtered=\"false\",success=\"true\"} 1",
            "deliver_streams_opened 1",
            "deliver_streams_closed 0",
            "fabric_version{version=\"0.1.0\"} 1",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
    }

    #[test]
    fn forget_channel_drops_its_gauges() {
        let m = OrdererMetrics::new("0.1.0").expect("metrics");
        m.ledger_blockchain_height.with_label_values(&["a"]).set(1);
        m.ledger_blockchain_height.with_label_values(&["b"]).set(2);
        m.forget_channel("a");
        m.forget_channel("never-seen");
        let text = String::from_utf8(m.encode_text().expect("encode")).expect("utf-8");
        assert!(!text.contains("ledger_blockchain_height{channel=\"a\"}"));
        assert!(text.contains("ledger_blockchain_height{channel=\"b\"} 2"));
    }

    #[test]
    fn cut_reason_labels() {
        let labels: Vec<&str> = [
            CutReason::Count,
            CutReason::Bytes,
            CutReason::Timeout,
            CutReason::Config,
        ]
        .into_iter()
        .map(CutReason::as_str)
        .collect();
        assert_eq!(labels, ["count", "bytes", "timeout", "config"]);
    }
}
