#include "MockState.h"

#include "MockWire.h"

#include <QJsonArray>

namespace llmpool::test {

namespace {
constexpr size_t kRecentRequests = 32;
}

std::shared_ptr<const MockSnapshot> MockSnapshot::make(MockSettings settings)
{
    auto s = std::make_shared<MockSnapshot>();
    s->settings = std::move(settings);
    s->modelSet = QSet<QString>(s->settings.models.cbegin(), s->settings.models.cend());
    s->modelsBody = MockWire::modelsList(s->settings.models);
    s->chatTail = MockWire::chatTail(s->settings.faults);
    s->completionTail = MockWire::completionTail(s->settings.faults);
    // MP3-looking bytes: an ID3 tag header first, then frame-sync words. One shared buffer serves
    // every chunk of every speech response.
    s->audioChunk = QByteArray(s->settings.audioChunkBytes, '\0');
    for (int i = 0; i + 1 < s->audioChunk.size(); i += 2) {
        s->audioChunk[i] = char(0xff);
        s->audioChunk[i + 1] = char(0xfb);
    }
    s->audioFirstChunk = s->audioChunk;
    const char id3[] = {'I', 'D', '3', 4, 0, 0, 0, 0, 0, 0};
    for (int i = 0; i < int(sizeof(id3)) && i < s->audioFirstChunk.size(); ++i)
        s->audioFirstChunk[i] = id3[i];
    return s;
}

MockState::MockState(MockSettings initial, QList<QByteArray> apiKeys, QByteArray instanceName)
    : m_initial(std::move(initial)), m_apiKeys(std::move(apiKeys)), m_name(std::move(instanceName))
{
    m_snapshot = MockSnapshot::make(m_initial);
    m_failRemaining = m_initial.failRequests;
}

std::shared_ptr<const MockSnapshot> MockState::snapshot() const
{
    const std::lock_guard lock(m_settingsMutex);
    return m_snapshot;
}

Status MockState::configure(const QJsonObject &object)
{
    const std::lock_guard lock(m_settingsMutex);
    MockSettings next = m_snapshot->settings;
    if (Status s = next.applyJson(object); !s)
        return s;
    // A new status fault without fail_requests fails everything until changed again.
    if (object.contains(QLatin1String("status")) && !object.contains(QLatin1String("fail_requests")))
        next.failRequests = -1;
    m_failRemaining = next.failRequests;
    m_snapshot = MockSnapshot::make(std::move(next));
    m_generation.fetch_add(1, std::memory_order_acq_rel);
    return Ok{};
}

void MockState::reset()
{
    {
        const std::lock_guard lock(m_settingsMutex);
        m_snapshot = MockSnapshot::make(m_initial);
        m_failRemaining = m_initial.failRequests;
        m_generation.fetch_add(1, std::memory_order_acq_rel);
    }
    resetStats();
}

void MockState::resetStats()
{
    const std::lock_guard lock(m_statsMutex);
    m_requestsTotal = 0;
    m_byPath.clear();
    m_last.reset();
    m_lastModel.clear();
    m_recent.clear();
    for (auto &s : m_statuses)
        s = 0;
    // Streams and hangs in progress stay counted as active; the totals start again.
    completedStreams = 0;
    abortedStreams = 0;
    droppedStreams = 0;
    authFailures = 0;
}

bool MockState::authorized(const gateway::HttpRequest &request) const
{
    if (m_apiKeys.isEmpty())
        return true;
    QByteArrayView presented = request.header("api-key");
    const QByteArrayView auth = request.header("authorization");
    if (auth.size() > 7 && gateway::asciiEqualsIgnoreCase(auth.first(7), "Bearer "))
        presented = auth.sliced(7).trimmed();
    if (presented.isEmpty())
        return false;
    for (const QByteArray &key : m_apiKeys) {
        if (presented == key)
            return true;
    }
    return false;
}

bool MockState::consumeConfiguredFailure()
{
    int remaining = m_failRemaining.load(std::memory_order_relaxed);
    while (true) {
        if (remaining < 0)
            return true; // unlimited
        if (remaining == 0)
            return false;
        if (m_failRemaining.compare_exchange_weak(remaining, remaining - 1, std::memory_order_relaxed))
            return true;
    }
}

void MockState::recordRequest(const gateway::HttpRequest &request, QByteArrayView rawModel)
{
    const std::lock_guard lock(m_statsMutex);
    ++m_requestsTotal;
    ++m_byPath[request.path()];
    // The request object shares its buffers, so keeping it costs reference counts, not copies.
    m_last = request;
    m_lastModel = rawModel.toByteArray();
    if (m_recent.size() == kRecentRequests)
        m_recent.pop_front();
    m_recent.push_back({request.method().toByteArray(), request.path(), m_lastModel});
}

void MockState::recordStatus(int status)
{
    if (status >= 0 && status < int(m_statuses.size()))
        m_statuses[size_t(status)].fetch_add(1, std::memory_order_relaxed);
}

QJsonObject MockState::statsJson() const
{
    QJsonObject stats;
    {
        const std::lock_guard lock(m_statsMutex);
        stats.insert(QStringLiteral("requests_total"), m_requestsTotal);
        QJsonObject byPath;
        for (auto it = m_byPath.cbegin(); it != m_byPath.cend(); ++it)
            byPath.insert(QString::fromUtf8(it.key()), it.value());
        stats.insert(QStringLiteral("requests"), byPath);
        QJsonArray recent;
        for (const Recent &r : m_recent) {
            recent.append(QJsonObject{{QStringLiteral("method"), QString::fromLatin1(r.method)},
                                      {QStringLiteral("path"), QString::fromUtf8(r.path)},
                                      {QStringLiteral("model"), MockWire::decodeRaw(r.model)}});
        }
        stats.insert(QStringLiteral("recent"), recent);
        if (m_last) {
            const gateway::HttpRequest &r = *m_last;
            QJsonObject headers;
            for (qsizetype i = 0; i < r.headerCount(); ++i) {
                const QString name = QString::fromLatin1(r.headerName(i)).toLower();
                const QString value = QString::fromUtf8(r.headerValue(i));
                headers.insert(name, headers.contains(name)
                                         ? headers.value(name).toString() + QStringLiteral(", ") + value
                                         : value);
            }
            stats.insert(QStringLiteral("last_request"),
                         QJsonObject{{QStringLiteral("method"), QString::fromLatin1(r.method())},
                                     {QStringLiteral("path"), QString::fromUtf8(r.path())},
                                     {QStringLiteral("target"), QString::fromUtf8(r.target())},
                                     {QStringLiteral("headers"), headers},
                                     {QStringLiteral("body"), QString::fromUtf8(r.body())},
                                     {QStringLiteral("body_bytes"), r.body().size()},
                                     {QStringLiteral("model"), MockWire::decodeRaw(m_lastModel)}});
        } else {
            stats.insert(QStringLiteral("last_request"), QJsonValue::Null);
        }
    }
    QJsonObject statuses;
    for (size_t i = 0; i < m_statuses.size(); ++i) {
        if (const qint64 n = m_statuses[i].load(std::memory_order_relaxed))
            statuses.insert(QString::number(i), n);
    }
    stats.insert(QStringLiteral("statuses"), statuses);
    stats.insert(QStringLiteral("active_streams"), activeStreams.load());
    stats.insert(QStringLiteral("completed_streams"), completedStreams.load());
    stats.insert(QStringLiteral("aborted_streams"), abortedStreams.load());
    stats.insert(QStringLiteral("dropped_streams"), droppedStreams.load());
    stats.insert(QStringLiteral("hanging"), hanging.load());
    stats.insert(QStringLiteral("auth_failures"), authFailures.load());
    stats.insert(QStringLiteral("fail_requests_remaining"), m_failRemaining.load());
    if (!m_name.isEmpty())
        stats.insert(QStringLiteral("instance"), QString::fromUtf8(m_name));
    return stats;
}

} // namespace llmpool::test
