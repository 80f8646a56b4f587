// Shared helpers for the interop scripts: I/O conventions, failure reporting, and
// signature checks done with Node's own crypto (never with Weft code).
//
// Conventions: every script takes one argument, the path of a JSON input file, and
// prints one JSON document on stdout. Bytes are lowercase hex in both directions.
// Any decode error or mismatch ends the process with exit code 1 and a message on
// stderr starting with "interop:".

import crypto from 'node:crypto';
import fs from 'node:fs';

/** Prints `message` to stderr and exits with status 1. */
export function fail(message) {
    process.stderr.write(`interop: ${message}\n`);
    process.exit(1);
}

/** Fails with `message` unless `condition` holds. */
export function check(condition, message) {
    if (!condition) {
        fail(message);
    }
}

/** Reads and parses the JSON file named by the single command-line argument. */
export function readInput() {
    const path = process.argv[2];
    if (!path) {
        fail(`usage: node ${process.argv[1]} INPUT.json`);
    }
    try {
        return JSON.parse(fs.readFileSync(path, 'utf8'));
    } catch (err) {
        fail(`cannot read input ${path}: ${err.message}`);
    }
}

/** Writes `value` as JSON on stdout. */
export function writeOutput(value) {
    process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Lowercase hex of a byte array. */
export function hex(bytes) {
    return Buffer.from(bytes ?? new Uint8Array(0)).toString('hex');
}

/** Bytes from a hex string, rejecting anything that is not whole-byte hex. */
export function fromHex(text, what) {
    check(typeof text === 'string' && /^([0-9a-f]{2})*$/i.test(text), `${what}: not a hex string`);
    return new Uint8Array(Buffer.from(text, 'hex'));
}

/** SHA-256 with Node's crypto. */
export function sha256(...parts) {
    const h = crypto.createHash('sha256');
    for (const part of parts) {
        h.update(part);
    }
    return new Uint8Array(h.digest());
}

/** True when two byte arrays are equal. */
export function bytesEqual(a, b) {
    return Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
}

/** Concatenation of byte arrays. */
export function concat(...parts) {
    return new Uint8Array(Buffer.concat(parts.map((p) => Buffer.from(p))));
}

// Order of the P-256 group; a signature is "low-S" when s <= N/2.
const P256_N = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');

/** Parses a DER ECDSA signature `SEQUENCE { INTEGER r, INTEGER s }` strictly. */
export function parseDerSignature(sig) {
    const b = Buffer.from(sig);
    const bad = (why) => fail(`signature ${b.toString('hex')} is not strict DER: ${why}`);
    if (b.length < 8 || b[0] !== 0x30) bad('no SEQUENCE');
    if (b[1] !== b.length - 2 || b[1] >= 0x80) bad('bad SEQUENCE length');
    const ints = [];
    let i = 2;
    for (let k = 0; k < 2; k++) {
        if (b[i] !== 0x02) bad('no INTEGER');
        const len = b[i + 1];
        const body = b.subarray(i + 2, i + 2 + len);
        if (len === 0 || body.length !== len) bad('bad INTEGER length');
        if (body[0] & 0x80) bad('negative INTEGER');
        if (len > 1 && body[0] === 0 && !(body[1] & 0x80)) bad('non-minimal INTEGER');
        ints.push(BigInt(`0x${body.toString('hex')}`));
        i += 2 + len;
    }
    if (i !== b.length) bad('trailing bytes');
    return { r: ints[0], s: ints[1] };
}

/**
 * Verifies an ECDSA-SHA256 DER signature with Node's crypto against the public key of
 * `certPem`. Fails the script when it does not verify. Returns a report for the output.
 */
export function verifySignature(what, certPem, message, signature) {
    check(signature.length > 0, `${what}: empty signature`);
    let cert;
    try {
        cert = new crypto.X509Certificate(Buffer.from(certPem));
    } catch (err) {
        fail(`${what}: signer certificate does not parse: ${err.message}`);
    }
    const ok = crypto.verify('sha256', Buffer.from(message), { key: cert.publicKey, dsaEncoding: 'der' }, Buffer.from(signature));
    check(ok, `${what}: signature does not verify with Node crypto (sha256, DER) against ${cert.subject.replace(/\n/g, ',')}`);
    const { s } = parseDerSignature(signature);
    check(s <= P256_N / 2n, `${what}: signature is not low-S`);
    return { verified: true, lowS: true, signerSubject: cert.subject.replace(/\n/g, ',') };
}

/** Minimal DER INTEGER content for a non-negative bigint. */
function derIntegerBody(n) {
    let h = n.toString(16);
    if (h.length % 2) h = `0${h}`;
    let body = Buffer.from(h, 'hex');
    if (body[0] & 0x80) body = Buffer.concat([Buffer.from([0]), body]);
    return body;
}

function derTlv(tag, body) {
    let len;
    if (body.length < 0x80) {
        len = Buffer.from([body.length]);
    } else {
        let h = body.length.toString(16);
        if (h.length % 2) h = `0${h}`;
        const lb = Buffer.from(h, 'hex');
        len = Buffer.concat([Buffer.from([0x80 | lb.length]), lb]);
    }
    return Buffer.concat([Buffer.from([tag]), len, body]);
}

/**
 * Fabric's block header encoding for hashing and signing:
 * DER `SEQUENCE { INTEGER number, OCTET STRING previous_hash, OCTET STRING data_hash }`.
 */
export function blockHeaderDer(number, previousHash, dataHash) {
    const body = Buffer.concat([
        derTlv(0x02, derIntegerBody(BigInt(number))),
        derTlv(0x04, Buffer.from(previousHash)),
        derTlv(0x04, Buffer.from(dataHash)),
    ]);
    return new Uint8Array(derTlv(0x30, body));
}
