// Exactly-once billing across crashes (SPEC §5): `kill -9` of the gateway and of a worker in the
// middle of a load run, then restarts. Every request whose response the client received whole is
// billed exactly once, and `llmpool billing reconcile` finds no drift.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { Stack, waitFor } from './harness.mjs';

const T = { timeout: 120_000 };

let stack;
let key;
let uid;

before(async () => {
    // A separate worker process (not in the gateway), taking over a dead worker's entries after 2 s.
    stack = await Stack.start({ file: import.meta.url, worker: { inProcess: false, claimIdleMs: 2_000 } });
    const mock = await stack.startMock({ name: 'm', args: ['--delay-ms', '5', '--chunks', '5', '--interval-ms', '2'] });
    await stack.startGateway();
    await stack.seed({
        upstreams: [{ name: 'm', apiBase: mock.apiBase, apiKey: mock.apiKey }],
        models: [{ name: 'crash-model', upstream: 'm', upstreamModel: 'm', inputPrice: 3, outputPrice: 7 }],
    });
    key = await stack.createKey('crash-user');
    await stack.waitForModels(key, ['crash-model']);
    uid = Number(await stack.sql("SELECT id FROM users WHERE name = 'crash-user'"));
}, { timeout: 60_000 });

after(() => stack?.stop());

// One request; resolves with its request id if the client received the whole response.
async function oneRequest(i) {
    const stream = i % 2 === 1;
    try {
        const response = await fetch(`${stack.url}/v1/chat/completions`, {
            method: 'POST',
            headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
            body: JSON.stringify({ model: 'crash-model', stream, max_tokens: 50, messages: [{ role: 'user', content: `n${i}` }] }),
            signal: AbortSignal.timeout(5_000),
        });
        const text = await response.text();
        if (response.status !== 200) return null;
        const complete = stream ? text.includes('data: [DONE]') : JSON.parse(text).choices?.length > 0;
        return complete ? response.headers.get('x-llmpool-request-id') : null;
    } catch {
        return null; // cut by a crash: not received whole, so billing it or not is both right
    }
}

async function load(untilMs, received) {
    let i = 0;
    await Promise.all(Array.from({ length: 6 }, async (_, lane) => {
        while (Date.now() < untilMs) {
            const id = await oneRequest(lane * 100_000 + i++);
            if (id) received.push(id);
        }
    }));
}

test('kill -9 of the gateway and of a worker mid-load: every completed response billed exactly once', T, async () => {
    let worker = await stack.startWorker({ concurrency: 2 });
    const received = [];
    const start = Date.now();
    const running = load(start + 9_000, received);

    // Crash the worker after 1.5 s and start another one: it takes the dead one's entries over.
    await waitFor('some traffic', async () => received.length > 50, { timeoutMs: 10_000 });
    await worker.kill();
    worker = await stack.startWorker({ concurrency: 2 });

    // Crash the gateway mid-load, then start it again (new port: the load follows stack.url).
    await waitFor('more traffic', async () => received.length > 150, { timeoutMs: 10_000 });
    await stack.crashGateway();
    await stack.startGateway();
    await waitFor('traffic after the restart', async () => received.length > 300, { timeoutMs: 20_000 });
    await worker.kill();
    await stack.startWorker({ concurrency: 1 });
    await running;

    assert.ok(received.length > 300, `only ${received.length} responses completed`);
    const ids = [...new Set(received)];
    assert.equal(ids.length, received.length, 'request ids are unique');

    await stack.assertBilledOnce(assert, ids, uid);
});
