use std::borrow::Cow;

/// One signature to evaluate against a policy: `signature` by `identity` over `data`.
///
/// This is the unit every policy check consumes (Fabric's `protoutil.SignedData`):
/// an envelope's creator signature, an endorsement (`data` = proposal response payload
/// ‖ endorser), an orderer's block signature, a config-update signature. The bytes are
/// the ones received, never a re-encoding, so fields borrow where they can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedData<'a> {
    /// The exact bytes that were signed.
    pub data: Cow<'a, [u8]>,
    /// The signer: a marshaled `msp.SerializedIdentity`.
    pub identity: Cow<'a, [u8]>,
    /// DER ECDSA signature over SHA-256(`data`).
    pub signature: Cow<'a, [u8]>,
}

impl<'a> SignedData<'a> {
    /// A signed item whose parts are all borrowed.
    pub fn borrowed(data: &'a [u8], identity: &'a [u8], signature: &'a [u8]) -> Self {
        Self {
            data: Cow::Borrowed(data),
            identity: Cow::Borrowed(identity),
            signature: Cow::Borrowed(signature),
        }
    }
}
