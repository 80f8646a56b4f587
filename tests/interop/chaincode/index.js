/*
 * The Node twin of wasm-host/tests/guests/well_behaved.wat, for
 * peer/tests/external_chaincode.rs: Put reads "a", writes "b" = value, sets the
 * event {evt, p} and returns the value of "a". Fail throws.
 *
 * fabric-contract-api and fabric-shim resolve from tests/interop/node_modules.
 */
'use strict';

const { Contract } = require('fabric-contract-api');

class Basic extends Contract {
    constructor() {
        super('basic');
    }

    async Put(ctx, value) {
        const a = await ctx.stub.getState('a');
        await ctx.stub.putState('b', Buffer.from(value));
        ctx.stub.setEvent('evt', Buffer.from('p'));
        return a.toString();
    }

    async Fail(ctx) {
        throw new Error('no such asset');
    }
}

module.exports.contracts = [Basic];
