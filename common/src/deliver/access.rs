//! A session's access control: Fabric's `SessionAccessControl`.

use std::time::SystemTime;

use time::OffsetDateTime;

use super::{AccessDenied, DeliverChannel};
use crate::msp::Identity;
use crate::policy::SignedData;

/// The access decision for one seek request, re-checked before every block.
///
/// The requester's certificate expiry is checked every time; the channel's
/// [`DeliverChannel::authorize`] runs on the first check and again whenever the channel's
/// config sequence grew since the last one.
pub(super) struct SessionAccess<'a> {
    channel: &'a dyn DeliverChannel,
    resource: &'a str,
    signed: &'a SignedData<'a>,
    /// The requester's certificate, when expiry is checked and it decodes (Fabric ignores
    /// identities whose expiry it cannot read).
    identity: Option<Identity>,
    clock: fn() -> SystemTime,
    /// The config sequence of the last successful `authorize`.
    authorized_at: Option<u64>,
}

impl<'a> SessionAccess<'a> {
    pub(super) fn new(
        channel: &'a dyn DeliverChannel,
        resource: &'a str,
        signed: &'a SignedData<'a>,
        identity: Option<Identity>,
        clock: fn() -> SystemTime,
    ) -> Self {
        Self {
            channel,
            resource,
            signed,
            identity,
            clock,
            authorized_at: None,
        }
    }

    /// Whether the session may receive its next block.
    pub(super) fn check(&mut self) -> Result<(), AccessDenied> {
        if let Some(identity) = &self.identity {
            let now = OffsetDateTime::from((self.clock)());
            if identity.is_expired_at(now) {
                return Err(AccessDenied::new(format!(
                    "client identity expired at {}",
                    identity.not_after()
                )));
            }
        }
        let sequence = self.channel.config_sequence();
        if self.authorized_at.is_some_and(|seen| sequence <= seen) {
            return Ok(());
        }
        self.channel.authorize(self.resource, self.signed)?;
        self.authorized_at = Some(sequence);
        Ok(())
    }
}
