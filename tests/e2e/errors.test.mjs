// Authentication and error answers (SPEC §3): statuses, OpenAI's error shape, the SDK's error
// classes, and that no secret leaks into an error.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import {
    AuthenticationError, BadRequestError, InternalServerError, NotFoundError, PermissionDeniedError, Stack,
    assertErrorShape,
} from './harness.mjs';

const T = { timeout: 30_000 };
const CHAT = { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] };

let stack;
let m1;
let wrongKey; // its upstream row carries a key this mock refuses
let limitA; // both answer 429 to everything
let limitB;
let key;
let limitedKey;

before(async () => {
    stack = await Stack.start({ file: import.meta.url });
    m1 = await stack.startMock({ name: 'm1' });
    wrongKey = await stack.startMock({ name: 'wrong-key' });
    limitA = await stack.startMock({ name: 'limit-a', args: ['--status', '429'] });
    limitB = await stack.startMock({ name: 'limit-b', args: ['--status', '429'] });
    await stack.startGateway();
    await stack.seed({
        upstreams: [
            ...[m1, limitA, limitB].map((m) => ({ name: m.name, apiBase: m.apiBase, apiKey: m.apiKey })),
            { name: 'wrong-key', apiBase: wrongKey.apiBase, apiKey: 'sk-upstream-not-the-right-one-1234' },
        ],
        models: [
            { name: 'gpt-4o', upstream: 'm1', upstreamModel: 'gpt-4o-mini' },
            { name: 'other', upstream: 'm1', upstreamModel: 'gpt-4o' },
            { name: 'limited', upstream: 'limit-a', upstreamModel: 'gpt-4o-mini' },
            { name: 'limited', upstream: 'limit-b', upstreamModel: 'gpt-4o-mini' },
            { name: 'refused-creds', upstream: 'wrong-key', upstreamModel: 'gpt-4o-mini' },
        ],
    });
    key = await stack.createKey('alice');
    limitedKey = await stack.createKey('bob', { allowedModels: ['gpt-4o'] });
    await stack.waitForModels(key, ['gpt-4o', 'other', 'limited', 'refused-creds']);
}, { timeout: 60_000 });

after(async () => {
    const exit = await stack?.stop();
    if (!exit) return; // the start failed: that error is the one to see
    assert.deepEqual(exit, { code: 0, signal: null }, 'the gateway exits 0 on SIGTERM');
    stack.assertLogHasNoSecrets(assert);
}, { timeout: 30_000 });

function post(path, { headers = {}, body = CHAT, raw } = {}) {
    return fetch(`${stack.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: raw ?? JSON.stringify(body),
    });
}

// The answer must not show any credential: the client's keys or an upstream's.
function assertNoSecrets(text) {
    for (const secret of stack.secrets) {
        assert.ok(!text.includes(secret), 'a secret appears in the answer');
    }
}

test('no key: 401 (fetch and SDK AuthenticationError)', T, async () => {
    const response = await post('/v1/chat/completions');
    assert.equal(response.status, 401);
    assert.match(response.headers.get('content-type'), /^application\/json/);
    assertErrorShape(assert, await response.json(), { type: 'invalid_request_error' });

    // The SDK insists on a key; a null header value makes it send none.
    const noKey = stack.client('unused', { defaultHeaders: { Authorization: null } });
    const error = await noKey.chat.completions.create(CHAT).then(() => null, (e) => e);
    assert.ok(error instanceof AuthenticationError, `got ${error}`);
    assert.equal(error.status, 401);
    assert.equal(error.type, 'invalid_request_error');

    // Models list too.
    assert.equal((await fetch(`${stack.url}/v1/models`)).status, 401);
    assert.equal((await fetch(`${stack.url}/openai/v1/models/gpt-4o`)).status, 401);
});

test('bad keys: 401 with code invalid_api_key', T, async () => {
    for (const bad of ['sk-lp-thisisnotarealkeyatall0000000000000000', 'hello', `${key}x`]) {
        const error = await stack.client(bad).chat.completions.create(CHAT).then(() => null, (e) => e);
        assert.ok(error instanceof AuthenticationError, `key ${bad}: got ${error}`);
        assert.equal(error.status, 401);
        assert.equal(error.code, 'invalid_api_key');
        assert.ok(!error.message.includes(bad), 'the presented key is not echoed');
        assert.match(error.headers.get('x-llmpool-request-id') ?? '', /^req_/);
    }
    const response = await post('/v1/chat/completions', { headers: { authorization: 'Bearer sk-lp-nope' } });
    assert.equal(response.status, 401);
    const text = await response.text();
    assertErrorShape(assert, JSON.parse(text), { code: 'invalid_api_key' });
    assertNoSecrets(text);
    assert.equal(await m1.count('/v1/chat/completions'), 0, 'nothing reached the upstream');
});

test('the api-key and x-api-key headers authenticate too', T, async () => {
    for (const header of ['api-key', 'x-api-key']) {
        const response = await post('/v1/chat/completions', { headers: { [header]: key } });
        assert.equal(response.status, 200, header);
        const body = await response.json();
        assert.match(body.choices[0].message.content, /\S/);
        const models = await fetch(`${stack.url}/v1/models`, { headers: { [header]: key } });
        assert.equal(models.status, 200);
        assert.ok((await models.json()).data.some((m) => m.id === 'gpt-4o'));
        // The client's credential never reaches the upstream.
        const { last_request: last } = await m1.stats();
        assert.equal(last.headers[header], undefined, `${header} was forwarded`);
        assert.equal(last.headers.authorization, `Bearer ${m1.apiKey}`);
    }
    const bad = await post('/v1/chat/completions', { headers: { 'x-api-key': 'sk-lp-wrong-one' } });
    assert.equal(bad.status, 401);
});

test('unknown model: 404 NotFoundError', T, async () => {
    const client = stack.client(key);
    const error = await client.chat.completions.create({ ...CHAT, model: 'no-such-model' }).then(() => null, (e) => e);
    assert.ok(error instanceof NotFoundError, `got ${error}`);
    assert.equal(error.status, 404);
    assert.equal(error.code, 'model_not_found');
    assert.equal(error.type, 'invalid_request_error');

    const response = await post('/v1/embeddings', { headers: { authorization: `Bearer ${key}` },
        body: { model: 'no-such-model', input: 'x' } });
    assert.equal(response.status, 404);
    assertErrorShape(assert, await response.json(), { code: 'model_not_found' });
    assert.equal(await m1.count('/v1/embeddings'), 0, 'nothing reached the upstream');
});

test('a model the key may not use: 403 PermissionDeniedError', T, async () => {
    const error = await stack.client(limitedKey).chat.completions.create({ ...CHAT, model: 'other' })
        .then(() => null, (e) => e);
    assert.ok(error instanceof PermissionDeniedError, `got ${error}`);
    assert.equal(error.status, 403);
    const ok = await stack.client(limitedKey).chat.completions.create(CHAT);
    assert.match(ok.choices[0].message.content, /\S/);
});

test('invalid JSON, missing model: 400 in OpenAI error shape', T, async () => {
    const auth = { authorization: `Bearer ${key}` };
    const before = await m1.count('/v1/chat/completions');
    for (const raw of ['{"model": "gpt-4o", "messages": [', 'not json at all', '[1,2,3]', '']) {
        const response = await post('/v1/chat/completions', { headers: auth, raw });
        assert.equal(response.status, 400, `body ${JSON.stringify(raw)}`);
        assert.match(response.headers.get('content-type'), /^application\/json/);
        assert.match(response.headers.get('x-llmpool-request-id') ?? '', /^req_/);
        assertErrorShape(assert, await response.json(), { type: 'invalid_request_error' });
    }
    const missing = await post('/v1/chat/completions', { headers: auth, body: { messages: CHAT.messages } });
    assert.equal(missing.status, 400);
    const body = await missing.json();
    assertErrorShape(assert, body, { type: 'invalid_request_error' });
    assert.equal(body.error.param, 'model');

    const error = await stack.client(key).chat.completions.create({ messages: CHAT.messages }).then(() => null, (e) => e);
    assert.ok(error instanceof BadRequestError, `got ${error}`);

    const notMultipart = await post('/v1/audio/transcriptions', { headers: auth, body: { model: 'gpt-4o' } });
    assert.equal(notMultipart.status, 400);
    assertErrorShape(assert, await notMultipart.json());
    assert.equal(await m1.count('/v1/chat/completions'), before, 'nothing reached the upstream');
});

test('429 from every upstream: 502 naming the last status, both upstreams tried', T, async () => {
    const { response, error } = await stack.client(key).chat.completions.create({ ...CHAT, model: 'limited' })
        .withResponse().then((r) => ({ response: r.response }), (e) => ({ error: e }));
    assert.equal(response, undefined, 'the request failed');
    assert.ok(error instanceof InternalServerError, `got ${error}`);
    assert.equal(error.status, 502);
    assert.equal(error.type, 'upstream_error');
    assert.match(error.message, /429/);
    assert.equal(await limitA.count('/v1/chat/completions'), 1);
    assert.equal(await limitB.count('/v1/chat/completions'), 1);

    // The raw answer: OpenAI's shape, no secrets. (Both upstreams may be ejected by now: 503 is
    // then the documented answer for "no healthy upstream".)
    const raw = await post('/v1/chat/completions', { headers: { authorization: `Bearer ${key}` },
        body: { ...CHAT, model: 'limited', stream: true } });
    assert.ok([502, 503].includes(raw.status), `status ${raw.status}`);
    const text = await raw.text();
    assertErrorShape(assert, JSON.parse(text));
    assertNoSecrets(text);
});

test("an upstream's own 4xx answer is relayed as is, without failover", T, async () => {
    const before = await m1.count('/v1/chat/completions');
    const error = await stack.client(key).chat.completions.create(CHAT, { headers: { 'x-mock-status': '400' } })
        .then(() => null, (e) => e);
    assert.ok(error instanceof BadRequestError, `got ${error}`);
    assert.equal(error.status, 400);
    assert.equal(error.type, 'invalid_request_error');
    assert.match(error.headers.get('x-llmpool-request-id') ?? '', /^req_/);
    assert.equal(await m1.count('/v1/chat/completions'), before + 1, 'tried once');
});

test("an upstream refusing the gateway's credentials: 502, its answer (with a masked key) not relayed", T,
    async () => {
        const response = await post('/v1/chat/completions', { headers: { authorization: `Bearer ${key}` },
            body: { ...CHAT, model: 'refused-creds' } });
        assert.equal(response.status, 502);
        const text = await response.text();
        const body = JSON.parse(text);
        assertErrorShape(assert, body, { type: 'upstream_error' });
        assertNoSecrets(text);
        assert.doesNotMatch(text, /Incorrect API key/, "the upstream's message is not passed on");
        assert.equal((await wrongKey.stats()).auth_failures, 1);
    });

test('unknown routes answer 404 in the same shape', T, async () => {
    const response = await post('/v1/chat/nope', { headers: { authorization: `Bearer ${key}` } });
    assert.equal(response.status, 404);
    assertErrorShape(assert, await response.json());
});
