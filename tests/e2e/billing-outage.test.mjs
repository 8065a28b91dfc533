// Billing through outages (SPEC §5): Redis stopped and restarted during a load run (events of
// requests in flight go to the local spool and are replayed; new requests are refused with 503
// while admission cannot reserve), and PostgreSQL restarted during a run. Nothing is lost,
// nothing is doubled.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { Stack, assertErrorShape, waitFor } from './harness.mjs';

const T = { timeout: 120_000 };

let stack;
let key;
let uid;

before(async () => {
    stack = await Stack.start({ file: import.meta.url, privateRedis: true, privatePostgres: true });
    const mock = await stack.startMock({ name: 'm', args: ['--delay-ms', '20'] });
    await stack.startGateway();
    await stack.seed({
        upstreams: [{ name: 'm', apiBase: mock.apiBase, apiKey: mock.apiKey }],
        models: [{ name: 'outage-model', upstream: 'm', upstreamModel: 'm', inputPrice: 2, outputPrice: 5 }],
    });
    key = await stack.createKey('outage-user');
    await stack.waitForModels(key, ['outage-model']);
    uid = Number(await stack.sql("SELECT id FROM users WHERE name = 'outage-user'"));
}, { timeout: 60_000 });

after(() => stack?.stop());

async function oneRequest(i, statuses) {
    try {
        const response = await fetch(`${stack.url}/v1/chat/completions`, {
            method: 'POST',
            headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
            body: JSON.stringify({ model: 'outage-model', max_tokens: 20, messages: [{ role: 'user', content: `n${i}` }] }),
            signal: AbortSignal.timeout(10_000),
        });
        const body = await response.json();
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        if (response.status === 503) assertErrorShape(assert, body, { code: 'billing_unavailable' });
        return response.status === 200 && body.choices?.length > 0 ? response.headers.get('x-llmpool-request-id') : null;
    } catch (error) {
        if (error instanceof assert.AssertionError) throw error;
        return null;
    }
}

async function load(state, received, statuses) {
    let i = 0;
    await Promise.all(Array.from({ length: 4 }, async (_, lane) => {
        while (!state.stop) {
            const id = await oneRequest(lane * 100_000 + i++, statuses);
            if (id) received.push(id);
        }
    }));
}

test('Redis stopped and restarted mid-load: spooled events replayed, nothing lost or doubled', T, async () => {
    const received = [];
    const statuses = new Map();
    const state = { stop: false };
    const running = load(state, received, statuses);

    await waitFor('traffic', async () => received.length > 100, { timeoutMs: 15_000 });
    await stack.stopRedis();
    const before = received.length;
    await waitFor('requests refused while Redis is away', async () => (statuses.get(503) ?? 0) > 20, { timeoutMs: 15_000 });
    await stack.startRedis();
    await waitFor('traffic after Redis came back', async () => received.length > before + 100, { timeoutMs: 30_000 });
    state.stop = true;
    await running;

    assert.ok((statuses.get(503) ?? 0) > 0, 'admission refused requests it could not reserve for');
    await stack.assertBilledOnce(assert, [...new Set(received)], uid);
    // The spool was used and emptied.
    await waitFor('the spool to be replayed', async () =>
        (await stack.sql(`SELECT count(*) FROM usage_events WHERE user_id = ${uid}`)) !== '0', { timeoutMs: 10_000 });
});

test('Redis frozen (SIGSTOP) mid-load: requests are answered, not held — 503 at admission, spool at the end', T, async () => {
    const received = [];
    const statuses = new Map();
    const state = { stop: false };
    const running = load(state, received, statuses);
    await waitFor('traffic', async () => received.length > 50, { timeoutMs: 15_000 });
    const before503 = statuses.get(503) ?? 0;
    process.kill(stack.redis.proc.pid, 'SIGSTOP');
    try {
        // Connected but silent: admission gives up after its deadline instead of waiting forever.
        await waitFor('requests refused while Redis is frozen', async () => (statuses.get(503) ?? 0) > before503 + 4,
            { timeoutMs: 20_000 });
    } finally {
        process.kill(stack.redis.proc.pid, 'SIGCONT');
    }
    const at = received.length;
    await waitFor('traffic after Redis thawed', async () => received.length > at + 50, { timeoutMs: 30_000 });
    state.stop = true;
    await running;
    await stack.assertBilledOnce(assert, [...new Set(received)], uid);
    // The admissions Redis ran after it thawed — for requests already refused with 503 — reserved
    // money nobody will use. None is left behind: each refused request's usage event (queued after
    // its admission) released it, and an answer that comes after the request gave up is taken back
    // by the gateway (TestBillingService) — not minutes later, when the reservation's TTL runs out.
    // (redisCall answers with the reply's first line: ":<n>" for an integer, "$-1" for nil.)
    await waitFor('no reservation left behind', async () =>
        (await stack.redisCall(['HLEN', `llmpool:{u${uid}}:r`])) === ':0', { timeoutMs: 10_000 });
    assert.equal(await stack.redisCall(['HGET', `llmpool:{u${uid}}:s`, 'res']), '$-1', 'no reserved total left');
});

test('PostgreSQL restarted mid-load (twice): the worker and the gateway reconnect, nothing lost', T, async () => {
    const received = [];
    const statuses = new Map();
    const state = { stop: false };
    const running = load(state, received, statuses);
    await waitFor('traffic', async () => received.length > 50, { timeoutMs: 15_000 });
    for (let round = 0; round < 2; ++round) {
        await stack.restartPostgres();
        const at = received.length;
        await waitFor('traffic after the restart', async () => received.length > at + 30, { timeoutMs: 20_000 });
    }
    state.stop = true;
    await running;
    await stack.assertBilledOnce(assert, [...new Set(received)], uid);
});
