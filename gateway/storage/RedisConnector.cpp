#include "storage/RedisConnector.h"

#include "Log.h"

#include <QAbstractEventDispatcher>
#include <QMetaObject>
#include <QPointer>
#include <QSocketNotifier>
#include <QThread>
#include <QVarLengthArray>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <memory>
#include <utility>

namespace llmpool::gateway {

namespace {

Error unavailable(const QString &message)
{
    return Error::unavailable(QStringLiteral("redis_unavailable"), message);
}

// One command in flight: hiredis hands this back to onReply() exactly once (with NULL when the
// context is freed first).
struct PendingCommand
{
    std::function<void(Result<RedisReply>)> callback;
    QPointer<QObject> context;
    bool hasContext = false;
};

void onReply(redisAsyncContext *ac, void *reply, void *privdata);
void onConnect(const redisAsyncContext *ac, int status);
void onPush(redisAsyncContext *ac, void *reply, void *privdata);

} // namespace

namespace detail {

// The state of ONE hiredis context: its two socket notifiers (created once, disabled, then only
// toggled by hiredis's add/del hooks) and the link to the connector. Lives on the connector's thread.
// hiredis may free the context at any moment inside a call into it; the connector may let go of it
// (or be destroyed) inside a callback. So this object outlives both: it is deleted (later) once
// hiredis ran the cleanup hook (m_ac == nullptr) and the connector released it (m_owner == nullptr).
class RedisConnection : public QObject
{
public:
    RedisConnection(RedisConnector *owner, redisAsyncContext *ac, quint64 generation)
        : m_ac(ac), m_owner(owner), m_generation(generation), m_read(QSocketNotifier::Read),
          m_write(QSocketNotifier::Write)
    {
        m_read.setSocket(ac->c.fd); // leaves the notifier disabled
        m_write.setSocket(ac->c.fd);
        connect(&m_read, &QSocketNotifier::activated, this, [this] { handleRead(); });
        connect(&m_write, &QSocketNotifier::activated, this, [this] { handleWrite(); });

        ac->ev.data = this;
        ac->ev.addRead = [](void *p) { static_cast<RedisConnection *>(p)->m_read.setEnabled(true); };
        ac->ev.delRead = [](void *p) { static_cast<RedisConnection *>(p)->m_read.setEnabled(false); };
        ac->ev.addWrite = [](void *p) { static_cast<RedisConnection *>(p)->wantWrite(); };
        ac->ev.delWrite = [](void *p) {
            auto *connection = static_cast<RedisConnection *>(p);
            connection->m_wantWrite = false;
            connection->m_write.setEnabled(false);
        };
        ac->ev.cleanup = [](void *p) { static_cast<RedisConnection *>(p)->hiredisCleanup(); };

        // Commands are written when the current pass of the event loop ends (awake/aboutToBlock
        // of the loop's dispatcher): every command of the pass in one write, and no write-interest
        // toggling per command (with epoll, two epoll_ctl calls each). Only with the dispatchers
        // known to emit both signals on every pass; otherwise the write notifier does it. (A
        // command issued from another aboutToBlock slot that runs after ours would wait for the
        // loop's next wake-up: nothing does that.)
        QAbstractEventDispatcher *dispatcher = QAbstractEventDispatcher::instance(thread());
        if (dispatcher &&
            (dispatcher->inherits("QEventDispatcherUNIX") || dispatcher->inherits("llmpool::gateway::EpollEventDispatcher"))) {
            connect(dispatcher, &QAbstractEventDispatcher::awake, this, [this] { flushWrites(); });
            connect(dispatcher, &QAbstractEventDispatcher::aboutToBlock, this, [this] { flushWrites(); });
            m_flushAtPassEnd = true;
        }
    }

    redisAsyncContext *context() const { return m_ac; }

    // onConnect(REDIS_OK): with no AUTH/SELECT to wait for, the connection is ready now.
    void tcpConnected()
    {
        if (m_owner)
            m_owner->tcpConnected(this);
    }
    RedisConnector *owner() const { return m_owner; }
    quint64 generation() const { return m_generation; }

    // A pub/sub push, from inside hiredis's read. The owner's receivers may destroy the owner
    // (release() then defers the free), never this object.
    void push(const QList<QByteArray> &elements)
    {
        if (m_owner)
            emit m_owner->pushReceived(elements);
    }

    // The connector lets go: free the hiredis context now, or right after the hiredis call we are
    // inside of returns (freeing it under hiredis's feet would be a use-after-free).
    void release()
    {
        m_owner = nullptr;
        m_wantWrite = false;
        m_read.setEnabled(false);
        m_write.setEnabled(false);
        if (!m_ac) {
            deleteLater();
        } else if (m_depth > 0) {
            QMetaObject::invokeMethod(
                this, [this] { freeContext(); }, Qt::QueuedConnection);
        } else {
            freeContext();
        }
    }

    int pending = 0;            // commands sent, not answered
    int handshakeRemaining = 0; // AUTH / SELECT replies still expected
    QString lastError;          // why connecting failed (from onConnect)

private:
    void freeContext()
    {
        if (!m_ac)
            return;
        ++m_depth;
        redisAsyncFree(m_ac); // runs the pending callbacks (NULL reply) and then the cleanup hook
        --m_depth;
    }

    void handleRead()
    {
        if (!m_ac)
            return;
        ++m_depth;
        redisAsyncHandleRead(m_ac);
        --m_depth; // `this` is still alive: deletion is always deferred
    }

    // hiredis has output: wait for the end of the pass (connected, not inside our own flush), or
    // for the socket to be writable (connecting, or the socket buffer is full).
    void wantWrite()
    {
        if (m_flushAtPassEnd && !m_flushing && m_ac && (m_ac->c.flags & REDIS_CONNECTED)) {
            m_wantWrite = true;
            return;
        }
        m_write.setEnabled(true);
    }

    void flushWrites()
    {
        if (!m_wantWrite || !m_ac)
            return;
        m_wantWrite = false;
        if (m_depth > 0) {
            m_write.setEnabled(true); // a nested event loop inside a hiredis call: do not re-enter
            return;
        }
        m_flushing = true;
        handleWrite(); // a short write calls addWrite again: the notifier takes over
        m_flushing = false;
    }

    void handleWrite()
    {
        if (!m_ac)
            return;
        ++m_depth;
        redisAsyncHandleWrite(m_ac);
        --m_depth;
    }

    // ev.cleanup: hiredis is freeing the context (error, EOF, or our own redisAsyncFree).
    void hiredisCleanup()
    {
        m_read.setEnabled(false);
        m_write.setEnabled(false);
        QString reason = lastError;
        if (m_ac && m_ac->err && m_ac->errstr)
            reason = QString::fromLocal8Bit(m_ac->errstr);
        if (reason.isEmpty())
            reason = QStringLiteral("connection closed");
        m_ac = nullptr;
        deleteLater();
        if (RedisConnector *owner = std::exchange(m_owner, nullptr))
            owner->connectionEnded(this, reason); // may emit signals: nothing of ours after this
    }

    redisAsyncContext *m_ac;
    RedisConnector *m_owner;
    const quint64 m_generation;
    int m_depth = 0; // > 0 while a call into hiredis made from here is running
    bool m_flushAtPassEnd = false;
    bool m_wantWrite = false;
    bool m_flushing = false;
    QSocketNotifier m_read;
    QSocketNotifier m_write;
};

} // namespace detail

namespace {

void onReply(redisAsyncContext *ac, void *reply, void *privdata)
{
    std::unique_ptr<PendingCommand> command(static_cast<PendingCommand *>(privdata));
    // ev.data is valid: hiredis runs reply callbacks before its cleanup hook.
    if (auto *connection = static_cast<detail::RedisConnection *>(ac->ev.data))
        --connection->pending;
    if (!command->hasContext || !command->context)
        return;
    if (!reply) {
        // Freed before the reply: deliver later, from the event loop, never from inside the
        // teardown (the connector, or the context's owner, may be half-destroyed right now).
        QMetaObject::invokeMethod(
            command->context.data(),
            [callback = std::move(command->callback)] {
                callback(unavailable(QStringLiteral("the Redis connection was lost before the reply")));
            },
            Qt::QueuedConnection);
        return;
    }
    command->callback(RedisReply::fromHiredis(static_cast<redisReply *>(reply)));
}

void onConnect(const redisAsyncContext *ac, int status)
{
    auto *connection = static_cast<detail::RedisConnection *>(ac->ev.data);
    if (!connection)
        return;
    if (status != REDIS_OK) {
        // hiredis frees the context right after this; the cleanup hook reports it.
        connection->lastError = QString::fromLocal8Bit(ac->errstr ? ac->errstr : "connect failed");
        return;
    }
    connection->tcpConnected();
}

// Subscription callbacks stay registered in hiredis for the life of the context and run for every
// push on their channel, then once more with NULL when the context is freed: so they carry no
// per-call data (privdata is null) and find their connection through ev.data.
void onPush(redisAsyncContext *ac, void *reply, void *)
{
    if (!reply)
        return; // the context is being freed; the cleanup hook reports the end
    auto *connection = static_cast<detail::RedisConnection *>(ac->ev.data);
    const auto *r = static_cast<const redisReply *>(reply);
    if (!connection || r->type != REDIS_REPLY_ARRAY)
        return;
    QList<QByteArray> elements;
    elements.reserve(qsizetype(r->elements));
    for (size_t i = 0; i < r->elements; ++i) {
        const redisReply *e = r->element[i];
        elements.append(e->type == REDIS_REPLY_INTEGER ? QByteArray::number(e->integer)
                                                       : QByteArray(e->str, qsizetype(e->len)));
    }
    connection->push(elements);
}

} // namespace

RedisConnector::RedisConnector(Options options, QObject *parent) : QObject(parent), m_options(options)
{
    m_options.minBackoffMs = qMax(1, m_options.minBackoffMs);
    m_options.maxBackoffMs = qMax(m_options.minBackoffMs, m_options.maxBackoffMs);
    m_reconnectTimer.setSingleShot(true);
    m_connectTimer.setSingleShot(true);
    connect(&m_reconnectTimer, &QTimer::timeout, this, [this] {
        if (m_state == State::WaitingToReconnect)
            connectNow();
    });
    connect(&m_connectTimer, &QTimer::timeout, this, [this] {
        if (m_state == State::Connecting)
            dropConnection(QStringLiteral("no connection within %1 ms").arg(m_options.connectTimeoutMs));
    });
}

RedisConnector::~RedisConnector()
{
    // Nobody may observe signals from a half-destroyed connector.
    blockSignals(true);
    stop();
}

void RedisConnector::start(RedisUrl url)
{
    Q_ASSERT(QThread::currentThread() == thread());
    if (m_state != State::Stopped)
        return;
    m_url = std::move(url);
    m_nextBackoffMs = m_options.minBackoffMs;
    m_failuresSinceConnected = 0;
    connectNow();
}

void RedisConnector::stop()
{
    const bool wasConnected = m_state == State::Connected;
    m_state = State::Stopped;
    m_reconnectTimer.stop();
    m_connectTimer.stop();
    if (detail::RedisConnection *connection = std::exchange(m_connection, nullptr))
        connection->release();
    if (wasConnected)
        emit disconnected(QStringLiteral("stopped"));
}

int RedisConnector::pendingCommands() const
{
    return m_connection ? m_connection->pending : 0;
}

void RedisConnector::resetBackoff()
{
    m_nextBackoffMs = m_options.minBackoffMs;
}

void RedisConnector::connectNow()
{
    m_state = State::Connecting;
    const bool unixSocket = m_url.transport == RedisUrl::Transport::Unix;
    const QByteArray host = m_url.host.toUtf8();
    const QByteArray path = m_url.socketPath.toUtf8();
    redisAsyncContext *ac =
        unixSocket ? redisAsyncConnectUnix(path.constData()) : redisAsyncConnect(host.constData(), m_url.port);
    if (!ac) {
        scheduleReconnect(QStringLiteral("out of memory"));
        return;
    }
    if (ac->err) {
        // Failed synchronously (e.g. connection refused on loopback): no hooks attached yet.
        const QString reason = QString::fromLocal8Bit(ac->errstr);
        redisAsyncFree(ac);
        scheduleReconnect(reason);
        return;
    }
    auto *connection = new detail::RedisConnection(this, ac, ++m_generation);
    m_connection = connection;
    if (!unixSocket)
        redisEnableKeepAlive(&ac->c); // notice a dead peer without waiting for a command
    // Must come after the hooks: it arms the write watch that reports the finished connect.
    redisAsyncSetConnectCallback(ac, onConnect);
    m_connectTimer.start(m_options.connectTimeoutMs);
    sendHandshake();
}

void RedisConnector::sendHandshake()
{
    QList<QList<QByteArray>> steps;
    if (!m_url.password.isEmpty()) {
        if (m_url.username.isEmpty() || m_url.username == u"default")
            steps.append({QByteArrayLiteral("AUTH"), m_url.password.toUtf8()});
        else
            steps.append({QByteArrayLiteral("AUTH"), m_url.username.toUtf8(), m_url.password.toUtf8()});
    }
    if (m_url.db != 0)
        steps.append({QByteArrayLiteral("SELECT"), QByteArray::number(m_url.db)});

    detail::RedisConnection *connection = m_connection;
    connection->handshakeRemaining = int(steps.size());
    const quint64 generation = connection->generation();
    for (qsizetype i = 0; i < steps.size(); ++i) {
        const bool isAuth = steps[i].first() == "AUTH";
        auto *command = new PendingCommand;
        command->context = this;
        command->hasContext = true;
        command->callback = [this, generation, isAuth](Result<RedisReply> reply) {
            if (!m_connection || m_connection->generation() != generation)
                return; // an earlier connection's answer
            if (!reply)
                return; // the connection died; connectionEnded() handles it
            if (reply->isError()) {
                // Never echo AUTH's arguments; Redis's own error text holds no secret.
                dropConnection((isAuth ? QStringLiteral("AUTH failed: ") : QStringLiteral("SELECT failed: ")) +
                               QString::fromUtf8(reply->string.left(200)));
                return;
            }
            if (--m_connection->handshakeRemaining == 0 && m_state == State::Connecting)
                markConnected();
        };
        QVarLengthArray<const char *, 4> argv;
        QVarLengthArray<size_t, 4> lengths;
        for (const QByteArray &arg : steps[i]) {
            argv.append(arg.constData());
            lengths.append(size_t(arg.size()));
        }
        if (redisAsyncCommandArgv(connection->context(), onReply, command, int(argv.size()), argv.data(),
                                  lengths.data()) != REDIS_OK) {
            delete command;
            dropConnection(QStringLiteral("cannot send the handshake"));
            return;
        }
        ++connection->pending;
    }
}

void RedisConnector::tcpConnected(detail::RedisConnection *connection)
{
    if (connection != m_connection || m_state != State::Connecting || connection->handshakeRemaining != 0)
        return;
    markConnected();
}

void RedisConnector::markConnected()
{
    m_connectTimer.stop();
    m_state = State::Connected;
    if (m_options.resetBackoffOnConnect)
        resetBackoff();
    if (m_failuresSinceConnected > 0)
        qCInfo(lcRedis).noquote() << "Redis connection restored to" << m_url.redacted();
    m_failuresSinceConnected = 0;
    emit connected();
}

void RedisConnector::connectionEnded(detail::RedisConnection *connection, const QString &reason)
{
    if (connection != m_connection)
        return;
    m_connection = nullptr;
    const bool wasConnected = m_state == State::Connected;
    scheduleReconnect(reason);
    if (wasConnected)
        emit disconnected(reason);
}

void RedisConnector::dropConnection(const QString &reason)
{
    if (m_state == State::Stopped)
        return;
    const bool wasConnected = m_state == State::Connected;
    if (detail::RedisConnection *connection = std::exchange(m_connection, nullptr))
        connection->release();
    scheduleReconnect(reason);
    if (wasConnected)
        emit disconnected(reason);
}

void RedisConnector::scheduleReconnect(const QString &reason)
{
    m_connectTimer.stop();
    if (m_state == State::Stopped)
        return;
    m_state = State::WaitingToReconnect;
    const int delay = m_nextBackoffMs;
    m_nextBackoffMs = qMin(qMax(delay * 2, m_options.minBackoffMs), m_options.maxBackoffMs);
    if (m_failuresSinceConnected++ == 0 || reason != m_lastReason)
        qCWarning(lcRedis).noquote() << "Redis" << m_url.redacted() << "unavailable:" << reason << "- retrying in"
                                     << delay << "ms";
    else
        qCDebug(lcRedis).noquote() << "Redis still unavailable:" << reason << "- retrying in" << delay << "ms";
    m_lastReason = reason;
    m_reconnectTimer.start(delay);
    emit reconnectScheduled(delay, reason);
}

void RedisConnector::failLater(QObject *context, std::function<void(Result<RedisReply>)> callback, Error error)
{
    if (!context)
        return;
    QMetaObject::invokeMethod(
        context, [callback = std::move(callback), error = std::move(error)] { callback(error); }, Qt::QueuedConnection);
}

void RedisConnector::send(const QList<QByteArray> &args, QObject *context,
                          std::function<void(Result<RedisReply>)> callback)
{
    Q_ASSERT(QThread::currentThread() == thread());
    Q_ASSERT(!context || context->thread() == thread());
    if (m_state != State::Connected || !m_connection || !m_connection->context()) {
        failLater(context, std::move(callback),
                  unavailable(m_state == State::Stopped
                                  ? QStringLiteral("the Redis client is stopped")
                                  : QStringLiteral("Redis is not connected") +
                                        (m_lastReason.isEmpty() ? QString() : QStringLiteral(": ") + m_lastReason)));
        return;
    }
    QVarLengthArray<const char *, 8> argv;
    QVarLengthArray<size_t, 8> lengths;
    for (const QByteArray &arg : args) {
        argv.append(arg.constData());
        lengths.append(size_t(arg.size()));
    }
    auto *pending = new PendingCommand;
    pending->callback = std::move(callback);
    pending->context = context;
    pending->hasContext = context != nullptr;
    // hiredis copies the arguments into its output buffer; `args` may go away after this.
    if (redisAsyncCommandArgv(m_connection->context(), onReply, pending, int(argv.size()), argv.data(),
                              lengths.data()) != REDIS_OK) {
        failLater(context, std::move(pending->callback),
                  unavailable(QStringLiteral("the Redis connection is closing")));
        delete pending;
        return;
    }
    ++m_connection->pending;
}

bool RedisConnector::subscribe(const QByteArray &verb, const QList<QByteArray> &names)
{
    Q_ASSERT(QThread::currentThread() == thread());
    if (m_state != State::Connected || !m_connection || !m_connection->context() || names.isEmpty())
        return false;
    QVarLengthArray<const char *, 8> argv{verb.constData()};
    QVarLengthArray<size_t, 8> lengths{size_t(verb.size())};
    for (const QByteArray &name : names) {
        argv.append(name.constData());
        lengths.append(size_t(name.size()));
    }
    // hiredis keeps onPush registered per name (binary-safe) and routes every push to it.
    return redisAsyncCommandArgv(m_connection->context(), onPush, nullptr, int(argv.size()), argv.data(),
                                 lengths.data()) == REDIS_OK;
}

} // namespace llmpool::gateway
