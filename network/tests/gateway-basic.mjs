// The official @hyperledger/fabric-gateway client (tests/interop/node_modules) against a
// running `weft network up`, configured as fabric-samples' application-gateway-typescript
// is for test-network: peer0.org1 at 127.0.0.1:7051 with its TLS CA and host name
// override, User1@org1.example.com's certificate and key.
//   usage: node gateway-basic.mjs <network dir> <interop dir>
import { createRequire } from 'node:module';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';

const [dir, interop] = process.argv.slice(2);
const require = createRequire(path.join(interop, 'package.json'));
const grpc = require('@grpc/grpc-js');
const { connect, signers } = require('@hyperledger/fabric-gateway');

const org = path.join(dir, 'organizations/peerOrganizations/org1.example.com');
const msp = path.join(org, 'users/User1@org1.example.com/msp');
const tlsCert = readFileSync(path.join(org, 'peers/peer0.org1.example.com/tls/ca.crt'));
const credentials = readFileSync(path.join(msp, 'signcerts', readdirSync(path.join(msp, 'signcerts'))[0]));
const key = crypto.createPrivateKey(readFileSync(path.join(msp, 'keystore', readdirSync(path.join(msp, 'keystore'))[0])));

const client = new grpc.Client('127.0.0.1:7051', grpc.credentials.createSsl(tlsCert), {
    'grpc.ssl_target_name_override': 'peer0.org1.example.com',
});
const gateway = connect({
    client,
    identity: { mspId: 'Org1MSP', credentials },
    signer: signers.newPrivateKeySigner(key),
});
const utf8 = new TextDecoder();
try {
    const contract = gateway.getNetwork('mychannel').getContract('basic');
    const id = `asset-gw-${Date.now()}`;
    await contract.submitTransaction('CreateAsset', id, 'yellow', '5', 'Tom', '1300');
    const read = JSON.parse(utf8.decode(await contract.evaluateTransaction('ReadAsset', id)));
    const all = JSON.parse(utf8.decode(await contract.evaluateTransaction('GetAllAssets')));
    console.log(JSON.stringify({ read, count: all.length }));
} finally {
    gateway.close();
    client.close();
}
