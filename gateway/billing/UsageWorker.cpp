#include "billing/UsageWorker.h"

#include "Clock.h"
#include "Log.h"
#include "billing/BillingRedis.h"
#include "billing/BillingScripts.h"
#include "storage/Database.h"
#include "storage/RedisSyncClient.h"
#include "storage/BillingRepository.h"
#include "usage/UsageEventJson.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QHash>
#include <QHostInfo>
#include <QMap>

#include <chrono>

namespace llmpool::gateway::billing {

namespace {

constexpr qint64 kMaintainEveryMs = 3'600'000;

struct Entry
{
    QByteArray id;
    QByteArray json; // empty: the entry has no event (deleted meanwhile, or malformed)
    UsageEventJson::Header header;
    bool valid = false;
};

// Parses the entries of an XREADGROUP stream reply element or an XAUTOCLAIM list.
QList<Entry> parseEntries(const RedisReply &list)
{
    QList<Entry> entries;
    if (!list.isArray()) {
        return entries;
    }
    for (const RedisReply &item : list.elements) {
        if (!item.isArray() || item.elements.isEmpty() || !item.elements[0].isString()) {
            continue;
        }
        Entry e;
        e.id = item.elements[0].string;
        if (item.elements.size() > 1 && item.elements[1].isArray()) {
            const auto &fields = item.elements[1].elements;
            for (qsizetype i = 0; i + 1 < fields.size(); i += 2) {
                if (fields[i].string == "e") {
                    e.json = fields[i + 1].string;
                }
            }
        }
        if (!e.json.isEmpty()) {
            auto header = UsageEventJson::header(e.json);
            if (header) {
                e.header = *header;
                e.valid = true;
            }
        }
        entries.append(std::move(e));
    }
    return entries;
}

QByteArray jsonArray(const QList<const Entry *> &entries)
{
    QByteArray out("[");
    for (const Entry *e : entries) {
        if (out.size() > 1) {
            out.append(',');
        }
        out.append(e->json);
    }
    out.append(']');
    return out;
}

} // namespace

UsageWorker::UsageWorker(WorkerOptions options, Database *database)
    : m_options(std::move(options)), m_database(database)
{
    if (m_options.consumerPrefix.isEmpty()) {
        m_options.consumerPrefix =
            QStringLiteral("%1-%2").arg(QHostInfo::localHostName()).arg(QCoreApplication::applicationPid());
    }
}

UsageWorker::~UsageWorker()
{
    stop();
}

WorkerOptions UsageWorker::optionsFrom(const Config &config)
{
    WorkerOptions o;
    o.redisUrl = config.redis.url;
    o.concurrency = config.worker.concurrency;
    o.batchSize = config.worker.batchSize;
    o.claimIdleMs = config.worker.claimIdleMs;
    o.lingerMs = config.worker.lingerMs;
    return o;
}

void UsageWorker::start()
{
    if (m_running.exchange(true)) {
        return;
    }
    for (int i = 0; i < m_options.concurrency; ++i) {
        m_threads.emplace_back([this, i] { run(i); });
    }
    qCInfo(lcUsage).noquote() << "usage worker started:" << m_options.concurrency << "consumers"
                              << m_options.consumerPrefix;
}

void UsageWorker::stop()
{
    if (!m_running.exchange(false)) {
        return;
    }
    for (auto &t : m_threads) {
        t.join();
    }
    m_threads.clear();
}

void UsageWorker::run(int index)
{
    const QByteArray stream(kUsageStream);
    const QByteArray group(kUsageGroup);
    const QByteArray consumer = QStringLiteral("%1-%2").arg(m_options.consumerPrefix).arg(index).toUtf8();
    const QByteArray count = QByteArray::number(m_options.batchSize);
    RedisSyncClient redis(m_options.redisUrl, m_options.blockMs + 5'000);

    bool groupReady = false;
    bool ownPendingFirst = true;
    QElapsedTimer sinceClaim;
    QElapsedTimer sinceMaintain;
    int backoffMs = 0;
    QString lastError;

    auto pause = [this](int ms) {
        QElapsedTimer t;
        t.start();
        while (m_running.load() && t.elapsed() < ms) {
            std::this_thread::sleep_for(std::chrono::milliseconds(std::min<qint64>(50, ms - t.elapsed() + 1)));
        }
    };
    auto failed = [&](const QString &why) {
        m_counters.failures.fetch_add(1, std::memory_order_relaxed);
        if (why != lastError) {
            qCWarning(lcUsage).noquote() << "usage worker" << consumer << "will retry:" << why;
            lastError = why;
        }
        ownPendingFirst = true;
        backoffMs = backoffMs == 0 ? 100 : std::min(backoffMs * 2, 2'000);
        pause(backoffMs);
    };

    while (m_running.load()) {
        if (!groupReady) {
            // From the start of the stream ("0"), so events queued before any worker ever ran count.
            auto created = redis.command({"XGROUP", "CREATE", stream, group, "0", "MKSTREAM"});
            if (!created) {
                failed(created.error().message);
                continue;
            }
            if (created->isError() && !created->string.startsWith("BUSYGROUP")) {
                failed(QString::fromUtf8(created->string));
                continue;
            }
            groupReady = true;
        }
        if (index == 0 && m_options.maintainPartitions &&
            (!sinceMaintain.isValid() || sinceMaintain.elapsed() > kMaintainEveryMs)) {
            sinceMaintain.start();
            auto maintained = m_database->runSync(
                [](QSqlDatabase &db) { return BillingRepository::maintainUsagePartitions(db); }, JobRetry::Idempotent);
            if (!maintained) {
                qCWarning(lcUsage).noquote() << "usage partitions not maintained:" << maintained.error().message;
            }
        }

        QList<Entry> entries;
        if (!sinceClaim.isValid() || sinceClaim.elapsed() > std::max(1'000, m_options.claimIdleMs / 2)) {
            sinceClaim.start();
            auto claimed = redis.command({"XAUTOCLAIM", stream, group, consumer,
                                          QByteArray::number(m_options.claimIdleMs), "0-0", "COUNT", count});
            if (!claimed) {
                failed(claimed.error().message);
                continue;
            }
            if (claimed->isError() && claimed->string.startsWith("NOGROUP")) {
                groupReady = false; // the stream was deleted (Redis flushed or restarted empty)
                continue;
            }
            if (claimed->isArray() && claimed->elements.size() >= 2) {
                entries = parseEntries(claimed->elements[1]);
                if (!entries.isEmpty()) {
                    m_counters.claimed.fetch_add(entries.size(), std::memory_order_relaxed);
                    qCInfo(lcUsage).noquote() << "usage worker" << consumer << "took over" << entries.size()
                                              << "entries of a dead consumer";
                }
            }
        }
        if (entries.isEmpty()) {
            QList<QByteArray> read{"XREADGROUP", "GROUP", group, consumer, "COUNT", count};
            if (!ownPendingFirst) {
                read << "BLOCK" << QByteArray::number(m_options.blockMs);
            }
            read << "STREAMS" << stream << (ownPendingFirst ? QByteArray("0") : QByteArray(">"));
            auto reply = redis.command(read);
            if (!reply) {
                failed(reply.error().message);
                continue;
            }
            if (reply->isError()) {
                if (reply->string.startsWith("NOGROUP")) {
                    groupReady = false;
                    continue;
                }
                failed(QString::fromUtf8(reply->string));
                continue;
            }
            if (reply->isArray() && !reply->elements.isEmpty() && reply->elements[0].isArray() &&
                reply->elements[0].elements.size() >= 2) {
                entries = parseEntries(reply->elements[0].elements[1]);
            }
            if (entries.isEmpty()) {
                ownPendingFirst = false;
                continue;
            }
        }

        // Settle the readable events; the unreadable ones go to the dead-letter stream.
        QList<const Entry *> good;
        QList<const Entry *> dead;
        for (const Entry &e : entries) {
            if (e.valid) {
                good.append(&e);
            } else if (!e.json.isEmpty()) {
                dead.append(&e);
            }
        }
        QList<SettledState> rows;
        bool ok = true;
        if (!good.isEmpty()) {
            auto settled = m_database->runSync(
                [json = jsonArray(good)](QSqlDatabase &db) { return BillingRepository::settle(db, json); }, JobRetry::Idempotent);
            if (settled) {
                rows = std::move(*settled);
            } else if (settled.error().code == QLatin1String("database_unavailable") || good.size() == 1) {
                if (good.size() == 1 && settled.error().code != QLatin1String("database_unavailable")) {
                    qCWarning(lcUsage).noquote() << "usage event" << good[0]->header.requestId
                                                 << "rejected by the database:" << settled.error().message;
                    dead = good;
                    good.clear();
                } else {
                    failed(settled.error().message);
                    ok = false;
                }
            } else {
                // One event PostgreSQL rejects must not block the others: settle them one by one.
                QList<const Entry *> accepted;
                for (const Entry *e : std::as_const(good)) {
                    auto one = m_database->runSync(
                        [json = jsonArray({e})](QSqlDatabase &db) { return BillingRepository::settle(db, json); },
                        JobRetry::Idempotent);
                    if (one) {
                        rows.append(*one);
                        accepted.append(e);
                    } else if (one.error().code == QLatin1String("database_unavailable")) {
                        ok = false;
                        break;
                    } else {
                        qCWarning(lcUsage).noquote() << "usage event" << e->header.requestId
                                                     << "rejected by the database:" << one.error().message;
                        dead.append(e);
                    }
                }
                good = accepted;
                if (!ok) {
                    failed(QStringLiteral("database unavailable"));
                }
            }
        }
        if (!ok) {
            continue;
        }

        // Tell admission the new wallet states; drop the pending amounts PostgreSQL now holds.
        QMap<qint64, WalletState> states;
        for (const Entry *e : std::as_const(good)) {
            if (e->header.userId > 0) {
                WalletState &s = states[e->header.userId];
                s.userId = e->header.userId;
                s.settledRequests.append(e->header.requestId);
            }
        }
        for (const SettledState &row : std::as_const(rows)) {
            auto it = states.find(row.userId);
            if (it == states.end()) {
                continue;
            }
            if (row.balance) {
                it->balance = *row.balance;
                it->version = row.version;
            } else {
                it->keys.append({row.keyId, row.keySpent});
            }
        }
        if (auto s = syncWalletsSync(redis, states.values()); !s) {
            failed(s.error().message);
            continue;
        }

        for (const Entry *e : std::as_const(dead)) {
            auto moved = redis.command({"XADD", QByteArray(kUsageDeadStream), "*", "id", e->id, "e", e->json});
            if (moved && !moved->isError()) {
                m_counters.deadLettered.fetch_add(1, std::memory_order_relaxed);
            }
        }
        QList<QByteArray> ack{"XACK", stream, group};
        QList<QByteArray> del{"XDEL", stream};
        for (const Entry &e : std::as_const(entries)) {
            ack << e.id;
            del << e.id;
        }
        // XDEL only keeps the stream short; if it fails, nothing is lost.
        auto acked = redis.pipeline({ack, del});
        if (!acked || acked->first().isError()) {
            failed(acked ? QString::fromUtf8(acked->first().string) : acked.error().message);
            continue;
        }
        m_counters.settled.fetch_add(good.size(), std::memory_order_relaxed);
        m_counters.batches.fetch_add(1, std::memory_order_relaxed);
        backoffMs = 0;
        lastError.clear();
        if (entries.size() < m_options.batchSize && m_options.lingerMs > 0) {
            pause(m_options.lingerMs); // light load: let the next batch fill up
        }
    }
}

} // namespace llmpool::gateway::billing
