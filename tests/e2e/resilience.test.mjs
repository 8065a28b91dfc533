// Failover, ejection and recovery, timeouts, client disconnects and mid-stream failures
// (SPEC §3 "Routing" and "Request handling"), observed through the mocks' counters.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { APIError, APIUserAbortError, InternalServerError, Stack, readSse, waitFor } from './harness.mjs';

const T = { timeout: 30_000 };
const chat = (model, extra = {}) => ({ model, messages: [{ role: 'user', content: 'hi' }], ...extra });
const CHAT_PATH = '/v1/chat/completions';

let stack;
let client;
let foA; // answers 500 to everything
let foB; // healthy: the failover target
let slowA; // never answers
let ejA; // made to fail, then healthy again
let ejB;
let st; // streams
let deadUrl;

before(async () => {
    stack = await Stack.start({
        file: import.meta.url,
        // Short enough for a fast suite, long enough for a loaded CI machine.
        upstream: { first_byte_timeout_ms: 1_000, health_check_interval_ms: 100, eject_base_ms: 200, eject_max_ms: 800 },
        encrypt: true, // upstream keys sealed at rest: the mocks only answer if the gateway opened them
    });
    foA = await stack.startMock({ name: 'fo-a', args: ['--status', '500'] });
    foB = await stack.startMock({ name: 'fo-b' });
    slowA = await stack.startMock({ name: 'slow-a', args: ['--hang'] });
    ejA = await stack.startMock({ name: 'ej-a' });
    ejB = await stack.startMock({ name: 'ej-b' });
    st = await stack.startMock({ name: 'st' });
    const dead = await stack.startMock({ name: 'dead' });
    deadUrl = dead.apiBase;
    await dead.stop(); // its port now refuses connections
    await stack.startGateway();

    // The failing upstream is (almost always) tried first: weight 100 against 1.
    const model = (name, upstream, weight = 1) =>
        ({ name, upstream, upstreamModel: 'gpt-4o-mini', capabilities: ['chat', 'speech'], weight });
    await stack.seed({
        upstreams: [
            ...[foA, foB, slowA, ejA, ejB, st].map((m) => ({ name: m.name, apiBase: m.apiBase, apiKey: m.apiKey })),
            { name: 'dead', apiBase: deadUrl, apiKey: 'sk-dead-upstream-key' },
        ],
        models: [
            model('fo', 'fo-a', 100), model('fo', 'fo-b'),
            model('fo-refused', 'dead', 100), model('fo-refused', 'fo-b'),
            model('dead-only', 'dead'),
            model('slow', 'slow-a', 100), model('slow', 'fo-b'),
            model('slow-only', 'slow-a'),
            model('ej', 'ej-a'), model('ej', 'ej-b'),
            model('gpt-4o', 'st'),
        ],
    });
    const key = await stack.createKey('alice');
    await stack.waitForModels(key, ['fo', 'fo-refused', 'dead-only', 'slow', 'slow-only', 'ej', 'gpt-4o']);
    client = stack.client(key);
}, { timeout: 60_000 });

after(async () => {
    const exit = await stack?.stop();
    if (!exit) return; // the start failed: that error is the one to see
    assert.deepEqual(exit, { code: 0, signal: null }, 'the gateway exits 0 on SIGTERM');
    stack.assertLogHasNoSecrets(assert);
}, { timeout: 30_000 });

async function content(model, options) {
    const completion = await client.chat.completions.create(chat(model), options);
    assert.match(completion.choices[0].message.content, /\S/);
    return completion;
}

test('failover: an upstream answering 500 is tried, the request succeeds on the next', T, async () => {
    for (let i = 0; i < 5; ++i) await content('fo');
    const a = await foA.stats();
    assert.ok((a.requests[CHAT_PATH] ?? 0) >= 1, 'the failing upstream was tried');
    // (Its health probes, GET /v1/models, are answered 500 as well once it is ejected.)
    assert.ok(a.statuses['500'] >= a.requests[CHAT_PATH], 'and it answered 500 each time');
    assert.equal(a.statuses['200'], undefined);
    assert.equal(await foB.count(CHAT_PATH), 5, 'every request was answered by the healthy one');
});

test('failover: a refused connection moves on to the next upstream', T, async () => {
    const before = await foB.count(CHAT_PATH);
    const started = Date.now();
    for (let i = 0; i < 3; ++i) await content('fo-refused');
    assert.equal(await foB.count(CHAT_PATH), before + 3);
    assert.ok(Date.now() - started < 5_000, 'no waiting for a timeout on a refused connection');

    // Alone, the dead upstream gives 502 (or 503 once it is ejected), never a hang.
    const error = await client.chat.completions.create(chat('dead-only')).then(() => null, (e) => e);
    assert.ok(error instanceof APIError, `got ${error}`);
    assert.ok([502, 503].includes(error.status), `status ${error.status}`);
    assert.ok(!error.message.includes('sk-dead-upstream-key'), 'the upstream key is not shown');
});

test('failover on a first-byte timeout; alone, the timeout is a 504', T, async () => {
    const before = await foB.count(CHAT_PATH);
    await content('slow');
    assert.equal(await foB.count(CHAT_PATH), before + 1);

    const started = Date.now();
    const error = await client.chat.completions.create(chat('slow-only')).then(() => null, (e) => e);
    assert.ok(error instanceof APIError, `got ${error}`);
    assert.ok([504, 503].includes(error.status), `status ${error.status}: ${error.message}`);
    assert.ok(Date.now() - started < 10_000);
    // The gateway gave up on the hanging requests: the mock sees them go.
    await waitFor('the hanging requests to be abandoned', async () => (await slowA.stats()).hanging === 0);
});

test('ejection and recovery: traffic leaves a failing upstream and returns after a probe', T, async () => {
    await ejA.configure({ status: 500 });
    const a0 = await ejA.count(CHAT_PATH);
    const b0 = await ejB.count(CHAT_PATH);

    // Once A has failed, until 10 requests in a row went to B only (with equal weights, A would
    // be tried first by about half of them if it were still in rotation).
    let streak = 0;
    let requests = 0;
    while (streak < 10) {
        assert.ok(++requests <= 80, 'the failing upstream is still chosen after 80 requests');
        const before = await ejA.count(CHAT_PATH);
        await content('ej'); // always succeeds: failover to B
        const after = await ejA.count(CHAT_PATH);
        streak = after === before && after > a0 ? streak + 1 : 0;
    }
    const failures = (await ejA.count(CHAT_PATH)) - a0;
    assert.ok(failures >= 1, 'A was tried before it was ejected');
    assert.equal(await ejB.count(CHAT_PATH), b0 + requests, 'B answered every request');

    // Healthy again: a probe (GET /v1/models) brings A back, and it takes chat traffic again.
    const probesBefore = await ejA.count('/v1/models');
    await ejA.configure({ status: 0 });
    await waitFor('A to receive chat traffic again', async () => {
        await content('ej');
        return (await ejA.count(CHAT_PATH)) > a0 + failures;
    }, { timeoutMs: 15_000, intervalMs: 50 });
    assert.ok((await ejA.count('/v1/models')) > probesBefore, 'it was probed');
    const { statuses } = await ejA.stats();
    assert.ok(statuses['200'] >= 1, 'A answered a chat request with 200');
});

test('client disconnect aborts the upstream stream at once', T, async () => {
    const before = await st.stats();
    const controller = new AbortController();
    const started = Date.now();
    // 200 chunks 50 ms apart: 10 s if left alone.
    const stream = await client.chat.completions.create(chat('gpt-4o', { stream: true }), {
        signal: controller.signal,
        headers: { 'x-mock-chunks': '200', 'x-mock-interval-ms': '50' },
    });
    let received = 0;
    const error = await (async () => {
        for await (const chunk of stream) {
            assert.equal(chunk.object, 'chat.completion.chunk');
            if (++received === 3) controller.abort();
        }
    })().then(() => null, (e) => e);
    assert.equal(received, 3);
    // The SDK ends the iteration quietly on its own abort (or throws an abort error): either way
    // not with an error from the gateway.
    assert.ok(error === null || error instanceof APIUserAbortError || error?.name === 'AbortError',
        `iteration ended with ${error}`);

    const stats = await waitFor('the mock to see the stream aborted', async () => {
        const s = await st.stats();
        return s.aborted_streams > before.aborted_streams && s.active_streams === 0 ? s : null;
    }, { timeoutMs: 5_000 });
    assert.equal(stats.completed_streams, before.completed_streams, 'the stream did not run to its end');
    assert.ok(Date.now() - started < 5_000, `aborted after ${Date.now() - started} ms, long before the 10 s end`);
});

test('mid-stream upstream failure: the SDK stream throws, never a clean end', T, async () => {
    const stream = await client.chat.completions.create(chat('gpt-4o', { stream: true }),
        { headers: { 'x-mock-drop-after': '3', 'x-mock-chunks': '20' } });
    const chunks = [];
    const error = await (async () => {
        for await (const chunk of stream) chunks.push(chunk);
    })().then(() => null, (e) => e);
    assert.ok(error instanceof APIError, `the iteration must fail, got ${error} after ${chunks.length} chunks`);
    assert.ok(chunks.length >= 1 && chunks.length <= 3, `${chunks.length} chunks before the error`);
    assert.ok(!chunks.some((c) => c.choices[0]?.finish_reason), 'no finish_reason: the answer was cut');
    assert.equal(error.error?.type, 'upstream_error');
    assert.match(String(error.message), /\S/);
});

test('mid-stream upstream failure on the wire: a final SSE error event, no [DONE]', T, async () => {
    const response = await fetch(`${stack.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${client.apiKey}`, 'content-type': 'application/json',
            'x-mock-drop-after': '2', 'x-mock-chunks': '20' },
        body: JSON.stringify(chat('gpt-4o', { stream: true })),
    });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type'), /^text\/event-stream/);
    const events = await readSse(response);
    assert.ok(!events.includes('[DONE]'), 'no [DONE] after a failure');
    const last = JSON.parse(events.at(-1));
    assert.deepEqual(Object.keys(last), ['error']);
    assert.equal(last.error.type, 'upstream_error');
    assert.equal(typeof last.error.message, 'string');
    assert.ok('code' in last.error);
    assert.ok(events.slice(0, -1).every((e) => JSON.parse(e).object === 'chat.completion.chunk'));
});

test('mid-stream failure of a binary body: the client sees a broken response', T, async () => {
    const response = await client.audio.speech.create({ model: 'gpt-4o', voice: 'alloy', input: 'hello' },
        { headers: { 'x-mock-drop-after': '2', 'x-mock-chunks': '50', 'x-mock-interval-ms': '5' } });
    assert.equal(response.status, 200);
    await assert.rejects(response.arrayBuffer(), 'reading the cut body fails');

    // And the same upstream still serves a whole one afterwards.
    const whole = await client.audio.speech.create({ model: 'gpt-4o', voice: 'alloy', input: 'hello' });
    assert.equal(Buffer.from(await whole.arrayBuffer()).length, 8 * 4096);
});

test('a non-streaming request cut before its answer fails over or fails cleanly', T, async () => {
    // x-mock-drop-after on a non-streamed answer closes the connection without a response: the
    // only upstream of gpt-4o, so the client gets a clean 502, not a hang or a half answer.
    const error = await client.chat.completions.create(chat('gpt-4o'), { headers: { 'x-mock-drop-after': '0' } })
        .then(() => null, (e) => e);
    assert.ok(error instanceof InternalServerError, `got ${error}`);
    assert.equal(error.status, 502);
    assert.equal(error.type, 'upstream_error');
    await content('gpt-4o'); // still in rotation after one failure
});
