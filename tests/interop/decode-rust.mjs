// Rust -> Node: decodes bytes that Weft built with the official @hyperledger/fabric-protos
// messages, re-checks the derived values with Node's own crypto, and prints the decoded
// field values for the Rust side to compare with what it meant to build.
//
// Input JSON: { "items": [ { "name": "...", "kind": "signedProposal" | "envelope" | "block", "hex": "..." } ] }
// Output JSON: { "<name>": <decoded>, ... } with bytes as hex, numbers as JSON numbers,
// enum values as their numbers.
//
// Checked here (exit 1 on failure):
// - every signature found (SignedProposal, Envelope, Endorsement, block metadata) verifies
//   with Node `crypto.verify('sha256', ..., DER)` against the certificate in its creator and
//   is low-S, over exactly the bytes Fabric signs;
// - endorser transactions and proposals: tx_id == hex(SHA-256(nonce || creator));
// - transactions: ProposalResponsePayload.proposal_hash == SHA-256(channel header bytes ||
//   action header bytes || chaincode_proposal_payload bytes) (Fabric's commit-time check);
// - blocks: data_hash == SHA-256(concatenation of the data entries); the header hash is
//   recomputed over Node's own DER encoding and reported as `headerHash`.
// Each decoded message is re-serialized with fabric-protos; messages whose bytes differ
// are listed in `nonCanonical` (path names) rather than failing, since Go and jspb differ
// on map ordering and that is for the caller to judge.

import protos from '@hyperledger/fabric-protos';

import { blockHeaderDer, bytesEqual, check, concat, fail, fromHex, hex, readInput, sha256, verifySignature, writeOutput } from './lib.mjs';

const { common, msp, peer, orderer, ledger } = protos;
const HeaderType = common.HeaderType;

let nonCanonical = [];

/** Deserializes `bytes` as `Type`, noting `path` when re-serialization changes the bytes. */
function parse(Type, bytes, path) {
    let msg;
    try {
        msg = Type.deserializeBinary(bytes);
    } catch (err) {
        fail(`${path}: does not decode: ${err.message}`);
    }
    if (!bytesEqual(msg.serializeBinary(), bytes)) {
        nonCanonical.push(path);
    }
    return msg;
}

function decodeCreator(bytes, path) {
    if (bytes.length === 0) {
        return null;
    }
    const id = parse(msp.SerializedIdentity, bytes, path);
    return { mspid: id.getMspid(), idBytes: hex(id.getIdBytes_asU8()) };
}

function creatorCert(bytes, path) {
    const id = parse(msp.SerializedIdentity, bytes, path);
    check(id.getIdBytes_asU8().length > 0, `${path}: creator has no certificate`);
    return id.getIdBytes_asU8();
}

function decodeChaincodeId(id) {
    return id ? { path: id.getPath(), name: id.getName(), version: id.getVersion() } : null;
}

function decodeSignatureHeader(bytes, path) {
    const sh = parse(common.SignatureHeader, bytes, path);
    return {
        creator: decodeCreator(sh.getCreator_asU8(), `${path}.creator`),
        nonce: hex(sh.getNonce_asU8()),
    };
}

function decodeChannelHeader(bytes, path) {
    const ch = parse(common.ChannelHeader, bytes, path);
    const ts = ch.getTimestamp();
    let extension = hex(ch.getExtension_asU8());
    if (ch.getType() === HeaderType.ENDORSER_TRANSACTION) {
        const ext = parse(peer.ChaincodeHeaderExtension, ch.getExtension_asU8(), `${path}.extension`);
        extension = { chaincodeId: decodeChaincodeId(ext.getChaincodeId()) };
    }
    return {
        type: ch.getType(),
        version: ch.getVersion(),
        timestamp: ts ? { seconds: ts.getSeconds(), nanos: ts.getNanos() } : null,
        channelId: ch.getChannelId(),
        txId: ch.getTxId(),
        epoch: ch.getEpoch(),
        extension,
        tlsCertHash: hex(ch.getTlsCertHash_asU8()),
    };
}

/** Decodes a common.Header and checks the txid of endorser transactions. */
function decodeHeader(header, path) {
    check(header !== undefined, `${path}: missing header`);
    const channelHeader = decodeChannelHeader(header.getChannelHeader_asU8(), `${path}.channelHeader`);
    const shBytes = header.getSignatureHeader_asU8();
    const signatureHeader = decodeSignatureHeader(shBytes, `${path}.signatureHeader`);
    if (channelHeader.type === HeaderType.ENDORSER_TRANSACTION) {
        const sh = common.SignatureHeader.deserializeBinary(shBytes);
        const expected = hex(sha256(sh.getNonce_asU8(), sh.getCreator_asU8()));
        check(channelHeader.txId === expected, `${path}: tx_id ${channelHeader.txId} != hex(SHA-256(nonce || creator)) ${expected}`);
    }
    return { channelHeader, signatureHeader };
}

function decodeChaincodeProposalPayload(bytes, path) {
    const cpp = parse(peer.ChaincodeProposalPayload, bytes, path);
    const cis = parse(peer.ChaincodeInvocationSpec, cpp.getInput_asU8(), `${path}.input`);
    const spec = cis.getChaincodeSpec();
    const input = spec?.getInput();
    const transientMap = {};
    for (const [k, v] of cpp.getTransientmapMap().entries()) {
        transientMap[k] = hex(v);
    }
    const decorations = {};
    for (const [k, v] of input?.getDecorationsMap().entries() ?? []) {
        decorations[k] = hex(v);
    }
    return {
        input: {
            chaincodeSpec: spec
                ? {
                      type: spec.getType(),
                      chaincodeId: decodeChaincodeId(spec.getChaincodeId()),
                      input: input ? { args: input.getArgsList_asU8().map(hex), decorations, isInit: input.getIsInit() } : null,
                      timeout: spec.getTimeout(),
                  }
                : null,
        },
        transientMap,
    };
}

function decodeSignedProposal(bytes, path) {
    const sp = parse(peer.SignedProposal, bytes, path);
    const proposalBytes = sp.getProposalBytes_asU8();
    const prop = parse(peer.Proposal, proposalBytes, `${path}.proposal`);
    const header = decodeHeader(parse(common.Header, prop.getHeader_asU8(), `${path}.proposal.header`), `${path}.proposal.header`);
    const sh = common.SignatureHeader.deserializeBinary(common.Header.deserializeBinary(prop.getHeader_asU8()).getSignatureHeader_asU8());
    const signature = verifySignature(`${path}.signature`, creatorCert(sh.getCreator_asU8(), `${path}.creator`), proposalBytes, sp.getSignature_asU8());
    return {
        proposal: {
            header,
            payload: decodeChaincodeProposalPayload(prop.getPayload_asU8(), `${path}.proposal.payload`),
            extension: hex(prop.getExtension_asU8()),
        },
        signature,
    };
}

function decodeRwset(bytes, path) {
    if (bytes.length === 0) {
        return null;
    }
    const txrw = parse(ledger.rwset.TxReadWriteSet, bytes, path);
    return {
        dataModel: txrw.getDataModel(),
        nsRwset: txrw.getNsRwsetList().map((ns, i) => {
            const kv = parse(ledger.rwset.kvrwset.KVRWSet, ns.getRwset_asU8(), `${path}.nsRwset[${i}].rwset`);
            return {
                namespace: ns.getNamespace(),
                reads: kv.getReadsList().map((r) => ({
                    key: r.getKey(),
                    version: r.getVersion() ? { blockNum: r.getVersion().getBlockNum(), txNum: r.getVersion().getTxNum() } : null,
                })),
                writes: kv.getWritesList().map((w) => ({ key: w.getKey(), isDelete: w.getIsDelete(), value: hex(w.getValue_asU8()) })),
                rangeQueriesInfo: kv.getRangeQueriesInfoList().length,
                metadataWrites: kv.getMetadataWritesList().length,
                collectionHashedRwset: ns.getCollectionHashedRwsetList().length,
            };
        }),
    };
}

function decodeChaincodeEvent(bytes, path) {
    if (bytes.length === 0) {
        return null;
    }
    const ev = parse(peer.ChaincodeEvent, bytes, path);
    return { chaincodeId: ev.getChaincodeId(), txId: ev.getTxId(), eventName: ev.getEventName(), payload: hex(ev.getPayload_asU8()) };
}

function decodeTransaction(bytes, channelHeaderBytes, path) {
    const tx = parse(peer.Transaction, bytes, path);
    return {
        actions: tx.getActionsList().map((action, i) => {
            const apath = `${path}.actions[${i}]`;
            const actionHeaderBytes = action.getHeader_asU8();
            const cap = parse(peer.ChaincodeActionPayload, action.getPayload_asU8(), `${apath}.payload`);
            const cppBytes = cap.getChaincodeProposalPayload_asU8();
            const cea = cap.getAction();
            check(cea !== undefined, `${apath}: ChaincodeActionPayload has no action`);
            const prpBytes = cea.getProposalResponsePayload_asU8();
            const prp = parse(peer.ProposalResponsePayload, prpBytes, `${apath}.prp`);
            const expectedHash = sha256(channelHeaderBytes, actionHeaderBytes, cppBytes);
            check(
                bytesEqual(prp.getProposalHash_asU8(), expectedHash),
                `${apath}: proposal_hash ${hex(prp.getProposalHash_asU8())} != SHA-256(channel header || action header || cpp) ${hex(expectedHash)}`,
            );
            const ca = parse(peer.ChaincodeAction, prp.getExtension_asU8(), `${apath}.prp.extension`);
            const response = ca.getResponse();
            return {
                header: decodeSignatureHeader(actionHeaderBytes, `${apath}.header`),
                chaincodeProposalPayload: decodeChaincodeProposalPayload(cppBytes, `${apath}.cpp`),
                proposalResponsePayload: {
                    proposalHash: hex(prp.getProposalHash_asU8()),
                    extension: {
                        results: decodeRwset(ca.getResults_asU8(), `${apath}.results`),
                        events: decodeChaincodeEvent(ca.getEvents_asU8(), `${apath}.events`),
                        response: response
                            ? { status: response.getStatus(), message: response.getMessage(), payload: hex(response.getPayload_asU8()) }
                            : null,
                        chaincodeId: decodeChaincodeId(ca.getChaincodeId()),
                    },
                },
                endorsements: cea.getEndorsementsList().map((e, j) => {
                    const epath = `${apath}.endorsements[${j}]`;
                    const endorser = e.getEndorser_asU8();
                    return {
                        endorser: decodeCreator(endorser, `${epath}.endorser`),
                        signature: verifySignature(epath, creatorCert(endorser, `${epath}.endorser`), concat(prpBytes, endorser), e.getSignature_asU8()),
                    };
                }),
            };
        }),
    };
}

function decodeSeekPosition(pos) {
    if (!pos) return null;
    switch (pos.getTypeCase()) {
        case orderer.SeekPosition.TypeCase.NEWEST:
            return { newest: {} };
        case orderer.SeekPosition.TypeCase.OLDEST:
            return { oldest: {} };
        case orderer.SeekPosition.TypeCase.SPECIFIED:
            return { specified: { number: pos.getSpecified().getNumber() } };
        case orderer.SeekPosition.TypeCase.NEXT_COMMIT:
            return { nextCommit: {} };
        default:
            return {};
    }
}

function decodeSeekInfo(bytes, path) {
    const si = parse(orderer.SeekInfo, bytes, path);
    return {
        start: decodeSeekPosition(si.getStart()),
        stop: decodeSeekPosition(si.getStop()),
        behavior: si.getBehavior(),
        errorResponse: si.getErrorResponse(),
        contentType: si.getContentType(),
    };
}

function decodeFabricOu(ou) {
    return ou ? { certificate: hex(ou.getCertificate_asU8()), organizationalUnitIdentifier: ou.getOrganizationalUnitIdentifier() } : null;
}

function decodeMspConfig(bytes, path) {
    const mc = parse(msp.MSPConfig, bytes, path);
    if (mc.getType() !== 0) {
        return { type: mc.getType(), config: hex(mc.getConfig_asU8()) };
    }
    const f = parse(msp.FabricMSPConfig, mc.getConfig_asU8(), `${path}.config`);
    const cc = f.getCryptoConfig();
    const nous = f.getFabricNodeOus();
    return {
        type: 0,
        config: {
            name: f.getName(),
            rootCerts: f.getRootCertsList_asU8().map(hex),
            intermediateCerts: f.getIntermediateCertsList_asU8().map(hex),
            admins: f.getAdminsList_asU8().map(hex),
            revocationList: f.getRevocationListList_asU8().map(hex),
            signingIdentity: f.getSigningIdentity() ? true : null,
            organizationalUnitIdentifiers: f.getOrganizationalUnitIdentifiersList().map(decodeFabricOu),
            cryptoConfig: cc ? { signatureHashFamily: cc.getSignatureHashFamily(), identityIdentifierHashFunction: cc.getIdentityIdentifierHashFunction() } : null,
            tlsRootCerts: f.getTlsRootCertsList_asU8().map(hex),
            tlsIntermediateCerts: f.getTlsIntermediateCertsList_asU8().map(hex),
            fabricNodeOus: nous
                ? {
                      enable: nous.getEnable(),
                      clientOuIdentifier: decodeFabricOu(nous.getClientOuIdentifier()),
                      peerOuIdentifier: decodeFabricOu(nous.getPeerOuIdentifier()),
                      adminOuIdentifier: decodeFabricOu(nous.getAdminOuIdentifier()),
                      ordererOuIdentifier: decodeFabricOu(nous.getOrdererOuIdentifier()),
                  }
                : null,
        },
    };
}

/** Decodes a config value by its well-known key; unknown keys stay hex. */
function decodeConfigValue(key, bytes, path) {
    switch (key) {
        case 'HashingAlgorithm':
            return { name: parse(common.HashingAlgorithm, bytes, path).getName() };
        case 'BlockDataHashingStructure':
            return { width: parse(common.BlockDataHashingStructure, bytes, path).getWidth() };
        case 'OrdererAddresses':
        case 'Endpoints':
            return { addresses: parse(common.OrdererAddresses, bytes, path).getAddressesList() };
        case 'Consortium':
            return { name: parse(common.Consortium, bytes, path).getName() };
        case 'Capabilities':
            return { capabilities: [...parse(common.Capabilities, bytes, path).getCapabilitiesMap().keys()].sort() };
        case 'MSP':
            return decodeMspConfig(bytes, path);
        case 'ConsensusType': {
            const ct = parse(orderer.ConsensusType, bytes, path);
            let metadata = hex(ct.getMetadata_asU8());
            if (ct.getType() === 'etcdraft') {
                const md = parse(orderer.etcdraft.ConfigMetadata, ct.getMetadata_asU8(), `${path}.metadata`);
                const o = md.getOptions();
                metadata = {
                    consenters: md.getConsentersList().map((c) => ({
                        host: c.getHost(),
                        port: c.getPort(),
                        clientTlsCert: hex(c.getClientTlsCert_asU8()),
                        serverTlsCert: hex(c.getServerTlsCert_asU8()),
                    })),
                    options: o
                        ? {
                              tickInterval: o.getTickInterval(),
                              electionTick: o.getElectionTick(),
                              heartbeatTick: o.getHeartbeatTick(),
                              maxInflightBlocks: o.getMaxInflightBlocks(),
                              snapshotIntervalSize: o.getSnapshotIntervalSize(),
                          }
                        : null,
                };
            }
            return { type: ct.getType(), metadata, state: ct.getState() };
        }
        case 'BatchSize': {
            const bs = parse(orderer.BatchSize, bytes, path);
            return { maxMessageCount: bs.getMaxMessageCount(), absoluteMaxBytes: bs.getAbsoluteMaxBytes(), preferredMaxBytes: bs.getPreferredMaxBytes() };
        }
        case 'BatchTimeout':
            return { timeout: parse(orderer.BatchTimeout, bytes, path).getTimeout() };
        case 'ChannelRestrictions':
            return { maxCount: parse(orderer.ChannelRestrictions, bytes, path).getMaxCount() };
        case 'AnchorPeers':
            return { anchorPeers: parse(peer.AnchorPeers, bytes, path).getAnchorPeersList().map((a) => ({ host: a.getHost(), port: a.getPort() })) };
        case 'ACLs': {
            const acls = {};
            for (const [k, v] of parse(peer.ACLs, bytes, path).getAclsMap().entries()) {
                acls[k] = v.getPolicyRef();
            }
            return { acls };
        }
        default:
            return { raw: hex(bytes) };
    }
}

function decodeSignaturePolicy(rule) {
    if (!rule) return null;
    switch (rule.getTypeCase()) {
        case common.SignaturePolicy.TypeCase.SIGNED_BY:
            return { signedBy: rule.getSignedBy() };
        case common.SignaturePolicy.TypeCase.N_OUT_OF:
            return { nOutOf: { n: rule.getNOutOf().getN(), rules: rule.getNOutOf().getRulesList().map(decodeSignaturePolicy) } };
        default:
            return {};
    }
}

function decodePolicy(policy, path) {
    if (!policy) return null;
    const value = policy.getValue_asU8();
    switch (policy.getType()) {
        case common.Policy.PolicyType.SIGNATURE: {
            const env = parse(common.SignaturePolicyEnvelope, value, path);
            return {
                type: policy.getType(),
                value: {
                    version: env.getVersion(),
                    rule: decodeSignaturePolicy(env.getRule()),
                    identities: env.getIdentitiesList().map((p, i) => {
                        const principal = p.getPrincipal_asU8();
                        if (p.getPrincipalClassification() === common.MSPPrincipal.Classification.ROLE) {
                            const role = parse(common.MSPRole, principal, `${path}.identities[${i}]`);
                            return { principalClassification: 0, principal: { mspIdentifier: role.getMspIdentifier(), role: role.getRole() } };
                        }
                        return { principalClassification: p.getPrincipalClassification(), principal: hex(principal) };
                    }),
                },
            };
        }
        case common.Policy.PolicyType.IMPLICIT_META: {
            const imp = parse(common.ImplicitMetaPolicy, value, path);
            return { type: policy.getType(), value: { subPolicy: imp.getSubPolicy(), rule: imp.getRule() } };
        }
        default:
            return { type: policy.getType(), value: hex(value) };
    }
}

function sortedEntries(map) {
    return [...map.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function decodeConfigGroup(group, path) {
    if (!group) return null;
    const groups = {};
    for (const [k, g] of sortedEntries(group.getGroupsMap())) {
        groups[k] = decodeConfigGroup(g, `${path}/${k}`);
    }
    const values = {};
    for (const [k, v] of sortedEntries(group.getValuesMap())) {
        values[k] = { version: v.getVersion(), modPolicy: v.getModPolicy(), value: decodeConfigValue(k, v.getValue_asU8(), `${path}:${k}`) };
    }
    const policies = {};
    for (const [k, p] of sortedEntries(group.getPoliciesMap())) {
        policies[k] = { version: p.getVersion(), modPolicy: p.getModPolicy(), policy: decodePolicy(p.getPolicy(), `${path}#${k}`) };
    }
    return { version: group.getVersion(), modPolicy: group.getModPolicy(), groups, values, policies };
}

function decodeConfigEnvelope(bytes, path) {
    const ce = parse(common.ConfigEnvelope, bytes, path);
    const config = ce.getConfig();
    const lastUpdate = ce.getLastUpdate();
    return {
        config: config ? { sequence: config.getSequence(), channelGroup: decodeConfigGroup(config.getChannelGroup(), 'Channel') } : null,
        lastUpdate: lastUpdate ? hex(lastUpdate.serializeBinary()) : null,
    };
}

/** Decodes an Envelope; the payload data is decoded according to the header type. */
function decodeEnvelopeBytes(bytes, path) {
    const env = parse(common.Envelope, bytes, path);
    const payloadBytes = env.getPayload_asU8();
    const payload = parse(common.Payload, payloadBytes, `${path}.payload`);
    const headerMsg = payload.getHeader();
    const header = decodeHeader(headerMsg, `${path}.payload.header`);
    const dataBytes = payload.getData_asU8();
    let data;
    switch (header.channelHeader.type) {
        case HeaderType.ENDORSER_TRANSACTION:
            data = decodeTransaction(dataBytes, headerMsg.getChannelHeader_asU8(), `${path}.payload.data`);
            break;
        case HeaderType.CONFIG:
            data = decodeConfigEnvelope(dataBytes, `${path}.payload.data`);
            break;
        case HeaderType.DELIVER_SEEK_INFO:
            data = decodeSeekInfo(dataBytes, `${path}.payload.data`);
            break;
        default:
            data = hex(dataBytes);
    }
    const sigBytes = env.getSignature_asU8();
    let signature = null;
    if (sigBytes.length > 0) {
        const creator = common.SignatureHeader.deserializeBinary(headerMsg.getSignatureHeader_asU8()).getCreator_asU8();
        signature = verifySignature(`${path}.signature`, creatorCert(creator, `${path}.creator`), payloadBytes, sigBytes);
    }
    return { payload: { header, data }, signature };
}

/** Decodes a metadata entry as common.Metadata; null when the entry is absent. Empty bytes
 * are a valid (all-default) Metadata: `Metadata{value: LastConfig{index: 0}}` encodes to nothing. */
function decodeMetadataEntry(bytes, path) {
    if (bytes === undefined) {
        return null;
    }
    return parse(common.Metadata, bytes, path);
}

function decodeBlock(bytes, path) {
    const block = parse(common.Block, bytes, path);
    const h = block.getHeader();
    check(h !== undefined, `${path}: missing header`);
    const data = block.getData()?.getDataList_asU8() ?? [];
    const dataHash = sha256(...data);
    check(bytesEqual(h.getDataHash_asU8(), dataHash), `${path}: data_hash ${hex(h.getDataHash_asU8())} != SHA-256(concat data) ${hex(dataHash)}`);
    const headerDer = blockHeaderDer(h.getNumber(), h.getPreviousHash_asU8(), h.getDataHash_asU8());
    const metadata = block.getMetadata()?.getMetadataList_asU8() ?? [];

    // SIGNATURES: Metadata{value: OrdererBlockMetadata, signatures}.
    let signatures = null;
    const sigMd = decodeMetadataEntry(metadata[0], `${path}.metadata[0]`);
    if (sigMd) {
        const value = sigMd.getValue_asU8();
        let orderer = null;
        if (value.length > 0) {
            const obm = parse(common.OrdererBlockMetadata, value, `${path}.metadata[0].value`);
            orderer = { lastConfig: obm.getLastConfig() ? { index: obm.getLastConfig().getIndex() } : null, consenterMetadata: hex(obm.getConsenterMetadata_asU8()) };
        }
        signatures = {
            value: orderer,
            signatures: sigMd.getSignaturesList().map((s, i) => {
                const spath = `${path}.metadata[0].signatures[${i}]`;
                const shBytes = s.getSignatureHeader_asU8();
                const sh = parse(common.SignatureHeader, shBytes, `${spath}.signatureHeader`);
                return {
                    signatureHeader: decodeSignatureHeader(shBytes, `${spath}.signatureHeader`),
                    signature: verifySignature(spath, creatorCert(sh.getCreator_asU8(), `${spath}.creator`), concat(value, shBytes, headerDer), s.getSignature_asU8()),
                };
            }),
        };
    }
    let lastConfig = null;
    const lcMd = decodeMetadataEntry(metadata[1], `${path}.metadata[1]`);
    if (lcMd) {
        lastConfig = { index: parse(common.LastConfig, lcMd.getValue_asU8(), `${path}.metadata[1].value`).getIndex(), signatures: lcMd.getSignaturesList().length };
    }
    return {
        header: { number: h.getNumber(), previousHash: hex(h.getPreviousHash_asU8()), dataHash: hex(h.getDataHash_asU8()) },
        headerHash: hex(sha256(headerDer)),
        data: data.map((d, i) => decodeEnvelopeBytes(d, `${path}.data[${i}]`)),
        metadata: {
            count: metadata.length,
            signatures,
            lastConfig,
            transactionsFilter: metadata[2] ? [...metadata[2]] : null,
            orderer: metadata[3] ? hex(metadata[3]) : null,
            commitHash: metadata[4] ? hex(metadata[4]) : null,
        },
    };
}

const input = readInput();
check(Array.isArray(input.items), 'input.items must be an array');
const output = {};
for (const item of input.items) {
    check(typeof item.name === 'string' && !(item.name in output), `bad or duplicate item name ${item.name}`);
    nonCanonical = [];
    const bytes = fromHex(item.hex, item.name);
    let decoded;
    switch (item.kind) {
        case 'signedProposal':
            decoded = decodeSignedProposal(bytes, item.name);
            break;
        case 'envelope':
            decoded = decodeEnvelopeBytes(bytes, item.name);
            break;
        case 'block':
            decoded = decodeBlock(bytes, item.name);
            break;
        default:
            fail(`${item.name}: unknown kind ${item.kind}`);
    }
    decoded.nonCanonical = nonCanonical;
    output[item.name] = decoded;
}
writeOutput(output);
