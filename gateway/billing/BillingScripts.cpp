#include "billing/BillingScripts.h"

#include <QCryptographicHash>

namespace llmpool::gateway::billing {

namespace {

// Exact integer arithmetic for Lua 5.1, whose numbers are doubles. A value is a plain number while
// its magnitude is below 2^52 (4.5 million currency units in nanos): adding two of them is exact.
// Beyond that it is {hi, lo} meaning hi * 10^9 + lo with 0 <= lo < 10^9 (hi exact up to 2^53, i.e.
// ~9 * 10^15 currency units). Nearly every amount is small, and plain numbers cost a fraction of
// the table form (bench/proxy: the two-limb form was a third of a script's Redis time).
// P parses decimal integer text, T prints, A adds, N negates, S subtracts, C compares.
// PUT(key, fields, current values, deltas) writes totals fields in one HSET (and one HDEL for those
// that reach zero); MOVE(key, {field = delta}) reads them first. RELEASE(hash, request ids, prefix,
// total, totals) drops entries ("<amount> <key id>[ <expiry>]") of a reservation or pending hash and
// takes their amounts off the user's total and the key's prefix<key id> field. Each redis.call costs
// about a microsecond of Redis time, so the scripts make as few as they can.
constexpr char kLibrary[] = R"LUA(
local B = 1000000000
local SMALL = 4503599627370496
local function LIMB(a)
  if type(a) == 'table' then return a end
  local hi = math.floor(a / B)
  local lo = a - hi * B
  if lo < 0 then hi = hi - 1; lo = lo + B elseif lo >= B then hi = hi + 1; lo = lo - B end
  return {hi, lo}
end
local function NORM(a)
  if a[1] > -4000000 and a[1] < 4000000 then return a[1] * B + a[2] end
  return a
end
local function P(s)
  if not s or s == '' then return 0 end
  local n = string.len(s)
  if n <= 15 then return tonumber(s) end
  local neg = false
  if string.sub(s, 1, 1) == '-' then neg = true; s = string.sub(s, 2); n = n - 1 end
  local hi, lo = tonumber(string.sub(s, 1, n - 9)), tonumber(string.sub(s, n - 8))
  if neg then
    if lo == 0 then return NORM({-hi, 0}) end
    return NORM({-hi - 1, B - lo})
  end
  return NORM({hi, lo})
end
local function N(a)
  if type(a) == 'number' then return -a end
  if a[2] == 0 then return {-a[1], 0} end
  return {-a[1] - 1, B - a[2]}
end
local function A(a, b)
  if type(a) == 'number' and type(b) == 'number' then
    local r = a + b
    if r > -SMALL and r < SMALL then return r end
  end
  local x, y = LIMB(a), LIMB(b)
  local hi, lo = x[1] + y[1], x[2] + y[2]
  if lo >= B then lo = lo - B; hi = hi + 1 end
  return NORM({hi, lo})
end
local function S(a, b) return A(a, N(b)) end
local function C(a, b)
  if type(a) == 'number' and type(b) == 'number' then
    if a < b then return -1 elseif a > b then return 1 end
    return 0
  end
  local x, y = LIMB(a), LIMB(b)
  if x[1] ~= y[1] then if x[1] < y[1] then return -1 end return 1 end
  if x[2] ~= y[2] then if x[2] < y[2] then return -1 end return 1 end
  return 0
end
local function T(a)
  if type(a) == 'number' then return string.format('%d', a) end
  if a[1] < 0 then return '-' .. T(N(a)) end
  if a[1] == 0 then return string.format('%d', a[2]) end
  return string.format('%d%09d', a[1], a[2])
end
local function PUT(key, fields, cur, deltas)
  local set, del = {}, {}
  for i = 1, #fields do
    local v = A(P(cur[i]), deltas[i])
    if v == 0 then del[#del + 1] = fields[i] else set[#set + 1] = fields[i]; set[#set + 1] = T(v) end
  end
  if #set > 0 then redis.call('HSET', key, unpack(set)) end
  if #del > 0 then redis.call('HDEL', key, unpack(del)) end
end
local function ADD(map, field, delta) if map[field] then map[field] = A(map[field], delta) else map[field] = delta end end
local function MOVE(key, map)
  local fields, deltas = {}, {}
  for f, d in pairs(map) do fields[#fields + 1] = f; deltas[#deltas + 1] = d end
  if #fields > 0 then PUT(key, fields, redis.call('HMGET', key, unpack(fields)), deltas) end
end
local function ENTRY(e) return string.match(e, '^(%S+) (%S+)') end
local function RELEASE(hash, rids, prefix, total, totals)
  for c = 1, #rids, 500 do
    local chunk = {unpack(rids, c, math.min(c + 499, #rids))}
    local es = redis.call('HMGET', hash, unpack(chunk))
    local map, found = {}, {}
    for i = 1, #chunk do
      if es[i] then
        local amt, kid = ENTRY(es[i])
        local n = N(P(amt))
        ADD(map, total, n); ADD(map, prefix .. kid, n)
        found[#found + 1] = chunk[i]
      end
    end
    if #found > 0 then
      redis.call('HDEL', hash, unpack(found))
      MOVE(totals, map)
    end
  end
end
)LUA";

// KEYS: wallet, reservations, totals, keySpend
// ARGV: request id, amount, key id, now ms, expiry ms, key spend limit ('' = none)
// -> {1, available after} admitted (also when already reserved), {0, available} short,
//    {-2, room left under the key's cap} over the key's cap, {-1, ''} wallet (or key spend) not
//    loaded: load it (sync) and call again.
// A reservation is "<amount> <key id> <expiry ms>" in the reservations hash. One whose gateway died
// holds its amount until a request is refused for want of it: then the hash (requests in flight
// only) is searched for expired ones, at most once a second per user ('sw' in the wallet hash).
// Entries of gateways from before that format ("<amount> <key id>") have their expiry in the
// sorted set llmpool:{uU}:x those versions kept; it is read there (mixed versions while upgrading).
constexpr char kAdmit[] = R"LUA(
local w = redis.call('HMGET', KEYS[1], 'bal', 'sw')
local bal = w[1]
if not bal then return {-1, ''} end
local limit = ARGV[6]
local spent = nil
if limit ~= '' then
  spent = redis.call('HGET', KEYS[4], 'spent')
  if not spent then return {-1, ''} end
end
-- Claimed first (one call fewer on the way that matters); taken back when refused.
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2] .. ' ' .. ARGV[3] .. ' ' .. ARGV[5]) == 0 then return {1, ''} end
local kr = 'kr' .. ARGV[3]
local amt = P(ARGV[2])
local now = tonumber(ARGV[4])
local swept = w[2] and now - tonumber(w[2]) < 1000
while true do
  local t = redis.call('HMGET', KEYS[3], 'res', 'pend', kr, 'kp' .. ARGV[3])
  local avail = S(S(P(bal), P(t[1])), P(t[2]))
  local verdict = nil
  if C(amt, avail) > 0 then
    verdict = {0, T(avail)}
  elseif limit ~= '' then
    local room = S(S(S(P(limit), P(spent)), P(t[3])), P(t[4]))
    if C(amt, room) > 0 then verdict = {-2, T(room)} end
  end
  if not verdict then
    PUT(KEYS[3], {'res', kr}, {t[1], t[3]}, {amt, amt})
    return {1, T(S(avail, amt))}
  end
  if swept then
    redis.call('HDEL', KEYS[2], ARGV[1])
    return verdict
  end
  swept = true
  redis.call('HSET', KEYS[1], 'sw', ARGV[4])
  local all = redis.call('HGETALL', KEYS[2])
  local dead, deadOlder = {}, {}
  local x = string.sub(KEYS[2], 1, -2) .. 'x'
  for i = 1, #all, 2 do
    local _, _, e = string.match(all[i + 1], '^(%S+) (%S+) ?(%S*)')
    local exp = tonumber(e)
    local older = not exp
    if older then
      -- Written by an older gateway (a rolling upgrade): its expiry is in that version's sorted set.
      exp = tonumber(redis.call('ZSCORE', x, all[i])) or 0
    end
    -- (this request's own entry is skipped: its amount is not in the totals)
    if exp <= now and all[i] ~= ARGV[1] then
      dead[#dead + 1] = all[i]
      if older then deadOlder[#deadOlder + 1] = all[i] end
    end
  end
  if #dead == 0 then
    redis.call('HDEL', KEYS[2], ARGV[1])
    return verdict
  end
  RELEASE(KEYS[2], dead, 'kr', 'res', KEYS[3])
  for c = 1, #deadOlder, 500 do redis.call('ZREM', x, unpack(deadOlder, c, math.min(c + 499, #deadOlder))) end
end
)LUA";

// KEYS: usage stream, then per user of the batch: reservations, pending, totals
// ARGV: per event six values: the user's slot u (its keys are KEYS[3u-1], KEYS[3u], KEYS[3u+1]),
//       request id, cost, key id, event JSON, lease ('' = none)
// -> the stream entry ids, one per event, in order
// A request admitted against a lease (a reservation held for many requests, see LeaseBook) has no
// reservation of its own: its cost is taken off the lease's entry instead (never below zero), once —
// only when its pending entry is new; each lease's entry is read and written once per call.
// Several events (of any users) in one call: the totals of each user are read and written once.
// (Keys of several users and the stream in one script: not for Redis Cluster, like the stream
// key already was.) An event finished twice (a replay) adds its pending once; its second stream
// entry is dropped by request id in PostgreSQL.
constexpr char kFinish[] = R"LUA(
local moves, ids, leases, held = {}, {}, {}, {}
for a = 1, #ARGV, 6 do
  local u = tonumber(ARGV[a])
  local rid, cost, kid, lease = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 5]
  local map = moves[u]
  if not map then map = {}; moves[u] = map end
  if lease == '' then
    local e = redis.call('HGET', KEYS[3 * u - 1], rid)
    if e then
      local amt, rk = ENTRY(e)
      local n = N(P(amt))
      ADD(map, 'res', n); ADD(map, 'kr' .. rk, n)
      redis.call('HDEL', KEYS[3 * u - 1], rid)
    end
  end
  ids[#ids + 1] = redis.call('XADD', KEYS[1], '*', 'e', ARGV[a + 4])
  local c = P(cost)
  if C(c, 0) > 0 and redis.call('HSETNX', KEYS[3 * u], rid, cost .. ' ' .. kid) == 1 then
    ADD(map, 'pend', c); ADD(map, 'kp' .. kid, c)
    if lease ~= '' then
      local h = held[u .. ' ' .. lease]
      if not h then h = {u, lease, 0}; held[u .. ' ' .. lease] = h; leases[#leases + 1] = h end
      h[3] = A(h[3], c)
    end
  end
end
-- Each lease named: read and written once for all its events of this call.
for i = 1, #leases do
  local u, lease, c = leases[i][1], leases[i][2], leases[i][3]
  local le = redis.call('HGET', KEYS[3 * u - 1], lease)
  if le then
    local lamt, lk, lexp = string.match(le, '^(%S+) (%S+) ?(%S*)')
    local left = P(lamt)
    if C(c, left) > 0 then c = left end
    redis.call('HSET', KEYS[3 * u - 1], lease, T(S(left, c)) .. ' ' .. lk .. ' ' .. lexp)
    ADD(moves[u], 'res', N(c)); ADD(moves[u], 'kr' .. lk, N(c))
  end
end
for u, map in pairs(moves) do MOVE(KEYS[3 * u + 1], map) end
return ids
)LUA";

// KEYS: reservations, totals
// ARGV: request id
// Takes back a reservation nobody will use: admission answered after its request had given up
// (deadline) or gone away. Releasing twice, or a reservation already finished, does nothing.
constexpr char kRelease[] = R"LUA(
RELEASE(KEYS[1], {ARGV[1]}, 'kr', 'res', KEYS[2])
return 1
)LUA";

// KEYS: wallet, pending, totals, then one keySpend key per key entry
// ARGV: bal, ver, ttl ms, number of request ids n, n request ids, then per key entry: spent
// (versions are the wallet's). A state older than the stored one is ignored; pending entries of
// the listed requests are dropped either way (PostgreSQL has them).
constexpr char kSync[] = R"LUA(
local ver = tonumber(ARGV[2])
local cur = redis.call('HGET', KEYS[1], 'ver')
if ARGV[1] ~= '' and ((not cur) or ver >= tonumber(cur)) then
  redis.call('HSET', KEYS[1], 'bal', ARGV[1], 'ver', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
local n = tonumber(ARGV[4])
local rids, seen = {}, {}
for i = 1, n do
  local rid = ARGV[4 + i]
  if not seen[rid] then
    seen[rid] = true
    rids[#rids + 1] = rid
  end
end
if #rids > 0 then RELEASE(KEYS[2], rids, 'kp', 'pend', KEYS[3]) end
for j = 4, #KEYS do
  local spent = ARGV[4 + n + (j - 3)]
  local kcur = redis.call('HGET', KEYS[j], 'ver')
  if (not kcur) or ver >= tonumber(kcur) then
    redis.call('HSET', KEYS[j], 'spent', spent, 'ver', ARGV[2])
    redis.call('PEXPIRE', KEYS[j], ARGV[3])
  end
end
return 1
)LUA";

RedisScript makeScript(const char *name, const char *body)
{
    RedisScript script{name, QByteArray(kLibrary) + body, {}};
    script.sha1 = QCryptographicHash::hash(script.source, QCryptographicHash::Sha1).toHex();
    return script;
}

} // namespace

const RedisScript &admitScript()
{
    static const RedisScript script = makeScript("admit", kAdmit);
    return script;
}

const RedisScript &finishScript()
{
    static const RedisScript script = makeScript("finish", kFinish);
    return script;
}

const RedisScript &releaseScript()
{
    static const RedisScript script = makeScript("release", kRelease);
    return script;
}

const RedisScript &syncScript()
{
    static const RedisScript script = makeScript("sync", kSync);
    return script;
}

FinishBatch::FinishBatch(QByteArray stream)
{
    m_keys << std::move(stream);
}

void FinishBatch::add(qint64 userId, QByteArray requestId, QByteArray cost, QByteArray keyId, QByteArray json,
                      QByteArray lease)
{
    int slot = 0;
    for (int i = 0; i < m_users.size(); ++i) {
        if (m_users[i] == userId) {
            slot = i + 1;
            break;
        }
    }
    if (slot == 0) {
        m_users << userId;
        slot = int(m_users.size());
        const UserKeys k = UserKeys::of(userId);
        m_keys << k.reservations << k.pending << k.totals;
    }
    m_args << QByteArray::number(slot) << std::move(requestId) << std::move(cost) << std::move(keyId) << std::move(json)
           << std::move(lease);
}

UserKeys UserKeys::of(qint64 userId)
{
    const QByteArray base = "llmpool:{u" + QByteArray::number(userId) + "}:";
    return UserKeys{base + 'w', base + 'r', base + 'p', base + 's'};
}

QByteArray UserKeys::keySpend(qint64 keyId) const
{
    // Same hash tag as the wallet: "llmpool:{uU}:k<K>".
    QByteArray key = wallet;
    key.chop(1);
    return key + 'k' + QByteArray::number(keyId);
}

Result<Money> moneyFromNanosText(QByteArrayView text)
{
    if (text.isEmpty()) {
        return Money::zero();
    }
    const bool negative = text.front() == '-';
    QByteArray digits = text.sliced(negative ? 1 : 0).toByteArray();
    for (char c : digits) {
        if (c < '0' || c > '9') {
            return Error::internal(QStringLiteral("billing_state_invalid"),
                                   QStringLiteral("Redis holds a malformed amount."));
        }
    }
    if (digits.isEmpty() || digits.size() > 38) {
        return Error::internal(QStringLiteral("billing_state_invalid"),
                               QStringLiteral("Redis holds a malformed amount."));
    }
    digits = digits.rightJustified(10, '0');
    digits.insert(digits.size() - 9, '.');
    return Money::parse(QString::fromLatin1(negative ? "-" + digits : digits));
}

QList<QByteArray> scriptCommand(const RedisScript &script, const QList<QByteArray> &keys,
                                const QList<QByteArray> &args, bool withSource)
{
    QList<QByteArray> command;
    command.reserve(3 + keys.size() + args.size());
    command << (withSource ? QByteArrayLiteral("EVAL") : QByteArrayLiteral("EVALSHA"))
            << (withSource ? script.source : script.sha1) << QByteArray::number(keys.size());
    command << keys << args;
    return command;
}

bool isNoScriptError(QByteArrayView errorText)
{
    return errorText.startsWith("NOSCRIPT");
}

} // namespace llmpool::gateway::billing
