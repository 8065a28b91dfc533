#pragma once

// RedisPool: one RedisClient per event-loop thread (STYLE §1), created lazily on the thread that
// first asks for it and destroyed on that thread when it finishes. Handlers call local() on
// whatever thread they run on and get that thread's connection; no client is ever used across
// threads.
//
// Threads: the pool itself is created and destroyed on the main thread; local() may be called from
// any thread with an event loop. The pool must outlive the threads that use it (the Gateway stops
// the HTTP threads before destroying the pool).

#include "storage/RedisClient.h"

#include <QMutex>
#include <QSet>

namespace llmpool::gateway {

class RedisPool
{
public:
    explicit RedisPool(RedisClient::Options options);
    ~RedisPool();
    RedisPool(const RedisPool &) = delete;
    RedisPool &operator=(const RedisPool &) = delete;

    // The calling thread's client, started on first use (it reconnects by itself from then on).
    RedisClient *local();

    const RedisClient::Options &options() const { return m_options; }

private:
    void forget(RedisClient *client);

    RedisClient::Options m_options;
    QMutex m_mutex;
    QSet<RedisClient *> m_clients; // every live client, for the destructor's check
};

} // namespace llmpool::gateway
