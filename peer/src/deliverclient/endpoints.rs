//! Where the ordering service of a channel is: endpoints and their TLS roots, from the
//! channel config (Fabric's `internal/pkg/peer/orderers.ConnectionSource`), and the
//! rotation the client walks them in.

use std::collections::HashMap;

use rand::seq::SliceRandom;
use weft_common::channelconfig::ChannelConfig;

/// One orderer to pull blocks from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrdererEndpoint {
    /// `host:port`.
    pub address: String,
    /// PEM certificates (TLS root and intermediate CAs) the orderer's TLS server
    /// certificate must chain to; unused when TLS is off.
    pub root_certs: Vec<Vec<u8>>,
}

impl OrdererEndpoint {
    /// An endpoint at `address` trusting `root_certs` (PEM).
    pub fn new(address: impl Into<String>, root_certs: Vec<Vec<u8>>) -> Self {
        Self {
            address: address.into(),
            root_certs,
        }
    }
}

/// One entry of `peer.deliveryclient.addressOverrides`: the address to dial instead of a
/// config address, and optionally the CA certificates to trust there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressOverride {
    /// The `host:port` to dial (`to`).
    pub address: String,
    /// PEM CA certificates (`caCertsFile` contents); `None` keeps the roots the channel
    /// config gives the replaced address.
    pub root_certs: Option<Vec<Vec<u8>>>,
}

/// The channel's orderer endpoints, as Fabric's peer derives them from a config:
///
/// - if any orderer org declares `Endpoints`, every org's endpoints, each trusting that
///   org's TLS root and intermediate CA certificates (the global `OrdererAddresses` are
///   then ignored, as Fabric does);
/// - otherwise the global `OrdererAddresses`, each trusting the TLS CAs of every orderer
///   org;
/// - an address listed in `overrides` (keyed by the config address) is replaced by the
///   override's address and, when given, its CA certificates.
///
/// Orgs come in name order, endpoints in config order.
pub fn orderer_endpoints(
    config: &ChannelConfig,
    overrides: &HashMap<String, AddressOverride>,
) -> Vec<OrdererEndpoint> {
    let orgs: Vec<(Vec<String>, Vec<Vec<u8>>)> = config
        .orderer()
        .map(|orderer| {
            orderer
                .organizations
                .values()
                .map(|org| {
                    let roots = config
                        .msp_manager()
                        .get(&org.msp_id)
                        .map(|msp| {
                            msp.tls_root_certs()
                                .iter()
                                .chain(msp.tls_intermediate_certs())
                                .cloned()
                                .collect()
                        })
                        .unwrap_or_default();
                    (org.endpoints.clone(), roots)
                })
                .collect()
        })
        .unwrap_or_default();

    let endpoint = |address: &str, roots: &[Vec<u8>]| match overrides.get(address) {
        Some(o) => OrdererEndpoint {
            address: o.address.clone(),
            root_certs: o.root_certs.clone().unwrap_or_else(|| roots.to_vec()),
        },
        None => OrdererEndpoint::new(address, roots.to_vec()),
    };

    if orgs.iter().any(|(addresses, _)| !addresses.is_empty()) {
        if !config.orderer_addresses().is_empty() {
            tracing::warn!(
                channel = config.channel_id(),
                "config defines both orderer org endpoints and global orderer addresses; \
                 the global addresses are ignored"
            );
        }
        return orgs
            .iter()
            .flat_map(|(addresses, roots)| addresses.iter().map(|a| endpoint(a, roots)))
            .collect();
    }
    let all_roots: Vec<Vec<u8>> = orgs.into_iter().flat_map(|(_, roots)| roots).collect();
    config
        .orderer_addresses()
        .iter()
        .map(|a| endpoint(a, &all_roots))
        .collect()
}

/// Hands out endpoints round-robin over a shuffled order, reshuffling after each full
/// round (never starting a round with the endpoint that ended the last one) and whenever
/// the endpoint list changes.
#[derive(Debug)]
pub(crate) struct EndpointRotation {
    shuffle: bool,
    list: Vec<OrdererEndpoint>,
    order: Vec<usize>,
    position: usize,
}

impl EndpointRotation {
    /// A rotation; without `shuffle` the endpoints are visited in list order (tests).
    pub(crate) fn new(shuffle: bool) -> Self {
        Self {
            shuffle,
            list: Vec::new(),
            order: Vec::new(),
            position: 0,
        }
    }

    /// The endpoint to try next among `current`; `None` if there is none.
    pub(crate) fn next(&mut self, current: &[OrdererEndpoint]) -> Option<OrdererEndpoint> {
        if current.is_empty() {
            return None;
        }
        if self.list != current {
            self.list = current.to_vec();
            self.new_round(None);
        } else if self.position >= self.order.len() {
            let last = self.order.last().copied();
            self.new_round(last);
        }
        let index = self.order[self.position];
        self.position += 1;
        Some(self.list[index].clone())
    }

    fn new_round(&mut self, avoid_first: Option<usize>) {
        self.order = (0..self.list.len()).collect();
        if self.shuffle {
            self.order.shuffle(&mut rand::rng());
            if self.order.len() > 1 && self.order.first().copied() == avoid_first {
                let last = self.order.len() - 1;
                self.order.swap(0, last);
            }
        }
        self.position = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoints(names: &[&str]) -> Vec<OrdererEndpoint> {
        names
            .iter()
            .map(|n| OrdererEndpoint::new(*n, Vec::new()))
            .collect()
    }

    #[test]
    fn rotation_visits_every_endpoint_once_per_round_without_repeating() {
        let list = endpoints(&["a:1", "b:2", "c:3"]);
        let mut rotation = EndpointRotation::new(true);
        let mut previous: Option<String> = None;
        for _ in 0..20 {
            let mut round: Vec<String> = (0..3)
                .map(|_| {
                    let next = rotation.next(&list).expect("endpoint").address;
                    assert_ne!(
                        Some(&next),
                        previous.as_ref(),
                        "same endpoint twice in a row"
                    );
                    previous = Some(next.clone());
                    next
                })
                .collect();
            round.sort();
            assert_eq!(round, ["a:1", "b:2", "c:3"]);
        }
    }

    #[test]
    fn rotation_follows_list_changes() {
        let mut rotation = EndpointRotation::new(false);
        assert_eq!(rotation.next(&[]), None);
        let first = endpoints(&["a:1", "b:2"]);
        assert_eq!(rotation.next(&first).expect("a").address, "a:1");
        assert_eq!(rotation.next(&first).expect("b").address, "b:2");
        assert_eq!(rotation.next(&first).expect("a").address, "a:1");
        // A new list starts a new round from its beginning.
        let second = endpoints(&["c:3", "d:4"]);
        assert_eq!(rotation.next(&second).expect("c").address, "c:3");
        assert_eq!(rotation.next(&second).expect("d").address, "d:4");
        // One endpoint: always that one.
        let single = endpoints(&["e:5"]);
        let mut shuffled = EndpointRotation::new(true);
        for _ in 0..3 {
            assert_eq!(shuffled.next(&single).expect("e").address, "e:5");
        }
    }
}
