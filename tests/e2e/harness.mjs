// The end-to-end harness: one private LLMPool stack per test file.
//
//   const stack = await Stack.start({ file: import.meta.url });   // fresh database, config, migrate
//   const mock = await stack.startMock({ name: 'm1' });            // llmpool-mock-openai on port 0
//   await stack.startGateway();                                    // llmpool serve on port 0
//   await stack.seed({ upstreams: [{ name: 'm1', apiBase: mock.apiBase, apiKey: mock.apiKey }],
//                      models: [{ name: 'gpt-4o', upstream: 'm1', upstreamModel: 'gpt-4o-mini' }] });
//   const key = await stack.createKey('alice');
//   await stack.waitForModels(key, ['gpt-4o']);                    // the catalog reload saw the rows
//   after(() => stack.stop());
//
// The PostgreSQL + Redis come from the ctest fixture `services` (LLMPOOL_TEST_SERVICES_FILE, a
// shell-sourceable env file); the binaries from LLMPOOL_BIN / LLMPOOL_MOCK_BIN; the migrations from
// LLMPOOL_MIGRATIONS_DIR. Every child process is stopped by stop(), and also when this process
// exits or is killed (exit hook, SIGTERM/SIGINT handlers; the mock and the gateway also get SIGTERM
// from the kernel when we die: --die-with-parent / setpriv --pdeathsig).
//
// Nothing here sleeps to synchronise: everything waits on an observable condition with a deadline
// (waitFor).

import { spawn, execFile } from 'node:child_process';
import { createCipheriv, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { connect, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

let openaiModule;
try {
    openaiModule = await import('openai');
} catch (error) {
    throw new Error(`the OpenAI SDK is missing: run \`npm ci\` in tests/e2e (${error.message})`);
}
export const OpenAI = openaiModule.default;
export const { toFile, APIError, AuthenticationError, NotFoundError, PermissionDeniedError, BadRequestError,
    InternalServerError, APIUserAbortError } = openaiModule;

// ---------------------------------------------------------------------------------------------
// small utilities
// ---------------------------------------------------------------------------------------------

export async function waitFor(what, check, { timeoutMs = 10_000, intervalMs = 25 } = {}) {
    const deadline = Date.now() + timeoutMs;
    let last;
    for (;;) {
        try {
            last = await check();
            if (last) return last;
        } catch (error) {
            last = error;
        }
        if (Date.now() > deadline) {
            const detail = last instanceof Error ? `: ${last.message}` : '';
            throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
        }
        await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
}

function requiredEnv(name) {
    const value = process.env[name];
    if (!value) throw new Error(`${name} is not set (run the suite through ctest: ctest -R TestE2E)`);
    return value;
}

// KEY='value' lines as written by llmpool-test-services (single-quoted, '\'' for a quote).
function readServicesFile(path) {
    if (!existsSync(path)) throw new Error(`${path} does not exist: the ctest fixture 'services' did not run`);
    const out = {};
    for (const raw of readFileSync(path, 'utf8').split('\n')) {
        const line = raw.trim();
        if (!line || line.startsWith('#')) continue;
        const eq = line.indexOf('=');
        if (eq <= 0) continue;
        let value = line.slice(eq + 1);
        if (value.startsWith("'") && value.endsWith("'") && value.length >= 2) {
            value = value.slice(1, -1).replaceAll(`'\\''`, "'");
        }
        out[line.slice(0, eq)] = value;
    }
    return out;
}

function tomlString(s) {
    return JSON.stringify(String(s)); // a TOML basic string is JSON-compatible for what we write
}

export function sqlString(s) {
    return `'${String(s).replaceAll("'", "''")}'`;
}

export function sqlArray(items) {
    return `ARRAY[${items.map(sqlString).join(',')}]::text[]`;
}

// The environment of every child: ours minus what would override the config file.
function childEnv(extra = {}) {
    const env = { ...process.env, ...extra };
    for (const name of ['DATABASE_URL', 'REDIS_URL', 'LLMPOOL_CONFIG', 'OPENAI_API_KEY', 'OPENAI_BASE_URL']) {
        delete env[name];
    }
    env.QT_NO_GLIB = '1';
    return env;
}

// ---------------------------------------------------------------------------------------------
// child processes
// ---------------------------------------------------------------------------------------------

const live = new Set(); // every Child not yet exited, for the exit hooks

function killAllNow() {
    for (const child of live) {
        try {
            child.proc.kill('SIGKILL');
        } catch {
            // already gone
        }
    }
}
process.on('exit', killAllNow);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.once(signal, () => {
        killAllNow();
        process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1));
    });
}

const hasSetpriv = existsSync('/usr/bin/setpriv');

class Child {
    constructor(label, command, args, { env, logDir, pdeathsig = false }) {
        this.label = label;
        this.lines = []; // the last lines of stdout + stderr, for error messages
        this.exited = false;
        this.exitCode = null;
        this.exitSignal = null;
        if (pdeathsig && hasSetpriv) {
            args = ['--pdeathsig', 'TERM', '--', command, ...args];
            command = '/usr/bin/setpriv';
        }
        this.proc = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
        live.add(this);
        this.log = createWriteStream(join(logDir, `${label}.log`), { flags: 'a' });
        this.exitPromise = new Promise((resolve) => {
            this.proc.on('exit', (code, signal) => {
                this.exited = true;
                this.exitCode = code;
                this.exitSignal = signal;
                live.delete(this);
                resolve({ code, signal });
            });
            this.proc.on('error', (error) => {
                this.spawnError = error;
                this.exited = true;
                live.delete(this);
                resolve({ code: null, signal: null, error });
            });
        });
        this.listeners = [];
        for (const stream of [this.proc.stdout, this.proc.stderr]) {
            let partial = '';
            stream.setEncoding('utf8');
            stream.on('data', (text) => {
                this.log.write(text);
                const parts = (partial + text).split('\n');
                partial = parts.pop();
                for (const line of parts) this.onLine(line);
            });
        }
    }

    onLine(line) {
        this.lines.push(line);
        if (this.lines.length > 200) this.lines.shift();
        for (const listener of this.listeners) listener(line);
    }

    tail(n = 30) {
        return this.lines.slice(-n).join('\n');
    }

    // Resolves with the first match of `regex` in the output; rejects when the process exits first
    // or the deadline passes.
    waitForLine(regex, timeoutMs) {
        for (const line of this.lines) {
            const m = line.match(regex);
            if (m) return Promise.resolve(m);
        }
        return new Promise((resolve, reject) => {
            const timer = setTimeout(() => {
                done();
                reject(new Error(`${this.label}: no line matching ${regex} within ${timeoutMs} ms\n${this.tail()}`));
            }, timeoutMs);
            const listener = (line) => {
                const m = line.match(regex);
                if (m) {
                    done();
                    resolve(m);
                }
            };
            const done = () => {
                clearTimeout(timer);
                this.listeners = this.listeners.filter((l) => l !== listener);
            };
            this.listeners.push(listener);
            this.exitPromise.then(({ code, signal, error }) => {
                done();
                reject(new Error(`${this.label} exited (code ${code}, signal ${signal}${error ? `, ${error.message}` : ''}) `
                    + `before printing ${regex}\n${this.tail()}`));
            });
        });
    }

    // SIGKILL at once (a crash). Resolves with { code, signal }.
    async kill() {
        if (!this.exited) this.proc.kill('SIGKILL');
        const result = await this.exitPromise;
        await new Promise((resolve) => this.log.end(resolve));
        return result;
    }

    // SIGTERM, then SIGKILL after the grace period. Resolves with { code, signal }.
    async stop(graceMs = 5_000) {
        if (this.exited) return { code: this.exitCode, signal: this.exitSignal };
        this.proc.kill('SIGTERM');
        const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
        const result = await this.exitPromise;
        clearTimeout(timer);
        await new Promise((resolve) => this.log.end(resolve));
        return result;
    }
}

// ---------------------------------------------------------------------------------------------
// the mock upstream
// ---------------------------------------------------------------------------------------------

export class Mock {
    constructor(child, url, name, apiKey) {
        this.child = child;
        this.url = url; // http://127.0.0.1:PORT
        this.name = name;
        this.apiKey = apiKey;
        this.apiBase = `${url}/v1`;
    }

    async control(method, path, body) {
        const response = await fetch(`${this.url}${path}`, {
            method,
            headers: body === undefined ? {} : { 'content-type': 'application/json' },
            body: body === undefined ? undefined : JSON.stringify(body),
        });
        const json = await response.json();
        if (!response.ok) throw new Error(`mock ${this.name} ${path}: HTTP ${response.status} ${JSON.stringify(json)}`);
        return json;
    }

    stats() {
        return this.control('GET', '/mock/stats');
    }

    configure(settings) {
        return this.control('POST', '/mock/config', settings);
    }

    reset() {
        return this.control('POST', '/mock/reset', {});
    }

    // Requests the mock received on one path (e.g. '/v1/chat/completions').
    async count(path) {
        return (await this.stats()).requests[path] ?? 0;
    }

    stop() {
        return this.child.stop();
    }
}

// ---------------------------------------------------------------------------------------------
// the stack
// ---------------------------------------------------------------------------------------------

export class Stack {
    // options.file: import.meta.url of the test file (names the database, the logs and the Redis db)
    // options.upstream: [upstream] settings over the harness's fast defaults
    // options.encrypt: configure [security] encryption_key and store upstream keys sealed with it
    // options.privateRedis: a redis-server of the stack's own (append-only file on; the default —
    //   a gateway keeps state in Redis under fixed names, which test files must not share)
    // options.worker: { inProcess = true, claimIdleMs = 30000 }
    // options.privatePostgres: a PostgreSQL of the stack's own (llmpool-test-services), for tests
    //   that restart it (restartPostgres())
    static async start({ file, upstream = {}, encrypt = false, privateRedis = true, privatePostgres = false,
        worker = {} } = {}) {
        const stack = new Stack(file, upstream);
        if (encrypt) stack.encryptionKey = randomBytes(32);
        stack.privateRedis = privateRedis;
        stack.privatePostgres = privatePostgres;
        stack.workerSettings = { inProcess: true, claimIdleMs: 30_000, ...worker };
        try {
            await stack.init();
        } catch (error) {
            await stack.stop();
            throw error;
        }
        return stack;
    }

    constructor(file, upstream) {
        this.label = basename(fileURLToPath(file ?? import.meta.url)).replace(/\.test\.mjs$|\.mjs$/, '');
        this.upstreamSettings = upstream;
        this.children = [];
        this.mocks = [];
        this.gateway = null;
        this.databaseCreated = false;
        this.secrets = new Set(); // client and upstream keys: never in a response or a log line
    }

    async init() {
        this.llmpoolBin = requiredEnv('LLMPOOL_BIN');
        this.mockBin = requiredEnv('LLMPOOL_MOCK_BIN');
        this.migrationsDir = requiredEnv('LLMPOOL_MIGRATIONS_DIR');
        this.services = readServicesFile(requiredEnv('LLMPOOL_TEST_SERVICES_FILE'));

        this.dir = mkdtempSync(join(tmpdir(), `llmpool-e2e-${this.label}-`));
        if (this.privatePostgres) {
            // Its own PostgreSQL (and Redis, unused) as daemons; stop() stops them.
            this.servicesBin = requiredEnv('LLMPOOL_SERVICES_BIN');
            this.servicesDir = join(this.dir, 'services');
            await execFileAsync(this.servicesBin, ['start', this.servicesDir], { timeout: 120_000 });
            this.services = readServicesFile(join(this.servicesDir, 'services.env'));
        }
        // Kept after stop(), for a look at a failure: <build>/tests/e2e/logs/<file>/ under ctest.
        this.logDir = join(process.env.LLMPOOL_E2E_LOG_DIR ?? join(tmpdir(), 'llmpool-e2e-logs'), this.label);
        rmSync(this.logDir, { recursive: true, force: true });
        mkdirSync(this.logDir, { recursive: true });

        // A fresh database per test file.
        this.database = `llmpool_e2e_${this.label.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
        await this.psql('postgres', `CREATE DATABASE ${this.database}`);
        this.databaseCreated = true;
        const dbUrl = new URL(this.services.DATABASE_URL);
        dbUrl.pathname = `/${this.database}`;

        // Redis: a database index of our own, so that whatever an instance keeps there (caches,
        // usage streams) never meets another test file's gateway. Pub/sub is global, but the
        // invalidation messages only make a gateway reload, which is harmless.
        let redisUrl = new URL(this.services.REDIS_URL);
        redisUrl.pathname = `/${1 + (hashString(this.label) % 15)}`;
        if (this.privateRedis) {
            this.redisPort = await freePort();
            await this.startRedis();
            redisUrl = new URL(`redis://127.0.0.1:${this.redisPort}/0`);
        }
        this.redisUrl = redisUrl;

        const u = {
            connect_timeout_ms: 1_000,
            first_byte_timeout_ms: 5_000,
            idle_timeout_ms: 5_000,
            total_timeout_ms: 30_000,
            max_attempts: 3,
            health_check_interval_ms: 100,
            eject_base_ms: 200,
            eject_max_ms: 1_000,
            ...this.upstreamSettings,
        };
        this.configPath = join(this.dir, 'llmpool.toml');
        writeFileSync(this.configPath, [
            '[server]',
            'bind = "127.0.0.1:0"',
            'threads = 2',
            '',
            '[database]',
            `url = ${tomlString(dbUrl.href)}`,
            'pool_size = 2',
            '',
            '[redis]',
            `url = ${tomlString(redisUrl.href)}`,
            '',
            '[admin]',
            `jwt_secret = ${tomlString(randomBytes(32).toString('hex'))}`,
            '',
            '[upstream]',
            ...Object.entries(u).map(([k, v]) => `${k} = ${v}`),
            '',
            '[security]',
            `encryption_key = ${tomlString(this.encryptionKey ? this.encryptionKey.toString('hex') : '')}`,
            '',
            '[billing]',
            `spool_dir = ${tomlString(join(this.dir, 'spool'))}`,
            '',
            '[worker]',
            `in_process = ${this.workerSettings.inProcess}`,
            `claim_idle_ms = ${this.workerSettings.claimIdleMs}`,
            'batch_size = 100',
            '',
        ].join('\n'));

        await this.cli(['migrate']);
    }

    env() {
        return childEnv({ LLMPOOL_MIGRATIONS_DIR: this.migrationsDir });
    }

    // psql as the fixture's superuser; returns the unaligned, tuples-only output.
    async psql(database, sql) {
        const s = this.services;
        // Long statements (lists of thousands of request ids) go through a file: argv has a limit.
        let sqlArgs = ['-c', sql];
        if (sql.length > 16_384) {
            const file = join(this.dir, `query-${randomBytes(4).toString('hex')}.sql`);
            writeFileSync(file, sql);
            sqlArgs = ['-f', file];
        }
        try {
            const { stdout } = await execFileAsync('psql', [
                '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1',
                '-h', s.PGHOST, '-p', s.PGPORT, '-U', s.PGUSER, '-d', database, ...sqlArgs,
            ], { env: { ...process.env, PGPASSWORD: s.PGPASSWORD, PGCONNECT_TIMEOUT: '10' }, timeout: 30_000,
                maxBuffer: 64 * 1024 * 1024 });
            return stdout.trim();
        } catch (error) {
            throw new Error(`psql failed: ${sql.slice(0, 500)}\n${error.stderr ?? error.message}`);
        }
    }

    sql(statement) {
        return this.psql(this.database, statement);
    }

    // Runs `llmpool ARGS --config F` to completion; returns stdout.
    async cli(args) {
        try {
            const { stdout } = await execFileAsync(this.llmpoolBin, [...args, '--config', this.configPath],
                { env: this.env(), timeout: 60_000 });
            return stdout;
        } catch (error) {
            throw new Error(`llmpool ${args.join(' ')} failed (exit ${error.code}): ${error.stderr ?? error.message}`);
        }
    }

    // Starts llmpool-mock-openai (flags: tests/mock/MockOpenAiMain.cpp, e.g. ['--status', '500']).
    async startMock({ name = `mock${this.mocks.length + 1}`, apiKey, args = [] } = {}) {
        apiKey ??= `sk-upstream-${name}-${randomBytes(6).toString('hex')}`;
        const child = new Child(`mock-${name}`, this.mockBin,
            ['--port', '0', '--threads', '1', '--api-key', apiKey, '--name', name, '--die-with-parent', ...args],
            { env: childEnv(), logDir: this.logDir });
        this.children.push(child);
        const m = await child.waitForLine(/listening on (http:\/\/127\.0\.0\.1:\d+)/, 10_000);
        const mock = new Mock(child, m[1], name, apiKey);
        this.mocks.push(mock);
        return mock;
    }

    async startGateway() {
        const child = new Child('gateway', this.llmpoolBin,
            ['serve', '--config', this.configPath, '--bind', '127.0.0.1:0'],
            { env: this.env(), logDir: this.logDir, pdeathsig: true });
        this.children.push(child);
        this.gateway = child;
        const m = await child.waitForLine(/llmpool: listening on (http:\/\/127\.0\.0\.1:\d+)/, 20_000);
        this.url = m[1];
        await waitFor('the gateway to be ready', async () => (await fetch(`${this.url}/readyz`)).ok);
        return this.url;
    }

    // Everything the gateway printed so far (its log file).
    gatewayLog() {
        const path = join(this.logDir, 'gateway.log');
        return existsSync(path) ? readFileSync(path, 'utf8') : '';
    }

    // SPEC §3: secrets never appear in logs. Call after stop(), when the log is complete.
    assertLogHasNoSecrets(assert) {
        const log = this.gatewayLog();
        assert.ok(log.includes('listening on'), 'the gateway log was captured');
        for (const secret of this.secrets) {
            assert.ok(!log.includes(secret), `a secret (${secret.slice(0, 8)}…) appears in the gateway log`);
        }
    }

    // Inserts catalog rows in one transaction (one psql run: seeding row by row costs a process
    // and a login each). Models name their upstream by name. Returns { upstreamName: id }.
    //   upstreams: [{ name, kind = 'openai', apiBase, apiKey, weight = 1, enabled = true, extra = {} }]
    //   models:    [{ name, upstream, upstreamModel = name, capabilities = ALL_CAPABILITIES,
    //                 weight = 1, enabled = true, inputPrice = 2.5, outputPrice = 10 }]
    // Then announce the change: waitForModels() does, or catalogChanged().
    async seed({ upstreams = [], models = [] }) {
        const statements = [];
        for (const u of upstreams) {
            if (u.apiKey) this.secrets.add(u.apiKey);
            const [stored, format] = this.sealKey(u.apiKey ?? '');
            statements.push(
                'INSERT INTO upstreams (name, kind, api_base, api_key_encrypted, api_key_format, weight, enabled, extra) '
                + `VALUES (${sqlString(u.name)}, ${sqlString(u.kind ?? 'openai')}, ${sqlString(u.apiBase)}, `
                + `${sqlString(stored)}, ${sqlString(format)}, ${u.weight ?? 1}, ${u.enabled ?? true}, `
                + `${sqlString(JSON.stringify(u.extra ?? {}))}::jsonb);`);
        }
        for (const m of models) {
            statements.push(
                'INSERT INTO models (name, upstream_id, upstream_model, capabilities, weight, enabled, '
                + 'input_price_per_1m, output_price_per_1m) '
                + `VALUES (${sqlString(m.name)}, (SELECT id FROM upstreams WHERE name = ${sqlString(m.upstream)}), `
                + `${sqlString(m.upstreamModel ?? m.name)}, ${sqlArray(m.capabilities ?? ALL_CAPABILITIES)}, `
                + `${m.weight ?? 1}, ${m.enabled ?? true}, ${m.inputPrice ?? 2.5}, ${m.outputPrice ?? 10});`);
        }
        statements.push('SELECT name || \'=\' || id FROM upstreams;');
        const out = await this.sql(`BEGIN; ${statements.join(' ')} COMMIT;`);
        return Object.fromEntries(out.split('\n').filter(Boolean).map((line) => {
            const at = line.lastIndexOf('=');
            return [line.slice(0, at), Number(line.slice(at + 1))];
        }));
    }

    // An upstream key as the gateway stores it (gateway/security/SecretBox.h): plaintext, or
    // base64(12-byte nonce ‖ AES-256-GCM ciphertext ‖ 16-byte tag) under the configured key.
    sealKey(plaintext) {
        if (!this.encryptionKey || !plaintext) return [plaintext, 'plain'];
        const nonce = randomBytes(12);
        const cipher = createCipheriv('aes-256-gcm', this.encryptionKey, nonce);
        const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
        return [Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64'), 'aes-256-gcm'];
    }

    // Creates a user whose wallet holds `cash` (a decimal string), deposited the way the admin API
    // does it: a ledger entry and the wallet in one transaction, so `billing reconcile` agrees.
    async createUser(name, { cash = '1000' } = {}) {
        await this.cli(['admin', 'create-user', '--name', name]);
        if (cash !== '0') await this.deposit(name, cash);
    }

    async deposit(name, amount) {
        await this.sql(`BEGIN; UPDATE wallets SET cash = cash + ${amount} `
            + `WHERE user_id = (SELECT id FROM users WHERE name = ${sqlString(name)}); `
            + 'INSERT INTO ledger_entries (user_id, kind, amount, cash_after, credit_limit_after, debt_after, '
            + `unique_request_id, note) SELECT user_id, 'deposit', ${amount}, cash, credit_limit, debt, `
            + `${sqlString(`seed-${randomBytes(6).toString('hex')}`)}, 'test seed' FROM wallets `
            + `WHERE user_id = (SELECT id FROM users WHERE name = ${sqlString(name)}); COMMIT;`);
    }

    // A redis-server of this stack's own, on a fixed port so a restart keeps the same URL; its
    // append-only file makes a restart keep the usage stream (as production must).
    async startRedis() {
        const dir = join(this.dir, 'redis');
        mkdirSync(dir, { recursive: true });
        const child = new Child('redis', 'redis-server', [
            '--port', String(this.redisPort), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes',
            '--appendfsync', 'always', '--save', '', '--protected-mode', 'no',
        ], { env: childEnv(), logDir: this.logDir, pdeathsig: true });
        this.children.push(child);
        this.redis = child;
        await child.waitForLine(/Ready to accept connections/, 10_000);
    }

    async stopRedis() {
        await this.redis.stop();
    }

    // Restarts the private PostgreSQL (fast shutdown: every session is cut, as in a real restart),
    // on the same port and data directory; resolves once it accepts logins again.
    async restartPostgres() {
        // The same server on the same port and data, as llmpool-test-services started it.
        await execFileAsync(this.servicesBin, ['restart-postgres', this.servicesDir], { timeout: 120_000 });
        this.services = readServicesFile(join(this.servicesDir, 'services.env'));
        await waitFor('PostgreSQL to accept logins', async () => (await this.psql('postgres', 'SELECT 1')) === '1',
            { timeoutMs: 30_000, intervalMs: 100 });
    }

    // SPEC §5's promise, checked: every request in `ids` (responses the client received whole) has
    // one usage event and one spend entry; no event is stored twice; what `userId` was charged is
    // what its events cost; `llmpool billing reconcile` finds no drift.
    async assertBilledOnce(assert, ids, userId) {
        const list = ids.map(sqlString).join(',');
        await waitFor('every completed request to be billed', async () =>
            Number(await this.sql(`SELECT count(*) FROM usage_events WHERE request_id IN (${list})`)) === ids.length,
        { timeoutMs: 40_000, intervalMs: 250 });
        const spends = Number(await this.sql(
            `SELECT count(*) FROM ledger_entries WHERE kind = 'spend' AND unique_request_id IN (${list})`));
        assert.equal(spends, ids.length, 'one spend entry per completed request');
        const [events, eventCost] = (await this.sql(
            `SELECT count(*), coalesce(sum(cost), 0) FROM usage_events WHERE user_id = ${userId}`)).split('|');
        const [entries, charged] = (await this.sql(
            `SELECT count(*), coalesce(sum(amount), 0) FROM ledger_entries WHERE user_id = ${userId} AND kind = 'spend'`)).split('|');
        const duplicates = Number(await this.sql(
            'SELECT count(*) FROM (SELECT request_id FROM usage_events GROUP BY request_id HAVING count(*) > 1) d'));
        assert.equal(duplicates, 0, 'no usage event is stored twice');
        assert.equal(charged, eventCost, 'charged = Σ event cost');
        assert.ok(Number(entries) <= Number(events));
        assert.match(await this.cli(['billing', 'reconcile']), /ok/i);
    }

    // `llmpool worker` as its own process (use with worker: { inProcess: false }).
    async startWorker({ concurrency = 2 } = {}) {
        const child = new Child(`worker-${this.children.length}`, this.llmpoolBin,
            ['worker', '--config', this.configPath, '--concurrency', String(concurrency)],
            { env: this.env(), logDir: this.logDir, pdeathsig: true });
        this.children.push(child);
        await child.waitForLine(/usage worker running/, 10_000);
        return child;
    }

    // The gateway killed with SIGKILL (a crash), then started again on a new port.
    async crashGateway() {
        await this.gateway.kill();
    }

    // One command to the private Redis; resolves with the first line of the reply.
    async redisCall(args) {
        return redisCommand({ REDIS_HOST: '127.0.0.1', REDIS_PORT: this.redisPort }, args);
    }

    // Creates the user when needed and a key for it; returns the plaintext key.
    async createKey(user, { keyName = `key-${randomBytes(3).toString('hex')}`, allowedModels } = {}) {
        if (!(await this.sql(`SELECT 1 FROM users WHERE name = ${sqlString(user)}`))) await this.createUser(user);
        const key = (await this.cli(['admin', 'create-api-key', user, '--name', keyName])).trim();
        if (!/^sk-lp-\S+$/.test(key)) throw new Error(`create-api-key printed ${JSON.stringify(key)}`);
        this.secrets.add(key);
        if (allowedModels) {
            // Before the key's first use, so no cache holds the old row.
            await this.sql(`UPDATE api_keys SET allowed_models = ${sqlArray(allowedModels)} `
                + `WHERE name = ${sqlString(keyName)}`);
        }
        return key;
    }

    // Announces a catalog change the way the admin API does (SPEC §9: every instance within 1 s):
    // PUBLISH llmpool:invalidate catalog. Rows written with psql are not announced otherwise, and
    // with the channel live the gateway's own reload is only a slow safety net.
    async catalogChanged() {
        if (this.privateRedis) await this.redisCall(['PUBLISH', 'llmpool:invalidate', 'catalog']);
        else await redisCommand(this.services, ['PUBLISH', 'llmpool:invalidate', 'catalog']);
    }

    // Announces the change and waits until GET /v1/models with `key` lists every name in `names`.
    async waitForModels(key, names, timeoutMs = 10_000) {
        let announcedAt = 0;
        await waitFor(`the catalog to offer ${names.join(', ')}`, async () => {
            if (Date.now() - announcedAt > 500) { // again, in case the subscriber was reconnecting
                announcedAt = Date.now();
                await this.catalogChanged();
            }
            const response = await fetch(`${this.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
            if (!response.ok) return false;
            const ids = new Set((await response.json()).data.map((m) => m.id));
            return names.every((n) => ids.has(n));
        }, { timeoutMs, intervalMs: 50 });
    }

    client(key, { prefix = '/v1', ...options } = {}) {
        return new OpenAI({ apiKey: key, baseURL: `${this.url}${prefix}`, maxRetries: 0, timeout: 20_000, ...options });
    }

    // Stops everything (gateway first, so no request is in flight to a stopped mock), drops the
    // database. Safe to call twice and after a failed start. Returns the gateway's exit.
    async stop() {
        let gatewayExit = null;
        if (this.gateway) gatewayExit = await this.gateway.stop();
        await Promise.all(this.children.map((c) => c.stop()));
        if (this.databaseCreated) {
            this.databaseCreated = false;
            await this.psql('postgres', `DROP DATABASE IF EXISTS ${this.database} WITH (FORCE)`).catch(() => {});
        }
        if (this.servicesDir) {
            await execFileAsync(this.servicesBin, ['stop', this.servicesDir], { timeout: 60_000 }).catch(() => {});
            this.servicesDir = null;
        }
        if (this.dir) rmSync(this.dir, { recursive: true, force: true });
        return gatewayExit;
    }
}

export function freePort() {
    return new Promise((resolve, reject) => {
        const server = createServer();
        server.unref();
        server.on('error', reject);
        server.listen(0, '127.0.0.1', () => {
            const { port } = server.address();
            server.close(() => resolve(port));
        });
    });
}

export const ALL_CAPABILITIES = ['chat', 'completions', 'embeddings', 'images', 'speech', 'transcriptions', 'responses'];

// One command over a fresh connection to the fixture's Redis (RESP, AUTH first); resolves with the
// reply line.
function redisCommand(services, args, timeoutMs = 5_000) {
    const encode = (parts) => `*${parts.length}\r\n${parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join('')}`;
    const commands = [];
    if (services.REDIS_PASSWORD) commands.push(['AUTH', services.REDIS_PASSWORD]);
    commands.push(args.map(String));
    return new Promise((resolve, reject) => {
        const socket = connect({ host: services.REDIS_HOST ?? '127.0.0.1', port: Number(services.REDIS_PORT) });
        let buffer = '';
        const lines = [];
        const timer = setTimeout(() => { socket.destroy(); reject(new Error(`redis ${args[0]}: timed out`)); }, timeoutMs);
        socket.setEncoding('utf8');
        socket.on('connect', () => socket.write(commands.map(encode).join('')));
        socket.on('data', (text) => {
            buffer += text;
            let at;
            while ((at = buffer.indexOf('\r\n')) >= 0) {
                lines.push(buffer.slice(0, at));
                buffer = buffer.slice(at + 2);
            }
            if (lines.length >= commands.length) {
                clearTimeout(timer);
                socket.end();
                const bad = lines.find((l) => l.startsWith('-'));
                if (bad) reject(new Error(`redis ${args[0]}: ${bad}`));
                else resolve(lines[lines.length - 1]);
            }
        });
        socket.on('error', (error) => { clearTimeout(timer); reject(error); });
    });
}

function hashString(s) {
    let h = 0;
    for (const c of s) h = (h * 31 + c.codePointAt(0)) >>> 0;
    return h;
}

// ---------------------------------------------------------------------------------------------
// assertions shared by the test files
// ---------------------------------------------------------------------------------------------

// OpenAI's error shape, exactly: {"error":{"message","type","param","code"}}.
export function assertErrorShape(assert, body, { type, code } = {}) {
    assert.ok(body && typeof body === 'object', `error body is an object: ${JSON.stringify(body)}`);
    assert.deepEqual(Object.keys(body), ['error'], `only "error" at the top: ${JSON.stringify(body)}`);
    const e = body.error;
    assert.deepEqual(Object.keys(e).sort(), ['code', 'message', 'param', 'type'], `error fields: ${JSON.stringify(body)}`);
    assert.equal(typeof e.message, 'string');
    assert.ok(e.message.length > 0);
    assert.equal(typeof e.type, 'string');
    assert.ok(e.param === null || typeof e.param === 'string');
    assert.ok(e.code === null || typeof e.code === 'string');
    if (type !== undefined) assert.equal(e.type, type);
    if (code !== undefined) assert.equal(e.code, code);
}

// Reads a whole SSE body (fetch Response) into its `data:` payloads.
export async function readSse(response) {
    const text = await response.text();
    return text.split(/\r?\n\r?\n/).filter((block) => block.trim()).map((block) =>
        block.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n'));
}
