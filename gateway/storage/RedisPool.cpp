#include "storage/RedisPool.h"

#include "Log.h"

#include <QThread>

#include <unordered_map>

namespace llmpool::gateway {

namespace {
// This thread's client for each pool. Entries are removed when the thread finishes.
thread_local std::unordered_map<const RedisPool *, RedisClient *> t_clients;
} // namespace

RedisPool::RedisPool(RedisClient::Options options) : m_options(std::move(options)) {}

RedisPool::~RedisPool()
{
    QMutexLocker lock(&m_mutex);
    if (!m_clients.isEmpty()) {
        qCWarning(lcRedis) << "RedisPool destroyed while" << m_clients.size() << "thread(s) still hold a client";
    }
}

RedisClient *RedisPool::local()
{
    auto it = t_clients.find(this);
    if (it != t_clients.end()) {
        return it->second;
    }
    auto *client = new RedisClient(m_options);
    if (auto started = client->start(); !started) {
        qCWarning(lcRedis).noquote() << "redis:" << started.error().message;
    }
    t_clients.emplace(this, client);
    {
        QMutexLocker lock(&m_mutex);
        m_clients.insert(client);
    }
    // QThread::finished is emitted on the finishing thread itself: destroy the client there, while
    // its event dispatcher still exists, so its socket notifiers go away on their own thread.
    QObject::connect(
        QThread::currentThread(), &QThread::finished, client,
        [this, client] {
            t_clients.erase(this);
            forget(client);
            delete client;
        },
        Qt::DirectConnection);
    return client;
}

void RedisPool::forget(RedisClient *client)
{
    QMutexLocker lock(&m_mutex);
    m_clients.remove(client);
}

} // namespace llmpool::gateway
