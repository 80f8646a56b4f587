//! Endorsement plugins: what signs a simulated proposal. A chaincode definition names its
//! plugin (`escc` by default); the default signs `proposal_response_payload ‖ endorser`
//! with the peer's identity, as Fabric's built-in plugin does.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;

use weft_common::msp::SigningIdentity;
use weft_common::protoutil;
use weft_proto::protos::{Endorsement, SignedProposal};

/// The name of the default endorsement plugin.
pub const DEFAULT_PLUGIN: &str = "escc";

/// Signs the proposal response payload of a successful simulation.
pub trait EndorsementPlugin: Send + Sync + Debug {
    /// The endorsement of `prp` on `channel`, and the payload to return (the default
    /// returns `prp` unchanged).
    fn endorse(
        &self,
        channel: &str,
        prp: Vec<u8>,
        proposal: &SignedProposal,
    ) -> Result<(Endorsement, Vec<u8>), String>;
}

/// Fabric's default plugin: the peer's signature over `prp ‖ endorser`.
#[derive(Debug, Clone)]
pub struct DefaultEndorsement {
    signer: Arc<SigningIdentity>,
}

impl DefaultEndorsement {
    /// The plugin signing with `signer`.
    pub fn new(signer: Arc<SigningIdentity>) -> Self {
        Self { signer }
    }
}

impl EndorsementPlugin for DefaultEndorsement {
    fn endorse(
        &self,
        _channel: &str,
        prp: Vec<u8>,
        _proposal: &SignedProposal,
    ) -> Result<(Endorsement, Vec<u8>), String> {
        let endorsement = protoutil::endorse(&prp, self.signer.as_ref())
            .map_err(|e| format!("could not sign the proposal response: {e}"))?;
        Ok((endorsement, prp))
    }
}

/// The endorsement plugins by name.
#[derive(Debug, Clone, Default)]
pub struct EndorsementPlugins {
    plugins: HashMap<String, Arc<dyn EndorsementPlugin>>,
}

impl EndorsementPlugins {
    /// The default plugin under [`DEFAULT_PLUGIN`], signing with `signer`.
    pub fn with_default(signer: Arc<SigningIdentity>) -> Self {
        let mut plugins = Self::default();
        plugins.register(DEFAULT_PLUGIN, Arc::new(DefaultEndorsement::new(signer)));
        plugins
    }

    /// Adds (or replaces) plugin `name`.
    pub fn register(&mut self, name: &str, plugin: Arc<dyn EndorsementPlugin>) {
        self.plugins.insert(name.to_owned(), plugin);
    }

    /// Endorses with plugin `name` (Fabric's message when it does not exist).
    pub fn endorse(
        &self,
        name: &str,
        channel: &str,
        prp: Vec<u8>,
        proposal: &SignedProposal,
    ) -> Result<(Endorsement, Vec<u8>), String> {
        let plugin = self
            .plugins
            .get(name)
            .ok_or_else(|| format!("plugin with name {name} wasn't found"))?;
        plugin.endorse(channel, prp, proposal)
    }
}
