// Billing through the data plane (SPEC §5): reservations under a storm of concurrent requests, a
// stream cut by its client, and the ledger agreeing with the wallets (`llmpool billing reconcile`).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { Stack, assertErrorShape, readSse, sqlString, waitFor } from './harness.mjs';

const T = { timeout: 90_000 };

let stack;

before(async () => {
    stack = await Stack.start({ file: import.meta.url });
    // Slow enough that the whole storm is in flight at once; 10 completion tokens each.
    const slow = await stack.startMock({ name: 'slow', args: ['--delay-ms', '400', '--completion-tokens', '10'] });
    // 40 chunks 50 ms apart, usage only at the very end.
    const streamy = await stack.startMock({ name: 'streamy', args: ['--chunks', '40', '--interval-ms', '50'] });
    await stack.startGateway();
    await stack.seed({
        upstreams: [
            { name: 'slow', apiBase: slow.apiBase, apiKey: slow.apiKey },
            { name: 'streamy', apiBase: streamy.apiBase, apiKey: streamy.apiKey },
        ],
        models: [
            // 1000 per 1M output tokens: 10 tokens cost 0.01, and so does a max_tokens = 10 reservation.
            { name: 'storm', upstream: 'slow', upstreamModel: 'm', inputPrice: 0, outputPrice: 1000 },
            { name: 'stream', upstream: 'streamy', upstreamModel: 'm', inputPrice: 1, outputPrice: 1000 },
        ],
    });
}, { timeout: 60_000 });

after(() => stack?.stop());

async function userId(name) {
    return Number(await stack.sql(`SELECT id FROM users WHERE name = ${sqlString(name)}`));
}

test('a storm of 400 requests against cash for 100: exactly 100 admitted and charged, the rest 402', T, async () => {
    await stack.createUser('storm-user', { cash: '1' });
    const key = await stack.createKey('storm-user');
    await stack.waitForModels(key, ['storm']);
    const uid = await userId('storm-user');

    const body = JSON.stringify({ model: 'storm', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] });
    const results = await Promise.all(Array.from({ length: 400 }, async () => {
        const response = await fetch(`${stack.url}/v1/chat/completions`, {
            method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body,
        });
        return { status: response.status, body: await response.json() };
    }));
    const admitted = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status === 402);
    assert.equal(admitted.length + refused.length, 400, `unexpected statuses: ${[...new Set(results.map((r) => r.status))]}`);
    assert.equal(admitted.length, 100, 'cash for 100 reservations admits exactly 100');
    for (const r of refused.slice(0, 5)) assertErrorShape(assert, r.body, { type: 'insufficient_quota', code: 'insufficient_balance' });

    // Every request leaves a usage event; the admitted ones are charged, to the cent.
    await waitFor('the worker to write all 400 usage events', async () =>
        Number(await stack.sql(`SELECT count(*) FROM usage_events WHERE user_id = ${uid}`)) === 400, { timeoutMs: 30_000 });
    const [charged, spends] = (await stack.sql(
        `SELECT coalesce(sum(amount), 0), count(*) FROM ledger_entries WHERE user_id = ${uid} AND kind = 'spend'`)).split('|');
    assert.equal(Number(spends), 100);
    assert.equal(charged, '1.000000000', 'admitted × price = charged');
    const [cash, debt] = (await stack.sql(`SELECT cash, debt FROM wallets WHERE user_id = ${uid}`)).split('|');
    assert.equal(cash, '0.000000000');
    assert.equal(debt, '0.000000000', 'debt stays within one reservation (here: none)');
    const events402 = Number(await stack.sql(
        `SELECT count(*) FROM usage_events WHERE user_id = ${uid} AND status = 402 AND cost = 0`));
    assert.equal(events402, 300);

    // And a request now is refused at once.
    const again = await fetch(`${stack.url}/v1/chat/completions`, {
        method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body,
    });
    assert.equal(again.status, 402);
    await again.json();
});

test("a key's spending limit is enforced like the wallet: reserved, pending and spent all count", T, async () => {
    await stack.createUser('capped', { cash: '10' });
    const key = await stack.createKey('capped', { keyName: 'capped-key' });
    await stack.sql("UPDATE api_keys SET spend_limit = 0.02 WHERE name = 'capped-key'");
    await stack.waitForModels(key, ['storm']);
    const body = JSON.stringify({ model: 'storm', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] });
    const statuses = [];
    for (let i = 0; i < 3; ++i) {
        const response = await fetch(`${stack.url}/v1/chat/completions`, {
            method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body,
        });
        const json = await response.json();
        statuses.push(response.status);
        if (response.status === 402) assertErrorShape(assert, json, { type: 'insufficient_quota', code: 'key_spend_limit_reached' });
    }
    assert.deepEqual(statuses, [200, 200, 402]);
    await waitFor('the key spend to be recorded', async () =>
        (await stack.sql("SELECT spent FROM api_keys WHERE name = 'capped-key'")) === '0.020000000', { timeoutMs: 20_000 });
});

test('a stream its client abandons halfway is billed from an estimate and flagged', T, async () => {
    await stack.createUser('streamer', { cash: '10' });
    const key = await stack.createKey('streamer');
    await stack.waitForModels(key, ['stream']);
    const uid = await userId('streamer');

    const controller = new AbortController();
    const response = await fetch(`${stack.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'stream', stream: true, messages: [{ role: 'user', content: 'count' }] }),
        signal: controller.signal,
    });
    assert.equal(response.status, 200);
    const requestId = response.headers.get('x-llmpool-request-id');
    const reader = response.body.getReader();
    let seen = '';
    while ((seen.match(/data: /g) ?? []).length < 10) {
        const { value, done } = await reader.read();
        if (done) break;
        seen += Buffer.from(value).toString('utf8');
    }
    controller.abort();

    const row = await waitFor('the abandoned stream to be billed', async () =>
        stack.sql(`SELECT status, usage_estimated, completion_tokens, cost FROM usage_events WHERE request_id = ${sqlString(requestId)}`),
    { timeoutMs: 20_000 });
    const [status, estimated, completion, cost] = row.split('|');
    assert.equal(status, '499');
    assert.equal(estimated, 't', 'no usage came from the upstream: estimated and flagged');
    assert.ok(Number(completion) > 0, 'the relayed bytes are billed');
    assert.ok(Number(cost) > 0);
    const spend = await stack.sql(
        `SELECT amount FROM ledger_entries WHERE user_id = ${uid} AND unique_request_id = ${sqlString(requestId)}`);
    assert.equal(spend, cost, 'the ledger charged exactly the event cost');
});

test('a finished stream is billed from the usage the upstream reported', T, async () => {
    await stack.createUser('streamer2', { cash: '10' });
    const key = await stack.createKey('streamer2');
    await stack.waitForModels(key, ['stream']);
    const response = await fetch(`${stack.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'stream', stream: true, messages: [{ role: 'user', content: 'count' }] }),
    });
    const requestId = response.headers.get('x-llmpool-request-id');
    const events = await readSse(response);
    assert.ok(events.length >= 40);
    const row = await waitFor('the stream to be billed', async () =>
        stack.sql(`SELECT usage_estimated, prompt_tokens, completion_tokens, cost FROM usage_events WHERE request_id = ${sqlString(requestId)}`),
    { timeoutMs: 20_000 });
    const [estimated, prompt, completion, cost] = row.split('|');
    assert.equal(estimated, 'f');
    assert.equal(Number(prompt), 10);
    assert.equal(Number(completion), 40);
    // 10 × 1/1M + 40 × 1000/1M
    assert.equal(cost, '0.040010000');
});

test('the ledger agrees with every wallet (llmpool billing reconcile exits 0)', T, async () => {
    const out = await stack.cli(['billing', 'reconcile']);
    assert.match(out, /ok/i);
    // A tampered wallet is found.
    await stack.sql("UPDATE wallets SET cash = cash + 1 WHERE user_id = (SELECT id FROM users WHERE name = 'streamer')");
    await assert.rejects(stack.cli(['billing', 'reconcile']), /exit 1/);
    await stack.sql("UPDATE wallets SET cash = cash - 1 WHERE user_id = (SELECT id FROM users WHERE name = 'streamer')");
});
