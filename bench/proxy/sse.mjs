// N concurrent SSE chat streams against one URL; measures how late each chunk arrives relative to
// the one before it (the mock sends CHUNKS chunks INTERVAL ms apart) and whether every stream
// completed. Prints one JSON line. Node's own http client, no SDK: the client must cost little.
//   node sse.mjs URL KEY MODEL STREAMS CHUNKS INTERVAL_MS
import http from 'node:http';

const [url, key, model, streamsArg, chunksArg, intervalArg] = process.argv.slice(2);
const streams = Number(streamsArg), chunks = Number(chunksArg), interval = Number(intervalArg);
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
const body = JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'hi' }] });
const gaps = [];
let completed = 0, failed = 0;

function one() {
  return new Promise((resolve) => {
    const req = http.request(url, {
      method: 'POST', agent,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`,
                 'x-mock-chunks': String(chunks), 'x-mock-interval-ms': String(interval) },
    }, (res) => {
      let last = 0, events = 0, buf = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        buf += d;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const ev = buf.slice(0, i); buf = buf.slice(i + 2);
          const now = performance.now();
          if (events > 0 && !ev.includes('[DONE]')) gaps.push(now - last);
          last = now; events++;
        }
      });
      res.on('end', () => { (res.statusCode === 200 && events >= chunks) ? completed++ : failed++; resolve(); });
      res.on('error', () => { failed++; resolve(); });
    });
    req.on('error', () => { failed++; resolve(); });
    req.end(body);
  });
}

const t0 = performance.now();
await Promise.all(Array.from({ length: streams }, one));
const wall = performance.now() - t0;
gaps.sort((a, b) => a - b);
const q = (p) => gaps.length ? gaps[Math.min(gaps.length - 1, Math.floor(p * gaps.length))] : 0;
console.log(JSON.stringify({ streams, completed, failed, wall_ms: Math.round(wall),
  gap_p50_ms: +q(0.5).toFixed(2), gap_p99_ms: +q(0.99).toFixed(2), gap_max_ms: +q(1).toFixed(2) }));
