//! `peer chaincode invoke|query`, as Fabric's `internal/peer/chaincode`:
//!
//! - `invoke -C ch -n cc -c '{"Args":[...]}'`: the proposal (ChaincodeSpec type GOLANG,
//!   `--isInit`, `--transient` as a JSON map of base64 values) is endorsed by every
//!   `--peerAddresses` concurrently; a response with status ≥ 400 ends the command
//!   (`endorsement failure during invoke. response: status:500 message:"..."`); otherwise
//!   the transaction is assembled, broadcast to `-o` (or the channel's orderer), and with
//!   `--waitForEvent` awaited on each peer's DeliverFiltered. Logs `Chaincode invoke
//!   successful. result: status:200 payload:"..."`.
//! - `query`: the same proposal to one peer; prints the payload (`--raw` as Go prints a
//!   byte slice, `--hex` in hexadecimal).

use std::collections::HashMap;

use base64::Engine;
use prost::Message;
use weft_common::crypto::Signer;
use weft_proto::protos::{
    ChaincodeAction, ChaincodeInput, ProposalResponse, ProposalResponsePayload, chaincode_spec,
};

use super::CliError;
use super::args::{ChaincodeArgs, ChaincodeCommand, InvokeArgs, OrdererArgs, QueryArgs};
use super::channel::rpc_error;
use super::client::load_signer;
use super::lifecycle::connect_orderer;
use super::log::{CHAINCODE_CMD, Logger};
use super::tx::{
    DeliverGroup, Wording, connect_peers, create_signed_tx, peer_targets, process_proposals,
    proposal, proposal_response_text, response_text, sign,
};
use crate::config::PeerConfig;

/// Fabric's `shim.ERRORTHRESHOLD`: a response status from which the chaincode failed.
pub const ERROR_THRESHOLD: i32 = 400;

/// Runs `peer chaincode <command>`.
pub async fn run(config: &PeerConfig, log: &Logger, args: &ChaincodeArgs) -> Result<(), CliError> {
    match &args.command {
        ChaincodeCommand::Invoke(a) => invoke(config, log, &args.orderer, &args.transient, a).await,
        ChaincodeCommand::Query(a) => {
            let payload = query(config, &args.transient, a).await?;
            print!("{}", format_query(&payload, a.raw, a.hex)?);
            Ok(())
        }
    }
}

/// The message every `-c` problem but syntax carries.
const CTOR_KEYS: &str = "'Args' or 'Function' and 'Args'";

/// Parses `-c` as Fabric's `checkChaincodeCmdParams` and `chaincodeInput.UnmarshalJSON`:
/// a JSON object with `Args` (strings) and optionally `Function` (keys matched
/// case-insensitively); `Function`, when set, becomes the first argument.
pub fn chaincode_args(name: &str, ctor: &str) -> Result<Vec<Vec<u8>>, CliError> {
    if name.is_empty() {
        return Err(CliError::Usage(
            "must supply value for chaincode name parameter".into(),
        ));
    }
    if ctor == "{}" {
        return Err(CliError::Usage(format!(
            "empty JSON chaincode parameters must contain the following keys: {CTOR_KEYS}"
        )));
    }
    let value: serde_json::Value = serde_json::from_str(ctor).map_err(|e| {
        CliError::Usage(format!(
            "chaincode argument error: {}",
            go_json_error(ctor, &e)
        ))
    })?;
    let serde_json::Value::Object(map) = value else {
        return Err(CliError::Usage(format!(
            "non-empty JSON chaincode parameters must contain the following keys: {CTOR_KEYS}"
        )));
    };
    let keys: Vec<String> = map.keys().map(|k| k.to_lowercase()).collect();
    let args_present = keys.iter().any(|k| k == "args");
    let func_present = keys.iter().any(|k| k == "function");
    if !args_present || (map.len() == 2 && !func_present) || map.len() > 2 {
        return Err(CliError::Usage(format!(
            "non-empty JSON chaincode parameters must contain the following keys: {CTOR_KEYS}"
        )));
    }
    let mut function = String::new();
    let mut args = Vec::new();
    for (key, value) in &map {
        let type_error = |field: &str, go_type: &str| {
            CliError::Usage(format!(
                "chaincode argument error: json: cannot unmarshal {} into Go struct field \
                 .{field} of type {go_type}",
                go_json_kind(value)
            ))
        };
        match key.to_lowercase().as_str() {
            "function" => match value {
                serde_json::Value::String(s) => function = s.clone(),
                serde_json::Value::Null => {}
                _ => return Err(type_error("Function", "string")),
            },
            "args" => match value {
                serde_json::Value::Array(items) => {
                    for item in items {
                        match item {
                            serde_json::Value::String(s) => args.push(s.clone()),
                            serde_json::Value::Null => args.push(String::new()),
                            other => {
                                return Err(CliError::Usage(format!(
                                    "chaincode argument error: json: cannot unmarshal {} into \
                                     Go struct field .Args of type string",
                                    go_json_kind(other)
                                )));
                            }
                        }
                    }
                }
                serde_json::Value::Null => {}
                _ => return Err(type_error("Args", "[]string")),
            },
            _ => {}
        }
    }
    let mut all = Vec::with_capacity(args.len() + 1);
    if !function.is_empty() {
        all.push(function.into_bytes());
    }
    all.extend(args.into_iter().map(String::into_bytes));
    Ok(all)
}

/// Go's name of a JSON value's kind in `UnmarshalTypeError`.
fn go_json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

/// A JSON syntax error worded as Go's `encoding/json` (`unexpected end of JSON input`,
/// `invalid character 'x' looking for beginning of value`, ...).
pub fn go_json_error(text: &str, e: &serde_json::Error) -> String {
    if e.is_eof() {
        return "unexpected end of JSON input".into();
    }
    let offending = text
        .lines()
        .nth(e.line().saturating_sub(1))
        .and_then(|line| line.chars().nth(e.column().saturating_sub(1)));
    let message = e.to_string();
    if message.starts_with("expected ident") {
        // Inside `null`, `true` or `false`: Go names the literal and the expected byte.
        let line: Vec<char> = text
            .lines()
            .nth(e.line().saturating_sub(1))
            .unwrap_or_default()
            .chars()
            .collect();
        let at = e.column().saturating_sub(1);
        let start = (0..at)
            .rev()
            .find(|&i| matches!(line.get(i), Some('n' | 't' | 'f')))
            .unwrap_or(0);
        let literal = match line.get(start) {
            Some('n') => "null",
            Some('t') => "true",
            _ => "false",
        };
        if let (Some(c), Some(expected)) = (line.get(at), literal.chars().nth(at - start)) {
            return format!(
                "invalid character '{c}' in literal {literal} (expecting '{expected}')"
            );
        }
        return message;
    }
    let context = if message.starts_with("expected value") {
        "looking for beginning of value"
    } else if message.starts_with("key must be a string") {
        "looking for beginning of object key string"
    } else if message.starts_with("expected `:`") {
        "after object key"
    } else if message.starts_with("expected `,` or `}`") {
        "after object key:value pair"
    } else if message.starts_with("expected `,` or `]`") {
        "after array element"
    } else if message.starts_with("trailing characters") {
        "after top-level value"
    } else if message.starts_with("trailing comma") {
        "looking for beginning of value"
    } else {
        return message;
    };
    match offending {
        Some('\'') => format!("invalid character '\\'' {context}"),
        Some(c) => format!("invalid character '{c}' {context}"),
        None => message,
    }
}

/// Parses `--transient` (a JSON object of base64 values, Go's `map[string][]byte`).
pub fn transient_map(transient: &str) -> Result<HashMap<String, Vec<u8>>, String> {
    if transient.is_empty() {
        return Ok(HashMap::new());
    }
    let value: serde_json::Value = serde_json::from_str(transient).map_err(|e| {
        format!(
            "error parsing transient string: {}",
            go_json_error(transient, &e)
        )
    })?;
    let serde_json::Value::Object(map) = value else {
        return Err(format!(
            "error parsing transient string: json: cannot unmarshal {} into Go value of type \
             map[string][]uint8",
            go_json_kind(&value)
        ));
    };
    let mut out = HashMap::new();
    for (key, value) in map {
        let bytes = match &value {
            serde_json::Value::String(s) => base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|e| {
                    let offset = match e {
                        base64::DecodeError::InvalidByte(i, _)
                        | base64::DecodeError::InvalidLastSymbol(i, _) => i,
                        _ => s.len(),
                    };
                    format!(
                        "error parsing transient string: illegal base64 data at input byte \
                         {offset}"
                    )
                })?,
            serde_json::Value::Null => Vec::new(),
            other => {
                return Err(format!(
                    "error parsing transient string: json: cannot unmarshal {} into Go value of \
                     type []uint8",
                    go_json_kind(other)
                ));
            }
        };
        out.insert(key, bytes);
    }
    Ok(out)
}

/// The `ChaincodeInput` of `-c` and `--isInit`.
pub fn chaincode_input(name: &str, ctor: &str, is_init: bool) -> Result<ChaincodeInput, CliError> {
    Ok(ChaincodeInput {
        args: chaincode_args(name, ctor)?,
        is_init,
        ..ChaincodeInput::default()
    })
}

fn required_channel(channel_id: &str) -> Result<(), CliError> {
    if channel_id.is_empty() {
        return Err(CliError::Usage(
            "The required parameter 'channelID' is empty. Rerun the command with -C flag".into(),
        ));
    }
    Ok(())
}

/// `peer chaincode invoke`.
pub async fn invoke(
    config: &PeerConfig,
    log: &Logger,
    orderer: &OrdererArgs,
    transient: &str,
    args: &InvokeArgs,
) -> Result<(), CliError> {
    required_channel(&args.channel_id)?;
    let signer = load_signer(config)?;
    let targets = peer_targets(config, &args.peers, "invoke", true, Wording::Chaincode)?;
    let peers = connect_peers(config, &targets, "invoke", Wording::Chaincode).await?;
    let mut broadcaster = connect_orderer(&signer, &peers[0], orderer, &args.channel_id, log)
        .await
        .map_err(|e| CliError::Client(format!("error getting broadcast client: {e}")))?;
    let input = chaincode_input(&args.name, &args.ctor, args.is_init)?;

    let failed = |e: String, response: Option<&ProposalResponse>| {
        CliError::Response(format!(
            "{e} - proposal response: {}",
            proposal_response_text(response)
        ))
    };
    let transient = transient_map(transient).map_err(|e| failed(e, None))?;
    let (proposal, tx_id) = proposal(
        &args.channel_id,
        &args.name,
        chaincode_spec::Type::Golang,
        input,
        transient,
        signer.creator(),
    );
    let signed = sign(&proposal, &signer).map_err(|e| {
        failed(
            format!("error creating signed proposal for invoke: {e}"),
            None,
        )
    })?;
    let responses = process_proposals(&peers, &signed)
        .await
        .map_err(|s| failed(format!("error endorsing invoke: {}", rpc_error(&s)), None))?;
    let first = responses.first().ok_or_else(|| {
        failed(
            "no proposal responses received - this might indicate a bug".into(),
            None,
        )
    })?;
    let status = first.response.as_ref().map_or(0, |r| r.status);
    if status < ERROR_THRESHOLD {
        let envelope = create_signed_tx(&proposal, &signer, &responses)
            .map_err(|e| failed(format!("could not assemble transaction: {e}"), Some(first)))?;
        let group = if args.wait_for_event {
            Some(
                DeliverGroup::connect(
                    &peers,
                    &args.channel_id,
                    &tx_id,
                    &signer,
                    args.wait_for_event_timeout,
                )
                .await
                .map_err(|e| failed(e.to_string(), None))?,
            )
        } else {
            None
        };
        broadcaster.send(envelope).await.map_err(|e| {
            failed(
                format!("error sending transaction for invoke: {e}"),
                Some(first),
            )
        })?;
        if let Some(group) = group {
            group
                .wait(log)
                .await
                .map_err(|e| failed(e.to_string(), None))?;
        }
    }
    let result = invoke_result(first)?;
    log.info(
        CHAINCODE_CMD,
        "chaincodeInvokeOrQuery",
        &format!(
            "Chaincode invoke successful. result: {}",
            response_text(&result)
        ),
    );
    Ok(())
}

/// The chaincode's response inside an invoke's first proposal response, or Fabric's
/// `endorsement failure during invoke` when the peer did not endorse.
pub fn invoke_result(
    response: &ProposalResponse,
) -> Result<weft_proto::protos::Response, CliError> {
    let prp = ProposalResponsePayload::decode(response.payload.as_slice()).map_err(|e| {
        CliError::Response(format!(
            "error while unmarshalling proposal response payload: {e}"
        ))
    })?;
    let action = ChaincodeAction::decode(prp.extension.as_slice()).map_err(|e| {
        CliError::Response(format!("error while unmarshalling chaincode action: {e}"))
    })?;
    if response.endorsement.is_none() {
        return Err(CliError::Response(format!(
            "endorsement failure during invoke. response: {}",
            response
                .response
                .as_ref()
                .map_or_else(|| "<nil>".to_owned(), response_text)
        )));
    }
    Ok(action.response.unwrap_or_default())
}

/// `peer chaincode query`: the payload of the endorsed answer.
pub async fn query(
    config: &PeerConfig,
    transient: &str,
    args: &QueryArgs,
) -> Result<Vec<u8>, CliError> {
    required_channel(&args.channel_id)?;
    let signer = load_signer(config)?;
    let targets = peer_targets(config, &args.peers, "query", false, Wording::Chaincode)?;
    let peers = connect_peers(config, &targets, "query", Wording::Chaincode).await?;
    let input = chaincode_input(&args.name, &args.ctor, false)?;
    let failed = |e: String| CliError::Response(format!("{e} - proposal response: <nil>"));
    let transient = transient_map(transient).map_err(failed)?;
    let (proposal, _) = proposal(
        &args.channel_id,
        &args.name,
        chaincode_spec::Type::Golang,
        input,
        transient,
        signer.creator(),
    );
    let signed = sign(&proposal, &signer)
        .map_err(|e| failed(format!("error creating signed proposal for query: {e}")))?;
    let responses = process_proposals(&peers, &signed)
        .await
        .map_err(|s| failed(format!("error endorsing query: {}", rpc_error(&s))))?;
    let first = responses.into_iter().next().ok_or_else(|| {
        failed("no proposal responses received - this might indicate a bug".into())
    })?;
    if first.endorsement.is_none() {
        return Err(CliError::Response(format!(
            "endorsement failure during query. response: {}",
            first
                .response
                .as_ref()
                .map_or_else(|| "<nil>".to_owned(), response_text)
        )));
    }
    Ok(first.response.map(|r| r.payload).unwrap_or_default())
}

/// What `query` prints: the payload as text, `--raw` as Go prints a `[]byte`
/// (`[104 105]`), `--hex` in lowercase hexadecimal.
pub fn format_query(payload: &[u8], raw: bool, hex: bool) -> Result<String, CliError> {
    if raw && hex {
        return Err(CliError::Usage(
            "options --raw (-r) and --hex (-x) are not compatible".into(),
        ));
    }
    if raw {
        let bytes: Vec<String> = payload.iter().map(u8::to_string).collect();
        return Ok(format!("[{}]\n", bytes.join(" ")));
    }
    if hex {
        return Ok(format!("{}\n", ::hex::encode(payload)));
    }
    Ok(format!("{}\n", String::from_utf8_lossy(payload)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(ctor: &str) -> Result<Vec<String>, String> {
        chaincode_args("basic", ctor)
            .map(|a| {
                a.into_iter()
                    .map(|b| String::from_utf8(b).expect("utf8"))
                    .collect()
            })
            .map_err(|e| e.to_string())
    }

    #[test]
    fn ctor_forms_like_fabric() {
        assert_eq!(
            args(r#"{"Args":["CreateAsset","asset1","blue"]}"#),
            Ok(vec!["CreateAsset".into(), "asset1".into(), "blue".into()])
        );
        assert_eq!(
            args(r#"{"function":"ReadAsset","Args":["asset1"]}"#),
            Ok(vec!["ReadAsset".into(), "asset1".into()])
        );
        assert_eq!(args(r#"{"args":[]}"#), Ok(vec![]));
        let keys = "non-empty JSON chaincode parameters must contain the following keys: 'Args' \
                    or 'Function' and 'Args'";
        assert_eq!(args(r#"{"Function":"f"}"#), Err(keys.into()));
        assert_eq!(args(r#"{"Args":[],"x":1}"#), Err(keys.into()));
        assert_eq!(
            args("{}"),
            Err(
                "empty JSON chaincode parameters must contain the following keys: 'Args' or \
                 'Function' and 'Args'"
                    .into()
            )
        );
        assert_eq!(
            chaincode_args("", r#"{"Args":[]}"#)
                .expect_err("no name")
                .to_string(),
            "must supply value for chaincode name parameter"
        );
    }

    #[test]
    fn bad_ctor_json_is_worded_like_go() {
        assert_eq!(
            args(r#"{"Args":["a""#),
            Err("chaincode argument error: unexpected end of JSON input".into())
        );
        assert_eq!(
            args("xyz"),
            Err(
                "chaincode argument error: invalid character 'x' looking for beginning of value"
                    .into()
            )
        );
        assert_eq!(
            args("nojson"),
            Err(
                "chaincode argument error: invalid character 'o' in literal null (expecting 'u')"
                    .into()
            )
        );
        assert_eq!(
            args(r#"{"Args":["a"] "x"}"#),
            Err(
                "chaincode argument error: invalid character '\"' after object key:value pair"
                    .into()
            )
        );
        assert_eq!(
            args(r#"{"Args":[1]}"#),
            Err(
                "chaincode argument error: json: cannot unmarshal number into Go struct field \
                 .Args of type string"
                    .into()
            )
        );
    }

    #[test]
    fn transient_values_are_base64() {
        let map = transient_map(r#"{"asset_properties":"aGVsbG8="}"#).expect("map");
        assert_eq!(map["asset_properties"], b"hello");
        assert!(transient_map("").expect("empty").is_empty());
        assert_eq!(
            transient_map(r#"{"k":"!!"}"#).expect_err("not base64"),
            "error parsing transient string: illegal base64 data at input byte 0"
        );
    }

    #[test]
    fn query_output_forms() {
        assert_eq!(format_query(b"hi", false, false).expect("text"), "hi\n");
        assert_eq!(
            format_query(b"hi", true, false).expect("raw"),
            "[104 105]\n"
        );
        assert_eq!(format_query(b"hi", false, true).expect("hex"), "6869\n");
        assert_eq!(
            format_query(b"hi", true, true)
                .expect_err("both")
                .to_string(),
            "options --raw (-r) and --hex (-x) are not compatible"
        );
    }
}
