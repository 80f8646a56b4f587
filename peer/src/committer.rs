//! What runs for each joined channel: a deliver client pulling verified blocks from the
//! channel's orderers into a bounded buffer, and a committer taking them out strictly in
//! order to validate and commit them (the seeds' `DeliverBlocks` and `deliverPayloads`).
//! The orderer endpoints follow the channel config: when a config block commits, the
//! deliver client reconnects over the new list.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use weft_common::msp::SigningIdentity;

use crate::channel::Channel;
use crate::channels::ChannelStarter;
use crate::config::PeerConfig;
use crate::deliverclient::{
    AddressOverride, BlockBuffer, ChannelConfigVerifier, ClientTlsConfig, DEFAULT_BUFFER_CAPACITY,
    DeliverClient, DeliverClientConfig, DeliverHandle, StartPosition, block_buffer,
    orderer_endpoints,
};

/// The tasks of one channel.
#[derive(Debug)]
struct ChannelTasks {
    deliver: DeliverHandle,
    committer: JoinHandle<()>,
    endpoints: JoinHandle<()>,
}

/// Starts and stops the per-channel tasks.
pub struct ChannelRunner {
    config: DeliverClientConfig,
    overrides: HashMap<String, AddressOverride>,
    signer: Arc<SigningIdentity>,
    runtime: Handle,
    running: Mutex<Vec<ChannelTasks>>,
}

impl std::fmt::Debug for ChannelRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelRunner")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ChannelRunner {
    /// A runner with the deliver client settings of `peer_config`, signing seek requests
    /// with `signer`, spawning on `runtime`. Fails if TLS files cannot be read.
    pub fn new(
        peer_config: &PeerConfig,
        signer: Arc<SigningIdentity>,
        runtime: Handle,
    ) -> Result<Self, std::io::Error> {
        let peer = &peer_config.peer;
        // As Fabric's peer: a client certificate is presented to orderers only when the
        // peer runs with mutual TLS (`peer.tls.clientAuthRequired`).
        let tls = if peer.tls.enabled {
            let client_certificate = if peer.tls.client_auth_required {
                let cert = peer
                    .tls
                    .client_cert_file
                    .as_ref()
                    .unwrap_or(&peer.tls.cert_file);
                let key = peer
                    .tls
                    .client_key_file
                    .as_ref()
                    .unwrap_or(&peer.tls.key_file);
                Some((read(cert)?, read(key)?))
            } else {
                None
            };
            Some(ClientTlsConfig { client_certificate })
        } else {
            None
        };
        let config = DeliverClientConfig {
            conn_timeout: peer.delivery_client.conn_timeout,
            reconnect_backoff_threshold: peer.delivery_client.reconnect_backoff_threshold,
            reconnect_total_time_threshold: peer.delivery_client.reconnect_total_time_threshold,
            static_leader: true,
            keepalive_interval: peer.keepalive.delivery_client_interval,
            keepalive_timeout: peer.keepalive.delivery_client_timeout,
            max_recv_msg_size: peer.max_recv_msg_size,
            max_send_msg_size: peer.max_send_msg_size,
            tls,
        };
        let mut overrides = HashMap::new();
        for o in &peer.delivery_client.address_overrides {
            let root_certs = match &o.ca_certs_file {
                Some(path) => Some(vec![read(path)?]),
                None => None,
            };
            overrides.insert(
                o.from.clone(),
                AddressOverride {
                    address: o.to.clone(),
                    root_certs,
                },
            );
        }
        Ok(Self {
            config,
            overrides,
            signer,
            runtime,
            running: Mutex::new(Vec::new()),
        })
    }

    /// Stops every channel's tasks and waits for them.
    pub async fn stop(&self) {
        let tasks: Vec<ChannelTasks> =
            std::mem::take(&mut *self.running.lock().unwrap_or_else(PoisonError::into_inner));
        for task in tasks {
            task.endpoints.abort();
            let _ = task.deliver.shutdown().await;
            // The committer ends once the buffer's sender is gone; a commit in progress
            // finishes first.
            let _ = task.committer.await;
        }
    }
}

fn read(path: &std::path::Path) -> Result<Vec<u8>, std::io::Error> {
    std::fs::read(path)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

impl ChannelStarter for ChannelRunner {
    fn start(&self, channel: Arc<Channel>) {
        let _entered = self.runtime.enter();
        let id = channel.id().to_owned();
        let mut configs = channel.watch_config();
        let initial = orderer_endpoints(&configs.borrow(), &self.overrides);
        let (endpoints_tx, endpoints_rx) = watch::channel(initial);
        let overrides = self.overrides.clone();
        let endpoints = self.runtime.spawn(async move {
            while configs.changed().await.is_ok() {
                let list = orderer_endpoints(&configs.borrow_and_update(), &overrides);
                endpoints_tx.send_if_modified(|current| {
                    let changed = *current != list;
                    *current = list;
                    changed
                });
            }
        });
        let verifier = Arc::new(ChannelConfigVerifier::new(
            id.clone(),
            channel.watch_config(),
        ));
        let client = match DeliverClient::new(
            id.clone(),
            self.config.clone(),
            self.signer.clone(),
            endpoints_rx,
            verifier,
        ) {
            Ok(client) => client,
            Err(e) => {
                tracing::error!(channel = %id, error = %e, "cannot start the deliver client");
                endpoints.abort();
                return;
            }
        };
        let store = channel.ledger().block_store();
        let start = StartPosition {
            next_block: store.height(),
            previous_hash: store.last_header_hash(),
        };
        let (sender, buffer) = block_buffer(DEFAULT_BUFFER_CAPACITY);
        let deliver = client.spawn(start, sender);
        let committer = self.runtime.spawn(commit_loop(channel, buffer));
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(ChannelTasks {
                deliver,
                committer,
                endpoints,
            });
    }
}

/// Takes blocks from `buffer` in order and commits them, until the buffer closes or a
/// commit fails (the channel then stops committing; the error is logged).
async fn commit_loop(channel: Arc<Channel>, mut buffer: BlockBuffer) {
    while let Some(block) = buffer.recv().await {
        let committing = channel.clone();
        let result = tokio::task::spawn_blocking(move || committing.commit_block(block)).await;
        match result {
            Ok(Ok(Some(notice))) => {
                tracing::debug!(channel = %notice.channel_id, block = notice.number(), txs = notice.transactions.len(), "committed block");
            }
            Ok(Ok(None)) => {}
            Ok(Err(e)) => {
                tracing::error!(channel = channel.id(), error = %e, "commit failed; the channel stops committing");
                return;
            }
            Err(e) => {
                tracing::error!(channel = channel.id(), error = %e, "commit task failed; the channel stops committing");
                return;
            }
        }
    }
}
