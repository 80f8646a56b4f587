//! The chaincode SDK against the peer: `examples/asset-transfer-basic` built for
//! `wasm32-unknown-unknown` runs in the peer's WASM runtime against a real ledger
//! simulator, and the same contract runs natively on the SDK's mock ledger. For every
//! call of a script, both give the same `Response` (status, message, payload bytes) and
//! the same read/write set for the contract's namespace (reads with versions, writes,
//! range queries, byte for byte).

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use prost::Message;
use weft_chaincode_sdk::mock::{MockIdentity, MockLedger};
use weft_common::protoutil::{build_block, set_transactions_filter};
use weft_peer::ledger::{
    KeyMetadata, Ledger, Pagination, QueryBatch, SimulationError, TxSimulator,
    tx_updates_from_rwset,
};
use weft_proto::kvrwset::KvrwSet;
use weft_proto::protos::chaincode_message::Type;
use weft_proto::protos::{
    ChaincodeInput, ChaincodeMessage, DelState, GetState, GetStateByRange, GetStateMetadata,
    PutState, PutStateMetadata, QueryMetadata, QueryResponse, QueryResponseMetadata,
    QueryResultBytes, QueryStateClose, QueryStateNext, Response, StateMetadata,
    StateMetadataResult, TxValidationCode,
};
use weft_proto::queryresult::Kv;
use weft_wasm_host::{BoxFuture, EngineConfig, ShimLink, TxLimits, WasmEngine};

const NAMESPACE: &str = "basic";
const CHANNEL: &str = "mychannel";

/// The workspace root, found at run time.
fn workspace() -> PathBuf {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo test");
    PathBuf::from(manifest)
        .parent()
        .expect("the peer crate is in the workspace")
        .to_path_buf()
}

/// The target directory this test binary was built in (`<target>/debug/deps/<test>`).
fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().expect("test executable path");
    exe.ancestors()
        .nth(3)
        .expect("<target>/<profile>/deps/<exe>")
        .to_path_buf()
}

/// Builds the example for wasm32 with the size profile and returns its bytes.
fn build_wasm() -> Vec<u8> {
    let target = target_dir();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(workspace())
        .env("CARGO_TARGET_DIR", &target)
        .args([
            "build",
            "-p",
            "asset-transfer-basic",
            "--target",
            "wasm32-unknown-unknown",
            "--profile",
            "wasm-release",
        ])
        .status()
        .expect("run cargo");
    assert!(status.success(), "building the wasm contract failed");
    let path = target.join("wasm32-unknown-unknown/wasm-release/asset_transfer_basic.wasm");
    let wasm = std::fs::read(&path).expect("the built contract");
    eprintln!("{}: {} bytes", path.display(), wasm.len());
    wasm
}

/// Serves the shim requests of one transaction from a ledger simulator, as the peer's
/// chaincode handler does (same texts on error).
struct SimLink {
    sim: TxSimulator,
    txid: String,
}

fn decode<M: Message + Default>(bytes: &[u8]) -> Result<M, String> {
    M::decode(bytes).map_err(|e| format!("unmarshal failed: {e}"))
}

fn range_response(id: String, batch: QueryBatch) -> Vec<u8> {
    QueryResponse {
        results: batch
            .results
            .into_iter()
            .map(|(key, value)| QueryResultBytes {
                result_bytes: Kv {
                    namespace: NAMESPACE.to_owned(),
                    key,
                    value,
                }
                .encode_to_vec(),
            })
            .collect(),
        has_more: batch.has_more,
        id,
        metadata: batch.metadata.map_or_else(Vec::new, |page| {
            QueryResponseMetadata {
                fetched_records_count: page.fetched_records_count,
                bookmark: page.bookmark,
            }
            .encode_to_vec()
        }),
    }
    .encode_to_vec()
}

impl SimLink {
    fn serve(&mut self, msg: &ChaincodeMessage) -> Result<Vec<u8>, String> {
        let payload = msg.payload.as_slice();
        let text = |e: SimulationError| e.to_string();
        match Type::try_from(msg.r#type) {
            Ok(Type::GetState) => {
                let req = decode::<GetState>(payload)?;
                Ok(self
                    .sim
                    .get_state(NAMESPACE, &req.key)
                    .map_err(text)?
                    .unwrap_or_default())
            }
            Ok(Type::PutState) => {
                let req = decode::<PutState>(payload)?;
                self.sim
                    .set_state(NAMESPACE, &req.key, req.value)
                    .map_err(text)?;
                Ok(Vec::new())
            }
            Ok(Type::DelState) => {
                let req = decode::<DelState>(payload)?;
                self.sim.delete_state(NAMESPACE, &req.key).map_err(text)?;
                Ok(Vec::new())
            }
            Ok(Type::GetStateMetadata) => {
                let req = decode::<GetStateMetadata>(payload)?;
                let metadata = self
                    .sim
                    .get_state_metadata(NAMESPACE, &req.key)
                    .map_err(text)?;
                Ok(StateMetadataResult {
                    entries: metadata
                        .into_iter()
                        .map(|(metakey, value)| StateMetadata { metakey, value })
                        .collect(),
                }
                .encode_to_vec())
            }
            Ok(Type::PutStateMetadata) => {
                let req = decode::<PutStateMetadata>(payload)?;
                let entry = req.metadata.unwrap_or_default();
                let metadata = KeyMetadata::from([(entry.metakey, entry.value)]);
                self.sim
                    .set_state_metadata(NAMESPACE, &req.key, metadata)
                    .map_err(text)?;
                Ok(Vec::new())
            }
            Ok(Type::GetStateByRange) => {
                let req = decode::<GetStateByRange>(payload)?;
                let pagination = if req.metadata.is_empty() {
                    None
                } else {
                    let m = decode::<QueryMetadata>(&req.metadata)?;
                    Some(Pagination {
                        page_size: m.page_size,
                        bookmark: m.bookmark,
                    })
                };
                let id = self
                    .sim
                    .open_range(NAMESPACE, &req.start_key, &req.end_key, pagination)
                    .map_err(text)?;
                let batch = self.sim.next_batch(&id, 100).map_err(text)?;
                Ok(range_response(id, batch))
            }
            Ok(Type::QueryStateNext) => {
                let req = decode::<QueryStateNext>(payload)?;
                let batch = self.sim.next_batch(&req.id, 100).map_err(text)?;
                Ok(range_response(req.id, batch))
            }
            Ok(Type::QueryStateClose) => {
                let req = decode::<QueryStateClose>(payload)?;
                self.sim.close_query(&req.id);
                Ok(QueryResponse {
                    id: req.id,
                    ..QueryResponse::default()
                }
                .encode_to_vec())
            }
            _ => Err(format!("unexpected message type {}", msg.r#type)),
        }
    }
}

impl ShimLink for SimLink {
    fn request(&mut self, msg: ChaincodeMessage) -> BoxFuture<'_, ChaincodeMessage> {
        let reply = match self.serve(&msg) {
            Ok(payload) => ChaincodeMessage {
                r#type: Type::Response as i32,
                payload,
                txid: msg.txid.clone(),
                channel_id: msg.channel_id.clone(),
                ..ChaincodeMessage::default()
            },
            Err(e) => ChaincodeMessage {
                r#type: Type::Error as i32,
                payload: format!(
                    "{} failed: transaction ID: {}: {e}",
                    Type::try_from(msg.r#type).map_or("UNKNOWN", |t| t.as_str_name()),
                    self.txid
                )
                .into_bytes(),
                txid: msg.txid.clone(),
                channel_id: msg.channel_id.clone(),
                ..ChaincodeMessage::default()
            },
        };
        Box::pin(async move { reply })
    }
}

/// One call of the script: submit (committed if successful) or evaluate.
struct Call {
    submit: bool,
    function: String,
    args: Vec<String>,
}

impl Call {
    fn args(&self) -> Vec<&str> {
        self.args.iter().map(String::as_str).collect()
    }

    fn raw(&self) -> Vec<&[u8]> {
        std::iter::once(self.function.as_bytes())
            .chain(self.args.iter().map(|a| a.as_bytes()))
            .collect()
    }
}

fn submit(function: &str, args: &[&str]) -> Call {
    Call {
        submit: true,
        function: function.to_owned(),
        args: args.iter().map(|a| (*a).to_owned()).collect(),
    }
}

fn evaluate(function: &str, args: &[&str]) -> Call {
    Call {
        submit: false,
        ..submit(function, args)
    }
}

/// Every function, its failures, routing, the metadata; then enough assets for the range
/// query's reads to be recorded as a Merkle summary (more than 50).
fn script() -> Vec<Call> {
    let mut calls = vec![
        evaluate("GetAllAssets", &[]),
        submit("InitLedger", &[]),
        evaluate("ReadAsset", &["asset1"]),
        evaluate("ReadAsset", &["asset9"]),
        submit("CreateAsset", &["asset7", "purple", "20", "Ana", "900"]),
        submit("CreateAsset", &["asset7", "purple", "20", "Ana", "900"]),
        submit("CreateAsset", &["asset8", "red", "big", "Bo", "1"]),
        submit("UpdateAsset", &["asset1", "green", "6", "Tomoko", "350"]),
        submit("UpdateAsset", &["nope", "a", "1", "b", "2"]),
        submit("TransferAsset", &["asset2", "Christopher"]),
        evaluate("GetAllAssets", &[]),
        submit("DeleteAsset", &["asset3"]),
        submit("DeleteAsset", &["asset3"]),
        evaluate("AssetExists", &["asset3"]),
        evaluate("AssetExists", &["asset4"]),
        evaluate("SmartContract:ReadAsset", &["asset7"]),
        evaluate("NoSuchFunction", &["x"]),
        evaluate("Other:ReadAsset", &["x"]),
        evaluate("org.hyperledger.fabric:GetMetadata", &[]),
        evaluate("GetAllAssets", &[]),
    ];
    for i in 0..60 {
        let id = format!("bulk{i:02}");
        let value = (i * 10).to_string();
        calls.push(submit("CreateAsset", &[&id, "grey", "1", "Bulk", &value]));
    }
    calls.push(evaluate("GetAllAssets", &[]));
    calls.push(submit("TransferAsset", &["bulk42", "Zoe"]));
    calls
}

/// The peer side: a ledger, the loaded module, one simulator per transaction.
struct Peer {
    ledger: Arc<Ledger>,
    chaincode: weft_wasm_host::WasmChaincode,
    limits: TxLimits,
    count: u64,
    _dir: tempfile::TempDir,
}

impl Peer {
    fn new(wasm: &[u8]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let ledger = Arc::new(Ledger::open(dir.path()).expect("ledger"));
        // Block 0 carries no transactions, so transaction n commits in block n as on the
        // mock ledger.
        let mut genesis = build_block(0, Vec::new(), Vec::new());
        set_transactions_filter(&mut genesis, Vec::new());
        ledger.commit(&genesis, &[]).expect("block 0");
        let engine = WasmEngine::new(EngineConfig {
            max_instances: 4,
            ..EngineConfig::default()
        })
        .expect("engine");
        let chaincode = engine.load(wasm).expect("the contract loads");
        Self {
            ledger,
            chaincode,
            limits: TxLimits {
                fuel: 1_000_000_000,
                timeout: Duration::from_secs(30),
            },
            count: 0,
            _dir: dir,
        }
    }

    /// Runs a call; returns the response and the namespace's rwset bytes.
    async fn call(&mut self, call: &Call) -> (Response, Vec<u8>) {
        self.count += 1;
        let txid = format!("peer-tx-{}", self.count);
        let args = call.raw().into_iter().map(<[u8]>::to_vec).collect();
        let message = ChaincodeMessage {
            r#type: Type::Transaction as i32,
            payload: ChaincodeInput {
                args,
                ..ChaincodeInput::default()
            }
            .encode_to_vec(),
            txid: txid.clone(),
            channel_id: CHANNEL.to_owned(),
            ..ChaincodeMessage::default()
        };
        let sim = self.ledger.new_tx_simulator(&txid).expect("simulator");
        let mut link = SimLink {
            sim,
            txid: txid.clone(),
        };
        let answer = self
            .chaincode
            .run(NAMESPACE, &message, &self.limits, &mut link)
            .await;
        assert_eq!(
            answer.r#type,
            Type::Completed as i32,
            "{}",
            String::from_utf8_lossy(&answer.payload)
        );
        let response = Response::decode(answer.payload.as_slice()).expect("Response");
        let results = link.sim.done().expect("simulation results");
        let rwset = results
            .rwset
            .ns_rwset
            .iter()
            .find(|ns| ns.namespace == NAMESPACE)
            .map(|ns| ns.rwset.clone())
            .unwrap_or_default();
        if call.submit && response.status < 400 {
            let number = self.ledger.block_store().height();
            let previous = self.ledger.block_store().last_header_hash();
            let mut block = build_block(number, previous, vec![b"tx".to_vec()]);
            set_transactions_filter(&mut block, vec![TxValidationCode::Valid as u8]);
            let updates = tx_updates_from_rwset(0, &txid, &results.rwset).expect("updates");
            self.ledger.commit(&block, &[updates]).expect("commit");
        }
        (response, rwset)
    }
}

/// Runs `call` on the mock ledger: its response and the namespace's rwset bytes.
fn on_mock(
    mock: &mut MockLedger,
    chaincode: &weft_chaincode_sdk::Chaincode,
    identity: &MockIdentity,
    call: &Call,
) -> (weft_chaincode_sdk::Response, Vec<u8>) {
    let response = if call.submit {
        mock.invoke(chaincode, identity, &call.function, &call.args())
    } else {
        mock.evaluate(chaincode, identity, &call.function, &call.args())
    };
    let record = mock.last_tx().expect("recorded");
    (response, record.rwset(NAMESPACE).encode_to_vec())
}

/// Asserts the same answer and the same read/write set.
fn assert_same(
    call: &Call,
    expected: &weft_chaincode_sdk::Response,
    mock_rwset: &[u8],
    response: &Response,
    rwset: &[u8],
) {
    let label = format!("{} {:?}", call.function, call.args);
    assert_eq!(response.status, expected.status, "{label}: status");
    assert_eq!(response.message, expected.message, "{label}: message");
    assert_eq!(
        String::from_utf8_lossy(&response.payload),
        String::from_utf8_lossy(&expected.payload),
        "{label}: payload"
    );
    assert_eq!(response.payload, expected.payload, "{label}: payload bytes");
    let peer_set = KvrwSet::decode(rwset).expect("peer KVRWSet");
    let mock_set = KvrwSet::decode(mock_rwset).expect("mock KVRWSet");
    assert_eq!(mock_set, peer_set, "{label}: read/write set");
    assert_eq!(mock_rwset, rwset, "{label}: read/write set bytes");
    if call.function == "GetAllAssets" {
        assert_eq!(
            peer_set.range_queries_info.len(),
            1,
            "{label}: the range query"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wasm_contract_matches_the_mock_ledger_call_for_call() {
    let wasm = build_wasm();
    assert!(
        wasm.len() < 4 * 1024 * 1024,
        "within the host's module limit"
    );
    let mut peer = Peer::new(&wasm);

    let chaincode = asset_transfer_basic::chaincode();
    let identity = MockIdentity::with_attributes("Org1MSP", "appUser", &[]);
    let mut mock = MockLedger::new(NAMESPACE).with_channel(CHANNEL);

    for call in &script() {
        let (expected, mock_rwset) = on_mock(&mut mock, &chaincode, &identity, call);
        let (response, rwset) = peer.call(call).await;
        assert_same(call, &expected, &mock_rwset, &response, &rwset);
    }

    // Both ledgers hold the same state at the same versions.
    let snapshot = peer.ledger.snapshot().expect("snapshot");
    for key in [
        "asset1", "asset2", "asset3", "asset4", "asset7", "asset8", "bulk42",
    ] {
        let committed =
            weft_peer::ledger::StateView::get_state(&snapshot, NAMESPACE, key).expect("read");
        assert_eq!(
            committed.as_ref().map(|v| v.value.as_slice()),
            mock.state(key),
            "{key}"
        );
        assert_eq!(
            committed.map(|v| (v.version.block_num, v.version.tx_num)),
            mock.version(key).map(|v| (v.block_num, v.tx_num)),
            "{key} version"
        );
    }
}

/// The full peer path: an in-process peer (Org1's peer0 of the test network, joined to
/// `mychannel`) with the endorser, the chaincode support and the WASM launcher; the
/// contract is packaged, installed, defined and approved as `basic`; every call is a
/// signed proposal through `ProcessProposal`, and every successful submit is assembled,
/// signed, validated and committed. The mock ledger sees the same calls from the same
/// identity.
mod full_peer {
    use std::collections::HashMap;
    use std::path::Path;
    use std::sync::Arc;
    use std::time::Duration;

    use prost::Message;
    use weft_chaincode_sdk::mock::{MockIdentity, MockLedger};
    use weft_common::msp::{MspDir, SigningIdentity};
    use weft_common::policy::dsl;
    use weft_common::protoutil::{self, build_block, set_transactions_filter};
    use weft_peer::chaincode::package::{ChaincodePackage, PackageStore, WASM_TYPE};
    use weft_peer::chaincode::{Approval, ChaincodeSupport, Launcher, SupportConfig, WasmLauncher};
    use weft_peer::channels::Channels;
    use weft_peer::endorser::Endorser;
    use weft_peer::ledger::TxUpdates;
    use weft_peer::validation::definitions::{
        ChaincodeDefinition, definitions_tx_updates, signature_policy,
    };
    use weft_proto::msp::SerializedIdentity;
    use weft_proto::protos::{
        ChaincodeAction, ProposalResponse, ProposalResponsePayload, Response, TxValidationCode,
    };
    use weft_proto::rwset::TxReadWriteSet;
    use weft_tools::configtxgen;
    use weft_tools::cryptogen::{self, CryptoConfig};
    use weft_wasm_host::{EngineConfig, TxLimits, WasmEngine};

    use super::{CHANNEL, NAMESPACE, assert_same, build_wasm, on_mock, script, workspace};

    struct Net {
        endorser: Endorser,
        channels: Arc<Channels>,
        user1: SigningIdentity,
        _dir: tempfile::TempDir,
    }

    fn status(r: &ProposalResponse) -> i32 {
        r.response.as_ref().map_or(0, |r| r.status)
    }

    impl Net {
        async fn start(wasm: &[u8]) -> Self {
            let dir = tempfile::tempdir().expect("tempdir");
            let root = dir.path();
            let tools = workspace().join("tools/testdata");
            let orgs = root.join("organizations");
            let crypto = CryptoConfig::load(&tools.join("crypto-config.yaml")).expect("crypto");
            cryptogen::generate(&crypto, &orgs).expect("cryptogen");
            std::fs::copy(tools.join("configtx.yaml"), root.join("configtx.yaml"))
                .expect("configtx");
            let top = configtxgen::TopLevel::load(root).expect("configtx.yaml");
            let profile = top.profile("TwoOrgsApplicationGenesis").expect("profile");
            let genesis = configtxgen::genesis_block(&profile, CHANNEL).expect("genesis");
            let org1 = orgs.join("peerOrganizations/org1.example.com");
            let load = |path: &Path| MspDir::load(path, "Org1MSP").expect("msp");
            let peer_msp = load(&org1.join("peers/peer0.org1.example.com/msp"));
            let signer = |path: &Path| load(path).signing_identity.expect("signing identity");
            let admin1 = signer(&org1.join("users/Admin@org1.example.com/msp"));
            let user1 = signer(&org1.join("users/User1@org1.example.com/msp"));
            let channels = Arc::new(Channels::open(&root.join("peer")).expect("channels"));
            let endorser = Endorser::new(
                channels.clone(),
                Arc::new(peer_msp.msp().expect("local msp")),
                Arc::new(peer_msp.signing_identity.clone().expect("peer identity")),
            );

            // Join the channel (block 0).
            let join = proposal(
                "",
                "cscc",
                &[b"JoinChain", &genesis.encode_to_vec()],
                &admin1,
            );
            let joined = endorser.process_proposal(join).await.expect("join");
            assert_eq!(status(&joined), 200, "{joined:?}");

            // The chaincode support with the WASM launcher.
            let engine = WasmEngine::new(EngineConfig {
                max_instances: 8,
                ..EngineConfig::default()
            })
            .expect("engine");
            let limits = TxLimits {
                fuel: 1_000_000_000,
                timeout: Duration::from_secs(30),
            };
            let launcher: Arc<dyn Launcher> =
                Arc::new(WasmLauncher::new(engine, root.join("wasm-cache"), limits));
            let support = ChaincodeSupport::new(
                SupportConfig {
                    execute_timeout: Duration::from_secs(30),
                    startup_timeout: Duration::from_secs(30),
                    ..SupportConfig::default()
                },
                channels.clone(),
                endorser.acl().clone(),
                PackageStore::under(root).expect("package store"),
                HashMap::from([(WASM_TYPE.to_owned(), launcher)]),
            );
            let endorser = endorser.with_chaincode_support(support.clone());

            // Define `basic` (block 1: the definition written into `_lifecycle`), install
            // and approve the package.
            let policy = signature_policy(dsl::parse("OR('Org1MSP.peer')").expect("policy"));
            let definition = ChaincodeDefinition::new(1, "1.0", &policy);
            let updates = definitions_tx_updates(0, "define", &[(NAMESPACE, &definition)]);
            let channel = channels.get(CHANNEL).expect("channel");
            let ledger = channel.ledger();
            let previous = ledger.block_store().last_header_hash();
            let mut block = build_block(1, previous, vec![b"define".to_vec()]);
            set_transactions_filter(&mut block, vec![TxValidationCode::Valid as u8]);
            ledger
                .commit(&block, &[TxUpdates { ..updates }])
                .expect("definition block");
            let package = ChaincodePackage::build(
                WASM_TYPE,
                "basic_1.0",
                "",
                &[("asset_transfer_basic.wasm", wasm)],
            )
            .expect("package");
            let ccid = support.install(&package).await.expect("install");
            support.approve(
                CHANNEL,
                NAMESPACE,
                Approval {
                    sequence: 1,
                    package_id: Some(ccid),
                },
            );
            Net {
                endorser,
                channels,
                user1,
                _dir: dir,
            }
        }

        /// Endorses `call` as User1; commits it (validated) if it is a successful submit.
        async fn call(&self, call: &super::Call) -> (Response, Vec<u8>) {
            let signed = proposal(CHANNEL, NAMESPACE, &call.raw(), &self.user1);
            let answer = self
                .endorser
                .process_proposal(signed.clone())
                .await
                .expect("answered");
            let response = answer.response.clone().expect("response");
            if response.status >= 400 {
                assert!(answer.endorsement.is_none(), "errors are not endorsed");
                // Fabric's endorser answers a failed chaincode without a payload, so there
                // is no read/write set to compare; the mock did not write either.
                return (response, Vec::new());
            }
            let prp = ProposalResponsePayload::decode(answer.payload.as_slice()).expect("prp");
            let action = ChaincodeAction::decode(prp.extension.as_slice()).expect("action");
            let rwset = TxReadWriteSet::decode(action.results.as_slice()).expect("rwset");
            let ours = rwset
                .ns_rwset
                .iter()
                .find(|ns| ns.namespace == NAMESPACE)
                .map(|ns| ns.rwset.clone())
                .unwrap_or_default();
            if call.submit {
                let unpacked = protoutil::unpack_proposal(&signed).expect("unpack");
                let envelope =
                    protoutil::assemble_transaction(&unpacked, std::slice::from_ref(&answer))
                        .expect("assemble");
                let envelope = protoutil::sign_envelope_payload(envelope.payload, &self.user1)
                    .expect("sign the transaction");
                let channel = self.channels.get(CHANNEL).expect("channel");
                let ledger = channel.ledger();
                let number = ledger.block_store().height();
                let previous = ledger.block_store().last_header_hash();
                let block = build_block(number, previous, vec![envelope.encode_to_vec()]);
                let notice = channel
                    .commit_block(block)
                    .expect("commit")
                    .expect("committed");
                assert_eq!(notice.transactions[0].code, TxValidationCode::Valid);
            }
            (response, ours)
        }
    }

    fn proposal(
        channel: &str,
        chaincode: &str,
        args: &[&[u8]],
        signer: &SigningIdentity,
    ) -> weft_proto::protos::SignedProposal {
        let args = args.iter().map(|a| a.to_vec()).collect();
        let (proposal, _) = protoutil::create_chaincode_proposal(
            channel,
            chaincode,
            args,
            HashMap::new(),
            signer.serialized(),
            None,
        );
        protoutil::sign_proposal(&proposal, signer).expect("sign")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_contract_in_a_peer_matches_the_mock_ledger() {
        let wasm = build_wasm();
        let net = Net::start(&wasm).await;

        let chaincode = asset_transfer_basic::chaincode();
        let creator = SerializedIdentity::decode(net.user1.serialized()).expect("creator");
        let identity =
            MockIdentity::new(&creator.mspid, &String::from_utf8_lossy(&creator.id_bytes));
        // Blocks 0 (genesis) and 1 (definition) exist: the first transaction is block 2.
        let mut mock = MockLedger::new(NAMESPACE)
            .with_channel(CHANNEL)
            .with_next_block(2);

        for call in &script() {
            let (expected, mut mock_rwset) = on_mock(&mut mock, &chaincode, &identity, call);
            let (response, rwset) = net.call(call).await;
            if expected.status >= 400 {
                mock_rwset.clear();
            }
            assert_same(call, &expected, &mock_rwset, &response, &rwset);
        }
    }
}
