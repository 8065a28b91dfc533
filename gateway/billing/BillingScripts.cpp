#include "billing/BillingScripts.h"

#include <QCryptographicHash>

namespace llmpool::gateway::billing {

namespace {

// Exact integer arithmetic for Lua 5.1, whose numbers are doubles: a value is {hi, lo} meaning
// hi * 10^9 + lo with 0 <= lo < 10^9 (hi is exact up to 2^53, i.e. ~9 * 10^15 currency units).
// P parses decimal integer text, T prints, A adds, N negates, S subtracts, C compares.
// TOT(key, field, delta) adds delta to a totals field and deletes it when it reaches zero.
constexpr char kLibrary[] = R"LUA(
local B = 1000000000
local function P(s)
  if not s or s == '' then return {0, 0} end
  local neg = false
  if string.sub(s, 1, 1) == '-' then neg = true; s = string.sub(s, 2) end
  local n = string.len(s)
  local hi, lo = 0, 0
  if n > 9 then hi = tonumber(string.sub(s, 1, n - 9)); lo = tonumber(string.sub(s, n - 8)) else lo = tonumber(s) end
  if neg then
    if lo == 0 then return {-hi, 0} end
    return {-hi - 1, B - lo}
  end
  return {hi, lo}
end
local function N(a) if a[2] == 0 then return {-a[1], 0} end return {-a[1] - 1, B - a[2]} end
local function A(a, b)
  local hi, lo = a[1] + b[1], a[2] + b[2]
  if lo >= B then lo = lo - B; hi = hi + 1 end
  return {hi, lo}
end
local function S(a, b) return A(a, N(b)) end
local function C(a, b)
  if a[1] ~= b[1] then if a[1] < b[1] then return -1 end return 1 end
  if a[2] ~= b[2] then if a[2] < b[2] then return -1 end return 1 end
  return 0
end
local function T(a)
  if a[1] < 0 then return '-' .. T(N(a)) end
  if a[1] == 0 then return string.format('%d', a[2]) end
  return string.format('%d%09d', a[1], a[2])
end
local function TOT(key, field, delta)
  local v = A(P(redis.call('HGET', key, field)), delta)
  if v[1] == 0 and v[2] == 0 then redis.call('HDEL', key, field) else redis.call('HSET', key, field, T(v)) end
end
local function ENTRY(e) return string.match(e, '^(%S+) (%S+)') end
)LUA";

// KEYS: wallet, reservations, expiries, totals, keySpend
// ARGV: request id, amount, key id, now ms, expiry ms, key spend limit ('' = none)
// -> {1, available after} admitted (also when already reserved), {0, available} short,
//    {-2, room left under the key's cap} over the key's cap, {-1, ''} wallet (or key spend) not
//    loaded: load it (sync) and call again.
constexpr char kAdmit[] = R"LUA(
local bal = redis.call('HGET', KEYS[1], 'bal')
if not bal then return {-1, ''} end
local limit = ARGV[6]
local spent = nil
if limit ~= '' then
  spent = redis.call('HGET', KEYS[5], 'spent')
  if not spent then return {-1, ''} end
end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return {1, ''} end
local dead = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', ARGV[4], 'LIMIT', 0, 100)
for _, rid in ipairs(dead) do
  local e = redis.call('HGET', KEYS[2], rid)
  if e then
    local amt, kid = ENTRY(e)
    TOT(KEYS[4], 'res', N(P(amt)))
    TOT(KEYS[4], 'kr' .. kid, N(P(amt)))
    redis.call('HDEL', KEYS[2], rid)
  end
  redis.call('ZREM', KEYS[3], rid)
end
local t = redis.call('HMGET', KEYS[4], 'res', 'pend', 'kr' .. ARGV[3], 'kp' .. ARGV[3])
local avail = S(S(P(bal), P(t[1])), P(t[2]))
local amt = P(ARGV[2])
if C(amt, avail) > 0 then return {0, T(avail)} end
if limit ~= '' then
  local room = S(S(S(P(limit), P(spent)), P(t[3])), P(t[4]))
  if C(amt, room) > 0 then return {-2, T(room)} end
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. ' ' .. ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[1])
TOT(KEYS[4], 'res', amt)
TOT(KEYS[4], 'kr' .. ARGV[3], amt)
return {1, T(S(avail, amt))}
)LUA";

// KEYS: reservations, expiries, pending, totals, usage stream
// ARGV: request id, cost, key id, event JSON
// -> the stream entry id
constexpr char kFinish[] = R"LUA(
local e = redis.call('HGET', KEYS[1], ARGV[1])
if e then
  local amt, kid = ENTRY(e)
  TOT(KEYS[4], 'res', N(P(amt)))
  TOT(KEYS[4], 'kr' .. kid, N(P(amt)))
  redis.call('HDEL', KEYS[1], ARGV[1])
end
redis.call('ZREM', KEYS[2], ARGV[1])
local id = redis.call('XADD', KEYS[5], '*', 'e', ARGV[4])
local cost = P(ARGV[2])
if C(cost, {0, 0}) > 0 and redis.call('HEXISTS', KEYS[3], ARGV[1]) == 0 then
  redis.call('HSET', KEYS[3], ARGV[1], ARGV[2] .. ' ' .. ARGV[3])
  TOT(KEYS[4], 'pend', cost)
  TOT(KEYS[4], 'kp' .. ARGV[3], cost)
end
return id
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
for i = 1, n do
  local rid = ARGV[4 + i]
  local e = redis.call('HGET', KEYS[2], rid)
  if e then
    local amt, kid = ENTRY(e)
    TOT(KEYS[3], 'pend', N(P(amt)))
    TOT(KEYS[3], 'kp' .. kid, N(P(amt)))
    redis.call('HDEL', KEYS[2], rid)
  end
end
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

const RedisScript &syncScript()
{
    static const RedisScript script = makeScript("sync", kSync);
    return script;
}

UserKeys UserKeys::of(qint64 userId)
{
    const QByteArray base = "llmpool:{u" + QByteArray::number(userId) + "}:";
    return UserKeys{base + 'w', base + 'r', base + 'x', base + 'p', base + 's'};
}

QByteArray UserKeys::keySpend(qint64 keyId) const
{
    // Same hash tag as the wallet: "llmpool:{uU}:k<K>".
    QByteArray key = wallet;
    key.chop(1);
    return key + 'k' + QByteArray::number(keyId);
}

QByteArray nanosText(Money amount)
{
    // Money's canonical text is "<int>.<9 digits>": drop the point to get integer nanos.
    QByteArray text = amount.toString().toLatin1();
    const qsizetype dot = text.indexOf('.');
    if (dot >= 0) {
        text.remove(dot, 1);
    }
    // Strip leading zeros but keep the sign and one digit.
    const bool negative = text.startsWith('-');
    qsizetype first = negative ? 1 : 0;
    qsizetype i = first;
    while (i + 1 < text.size() && text.at(i) == '0') {
        ++i;
    }
    text.remove(first, i - first);
    return text == "-0" ? QByteArray("0") : text;
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
