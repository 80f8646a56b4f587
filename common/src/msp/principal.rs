//! Decoded `MSPPrincipal`s: what a signature policy asks of a signer.

use std::fmt;

use prost::Message as _;
use weft_proto::common::msp_identity_anonymity::MspIdentityAnonymityType;
use weft_proto::common::msp_principal::Classification;
use weft_proto::common::msp_role::MspRoleType;
use weft_proto::common::{
    CombinedPrincipal, MspIdentityAnonymity, MspPrincipal, MspRole, OrganizationUnit,
};

use super::{Identity, MspError};

/// An MSP role (`MSPRole.role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Any valid identity of the MSP.
    Member,
    /// An admin: listed in admincerts, or carrying the admin OU with NodeOUs.
    Admin,
    /// Carries the client OU (NodeOUs).
    Client,
    /// Carries the peer OU (NodeOUs).
    Peer,
    /// Carries the orderer OU (NodeOUs).
    Orderer,
}

impl Role {
    /// The protobuf enum value.
    pub fn to_proto(self) -> MspRoleType {
        match self {
            Role::Member => MspRoleType::Member,
            Role::Admin => MspRoleType::Admin,
            Role::Client => MspRoleType::Client,
            Role::Peer => MspRoleType::Peer,
            Role::Orderer => MspRoleType::Orderer,
        }
    }

    /// The role for a protobuf enum value.
    pub fn from_proto(role: MspRoleType) -> Role {
        match role {
            MspRoleType::Member => Role::Member,
            MspRoleType::Admin => Role::Admin,
            MspRoleType::Client => Role::Client,
            MspRoleType::Peer => Role::Peer,
            MspRoleType::Orderer => Role::Orderer,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Client => "client",
            Role::Peer => "peer",
            Role::Orderer => "orderer",
        })
    }
}

/// An anonymity requirement (`MSPIdentityAnonymity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Anonymity {
    /// Satisfied by every X.509 identity.
    Nominal,
    /// Never satisfied by X.509 identities.
    Anonymous,
}

/// A decoded `MSPPrincipal`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// `ROLE`: a role within an MSP.
    Role {
        /// The MSP id.
        mspid: String,
        /// The role.
        role: Role,
    },
    /// `ORGANIZATION_UNIT`: an OU issued under a given chain of CAs.
    OrganizationUnit {
        /// The MSP id.
        mspid: String,
        /// The OU value.
        ou: String,
        /// SHA-256 over the DER of the issuing chain (issuer up to root).
        certifiers_identifier: Vec<u8>,
    },
    /// `IDENTITY`: one specific certificate.
    Identity {
        /// The MSP id of the serialized identity.
        mspid: String,
        /// The certificate DER (sanitized).
        certificate_der: Vec<u8>,
    },
    /// `ANONYMITY`.
    Anonymity(Anonymity),
    /// `COMBINED`: every sub-principal must be satisfied.
    Combined(Vec<Principal>),
}

impl Principal {
    /// A `ROLE` principal.
    pub fn role(mspid: &str, role: Role) -> Principal {
        Principal::Role {
            mspid: mspid.to_owned(),
            role,
        }
    }

    /// Decodes an `MSPPrincipal`; anything malformed or unknown is
    /// [`MspError::InvalidPrincipal`].
    pub fn decode(principal: &MspPrincipal) -> Result<Principal, MspError> {
        let invalid = |what: &str, e: prost::DecodeError| {
            MspError::InvalidPrincipal(format!("cannot decode {what}: {e}"))
        };
        let bytes = principal.principal.as_slice();
        match Classification::try_from(principal.principal_classification) {
            Ok(Classification::Role) => {
                let role = MspRole::decode(bytes).map_err(|e| invalid("MSPRole", e))?;
                let kind = MspRoleType::try_from(role.role).map_err(|_| {
                    MspError::InvalidPrincipal(format!("unknown MSP role type {}", role.role))
                })?;
                Ok(Principal::Role {
                    mspid: role.msp_identifier,
                    role: Role::from_proto(kind),
                })
            }
            Ok(Classification::OrganizationUnit) => {
                let ou =
                    OrganizationUnit::decode(bytes).map_err(|e| invalid("OrganizationUnit", e))?;
                Ok(Principal::OrganizationUnit {
                    mspid: ou.msp_identifier,
                    ou: ou.organizational_unit_identifier,
                    certifiers_identifier: ou.certifiers_identifier,
                })
            }
            Ok(Classification::Identity) => {
                let identity = Identity::from_serialized(bytes).map_err(|e| {
                    MspError::InvalidPrincipal(format!(
                        "identity principal is not a certificate: {e}"
                    ))
                })?;
                Ok(Principal::Identity {
                    mspid: identity.mspid().to_owned(),
                    certificate_der: identity.certificate_der().to_vec(),
                })
            }
            Ok(Classification::Anonymity) => {
                let anon = MspIdentityAnonymity::decode(bytes)
                    .map_err(|e| invalid("MSPIdentityAnonymity", e))?;
                match MspIdentityAnonymityType::try_from(anon.anonymity_type) {
                    Ok(MspIdentityAnonymityType::Nominal) => {
                        Ok(Principal::Anonymity(Anonymity::Nominal))
                    }
                    Ok(MspIdentityAnonymityType::Anonymous) => {
                        Ok(Principal::Anonymity(Anonymity::Anonymous))
                    }
                    Err(_) => Err(MspError::InvalidPrincipal(format!(
                        "unknown anonymity type {}",
                        anon.anonymity_type
                    ))),
                }
            }
            Ok(Classification::Combined) => {
                let combined = CombinedPrincipal::decode(bytes)
                    .map_err(|e| invalid("CombinedPrincipal", e))?;
                if combined.principals.is_empty() {
                    return Err(MspError::InvalidPrincipal(
                        "combined principal has no principals".into(),
                    ));
                }
                combined
                    .principals
                    .iter()
                    .map(Principal::decode)
                    .collect::<Result<Vec<_>, _>>()
                    .map(Principal::Combined)
            }
            Err(_) => Err(MspError::InvalidPrincipal(format!(
                "unknown principal classification {}",
                principal.principal_classification
            ))),
        }
    }

    /// Encodes a `ROLE` principal the way Fabric's tools do.
    pub fn encode_role(mspid: &str, role: Role) -> MspPrincipal {
        MspPrincipal {
            principal_classification: Classification::Role as i32,
            principal: MspRole {
                msp_identifier: mspid.to_owned(),
                role: role.to_proto() as i32,
            }
            .encode_to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(class: Classification, bytes: Vec<u8>) -> MspPrincipal {
        MspPrincipal {
            principal_classification: class as i32,
            principal: bytes,
        }
    }

    #[test]
    fn decodes_each_kind() {
        assert_eq!(
            Principal::decode(&Principal::encode_role("Org1MSP", Role::Peer)).unwrap(),
            Principal::role("Org1MSP", Role::Peer)
        );
        let ou = OrganizationUnit {
            msp_identifier: "Org1MSP".into(),
            organizational_unit_identifier: "dept".into(),
            certifiers_identifier: vec![1, 2],
        };
        assert_eq!(
            Principal::decode(&principal(
                Classification::OrganizationUnit,
                ou.encode_to_vec()
            ))
            .unwrap(),
            Principal::OrganizationUnit {
                mspid: "Org1MSP".into(),
                ou: "dept".into(),
                certifiers_identifier: vec![1, 2]
            }
        );
        let anon = MspIdentityAnonymity {
            anonymity_type: MspIdentityAnonymityType::Anonymous as i32,
        };
        assert_eq!(
            Principal::decode(&principal(Classification::Anonymity, anon.encode_to_vec())).unwrap(),
            Principal::Anonymity(Anonymity::Anonymous)
        );
        let combined = CombinedPrincipal {
            principals: vec![
                Principal::encode_role("A", Role::Member),
                Principal::encode_role("B", Role::Admin),
            ],
        };
        assert_eq!(
            Principal::decode(&principal(
                Classification::Combined,
                combined.encode_to_vec()
            ))
            .unwrap(),
            Principal::Combined(vec![
                Principal::role("A", Role::Member),
                Principal::role("B", Role::Admin)
            ])
        );
    }

    #[test]
    fn bad_principals_are_typed_errors() {
        let bad = [
            principal(Classification::Role, vec![0xff, 0xff]),
            principal(
                Classification::Role,
                MspRole {
                    msp_identifier: "A".into(),
                    role: 9,
                }
                .encode_to_vec(),
            ),
            principal(Classification::Identity, b"junk".to_vec()),
            principal(
                Classification::Anonymity,
                MspIdentityAnonymity { anonymity_type: 5 }.encode_to_vec(),
            ),
            principal(Classification::Combined, Vec::new()),
            MspPrincipal {
                principal_classification: 42,
                principal: Vec::new(),
            },
        ];
        for p in bad {
            assert!(
                matches!(Principal::decode(&p), Err(MspError::InvalidPrincipal(_))),
                "{p:?}"
            );
        }
    }
}
