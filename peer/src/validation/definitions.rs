//! Chaincode definitions as `_lifecycle` keeps them in public state (fabric-wire §7.3),
//! read for validation and written for tests and the lifecycle chaincode.
//!
//! Fabric's lifecycle serializer stores a struct `S` named `N` as one metadata key and one
//! key per field:
//!
//! ```text
//! namespaces/metadata/<cc>                 StateMetadata{datatype "ChaincodeDefinition",
//!                                            fields [Sequence, EndorsementInfo, ValidationInfo, Collections]}
//! namespaces/fields/<cc>/Sequence          StateData{Int64: sequence}
//! namespaces/fields/<cc>/EndorsementInfo   StateData{Bytes: ChaincodeEndorsementInfo}
//! namespaces/fields/<cc>/ValidationInfo    StateData{Bytes: ChaincodeValidationInfo}
//! namespaces/fields/<cc>/Collections       StateData{Bytes: CollectionConfigPackage}
//! ```
//!
//! Reading follows Fabric's `Serializer.Deserialize`: a missing metadata key means "not
//! defined"; a metadata key of another datatype is an error; a missing field key reads as
//! the zero value; a field of the wrong `StateData` kind is an error. Writing follows
//! `Serializer.Serialize`: only keys whose bytes change are written, field keys the
//! metadata no longer lists are deleted ([`definition_writes`]); [`state_entries`] gives
//! the complete set of keys, for seeding state.
//!
//! The `_lifecycle` namespace itself has no stored definition; the validator gives it
//! the channel's `LifecycleEndorsement` policy (see the [validation module](super)).

use prost::Message;
use weft_proto::lifecycle::state_data::Type as StateDataType;
use weft_proto::lifecycle::{
    ChaincodeEndorsementInfo, ChaincodeValidationInfo, StateData, StateMetadata,
};
use weft_proto::protos::{ApplicationPolicy, CollectionConfigPackage};

use crate::ledger::{KeyWrite, LedgerError, NsUpdates, StateView, TxUpdates};

/// The namespace of the `_lifecycle` system chaincode.
pub const LIFECYCLE_NAMESPACE: &str = "_lifecycle";
/// The serializer prefix under which chaincode definitions live.
pub const NAMESPACES_PREFIX: &str = "namespaces";
/// `StateMetadata.datatype` of a committed chaincode definition.
pub const CHAINCODE_DEFINITION_TYPE: &str = "ChaincodeDefinition";
/// The fields of a committed chaincode definition, in Fabric's struct order.
pub const DEFINITION_FIELDS: [&str; 4] = [
    FIELD_SEQUENCE,
    FIELD_ENDORSEMENT_INFO,
    FIELD_VALIDATION_INFO,
    FIELD_COLLECTIONS,
];
/// The default validation plugin name (Fabric's builtin validation).
pub const DEFAULT_VALIDATION_PLUGIN: &str = "vscc";
/// The default endorsement plugin name.
pub const DEFAULT_ENDORSEMENT_PLUGIN: &str = "escc";
/// The channel policy a definition's endorsement policy defaults to.
pub const DEFAULT_ENDORSEMENT_POLICY_REF: &str = "/Channel/Application/Endorsement";

const FIELD_SEQUENCE: &str = "Sequence";
const FIELD_ENDORSEMENT_INFO: &str = "EndorsementInfo";
const FIELD_VALIDATION_INFO: &str = "ValidationInfo";
const FIELD_COLLECTIONS: &str = "Collections";

/// A committed chaincode definition (Fabric's `lifecycle.ChaincodeDefinition`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChaincodeDefinition {
    /// The definition's sequence (1 for the first commit).
    pub sequence: i64,
    /// Version, init-required flag and endorsement plugin.
    pub endorsement_info: ChaincodeEndorsementInfo,
    /// Validation plugin and its parameter (a marshaled `ApplicationPolicy` for "vscc").
    pub validation_info: ChaincodeValidationInfo,
    /// Private data collections.
    pub collections: CollectionConfigPackage,
}

impl ChaincodeDefinition {
    /// A definition as `CommitChaincodeDefinition` stores it with default plugins
    /// ("escc", "vscc"), no init requirement and no collections, endorsed by `policy`.
    pub fn new(sequence: i64, version: &str, policy: &ApplicationPolicy) -> Self {
        ChaincodeDefinition {
            sequence,
            endorsement_info: ChaincodeEndorsementInfo {
                version: version.to_owned(),
                init_required: false,
                endorsement_plugin: DEFAULT_ENDORSEMENT_PLUGIN.to_owned(),
            },
            validation_info: ChaincodeValidationInfo {
                validation_plugin: DEFAULT_VALIDATION_PLUGIN.to_owned(),
                validation_parameter: policy.encode_to_vec(),
            },
            collections: CollectionConfigPackage::default(),
        }
    }

    /// The marshaled `StateData` of each field, in [`DEFINITION_FIELDS`] order.
    fn field_values(&self) -> [(&'static str, Vec<u8>); 4] {
        let bytes = |b: Vec<u8>| StateData {
            r#type: Some(StateDataType::Bytes(b)),
        };
        [
            (
                FIELD_SEQUENCE,
                StateData {
                    r#type: Some(StateDataType::Int64(self.sequence)),
                }
                .encode_to_vec(),
            ),
            (
                FIELD_ENDORSEMENT_INFO,
                bytes(self.endorsement_info.encode_to_vec()).encode_to_vec(),
            ),
            (
                FIELD_VALIDATION_INFO,
                bytes(self.validation_info.encode_to_vec()).encode_to_vec(),
            ),
            (
                FIELD_COLLECTIONS,
                bytes(self.collections.encode_to_vec()).encode_to_vec(),
            ),
        ]
    }
}

/// Why a stored definition could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DefinitionError {
    /// The state could not be read.
    #[error("reading _lifecycle state: {0}")]
    State(#[from] LedgerError),
    /// A stored key does not hold what the layout says it holds.
    #[error("corrupt _lifecycle key {key:?}: {reason}")]
    Corrupt {
        /// The `_lifecycle` key.
        key: String,
        /// What is wrong with its value.
        reason: String,
    },
    /// The name is defined, but not as a chaincode (Fabric: "not a chaincode type").
    #[error("namespace {name:?} is defined as {datatype:?}, not as a chaincode")]
    NotAChaincode {
        /// The chaincode name looked up.
        name: String,
        /// The datatype found in its metadata.
        datatype: String,
    },
}

/// `namespaces/metadata/<name>`.
pub fn metadata_key(name: &str) -> String {
    format!("{NAMESPACES_PREFIX}/metadata/{name}")
}

/// `namespaces/fields/<name>/<field>`.
pub fn field_key(name: &str, field: &str) -> String {
    format!("{NAMESPACES_PREFIX}/fields/{name}/{field}")
}

/// The metadata value of a committed chaincode definition.
fn definition_metadata() -> StateMetadata {
    StateMetadata {
        datatype: CHAINCODE_DEFINITION_TYPE.to_owned(),
        fields: DEFINITION_FIELDS.iter().map(|f| (*f).to_owned()).collect(),
    }
}

/// The committed definition of chaincode `name`, read from the `_lifecycle` namespace of
/// `state`; `None` if it is not defined.
pub fn chaincode_definition(
    state: &dyn StateView,
    name: &str,
) -> Result<Option<ChaincodeDefinition>, DefinitionError> {
    let key = metadata_key(name);
    let Some(stored) = state.get_state(LIFECYCLE_NAMESPACE, &key)? else {
        return Ok(None);
    };
    let metadata =
        StateMetadata::decode(stored.value.as_slice()).map_err(|e| DefinitionError::Corrupt {
            key: key.clone(),
            reason: format!("not a StateMetadata: {e}"),
        })?;
    if metadata.datatype != CHAINCODE_DEFINITION_TYPE {
        return Err(DefinitionError::NotAChaincode {
            name: name.to_owned(),
            datatype: metadata.datatype,
        });
    }
    let sequence = match read_field(state, name, FIELD_SEQUENCE)? {
        (_, None) => 0,
        (_, Some(StateDataType::Int64(v))) => v,
        (key, Some(other)) => return Err(wrong_kind(key, "Int64", &other)),
    };
    Ok(Some(ChaincodeDefinition {
        sequence,
        endorsement_info: read_proto_field(state, name, FIELD_ENDORSEMENT_INFO)?,
        validation_info: read_proto_field(state, name, FIELD_VALIDATION_INFO)?,
        collections: read_proto_field(state, name, FIELD_COLLECTIONS)?,
    }))
}

/// The decoded `StateData` of a field (`None` when the key is absent or holds no kind).
fn read_field(
    state: &dyn StateView,
    name: &str,
    field: &str,
) -> Result<(String, Option<StateDataType>), DefinitionError> {
    let key = field_key(name, field);
    let value = state
        .get_state(LIFECYCLE_NAMESPACE, &key)?
        .map(|v| v.value)
        .unwrap_or_default();
    let data = StateData::decode(value.as_slice()).map_err(|e| DefinitionError::Corrupt {
        key: key.clone(),
        reason: format!("not a StateData: {e}"),
    })?;
    Ok((key, data.r#type))
}

fn read_proto_field<M: Message + Default>(
    state: &dyn StateView,
    name: &str,
    field: &str,
) -> Result<M, DefinitionError> {
    let (key, data) = read_field(state, name, field)?;
    let bytes = match data {
        None => Vec::new(),
        Some(StateDataType::Bytes(b)) => b,
        Some(other) => return Err(wrong_kind(key, "Bytes", &other)),
    };
    M::decode(bytes.as_slice()).map_err(|e| DefinitionError::Corrupt {
        key,
        reason: format!("field does not decode: {e}"),
    })
}

fn wrong_kind(key: String, expected: &str, found: &StateDataType) -> DefinitionError {
    let found = match found {
        StateDataType::Int64(_) => "Int64",
        StateDataType::Bytes(_) => "Bytes",
        StateDataType::String(_) => "String",
    };
    DefinitionError::Corrupt {
        key,
        reason: format!("expected a {expected} value, found {found}"),
    }
}

/// Every `_lifecycle` key and value that stores `definition` under `name`: the metadata
/// key, then the four field keys, byte for byte as Fabric's serializer writes them.
pub fn state_entries(name: &str, definition: &ChaincodeDefinition) -> Vec<(String, Vec<u8>)> {
    let mut entries = vec![(metadata_key(name), definition_metadata().encode_to_vec())];
    entries.extend(
        definition
            .field_values()
            .into_iter()
            .map(|(field, value)| (field_key(name, field), value)),
    );
    entries
}

/// The `_lifecycle` writes that commit `definition` under `name` over what `state` holds,
/// as Fabric's serializer computes them: each field key whose bytes change (in field
/// order), the metadata key if its datatype or field list changes or an obsolete field
/// key exists, then deletes of the obsolete field keys.
pub fn definition_writes(
    state: &dyn StateView,
    name: &str,
    definition: &ChaincodeDefinition,
) -> Result<Vec<KeyWrite>, DefinitionError> {
    let metadata_key = metadata_key(name);
    let existing_metadata = match state.get_state(LIFECYCLE_NAMESPACE, &metadata_key)? {
        None => StateMetadata::default(),
        Some(stored) => StateMetadata::decode(stored.value.as_slice()).map_err(|e| {
            DefinitionError::Corrupt {
                key: metadata_key.clone(),
                reason: format!("not a StateMetadata: {e}"),
            }
        })?,
    };
    // The keys the stored metadata lists, with their current values (in listed order).
    let mut existing: Vec<(String, Option<Vec<u8>>)> = Vec::new();
    for field in &existing_metadata.fields {
        let key = field_key(name, field);
        if existing.iter().any(|(k, _)| *k == key) {
            continue;
        }
        let value = state.get_state(LIFECYCLE_NAMESPACE, &key)?.map(|v| v.value);
        existing.push((key, value));
    }

    let mut writes = Vec::new();
    for (field, value) in definition.field_values() {
        let key = field_key(name, field);
        match existing.iter().position(|(k, _)| *k == key) {
            Some(index) => {
                let (_, current) = existing.remove(index);
                if current.as_deref() != Some(value.as_slice()) {
                    writes.push(KeyWrite {
                        key,
                        value: Some(value),
                    });
                }
            }
            None => writes.push(KeyWrite {
                key,
                value: Some(value),
            }),
        }
    }
    let metadata = definition_metadata();
    if !existing.is_empty()
        || existing_metadata.datatype != metadata.datatype
        || existing_metadata.fields.len() != metadata.fields.len()
    {
        writes.push(KeyWrite {
            key: metadata_key,
            value: Some(metadata.encode_to_vec()),
        });
    }
    writes.extend(
        existing
            .into_iter()
            .map(|(key, _)| KeyWrite { key, value: None }),
    );
    Ok(writes)
}

/// The `_lifecycle` updates writing every key of `definition` under `name`
/// ([`state_entries`]), unconditionally.
pub fn definition_ns_updates(name: &str, definition: &ChaincodeDefinition) -> NsUpdates {
    NsUpdates {
        namespace: LIFECYCLE_NAMESPACE.to_owned(),
        writes: state_entries(name, definition)
            .into_iter()
            .map(|(key, value)| KeyWrite {
                key,
                value: Some(value),
            })
            .collect(),
        metadata_writes: Vec::new(),
    }
}

/// A transaction's updates that define each `(name, definition)` (for seeding a ledger
/// or a test state with committed definitions).
pub fn definitions_tx_updates(
    tx_num: u64,
    txid: &str,
    definitions: &[(&str, &ChaincodeDefinition)],
) -> TxUpdates {
    let mut ns = NsUpdates {
        namespace: LIFECYCLE_NAMESPACE.to_owned(),
        ..NsUpdates::default()
    };
    for (name, definition) in definitions {
        ns.writes
            .extend(definition_ns_updates(name, definition).writes);
    }
    TxUpdates {
        tx_num,
        txid: txid.to_owned(),
        namespaces: vec![ns],
        ..TxUpdates::default()
    }
}

/// `ApplicationPolicy{channel_config_policy_reference: path}`.
pub fn channel_policy_reference(path: &str) -> ApplicationPolicy {
    ApplicationPolicy {
        r#type: Some(
            weft_proto::protos::application_policy::Type::ChannelConfigPolicyReference(
                path.to_owned(),
            ),
        ),
    }
}

/// `ApplicationPolicy{signature_policy: envelope}`.
pub fn signature_policy(
    envelope: weft_proto::common::SignaturePolicyEnvelope,
) -> ApplicationPolicy {
    ApplicationPolicy {
        r#type: Some(weft_proto::protos::application_policy::Type::SignaturePolicy(envelope)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::tests::MemState;

    fn sample() -> ChaincodeDefinition {
        ChaincodeDefinition::new(
            1,
            "1.0",
            &channel_policy_reference(DEFAULT_ENDORSEMENT_POLICY_REF),
        )
    }

    #[test]
    fn entries_are_fabrics_bytes() {
        let entries = state_entries("basic", &sample());
        let keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "namespaces/metadata/basic",
                "namespaces/fields/basic/Sequence",
                "namespaces/fields/basic/EndorsementInfo",
                "namespaces/fields/basic/ValidationInfo",
                "namespaces/fields/basic/Collections",
            ]
        );
        // StateMetadata{datatype, fields…}
        let mut metadata = vec![0x0a, 19];
        metadata.extend_from_slice(b"ChaincodeDefinition");
        for field in DEFINITION_FIELDS {
            metadata.push(0x12);
            metadata.push(u8::try_from(field.len()).unwrap());
            metadata.extend_from_slice(field.as_bytes());
        }
        assert_eq!(entries[0].1, metadata);
        // StateData{Int64: 1}
        assert_eq!(entries[1].1, [0x08, 0x01]);
        // StateData{Bytes: empty collections package} keeps its oneof tag.
        assert_eq!(entries[4].1, [0x12, 0x00]);
        // StateData{Bytes: ChaincodeValidationInfo{"vscc", ApplicationPolicy{ref}}}
        let policy = channel_policy_reference(DEFAULT_ENDORSEMENT_POLICY_REF).encode_to_vec();
        let mut info = vec![0x0a, 4];
        info.extend_from_slice(b"vscc");
        info.push(0x12);
        info.push(u8::try_from(policy.len()).unwrap());
        info.extend_from_slice(&policy);
        let mut data = vec![0x12, u8::try_from(info.len()).unwrap()];
        data.extend_from_slice(&info);
        assert_eq!(entries[3].1, data);
    }

    #[test]
    fn written_definitions_read_back() {
        let mut state = MemState::default();
        assert_eq!(chaincode_definition(&state, "basic"), Ok(None));
        let mut def = sample();
        def.sequence = 7;
        def.endorsement_info.init_required = true;
        state.apply(3, &[definitions_tx_updates(0, "t", &[("basic", &def)])]);
        assert_eq!(chaincode_definition(&state, "basic"), Ok(Some(def)));
        assert_eq!(chaincode_definition(&state, "other"), Ok(None));
    }

    #[test]
    fn missing_fields_read_as_zero_values_and_wrong_kinds_are_errors() {
        let mut state = MemState::default();
        state.put(
            LIFECYCLE_NAMESPACE,
            &metadata_key("cc"),
            definition_metadata().encode_to_vec(),
        );
        assert_eq!(
            chaincode_definition(&state, "cc"),
            Ok(Some(ChaincodeDefinition::default()))
        );

        state.put(
            LIFECYCLE_NAMESPACE,
            &field_key("cc", "Sequence"),
            StateData {
                r#type: Some(StateDataType::String("x".into())),
            }
            .encode_to_vec(),
        );
        assert!(matches!(
            chaincode_definition(&state, "cc"),
            Err(DefinitionError::Corrupt { .. })
        ));

        state.put(
            LIFECYCLE_NAMESPACE,
            &metadata_key("cc"),
            StateMetadata {
                datatype: "ChaincodeParameters".into(),
                fields: vec![],
            }
            .encode_to_vec(),
        );
        assert_eq!(
            chaincode_definition(&state, "cc"),
            Err(DefinitionError::NotAChaincode {
                name: "cc".into(),
                datatype: "ChaincodeParameters".into()
            })
        );
        state.put(LIFECYCLE_NAMESPACE, &metadata_key("cc"), vec![0xff]);
        assert!(matches!(
            chaincode_definition(&state, "cc"),
            Err(DefinitionError::Corrupt { .. })
        ));
    }

    #[test]
    fn writes_touch_only_changed_keys() {
        let mut state = MemState::default();
        let def = sample();
        // Nothing stored: every field, then the metadata.
        let writes = definition_writes(&state, "basic", &def).unwrap();
        let keys: Vec<&str> = writes.iter().map(|w| w.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "namespaces/fields/basic/Sequence",
                "namespaces/fields/basic/EndorsementInfo",
                "namespaces/fields/basic/ValidationInfo",
                "namespaces/fields/basic/Collections",
                "namespaces/metadata/basic",
            ]
        );
        state.apply(
            1,
            &[TxUpdates {
                tx_num: 0,
                txid: "t".into(),
                namespaces: vec![NsUpdates {
                    namespace: LIFECYCLE_NAMESPACE.into(),
                    writes,
                    metadata_writes: vec![],
                }],
                ..TxUpdates::default()
            }],
        );
        assert_eq!(chaincode_definition(&state, "basic"), Ok(Some(def.clone())));
        assert!(definition_writes(&state, "basic", &def).unwrap().is_empty());

        // A new sequence rewrites only the sequence.
        let mut next = def.clone();
        next.sequence = 2;
        let writes = definition_writes(&state, "basic", &next).unwrap();
        assert_eq!(writes.len(), 1);
        assert_eq!(writes[0].key, "namespaces/fields/basic/Sequence");

        // An obsolete field listed by the metadata is deleted and the metadata rewritten.
        let mut metadata = definition_metadata();
        metadata.fields.push("Obsolete".into());
        state.put(
            LIFECYCLE_NAMESPACE,
            &metadata_key("basic"),
            metadata.encode_to_vec(),
        );
        let writes = definition_writes(&state, "basic", &def).unwrap();
        assert_eq!(
            writes,
            [
                KeyWrite {
                    key: metadata_key("basic"),
                    value: Some(definition_metadata().encode_to_vec()),
                },
                KeyWrite {
                    key: field_key("basic", "Obsolete"),
                    value: None,
                },
            ]
        );
    }
}
