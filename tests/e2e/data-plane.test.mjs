// Every data-plane endpoint through the official OpenAI SDK (SPEC §3): the answers, the streams,
// what the upstream received (model rewrite, stream_options, credentials), the models list per
// key, the /openai/v1 prefix and an Azure-kind upstream.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { APIUserAbortError, NotFoundError, Stack, toFile, waitFor } from './harness.mjs';

const T = { timeout: 30_000 };
const chat = (extra = {}) => ({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Say hello' }], ...extra });

let stack;
let m1; // openai-kind upstream
let az; // azure-kind upstream
let key; // may use every model
let limitedKey; // may use gpt-4o only
let client;

before(async () => {
    stack = await Stack.start({ file: import.meta.url });
    m1 = await stack.startMock({ name: 'm1' });
    az = await stack.startMock({ name: 'az' });
    await stack.startGateway();
    await stack.seed({
        upstreams: [
            { name: 'm1', apiBase: m1.apiBase, apiKey: m1.apiKey },
            { name: 'az', kind: 'azure', apiBase: az.url, apiKey: az.apiKey, extra: { api_version: '2024-10-21' } },
        ],
        models: [
            { name: 'gpt-4o', upstream: 'm1', upstreamModel: 'gpt-4o-mini' },
            { name: 'gpt-4o-other', upstream: 'm1', upstreamModel: 'gpt-4o', capabilities: ['chat'] },
            { name: 'az-chat', upstream: 'az', upstreamModel: 'my-deployment', capabilities: ['chat', 'embeddings'] },
        ],
    });
    key = await stack.createKey('alice');
    limitedKey = await stack.createKey('bob', { allowedModels: ['gpt-4o'] });
    await stack.waitForModels(key, ['gpt-4o', 'gpt-4o-other', 'az-chat']);
    client = stack.client(key);
}, { timeout: 60_000 });

after(async () => {
    const exit = await stack?.stop();
    if (!exit) return; // the start failed: that error is the one to see
    assert.deepEqual(exit, { code: 0, signal: null }, 'the gateway exits 0 on SIGTERM');
    stack.assertLogHasNoSecrets(assert);
}, { timeout: 30_000 });

// The last request the mock received, with its JSON body parsed.
async function lastRequest(mock) {
    const { last_request: last } = await mock.stats();
    assert.ok(last, `${mock.name} received a request`);
    let json;
    try {
        json = JSON.parse(last.body);
    } catch {
        json = undefined;
    }
    return { ...last, json };
}

// What the gateway must never pass on (SPEC §9): the client's key in any header, api-key /
// x-api-key / cookie / x-llmpool-*; the upstream gets the gateway's own credentials.
function assertCleanUpstreamHeaders(headers, mock, { azure = false } = {}) {
    for (const [name, value] of Object.entries(headers)) {
        assert.ok(!value.includes(key) && !value.includes(limitedKey), `header ${name} carries the client's key`);
        assert.ok(!name.startsWith('x-llmpool-'), `header ${name} reached the upstream`);
    }
    assert.equal(headers.cookie, undefined);
    assert.equal(headers['x-api-key'], undefined);
    if (azure) {
        assert.equal(headers['api-key'], mock.apiKey);
        assert.equal(headers.authorization, undefined);
    } else {
        assert.equal(headers.authorization, `Bearer ${mock.apiKey}`);
        assert.equal(headers['api-key'], undefined);
    }
}

test('chat completion (non-streaming): content, usage, request id headers', T, async () => {
    const { data, response } = await client.chat.completions.create(chat()).withResponse();
    assert.equal(response.status, 200);
    assert.equal(data.object, 'chat.completion');
    assert.equal(data.choices.length, 1);
    assert.equal(data.choices[0].message.role, 'assistant');
    assert.match(data.choices[0].message.content, /\S/);
    assert.equal(data.choices[0].finish_reason, 'stop');
    assert.deepEqual([data.usage.prompt_tokens, data.usage.completion_tokens, data.usage.total_tokens], [10, 8, 18]);

    const requestId = response.headers.get('x-llmpool-request-id');
    assert.match(requestId ?? '', /^req_[0-9a-f]{32}$/);
    assert.match(response.headers.get('x-request-id') ?? '', /^req_/, "the upstream's x-request-id passes through");
    assert.ok(response.headers.get('x-ratelimit-limit-requests'), 'x-ratelimit-* passes through');

    const again = await client.chat.completions.create(chat()).withResponse();
    assert.notEqual(again.response.headers.get('x-llmpool-request-id'), requestId, 'a fresh id per request');

    const last = await lastRequest(m1);
    assert.equal(last.path, '/v1/chat/completions');
    assert.equal(last.json.model, 'gpt-4o-mini', 'the public name is rewritten to the upstream model');
    assert.deepEqual(last.json.messages, chat().messages);
    assertCleanUpstreamHeaders(last.headers, m1);
});

test('chat stream without include_usage: all chunks, no usage chunk; upstream asked for usage', T, async () => {
    const expected = (await client.chat.completions.create(chat())).choices[0].message.content;

    const { data: stream, response } = await client.chat.completions.create(chat({ stream: true }),
        { headers: { 'x-e2e-trace': 'trace-123', 'x-llmpool-debug': 'must-not-pass' } }).withResponse();
    assert.match(response.headers.get('content-type'), /^text\/event-stream/);
    assert.match(response.headers.get('x-llmpool-request-id') ?? '', /^req_[0-9a-f]{32}$/);
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);

    assert.ok(chunks.length >= 3, `got ${chunks.length} chunks`);
    assert.ok(chunks.every((c) => c.object === 'chat.completion.chunk'));
    assert.equal(new Set(chunks.map((c) => c.id)).size, 1, 'one completion id');
    assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''), expected, 'the reassembled text');
    assert.equal(chunks.at(-1).choices[0].finish_reason, 'stop');
    assert.equal(chunks.filter((c) => c.choices.length === 0).length, 0, 'no choice-less (usage-only) chunk');
    assert.ok(chunks.every((c) => c.usage == null), 'no usage on any chunk');

    const last = await lastRequest(m1);
    assert.equal(last.json.stream, true);
    assert.deepEqual(last.json.stream_options, { include_usage: true }, 'the gateway asked the upstream for usage');
    assert.equal(last.json.model, 'gpt-4o-mini');
    assert.equal(last.headers['x-e2e-trace'], 'trace-123', 'client headers are forwarded');
    assert.equal(last.headers['x-llmpool-debug'], undefined, 'x-llmpool-* headers are not');
    assertCleanUpstreamHeaders(last.headers, m1);
});

test('chat stream with include_usage: the usage chunk arrives last', T, async () => {
    const stream = await client.chat.completions.create(chat({ stream: true, stream_options: { include_usage: true } }));
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);

    const usageChunks = chunks.filter((c) => c.usage);
    assert.equal(usageChunks.length, 1, 'exactly one usage chunk');
    assert.equal(usageChunks[0], chunks.at(-1), 'it is the last one');
    assert.deepEqual(chunks.at(-1).choices, []);
    assert.deepEqual([chunks.at(-1).usage.prompt_tokens, chunks.at(-1).usage.completion_tokens], [10, 8]);
    assert.ok(chunks.slice(0, -1).map((c) => c.choices[0]?.delta?.content ?? '').join('').length > 0);

    const last = await lastRequest(m1);
    assert.deepEqual(last.json.stream_options, { include_usage: true });
});

test('chat stream with include_usage: false is treated like no stream_options', T, async () => {
    const stream = await client.chat.completions.create(
        chat({ stream: true, stream_options: { include_usage: false } }));
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    assert.ok(chunks.length >= 3);
    assert.ok(chunks.every((c) => c.usage == null && c.choices.length === 1), 'no usage chunk');
    const last = await lastRequest(m1);
    assert.deepEqual(last.json.stream_options, { include_usage: true }, 'the upstream was asked for usage');
});

test('streams are relayed as they arrive, not buffered (SSE and binary)', T, async () => {
    // 6 pieces 150 ms apart: a buffering relay would deliver them all at once at the end.
    const paced = { 'x-mock-chunks': '6', 'x-mock-interval-ms': '150' };
    const arrivals = [];
    const started = Date.now();
    for await (const chunk of await client.chat.completions.create(chat({ stream: true }), { headers: paced })) {
        if (chunk.choices[0]?.delta?.content) arrivals.push(Date.now() - started);
    }
    assert.equal(arrivals.length, 6);
    assert.ok(arrivals.at(-1) - arrivals[0] >= 5 * 150 * 0.6, `content chunks arrived at ${arrivals} ms`);

    const speech = await client.audio.speech.create({ model: 'gpt-4o', voice: 'alloy', input: 'paced' },
        { headers: paced });
    const times = [];
    let bytes = 0;
    const t0 = Date.now();
    for await (const piece of speech.body) {
        bytes += piece.length;
        times.push(Date.now() - t0);
    }
    assert.equal(bytes, 6 * 4096);
    assert.ok(times.at(-1) - times[0] >= 5 * 150 * 0.6, `audio pieces arrived at ${times} ms`);
});

test('completions (legacy): non-streaming and streaming', T, async () => {
    const completion = await client.completions.create({ model: 'gpt-4o', prompt: 'Once upon a time', max_tokens: 16 });
    assert.equal(completion.object, 'text_completion');
    assert.match(completion.choices[0].text, /\S/);
    assert.equal(completion.usage.total_tokens, completion.usage.prompt_tokens + completion.usage.completion_tokens);
    assert.equal((await lastRequest(m1)).json.model, 'gpt-4o-mini');
    assert.equal((await lastRequest(m1)).path, '/v1/completions');

    const stream = await client.completions.create({ model: 'gpt-4o', prompt: 'Once upon a time', stream: true });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    assert.ok(chunks.length >= 2);
    assert.equal(chunks.map((c) => c.choices[0]?.text ?? '').join(''), completion.choices[0].text);
    assert.ok(chunks.every((c) => c.usage == null), 'no usage chunk the client did not ask for');
});

test('embeddings (the SDK asks for base64 and decodes it)', T, async () => {
    const result = await client.embeddings.create({ model: 'gpt-4o', input: ['first text', 'second text'] });
    assert.equal(result.object, 'list');
    assert.equal(result.data.length, 2);
    assert.deepEqual(result.data.map((d) => d.index), [0, 1]);
    for (const d of result.data) {
        assert.equal(d.embedding.length, 16);
        assert.ok(d.embedding.every(Number.isFinite));
    }
    assert.ok(result.usage.prompt_tokens > 0);
    const last = await lastRequest(m1);
    assert.equal(last.path, '/v1/embeddings');
    assert.equal(last.json.model, 'gpt-4o-mini');
    assert.deepEqual(last.json.input, ['first text', 'second text']);
});

test('images.generate', T, async () => {
    const result = await client.images.generate({ model: 'gpt-4o', prompt: 'a lighthouse at dusk', n: 2 });
    assert.equal(result.data.length, 2);
    assert.ok(result.data.every((d) => d.url || d.b64_json));
    const last = await lastRequest(m1);
    assert.equal(last.path, '/v1/images/generations');
    assert.equal(last.json.model, 'gpt-4o-mini');
    assert.equal(last.json.prompt, 'a lighthouse at dusk');
});

test('audio.speech: the binary body is relayed byte for byte', T, async () => {
    const request = { model: 'gpt-4o', voice: 'alloy', input: 'Hello there, this is a test.' };
    const faults = { 'x-mock-chunks': '7', 'x-mock-chunk-size': '3001' };
    const response = await client.audio.speech.create(request, { headers: faults });
    assert.equal(response.headers.get('content-type'), 'audio/mpeg');
    const viaGateway = Buffer.from(await response.arrayBuffer());
    assert.equal((await lastRequest(m1)).json.model, 'gpt-4o-mini');

    // The same request straight to the mock: what it sends.
    const direct = await fetch(`${m1.apiBase}/audio/speech`, {
        method: 'POST',
        headers: { authorization: `Bearer ${m1.apiKey}`, 'content-type': 'application/json', ...faults },
        body: JSON.stringify({ ...request, model: 'gpt-4o-mini' }),
    });
    assert.equal(direct.status, 200);
    const fromMock = Buffer.from(await direct.arrayBuffer());
    assert.equal(fromMock.length, 7 * 3001);
    assert.equal(viaGateway.length, fromMock.length);
    assert.ok(viaGateway.equals(fromMock), 'identical bytes');
});

test('audio.transcriptions.create: multipart upload relayed, model rewritten inside it', T, async () => {
    const audio = Buffer.alloc(40_000);
    audio.write('ID3-fake-audio-for-llmpool-e2e', 0, 'latin1');
    for (let i = 64; i < audio.length; ++i) audio[i] = 0x41 + (i % 26); // printable, so the mock's body dump keeps it
    const file = await toFile(audio, 'speech.mp3', { type: 'audio/mpeg' });
    const result = await client.audio.transcriptions.create({ file, model: 'gpt-4o', language: 'en' });
    assert.equal(typeof result.text, 'string');
    assert.match(result.text, /\S/);

    const last = await lastRequest(m1);
    assert.equal(last.path, '/v1/audio/transcriptions');
    assert.match(last.headers['content-type'], /^multipart\/form-data; *boundary=/);
    assert.equal(last.model, 'gpt-4o-mini', 'the model part was rewritten');
    assert.match(last.body, /name="model"\r\n\r\ngpt-4o-mini\r\n/);
    assert.doesNotMatch(last.body, /name="model"\r\n\r\ngpt-4o\r\n/);
    assert.match(last.body, /name="language"\r\n\r\nen\r\n/, 'the other fields are relayed');
    assert.ok(last.body.includes(audio.toString('latin1')), 'the file bytes are relayed unchanged');
    assert.equal(last.body_bytes, Number(last.headers['content-length']));
    assertCleanUpstreamHeaders(last.headers, m1);
});

test('a large upload (3 MB) is relayed whole', T, async () => {
    const audio = Buffer.alloc(3 * 1024 * 1024, 'llmpool-e2e-');
    const result = await client.audio.transcriptions.create({
        file: await toFile(audio, 'long.mp3', { type: 'audio/mpeg' }), model: 'gpt-4o', response_format: 'json' });
    assert.match(result.text, /\S/);
    const last = await lastRequest(m1);
    assert.equal(last.body_bytes, Number(last.headers['content-length']));
    assert.ok(last.body_bytes > audio.length);
    assert.ok(last.body.includes(audio.toString('latin1')), 'the file arrived intact');
});

test('a client that leaves before the first byte: the upstream request is dropped', T, async () => {
    const before = await m1.stats();
    const controller = new AbortController();
    const pending = client.chat.completions.create(chat(), { signal: controller.signal, headers: { 'x-mock-hang': '1' } })
        .then(() => null, (e) => e);
    await waitFor('the upstream to hold the request', async () => (await m1.stats()).hanging > before.hanging);
    controller.abort();
    const aborted = await pending;
    assert.ok(aborted instanceof APIUserAbortError, `the SDK call ended with ${aborted}`);
    // Well before first_byte_timeout_ms (5 s): the gateway closed its upstream connection.
    const started = Date.now();
    await waitFor('the upstream to see the request go', async () => (await m1.stats()).hanging === before.hanging,
        { timeoutMs: 3_000 });
    assert.ok(Date.now() - started < 3_000);
});

test('responses.create: non-streaming and streaming', T, async () => {
    const response = await client.responses.create({ model: 'gpt-4o', input: 'Say hello' });
    assert.equal(response.object, 'response');
    assert.equal(response.status, 'completed');
    assert.match(response.output_text, /\S/);
    assert.ok(response.usage.total_tokens > 0);
    const last = await lastRequest(m1);
    assert.equal(last.path, '/v1/responses');
    assert.equal(last.json.model, 'gpt-4o-mini');

    const stream = await client.responses.create({ model: 'gpt-4o', input: 'Say hello', stream: true });
    const events = [];
    for await (const event of stream) events.push(event);
    const types = events.map((e) => e.type);
    assert.equal(types[0], 'response.created');
    assert.equal(types.at(-1), 'response.completed');
    const deltas = events.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta).join('');
    const completed = events.at(-1).response;
    assert.equal(completed.status, 'completed');
    const finalText = completed.output.flatMap((item) => item.content ?? [])
        .filter((part) => part.type === 'output_text').map((part) => part.text).join('');
    assert.equal(deltas, finalText, 'the deltas add up to the final text');
    assert.equal(deltas, response.output_text);
    assert.ok(completed.usage.total_tokens > 0);
    const lastStream = await lastRequest(m1);
    assert.equal(lastStream.json.stream, true);
    assert.equal(lastStream.json.stream_options, undefined, 'stream_options is only added for chat');
});

test('models.list and models.retrieve show only what the key may use', T, async () => {
    const all = [];
    for await (const model of client.models.list()) all.push(model);
    assert.deepEqual(all.map((m) => m.id).sort(), ['az-chat', 'gpt-4o', 'gpt-4o-other']);
    assert.ok(all.every((m) => m.object === 'model' && typeof m.owned_by === 'string'));

    const limited = stack.client(limitedKey);
    const some = [];
    for await (const model of limited.models.list()) some.push(model.id);
    assert.deepEqual(some, ['gpt-4o']);

    const one = await limited.models.retrieve('gpt-4o');
    assert.equal(one.id, 'gpt-4o');
    assert.equal(one.object, 'model');
    assert.equal((await client.models.retrieve('gpt-4o-other')).id, 'gpt-4o-other');
    await assert.rejects(limited.models.retrieve('gpt-4o-other'), NotFoundError);
    await assert.rejects(client.models.retrieve('no-such-model'), NotFoundError);
});

test('the /openai/v1 prefix works like /v1', T, async () => {
    const prefixed = stack.client(key, { prefix: '/openai/v1' });
    const before = await m1.count('/v1/chat/completions');
    const { data, response } = await prefixed.chat.completions.create(chat()).withResponse();
    assert.match(data.choices[0].message.content, /\S/);
    assert.match(response.headers.get('x-llmpool-request-id') ?? '', /^req_/);

    const chunks = [];
    for await (const chunk of await prefixed.chat.completions.create(chat({ stream: true }))) chunks.push(chunk);
    assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''), data.choices[0].message.content);
    assert.equal(await m1.count('/v1/chat/completions'), before + 2);

    const embedding = await prefixed.embeddings.create({ model: 'gpt-4o', input: 'x' });
    assert.equal(embedding.data.length, 1);
    const ids = [];
    for await (const model of prefixed.models.list()) ids.push(model.id);
    assert.deepEqual(ids.sort(), ['az-chat', 'gpt-4o', 'gpt-4o-other']);
    assert.equal((await prefixed.models.retrieve('az-chat')).id, 'az-chat');
});

test('azure upstream: deployment URL, api-version, api-key header', T, async () => {
    const completion = await client.chat.completions.create({ ...chat(), model: 'az-chat' });
    assert.match(completion.choices[0].message.content, /\S/);
    let last = await lastRequest(az);
    assert.equal(last.path, '/openai/deployments/my-deployment/chat/completions');
    assert.equal(new URL(last.target, az.url).searchParams.get('api-version'), '2024-10-21');
    assertCleanUpstreamHeaders(last.headers, az, { azure: true });

    const chunks = [];
    for await (const chunk of await client.chat.completions.create({ ...chat({ stream: true }), model: 'az-chat' })) {
        chunks.push(chunk);
    }
    assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''), completion.choices[0].message.content);
    assert.ok(chunks.every((c) => c.usage == null));
    last = await lastRequest(az);
    assert.equal(last.path, '/openai/deployments/my-deployment/chat/completions');
    assert.deepEqual(last.json.stream_options, { include_usage: true });

    const embedding = await client.embeddings.create({ model: 'az-chat', input: 'hello' });
    assert.equal(embedding.data.length, 1);
    last = await lastRequest(az);
    assert.equal(last.path, '/openai/deployments/my-deployment/embeddings');
    assert.equal(new URL(last.target, az.url).searchParams.get('api-version'), '2024-10-21');
    assertCleanUpstreamHeaders(last.headers, az, { azure: true });
});
