// Node -> Rust: builds and signs requests with the official @hyperledger/fabric-gateway
// client, offline (the gRPC client points at 127.0.0.1:1 and never connects).
//
// Input JSON: {
//   "mspId": "Org1MSP", "certPath": ".../signcerts/cert.pem", "keyPath": ".../keystore/priv_sk",
//   "channel": "mychannel", "chaincode": "basic", "transaction": "CreateAsset",
//   "arguments": ["asset1", ...], "transient": {"key": "value", ...}, "startBlock": 7
// }
// Output JSON (bytes as hex): {
//   "transactionId": proposal.getTransactionId(),
//   "proposedTransaction": serialized gateway.ProposedTransaction incl. the signed proposal,
//   "blockEventsRequest": serialized, signed common.Envelope carrying a DELIVER_SEEK_INFO SeekInfo
// }
// Signing uses fabric-gateway's offline-signing flow: getDigest() -> signer -> newSigned*().

import crypto from 'node:crypto';
import fs from 'node:fs';

import * as grpc from '@grpc/grpc-js';
import { connect, hash, signers } from '@hyperledger/fabric-gateway';
import protos from '@hyperledger/fabric-protos';

import { bytesEqual, check, fail, hex, readInput, sha256, verifySignature, writeOutput } from './lib.mjs';

const input = readInput();
for (const field of ['mspId', 'certPath', 'keyPath', 'channel', 'chaincode', 'transaction']) {
    check(typeof input[field] === 'string' && input[field] !== '', `input.${field} must be a non-empty string`);
}
check(Array.isArray(input.arguments ?? []), 'input.arguments must be an array');
check(Number.isSafeInteger(input.startBlock ?? 0), 'input.startBlock must be a safe integer');

const certPem = fs.readFileSync(input.certPath);
const keyPem = fs.readFileSync(input.keyPath);
const signer = signers.newPrivateKeySigner(crypto.createPrivateKey(keyPem));

const client = new grpc.Client('127.0.0.1:1', grpc.credentials.createInsecure());
const gateway = connect({
    client,
    identity: { mspId: input.mspId, credentials: certPem },
    hash: hash.sha256,
});

try {
    const network = gateway.getNetwork(input.channel);
    const contract = network.getContract(input.chaincode);

    // Proposal, signed offline.
    const unsigned = contract.newProposal(input.transaction, {
        arguments: input.arguments ?? [],
        transientData: input.transient ?? {},
    });
    const proposalSignature = await signer(unsigned.getDigest());
    const proposal = gateway.newSignedProposal(unsigned.getBytes(), proposalSignature);
    const proposedBytes = proposal.getBytes();

    // Sanity-check what fabric-gateway produced before handing it to Rust.
    const proposed = protos.gateway.ProposedTransaction.deserializeBinary(proposedBytes);
    const signed = proposed.getProposal();
    check(signed !== undefined, 'ProposedTransaction has no proposal');
    check(bytesEqual(signed.getSignature_asU8(), proposalSignature), 'signature was not embedded');
    check(proposed.getTransactionId() === proposal.getTransactionId(), 'transaction id differs');
    check(bytesEqual(unsigned.getDigest(), sha256(signed.getProposalBytes_asU8())), 'digest is not SHA-256(proposal_bytes)');
    verifySignature('SignedProposal', certPem, signed.getProposalBytes_asU8(), proposalSignature);

    // Block events (deliver) request, signed offline.
    const unsignedEvents = network.newBlockEventsRequest({ startBlock: BigInt(input.startBlock ?? 0) });
    const eventsSignature = await signer(unsignedEvents.getDigest());
    const events = gateway.newSignedBlockEventsRequest(unsignedEvents.getBytes(), eventsSignature);
    const eventsBytes = events.getBytes();
    const envelope = protos.common.Envelope.deserializeBinary(eventsBytes);
    check(bytesEqual(envelope.getSignature_asU8(), eventsSignature), 'events signature was not embedded');
    verifySignature('BlockEventsRequest', certPem, envelope.getPayload_asU8(), eventsSignature);

    writeOutput({
        transactionId: proposal.getTransactionId(),
        proposedTransaction: hex(proposedBytes),
        blockEventsRequest: hex(eventsBytes),
    });
} catch (err) {
    fail(`fabric-gateway failed: ${err.stack ?? err}`);
} finally {
    gateway.close();
    client.close();
}
