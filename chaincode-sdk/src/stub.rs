//! [`Stub`]: the ledger and the transaction as fabric-chaincode-go's `ChaincodeStub`
//! offers them, over the [`Host`] seam. Every operation is one shim request.

use std::collections::BTreeMap;
use std::marker::PhantomData;

use prost::Message;

use crate::error::StubError;
use crate::host::{Host, LogLevel, kind};
use crate::proto::{
    ChaincodeEvent, ChaincodeId, ChaincodeInput, ChaincodeSpec, DelState, GetHistoryForKey,
    GetQueryResult, GetState, GetStateByRange, GetStateMetadata, GetStateMultiple,
    GetStateMultipleResult, KeyModification, Kv, PutState, PutStateMetadata, QueryMetadata,
    QueryResponse, QueryResponseMetadata, QueryStateClose, QueryStateNext, Response, StateMetadata,
    StateMetadataResult, Timestamp, TxInput,
};

/// The metadata key of a key-level endorsement policy.
pub const VALIDATION_PARAMETER: &str = "VALIDATION_PARAMETER";
/// What the Go shim sends for an empty range start key.
pub const EMPTY_KEY_SUBSTITUTE: &str = "\u{1}";
/// First character of every composite key (and their separator).
pub const COMPOSITE_KEY_NAMESPACE: &str = "\u{0}";
/// The end of a partial composite key range.
pub const MAX_UNICODE_RUNE: char = '\u{10FFFF}';

/// The transaction's view of the ledger and of its own proposal.
pub struct Stub<'h> {
    host: &'h mut dyn Host,
    tx: TxInput,
    args: Vec<Vec<u8>>,
    event: Option<ChaincodeEvent>,
}

impl std::fmt::Debug for Stub<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stub")
            .field("txid", &self.tx.txid)
            .field("channel_id", &self.tx.channel_id)
            .finish_non_exhaustive()
    }
}

fn encode(message: &impl Message) -> Vec<u8> {
    message.encode_to_vec()
}

fn no_collection(collection: &str) -> Result<(), StubError> {
    if collection.is_empty() {
        Err(StubError::Invalid(
            "collection must not be an empty string".into(),
        ))
    } else {
        Ok(())
    }
}

fn validate_simple_keys(keys: &[&str]) -> Result<(), StubError> {
    for key in keys {
        if key.starts_with(COMPOSITE_KEY_NAMESPACE) {
            return Err(StubError::Invalid(format!(
                "first character of the key [{key}] contains a null character which is not allowed"
            )));
        }
    }
    Ok(())
}

fn validate_composite_key_attribute(text: &str) -> Result<(), StubError> {
    for (index, c) in text.char_indices() {
        if c == '\u{0}' || c == MAX_UNICODE_RUNE {
            return Err(StubError::Invalid(format!(
                "input contains unicode {} starting at position [{index}]. U+0000 and U+10FFFF are not allowed in the input attribute of a composite key",
                go_unicode(c)
            )));
        }
    }
    Ok(())
}

/// Go's `%#U` of the two forbidden runes (neither is printable, so no quoted form).
fn go_unicode(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

/// Builds a composite key: `\0 objectType \0 attr1 \0 attr2 \0 …` (Fabric's layout).
pub fn create_composite_key(object_type: &str, attributes: &[&str]) -> Result<String, StubError> {
    validate_composite_key_attribute(object_type)?;
    let mut key = String::from(COMPOSITE_KEY_NAMESPACE);
    key.push_str(object_type);
    key.push('\u{0}');
    for attribute in attributes {
        validate_composite_key_attribute(attribute)?;
        key.push_str(attribute);
        key.push('\u{0}');
    }
    Ok(key)
}

/// Splits a composite key into its object type and attributes (Fabric's
/// `SplitCompositeKey`).
pub fn split_composite_key(key: &str) -> (String, Vec<String>) {
    let mut parts = key
        .get(1..)
        .unwrap_or_default()
        .split('\u{0}')
        .map(str::to_owned)
        .collect::<Vec<_>>();
    // The key ends with a separator: the last piece is empty (or a tail without one,
    // which Fabric drops too).
    parts.pop();
    if parts.is_empty() {
        return (String::new(), Vec::new());
    }
    let object_type = parts.remove(0);
    (object_type, parts)
}

fn partial_composite_range(
    object_type: &str,
    attributes: &[&str],
) -> Result<(String, String), StubError> {
    let start = create_composite_key(object_type, attributes)?;
    let mut end = start.clone();
    end.push(MAX_UNICODE_RUNE);
    Ok((start, end))
}

impl<'h> Stub<'h> {
    /// A stub over `host` for the transaction `tx`.
    pub fn new(host: &'h mut dyn Host, tx: TxInput) -> Self {
        let args = tx
            .input
            .as_ref()
            .map(|i| i.args.clone())
            .unwrap_or_default();
        Self {
            host,
            tx,
            args,
            event: None,
        }
    }

    /// Fetches the transaction from the host (call kind 5) and builds its stub.
    pub fn from_host(host: &'h mut dyn Host) -> Result<Self, StubError> {
        let bytes = host.call(kind::TX_INPUT, &[])?;
        let tx = TxInput::decode(bytes.as_slice())?;
        Ok(Self::new(host, tx))
    }

    fn call(&mut self, kind: i32, request: &impl Message) -> Result<Vec<u8>, StubError> {
        Ok(self.host.call(kind, &encode(request))?)
    }

    /// Writes a line to the host's debug log.
    pub fn log(&mut self, level: LogLevel, text: &str) {
        self.host.log(level, text);
    }

    // ---- the transaction ----

    /// The transaction id.
    pub fn tx_id(&self) -> &str {
        &self.tx.txid
    }

    /// The channel id.
    pub fn channel_id(&self) -> &str {
        &self.tx.channel_id
    }

    /// The arguments, function name first.
    pub fn args(&self) -> &[Vec<u8>] {
        &self.args
    }

    /// The arguments as strings (lossy UTF-8), function name first.
    pub fn string_args(&self) -> Vec<String> {
        self.args
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect()
    }

    /// The function name and its parameters (Go's `GetFunctionAndParameters`).
    pub fn function_and_parameters(&self) -> (String, Vec<String>) {
        let mut args = self.string_args();
        if args.is_empty() {
            return (String::new(), Vec::new());
        }
        let function = args.remove(0);
        (function, args)
    }

    /// Whether this is an init invocation (`ChaincodeInput.is_init`).
    pub fn is_init(&self) -> bool {
        self.tx.input.as_ref().is_some_and(|i| i.is_init)
    }

    /// The peer's decorations of the input.
    pub fn decorations(&self) -> &BTreeMap<String, Vec<u8>> {
        static EMPTY: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        self.tx.input.as_ref().map_or(&EMPTY, |i| &i.decorations)
    }

    /// The creator's encoded `SerializedIdentity`.
    pub fn creator(&self) -> &[u8] {
        &self.tx.creator
    }

    /// The proposal's transient map.
    pub fn transient(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.tx.transient
    }

    /// The proposal's binding.
    pub fn binding(&self) -> &[u8] {
        &self.tx.binding
    }

    /// The channel header's timestamp (the same on every endorser).
    pub fn tx_timestamp(&self) -> Option<Timestamp> {
        self.tx.timestamp
    }

    /// The client's encoded `SignedProposal` (empty if the peer had none).
    pub fn signed_proposal(&mut self) -> Result<Vec<u8>, StubError> {
        Ok(self.host.call(kind::SIGNED_PROPOSAL, &[])?)
    }

    /// Sets the transaction's event; the last call wins.
    pub fn set_event(&mut self, name: &str, payload: impl Into<Vec<u8>>) -> Result<(), StubError> {
        if name.is_empty() {
            return Err(StubError::Invalid(
                "event name can not be empty string".into(),
            ));
        }
        self.event = Some(ChaincodeEvent {
            event_name: name.to_owned(),
            payload: payload.into(),
            ..ChaincodeEvent::default()
        });
        Ok(())
    }

    /// The event set so far.
    pub fn event(&self) -> Option<&ChaincodeEvent> {
        self.event.as_ref()
    }

    /// Sends the final answer to the host.
    pub(crate) fn complete(&mut self, response: &Response) {
        let event = self.event.as_ref().map(encode);
        self.host.complete(&encode(response), event.as_deref());
    }

    /// Invokes chaincode `name` (on `channel`, "" = this one) with `args`, in this
    /// transaction; returns its `Response` (a failure becomes `Response{500, text}`, as
    /// in the Go shim).
    pub fn invoke_chaincode(&mut self, name: &str, args: &[&[u8]], channel: &str) -> Response {
        let name = if channel.is_empty() {
            name.to_owned()
        } else {
            format!("{name}/{channel}")
        };
        let spec = ChaincodeSpec {
            chaincode_id: Some(ChaincodeId {
                name,
                ..ChaincodeId::default()
            }),
            input: Some(ChaincodeInput {
                args: args.iter().map(|a| a.to_vec()).collect(),
                ..ChaincodeInput::default()
            }),
            ..ChaincodeSpec::default()
        };
        let error = |message: String| Response {
            status: 500,
            message,
            payload: Vec::new(),
        };
        match self.call(kind::INVOKE_CHAINCODE, &spec) {
            Ok(bytes) => {
                Response::decode(bytes.as_slice()).unwrap_or_else(|e| error(e.to_string()))
            }
            Err(e) => error(e.to_string()),
        }
    }

    // ---- world state ----

    fn get(&mut self, collection: &str, key: &str) -> Result<Option<Vec<u8>>, StubError> {
        let value = self.call(
            kind::GET_STATE,
            &GetState {
                key: key.to_owned(),
                collection: collection.to_owned(),
            },
        )?;
        Ok((!value.is_empty()).then_some(value))
    }

    fn put(&mut self, collection: &str, key: &str, value: &[u8]) -> Result<(), StubError> {
        if key.is_empty() {
            return Err(StubError::Invalid("key must not be an empty string".into()));
        }
        self.call(
            kind::PUT_STATE,
            &PutState {
                key: key.to_owned(),
                value: value.to_vec(),
                collection: collection.to_owned(),
            },
        )?;
        Ok(())
    }

    fn del(&mut self, collection: &str, key: &str) -> Result<(), StubError> {
        self.call(
            kind::DEL_STATE,
            &DelState {
                key: key.to_owned(),
                collection: collection.to_owned(),
            },
        )?;
        Ok(())
    }

    /// The committed value of `key` (`None` if absent). The transaction's own writes
    /// are not visible, as in Fabric.
    pub fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, StubError> {
        self.get("", key)
    }

    /// The committed values of `keys`, in order (GET_STATE_MULTIPLE).
    pub fn get_multiple_states(
        &mut self,
        keys: &[&str],
    ) -> Result<Vec<Option<Vec<u8>>>, StubError> {
        self.get_multiple("", keys)
    }

    fn get_multiple(
        &mut self,
        collection: &str,
        keys: &[&str],
    ) -> Result<Vec<Option<Vec<u8>>>, StubError> {
        let bytes = self.call(
            kind::GET_STATE_MULTIPLE,
            &GetStateMultiple {
                keys: keys.iter().map(|k| (*k).to_owned()).collect(),
                collection: collection.to_owned(),
            },
        )?;
        let result = GetStateMultipleResult::decode(bytes.as_slice())?;
        Ok(result
            .values
            .into_iter()
            .map(|v| (!v.is_empty()).then_some(v))
            .collect())
    }

    /// Writes `value` to `key`.
    pub fn put_state(&mut self, key: &str, value: impl AsRef<[u8]>) -> Result<(), StubError> {
        self.put("", key, value.as_ref())
    }

    /// Deletes `key`.
    pub fn del_state(&mut self, key: &str) -> Result<(), StubError> {
        self.del("", key)
    }

    /// The keys in `[start, end)` with their committed values; `start` empty = from the
    /// first key, `end` empty = to the last.
    pub fn get_state_by_range(
        &mut self,
        start: &str,
        end: &str,
    ) -> Result<StateQueryIterator<'_, 'h>, StubError> {
        let start = if start.is_empty() {
            EMPTY_KEY_SUBSTITUTE
        } else {
            start
        };
        validate_simple_keys(&[start, end])?;
        Ok(self.range("", start, end, None)?.0)
    }

    /// A page of [`Self::get_state_by_range`]: at most `page_size` results from
    /// `bookmark` (or `start`). Refused by the peer after a write in the transaction.
    pub fn get_state_by_range_with_pagination(
        &mut self,
        start: &str,
        end: &str,
        page_size: i32,
        bookmark: &str,
    ) -> Result<(StateQueryIterator<'_, 'h>, QueryResponseMetadata), StubError> {
        let start = if start.is_empty() {
            EMPTY_KEY_SUBSTITUTE
        } else {
            start
        };
        validate_simple_keys(&[start, end])?;
        self.range("", start, end, Some((page_size, bookmark)))
    }

    /// The composite keys starting with `object_type` and `attributes`.
    pub fn get_state_by_partial_composite_key(
        &mut self,
        object_type: &str,
        attributes: &[&str],
    ) -> Result<StateQueryIterator<'_, 'h>, StubError> {
        let (start, end) = partial_composite_range(object_type, attributes)?;
        Ok(self.range("", &start, &end, None)?.0)
    }

    /// A page of [`Self::get_state_by_partial_composite_key`].
    pub fn get_state_by_partial_composite_key_with_pagination(
        &mut self,
        object_type: &str,
        attributes: &[&str],
        page_size: i32,
        bookmark: &str,
    ) -> Result<(StateQueryIterator<'_, 'h>, QueryResponseMetadata), StubError> {
        let (start, end) = partial_composite_range(object_type, attributes)?;
        self.range("", &start, &end, Some((page_size, bookmark)))
    }

    fn range(
        &mut self,
        collection: &str,
        start: &str,
        end: &str,
        page: Option<(i32, &str)>,
    ) -> Result<(StateQueryIterator<'_, 'h>, QueryResponseMetadata), StubError> {
        let metadata = page.map_or_else(Vec::new, |(page_size, bookmark)| {
            encode(&QueryMetadata {
                page_size,
                bookmark: bookmark.to_owned(),
            })
        });
        let bytes = self.call(
            kind::GET_STATE_BY_RANGE,
            &GetStateByRange {
                start_key: start.to_owned(),
                end_key: end.to_owned(),
                collection: collection.to_owned(),
                metadata,
            },
        )?;
        let response = QueryResponse::decode(bytes.as_slice())?;
        let metadata = QueryResponseMetadata::decode(response.metadata.as_slice())?;
        Ok((QueryIterator::new(self, response), metadata))
    }

    /// A rich query (CouchDB selector). The Weft peer's state database, like Fabric's
    /// LevelDB, refuses it ("ExecuteQuery not supported for leveldb").
    pub fn get_query_result(
        &mut self,
        query: &str,
    ) -> Result<StateQueryIterator<'_, 'h>, StubError> {
        Ok(self.rich_query("", query, None)?.0)
    }

    /// A page of [`Self::get_query_result`].
    pub fn get_query_result_with_pagination(
        &mut self,
        query: &str,
        page_size: i32,
        bookmark: &str,
    ) -> Result<(StateQueryIterator<'_, 'h>, QueryResponseMetadata), StubError> {
        self.rich_query("", query, Some((page_size, bookmark)))
    }

    fn rich_query(
        &mut self,
        collection: &str,
        query: &str,
        page: Option<(i32, &str)>,
    ) -> Result<(StateQueryIterator<'_, 'h>, QueryResponseMetadata), StubError> {
        let metadata = page.map_or_else(Vec::new, |(page_size, bookmark)| {
            encode(&QueryMetadata {
                page_size,
                bookmark: bookmark.to_owned(),
            })
        });
        let bytes = self.call(
            kind::GET_QUERY_RESULT,
            &GetQueryResult {
                query: query.to_owned(),
                collection: collection.to_owned(),
                metadata,
            },
        )?;
        let response = QueryResponse::decode(bytes.as_slice())?;
        let metadata = QueryResponseMetadata::decode(response.metadata.as_slice())?;
        Ok((QueryIterator::new(self, response), metadata))
    }

    /// Every composite key of the namespace, a page at a time.
    pub fn get_all_states_composite_key_with_pagination(
        &mut self,
        page_size: i32,
        bookmark: &str,
    ) -> Result<(StateQueryIterator<'_, 'h>, QueryResponseMetadata), StubError> {
        let end = format!("{COMPOSITE_KEY_NAMESPACE}{MAX_UNICODE_RUNE}");
        self.range(
            "",
            COMPOSITE_KEY_NAMESPACE,
            &end,
            Some((page_size, bookmark)),
        )
    }

    /// Every committed modification of `key`, newest first.
    pub fn get_history_for_key(
        &mut self,
        key: &str,
    ) -> Result<HistoryQueryIterator<'_, 'h>, StubError> {
        let bytes = self.call(
            kind::GET_HISTORY_FOR_KEY,
            &GetHistoryForKey {
                key: key.to_owned(),
            },
        )?;
        let response = QueryResponse::decode(bytes.as_slice())?;
        Ok(QueryIterator::new(self, response))
    }

    // ---- key-level endorsement ----

    fn metadata(&mut self, collection: &str, key: &str) -> Result<Option<Vec<u8>>, StubError> {
        let bytes = self.call(
            kind::GET_STATE_METADATA,
            &GetStateMetadata {
                key: key.to_owned(),
                collection: collection.to_owned(),
            },
        )?;
        let result = StateMetadataResult::decode(bytes.as_slice())?;
        Ok(result
            .entries
            .into_iter()
            .find(|e| e.metakey == VALIDATION_PARAMETER)
            .map(|e| e.value))
    }

    fn set_metadata(&mut self, collection: &str, key: &str, ep: &[u8]) -> Result<(), StubError> {
        self.call(
            kind::PUT_STATE_METADATA,
            &PutStateMetadata {
                key: key.to_owned(),
                collection: collection.to_owned(),
                metadata: Some(StateMetadata {
                    metakey: VALIDATION_PARAMETER.to_owned(),
                    value: ep.to_vec(),
                }),
            },
        )?;
        Ok(())
    }

    /// The key-level endorsement policy of `key` (an encoded `SignaturePolicyEnvelope`).
    pub fn get_state_validation_parameter(
        &mut self,
        key: &str,
    ) -> Result<Option<Vec<u8>>, StubError> {
        self.metadata("", key)
    }

    /// Sets the key-level endorsement policy of `key`.
    pub fn set_state_validation_parameter(
        &mut self,
        key: &str,
        ep: &[u8],
    ) -> Result<(), StubError> {
        self.set_metadata("", key, ep)
    }

    // ---- private data ----

    /// The value of `key` in private `collection`.
    pub fn get_private_data(
        &mut self,
        collection: &str,
        key: &str,
    ) -> Result<Option<Vec<u8>>, StubError> {
        no_collection(collection)?;
        self.get(collection, key)
    }

    /// The values of `keys` in private `collection`.
    pub fn get_multiple_private_data(
        &mut self,
        collection: &str,
        keys: &[&str],
    ) -> Result<Vec<Option<Vec<u8>>>, StubError> {
        no_collection(collection)?;
        self.get_multiple(collection, keys)
    }

    /// The SHA-256 of the value of `key` in private `collection` (`None` if absent).
    pub fn get_private_data_hash(
        &mut self,
        collection: &str,
        key: &str,
    ) -> Result<Option<Vec<u8>>, StubError> {
        no_collection(collection)?;
        let hash = self.call(
            kind::GET_PRIVATE_DATA_HASH,
            &GetState {
                key: key.to_owned(),
                collection: collection.to_owned(),
            },
        )?;
        Ok((!hash.is_empty()).then_some(hash))
    }

    /// Writes `value` to `key` in private `collection`.
    pub fn put_private_data(
        &mut self,
        collection: &str,
        key: &str,
        value: impl AsRef<[u8]>,
    ) -> Result<(), StubError> {
        no_collection(collection)?;
        self.put(collection, key, value.as_ref())
    }

    /// Deletes `key` from private `collection`.
    pub fn del_private_data(&mut self, collection: &str, key: &str) -> Result<(), StubError> {
        no_collection(collection)?;
        self.del(collection, key)
    }

    /// Purges `key` (and its history) from private `collection`.
    pub fn purge_private_data(&mut self, collection: &str, key: &str) -> Result<(), StubError> {
        no_collection(collection)?;
        self.call(
            kind::PURGE_PRIVATE_DATA,
            &DelState {
                key: key.to_owned(),
                collection: collection.to_owned(),
            },
        )?;
        Ok(())
    }

    /// The keys in `[start, end)` of private `collection`.
    pub fn get_private_data_by_range(
        &mut self,
        collection: &str,
        start: &str,
        end: &str,
    ) -> Result<StateQueryIterator<'_, 'h>, StubError> {
        no_collection(collection)?;
        let start = if start.is_empty() {
            EMPTY_KEY_SUBSTITUTE
        } else {
            start
        };
        validate_simple_keys(&[start, end])?;
        Ok(self.range(collection, start, end, None)?.0)
    }

    /// A rich query over private `collection`.
    pub fn get_private_data_query_result(
        &mut self,
        collection: &str,
        query: &str,
    ) -> Result<StateQueryIterator<'_, 'h>, StubError> {
        no_collection(collection)?;
        Ok(self.rich_query(collection, query, None)?.0)
    }

    /// The composite keys of private `collection` starting with `object_type` and
    /// `attributes`.
    pub fn get_private_data_by_partial_composite_key(
        &mut self,
        collection: &str,
        object_type: &str,
        attributes: &[&str],
    ) -> Result<StateQueryIterator<'_, 'h>, StubError> {
        no_collection(collection)?;
        let (start, end) = partial_composite_range(object_type, attributes)?;
        Ok(self.range(collection, &start, &end, None)?.0)
    }

    /// The key-level endorsement policy of `key` in private `collection`.
    pub fn get_private_data_validation_parameter(
        &mut self,
        collection: &str,
        key: &str,
    ) -> Result<Option<Vec<u8>>, StubError> {
        self.metadata(collection, key)
    }

    /// Sets the key-level endorsement policy of `key` in private `collection`.
    pub fn set_private_data_validation_parameter(
        &mut self,
        collection: &str,
        key: &str,
        ep: &[u8],
    ) -> Result<(), StubError> {
        self.set_metadata(collection, key, ep)
    }

    // ---- composite keys ----

    /// See [`create_composite_key`].
    pub fn create_composite_key(
        &self,
        object_type: &str,
        attributes: &[&str],
    ) -> Result<String, StubError> {
        create_composite_key(object_type, attributes)
    }

    /// See [`split_composite_key`].
    pub fn split_composite_key(&self, key: &str) -> (String, Vec<String>) {
        split_composite_key(key)
    }
}

/// A query result type: decoded from `QueryResultBytes.result_bytes`.
pub trait QueryResult: Message + Default {}

impl QueryResult for Kv {}
impl QueryResult for KeyModification {}

/// An open query: yields its results, fetching further batches (QUERY_STATE_NEXT) as
/// needed; closes the query (QUERY_STATE_CLOSE) when dropped, as the Go shim's `Close`.
pub struct QueryIterator<'s, 'h, T: QueryResult> {
    stub: &'s mut Stub<'h>,
    response: QueryResponse,
    next: usize,
    failed: bool,
    _result: PhantomData<T>,
}

/// A range or composite-key query over the state: yields [`Kv`]s.
pub type StateQueryIterator<'s, 'h> = QueryIterator<'s, 'h, Kv>;
/// A history query: yields [`KeyModification`]s.
pub type HistoryQueryIterator<'s, 'h> = QueryIterator<'s, 'h, KeyModification>;

impl<T: QueryResult> std::fmt::Debug for QueryIterator<'_, '_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryIterator")
            .field("id", &self.response.id)
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

impl<'s, 'h, T: QueryResult> QueryIterator<'s, 'h, T> {
    fn new(stub: &'s mut Stub<'h>, response: QueryResponse) -> Self {
        Self {
            stub,
            response,
            next: 0,
            failed: false,
            _result: PhantomData,
        }
    }

    /// Whether another result follows (Go's `HasNext`).
    pub fn has_next(&self) -> bool {
        self.next < self.response.results.len() || self.response.has_more
    }
}

impl<T: QueryResult> Iterator for QueryIterator<'_, '_, T> {
    type Item = Result<T, StubError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        if self.next >= self.response.results.len() {
            if !self.response.has_more {
                return None;
            }
            let request = QueryStateNext {
                id: self.response.id.clone(),
            };
            let fetched = self
                .stub
                .call(kind::QUERY_STATE_NEXT, &request)
                .and_then(|bytes| Ok(QueryResponse::decode(bytes.as_slice())?));
            match fetched {
                Ok(response) => {
                    self.response = response;
                    self.next = 0;
                }
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
            if self.response.results.is_empty() {
                return None;
            }
        }
        let bytes = &self.response.results.get(self.next)?.result_bytes;
        self.next += 1;
        Some(T::decode(bytes.as_slice()).map_err(StubError::from))
    }
}

impl<T: QueryResult> Drop for QueryIterator<'_, '_, T> {
    fn drop(&mut self) {
        let request = QueryStateClose {
            id: self.response.id.clone(),
        };
        // Closing cannot fail in a way the transaction could act on.
        let _ = self.stub.call(kind::QUERY_STATE_CLOSE, &request);
    }
}
