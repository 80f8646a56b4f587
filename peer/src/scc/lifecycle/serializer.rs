//! Fabric's lifecycle `Serializer` (`core/chaincode/lifecycle/serializer.go`): a structure
//! `S` stored under name `N` below a prefix `P` is one metadata key and one key per field,
//!
//! ```text
//! P/metadata/N        StateMetadata{datatype: "<S's type name>", fields: [<field names>]}
//! P/fields/N/<Field>  StateData{Int64 | Bytes | String}
//! ```
//!
//! with protobuf fields stored as `StateData{Bytes: marshaled message}`. Writing touches
//! only the keys whose bytes change; approvals are compared through the hashes of an
//! org's implicit collection, never its values. The byte encoding, the order of reads (so
//! the read-write sets match a Go peer's) and the error texts are Fabric's.
//!
//! The structures: the public [`ChaincodeDefinition`] (shared with the validator, which
//! reads it through [`crate::validation::definitions`]), and the per-org
//! [`ChaincodeParameters`] and [`ChaincodeLocalPackage`] kept in the org's implicit
//! collection under `<name>#<sequence>`.

use std::collections::BTreeMap;

use prost::Message;
use weft_proto::lifecycle::state_data::Type as StateDataType;
use weft_proto::lifecycle::{
    ChaincodeEndorsementInfo, ChaincodeValidationInfo, StateData, StateMetadata,
};
use weft_proto::protos::CollectionConfigPackage;

use super::LifecycleError;
use crate::ledger::private::hash;
use crate::ledger::{LedgerError, SimulationError};
use crate::validation::definitions::{CHAINCODE_DEFINITION_TYPE, ChaincodeDefinition};

/// The prefix under which per-org chaincode sources (the approved package) live, in the
/// org's implicit collection only.
pub const CHAINCODE_SOURCES_PREFIX: &str = "chaincode-sources";
/// `StateMetadata.datatype` of an org's approved parameters.
pub const CHAINCODE_PARAMETERS_TYPE: &str = "ChaincodeParameters";
/// `StateMetadata.datatype` of an org's approved local package.
pub const CHAINCODE_LOCAL_PACKAGE_TYPE: &str = "ChaincodeLocalPackage";
/// The field of [`ChaincodeLocalPackage`] naming the package.
pub const PACKAGE_ID_FIELD: &str = "PackageID";

/// Why a state access failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// The simulation refused the access or could not read.
    #[error(transparent)]
    Simulation(#[from] SimulationError),
    /// The ledger could not be read.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// A write to a read-only view.
    #[error("invalid operation on a read-only state")]
    ReadOnly,
}

/// State read by key (Fabric's `ReadableState`); `None` for an absent key.
pub trait ReadableState {
    /// The value of `key`.
    fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, StateError>;
}

/// State read and written by key (Fabric's `ReadWritableState`).
pub trait ReadWritableState: ReadableState {
    /// Writes `value` under `key`.
    fn put_state(&mut self, key: &str, value: Vec<u8>) -> Result<(), StateError>;
    /// Deletes `key`.
    fn del_state(&mut self, key: &str) -> Result<(), StateError>;
}

/// A collection seen through the hashes of its values only (Fabric's `OpaqueState`).
pub trait OpaqueState {
    /// SHA-256 of the value of `key`, `None` if absent.
    fn get_state_hash(&mut self, key: &str) -> Result<Option<Vec<u8>>, StateError>;
    /// The collection's name.
    fn collection_name(&self) -> &str;
}

/// State listed by key prefix (Fabric's `RangeableState`).
pub trait RangeableState {
    /// Every key starting with `prefix` (up to `prefix + "\x7f"`), with its value.
    fn get_state_range(&mut self, prefix: &str) -> Result<BTreeMap<String, Vec<u8>>, StateError>;
}

/// One field's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    /// An `int64` field.
    Int64(i64),
    /// A `[]byte` or protobuf field (the marshaled message).
    Bytes(Vec<u8>),
    /// A `string` field.
    String(String),
}

/// The kind of a field, as its Go type gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// `int64`.
    Int64,
    /// `[]byte` or a protobuf message pointer.
    Bytes,
    /// `string`.
    String,
}

/// A structure the serializer stores, described as Fabric's reflection sees it: its Go
/// type name and its fields in declaration order.
pub trait Serializable: Sized {
    /// The Go type name (`StateMetadata.datatype`).
    const TYPE_NAME: &'static str;
    /// The fields, in Go declaration order, with their kinds.
    const FIELDS: &'static [(&'static str, FieldKind)];
    /// The field values, in [`Self::FIELDS`] order.
    fn values(&self) -> Vec<FieldValue>;
    /// The structure from its field values (in [`Self::FIELDS`] order); `key_of` names a
    /// field's key for errors.
    fn from_values(
        values: Vec<FieldValue>,
        key_of: &dyn Fn(&str) -> String,
    ) -> Result<Self, LifecycleError>;
}

/// The parts of a definition each org approves (Fabric's `ChaincodeParameters`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChaincodeParameters {
    /// Version, init-required flag, endorsement plugin.
    pub endorsement_info: ChaincodeEndorsementInfo,
    /// Validation plugin and parameter.
    pub validation_info: ChaincodeValidationInfo,
    /// Private data collections.
    pub collections: CollectionConfigPackage,
}

impl ChaincodeParameters {
    /// The parameters of `definition` (all but its sequence).
    pub fn of(definition: &ChaincodeDefinition) -> Self {
        Self {
            endorsement_info: definition.endorsement_info.clone(),
            validation_info: definition.validation_info.clone(),
            collections: definition.collections.clone(),
        }
    }

    /// Fabric's `ChaincodeParameters.Equal`: the first difference from `other`, in
    /// Fabric's words.
    pub fn mismatch(&self, other: &Self) -> Option<String> {
        let (a, b) = (&self.endorsement_info, &other.endorsement_info);
        let (c, d) = (&self.validation_info, &other.validation_info);
        if a.version != b.version {
            Some(format!(
                "expected Version '{}' does not match passed Version '{}'",
                a.version, b.version
            ))
        } else if a.endorsement_plugin != b.endorsement_plugin {
            Some(format!(
                "expected EndorsementPlugin '{}' does not match passed EndorsementPlugin '{}'",
                a.endorsement_plugin, b.endorsement_plugin
            ))
        } else if a.init_required != b.init_required {
            Some(format!(
                "expected InitRequired '{}' does not match passed InitRequired '{}'",
                a.init_required, b.init_required
            ))
        } else if c.validation_plugin != d.validation_plugin {
            Some(format!(
                "expected ValidationPlugin '{}' does not match passed ValidationPlugin '{}'",
                c.validation_plugin, d.validation_plugin
            ))
        } else if c.validation_parameter != d.validation_parameter {
            Some(format!(
                "expected ValidationParameter '{}' does not match passed ValidationParameter '{}'",
                hex::encode(&c.validation_parameter),
                hex::encode(&d.validation_parameter)
            ))
        } else if self.collections != other.collections {
            Some("Collections do not match".to_owned())
        } else {
            None
        }
    }
}

/// The package an org approved for a definition (Fabric's `ChaincodeLocalPackage`); an
/// empty id means "no package: do not run it on this org's peers".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChaincodeLocalPackage {
    /// `label:hash`, or empty.
    pub package_id: String,
}

fn decode_field<M: Message + Default>(
    bytes: &[u8],
    key: String,
    type_name: &str,
) -> Result<M, LifecycleError> {
    M::decode(bytes).map_err(|e| {
        LifecycleError::Invalid(format!("could not unmarshal key {key} to {type_name}: {e}"))
    })
}

fn take_bytes(values: &mut std::vec::IntoIter<FieldValue>) -> Vec<u8> {
    match values.next() {
        Some(FieldValue::Bytes(b)) => b,
        _ => Vec::new(),
    }
}

impl Serializable for ChaincodeParameters {
    const TYPE_NAME: &'static str = CHAINCODE_PARAMETERS_TYPE;
    const FIELDS: &'static [(&'static str, FieldKind)] = &[
        ("EndorsementInfo", FieldKind::Bytes),
        ("ValidationInfo", FieldKind::Bytes),
        ("Collections", FieldKind::Bytes),
    ];

    fn values(&self) -> Vec<FieldValue> {
        vec![
            FieldValue::Bytes(self.endorsement_info.encode_to_vec()),
            FieldValue::Bytes(self.validation_info.encode_to_vec()),
            FieldValue::Bytes(self.collections.encode_to_vec()),
        ]
    }

    fn from_values(
        values: Vec<FieldValue>,
        key_of: &dyn Fn(&str) -> String,
    ) -> Result<Self, LifecycleError> {
        let mut values = values.into_iter();
        Ok(Self {
            endorsement_info: decode_field(
                &take_bytes(&mut values),
                key_of("EndorsementInfo"),
                "*lifecycle.ChaincodeEndorsementInfo",
            )?,
            validation_info: decode_field(
                &take_bytes(&mut values),
                key_of("ValidationInfo"),
                "*lifecycle.ChaincodeValidationInfo",
            )?,
            collections: decode_field(
                &take_bytes(&mut values),
                key_of("Collections"),
                "*peer.CollectionConfigPackage",
            )?,
        })
    }
}

impl Serializable for ChaincodeDefinition {
    const TYPE_NAME: &'static str = CHAINCODE_DEFINITION_TYPE;
    const FIELDS: &'static [(&'static str, FieldKind)] = &[
        ("Sequence", FieldKind::Int64),
        ("EndorsementInfo", FieldKind::Bytes),
        ("ValidationInfo", FieldKind::Bytes),
        ("Collections", FieldKind::Bytes),
    ];

    fn values(&self) -> Vec<FieldValue> {
        let mut values = vec![FieldValue::Int64(self.sequence)];
        values.extend(ChaincodeParameters::of(self).values());
        values
    }

    fn from_values(
        values: Vec<FieldValue>,
        key_of: &dyn Fn(&str) -> String,
    ) -> Result<Self, LifecycleError> {
        let mut values = values.into_iter();
        let sequence = match values.next() {
            Some(FieldValue::Int64(v)) => v,
            _ => 0,
        };
        let parameters = ChaincodeParameters::from_values(values.collect(), key_of)?;
        Ok(Self {
            sequence,
            endorsement_info: parameters.endorsement_info,
            validation_info: parameters.validation_info,
            collections: parameters.collections,
        })
    }
}

impl Serializable for ChaincodeLocalPackage {
    const TYPE_NAME: &'static str = CHAINCODE_LOCAL_PACKAGE_TYPE;
    const FIELDS: &'static [(&'static str, FieldKind)] = &[(PACKAGE_ID_FIELD, FieldKind::String)];

    fn values(&self) -> Vec<FieldValue> {
        vec![FieldValue::String(self.package_id.clone())]
    }

    fn from_values(
        values: Vec<FieldValue>,
        _key_of: &dyn Fn(&str) -> String,
    ) -> Result<Self, LifecycleError> {
        let package_id = match values.into_iter().next() {
            Some(FieldValue::String(s)) => s,
            _ => String::new(),
        };
        Ok(Self { package_id })
    }
}

/// `P/metadata/N` (Fabric's `MetadataKey`).
pub fn metadata_key(prefix: &str, name: &str) -> String {
    format!("{prefix}/metadata/{name}")
}

/// `P/fields/N/F` (Fabric's `FieldKey`).
pub fn field_key(prefix: &str, name: &str, field: &str) -> String {
    format!("{prefix}/fields/{name}/{field}")
}

/// `<name>#<sequence>`: the name of an org's approval of one sequence.
pub fn private_name(name: &str, sequence: i64) -> String {
    format!("{name}#{sequence}")
}

/// The marshaled `StateData` of a field value.
pub fn encode_field(value: &FieldValue) -> Vec<u8> {
    let r#type = match value {
        FieldValue::Int64(v) => StateDataType::Int64(*v),
        FieldValue::Bytes(b) => StateDataType::Bytes(b.clone()),
        FieldValue::String(s) => StateDataType::String(s.clone()),
    };
    StateData {
        r#type: Some(r#type),
    }
    .encode_to_vec()
}

/// The metadata a structure of type `S` is stored with.
pub fn metadata_of<S: Serializable>() -> StateMetadata {
    StateMetadata {
        datatype: S::TYPE_NAME.to_owned(),
        fields: S::FIELDS.iter().map(|(f, _)| (*f).to_owned()).collect(),
    }
}

fn state_error(context: String) -> impl FnOnce(StateError) -> LifecycleError {
    move |source| LifecycleError::State { context, source }
}

/// Fabric's `DeserializeMetadata`: the metadata stored for `prefix/name`, `None` if none.
pub fn deserialize_metadata(
    prefix: &str,
    name: &str,
    state: &mut dyn ReadableState,
) -> Result<Option<StateMetadata>, LifecycleError> {
    let Some(bytes) = state
        .get_state(&metadata_key(prefix, name))
        .map_err(state_error(format!(
            "could not query metadata for namespace {prefix}/{name}"
        )))?
    else {
        return Ok(None);
    };
    StateMetadata::decode(bytes.as_slice())
        .map(Some)
        .map_err(|e| {
            LifecycleError::Invalid(format!(
                "could not unmarshal metadata for namespace {prefix}/{name}: {e}"
            ))
        })
}

/// The Go type name Fabric prints (`%T`) for a `StateData` kind.
fn kind_name(kind: &StateDataType) -> &'static str {
    match kind {
        StateDataType::Int64(_) => "*lifecycle.StateData_Int64",
        StateDataType::Bytes(_) => "*lifecycle.StateData_Bytes",
        StateDataType::String(_) => "*lifecycle.StateData_String_",
    }
}

/// Fabric's `DeserializeField` and its typed variants: the value of field `field`, the
/// zero value when the key is absent or holds no kind.
pub fn deserialize_field(
    prefix: &str,
    name: &str,
    field: &str,
    kind: FieldKind,
    state: &mut dyn ReadableState,
) -> Result<FieldValue, LifecycleError> {
    let key = field_key(prefix, name, field);
    let bytes = state
        .get_state(&key)
        .map_err(state_error(format!("could not get state for key {key}")))?
        .unwrap_or_default();
    let data = StateData::decode(bytes.as_slice()).map_err(|e| {
        LifecycleError::Invalid(format!("could not unmarshal state for key {key}: {e}"))
    })?;
    match (kind, data.r#type) {
        (FieldKind::Int64, None) => Ok(FieldValue::Int64(0)),
        (FieldKind::Bytes, None) => Ok(FieldValue::Bytes(Vec::new())),
        (FieldKind::String, None) => Ok(FieldValue::String(String::new())),
        (FieldKind::Int64, Some(StateDataType::Int64(v))) => Ok(FieldValue::Int64(v)),
        (FieldKind::Bytes, Some(StateDataType::Bytes(b))) => Ok(FieldValue::Bytes(b)),
        (FieldKind::String, Some(StateDataType::String(s))) => Ok(FieldValue::String(s)),
        (FieldKind::Int64, Some(other)) => Err(LifecycleError::Invalid(format!(
            "expected key {key} to encode a value of type Int64, but was {}",
            kind_name(&other)
        ))),
        (FieldKind::Bytes, Some(other)) => Err(LifecycleError::Invalid(format!(
            "expected key {key} to encode a value of type []byte, but was {}",
            kind_name(&other)
        ))),
        (FieldKind::String, Some(other)) => Err(LifecycleError::Invalid(format!(
            "expected key {prefix}/fields/{name}/{field} to encode a value of type String, but was {}",
            kind_name(&other)
        ))),
    }
}

/// Fabric's `DeserializeFieldAsInt64`.
pub fn deserialize_int64(
    prefix: &str,
    name: &str,
    field: &str,
    state: &mut dyn ReadableState,
) -> Result<i64, LifecycleError> {
    match deserialize_field(prefix, name, field, FieldKind::Int64, state)? {
        FieldValue::Int64(v) => Ok(v),
        _ => Ok(0),
    }
}

/// Fabric's `Deserialize`: the structure stored under `prefix/name`, whose `metadata` the
/// caller read; every field is read, absent ones as zero values.
pub fn deserialize<S: Serializable>(
    prefix: &str,
    name: &str,
    metadata: &StateMetadata,
    state: &mut dyn ReadableState,
) -> Result<S, LifecycleError> {
    if metadata.datatype != S::TYPE_NAME {
        return Err(LifecycleError::Invalid(format!(
            "type name mismatch '{}' != '{}'",
            S::TYPE_NAME,
            metadata.datatype
        )));
    }
    let mut values = Vec::with_capacity(S::FIELDS.len());
    for (field, kind) in S::FIELDS {
        values.push(deserialize_field(prefix, name, field, *kind, state)?);
    }
    S::from_values(values, &|field| field_key(prefix, name, field))
}

/// Fabric's `Serialize`: writes `structure` under `prefix/name` over what `state` holds:
/// each field whose bytes change, the metadata when its type or field count changes or
/// obsolete fields exist, and deletes of the obsolete fields.
pub fn serialize<S: Serializable>(
    prefix: &str,
    name: &str,
    structure: &S,
    state: &mut dyn ReadWritableState,
) -> Result<(), LifecycleError> {
    let mut metadata = deserialize_metadata(prefix, name, state)
        .map_err(|e| {
            e.wrap(format!(
                "could not deserialize metadata for namespace {prefix}/{name}"
            ))
        })?
        .unwrap_or_default();
    let mut existing: Vec<(String, Option<Vec<u8>>)> = Vec::new();
    for field in &metadata.fields {
        let key = field_key(prefix, name, field);
        if existing.iter().any(|(k, _)| *k == key) {
            continue;
        }
        let value = state
            .get_state(&key)
            .map_err(state_error(format!("could not get value for key {key}")))?;
        existing.push((key, value));
    }
    for ((field, _), value) in S::FIELDS.iter().zip(structure.values()) {
        let key = field_key(prefix, name, field);
        let encoded = encode_field(&value);
        let current = existing
            .iter()
            .position(|(k, _)| *k == key)
            .map(|i| existing.remove(i).1);
        if current.flatten().as_deref() != Some(encoded.as_slice()) {
            state
                .put_state(&key, encoded)
                .map_err(state_error("could not write key into state".to_owned()))?;
        }
    }
    if !existing.is_empty()
        || metadata.datatype != S::TYPE_NAME
        || metadata.fields.len() != S::FIELDS.len()
    {
        metadata = metadata_of::<S>();
        state
            .put_state(&metadata_key(prefix, name), metadata.encode_to_vec())
            .map_err(state_error(format!(
                "could not store metadata for namespace {prefix}/{name}"
            )))?;
    }
    for (key, _) in existing {
        state
            .del_state(&key)
            .map_err(state_error(format!("could not delete unneeded key {key}")))?;
    }
    Ok(())
}

/// Fabric's `IsSerialized` (v2.5): whether the hashes `state` holds for `prefix/name` are
/// those of `structure` serialized. Every key's hash is read first (each read is recorded),
/// then compared.
pub fn is_serialized<S: Serializable>(
    prefix: &str,
    name: &str,
    structure: &S,
    state: &mut dyn OpaqueState,
) -> Result<bool, LifecycleError> {
    let metadata_key = metadata_key(prefix, name);
    let mut hashes = Vec::with_capacity(S::FIELDS.len() + 1);
    for key in std::iter::once(metadata_key.clone())
        .chain(S::FIELDS.iter().map(|(f, _)| field_key(prefix, name, f)))
    {
        let value = state
            .get_state_hash(&key)
            .map_err(state_error(format!("could not get value for key {key}")))?;
        hashes.push(value.unwrap_or_default());
    }
    if hashes[0] != hash(&metadata_of::<S>().encode_to_vec()) {
        return Ok(false);
    }
    Ok(structure
        .values()
        .iter()
        .zip(&hashes[1..])
        .all(|(value, stored)| *stored == hash(&encode_field(value))))
}

/// Fabric's `IsMetadataSerialized`: whether the metadata hash under `prefix/name` is that
/// of a structure of type `S`.
pub fn is_metadata_serialized<S: Serializable>(
    prefix: &str,
    name: &str,
    state: &mut dyn OpaqueState,
) -> Result<bool, LifecycleError> {
    let key = metadata_key(prefix, name);
    let stored = state.get_state_hash(&key).map_err(state_error(format!(
        "could not get state hash for metadata key {key}"
    )))?;
    Ok(stored.unwrap_or_default() == hash(&metadata_of::<S>().encode_to_vec()))
}

/// Fabric's `DeserializeAllMetadata`: every metadata stored below `prefix`, by name.
pub fn deserialize_all_metadata(
    prefix: &str,
    state: &mut dyn RangeableState,
) -> Result<BTreeMap<String, StateMetadata>, LifecycleError> {
    let range_prefix = format!("{prefix}/metadata/");
    let entries = state
        .get_state_range(&range_prefix)
        .map_err(state_error(format!(
            "could not get state range for namespace {prefix}"
        )))?;
    let mut all = BTreeMap::new();
    for (key, value) in entries {
        let name = key[range_prefix.len()..].to_owned();
        let metadata = StateMetadata::decode(value.as_slice()).map_err(|e| {
            LifecycleError::Invalid(format!("error unmarshalling metadata for key {key}: {e}"))
        })?;
        all.insert(name, metadata);
    }
    Ok(all)
}
