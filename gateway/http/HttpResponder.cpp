#include "http/HttpResponder.h"

#include "http/HttpConnection.h"

namespace llmpool::gateway {

bool HttpResponder::isConnected() const
{
    return m_exchange && m_exchange->connection;
}

bool HttpResponder::isFinished() const
{
    return !m_exchange || m_exchange->finished;
}

bool HttpResponder::isStreaming() const
{
    return m_exchange && m_exchange->streaming;
}

void HttpResponder::respond(int status, const HttpHeaders &headers, const QByteArray &body)
{
    if (HttpConnection *c = m_exchange ? m_exchange->connection : nullptr)
        c->respond(m_exchange.get(), status, headers, {}, body);
}

void HttpResponder::respond(int status, QByteArrayView contentType, const QByteArray &body)
{
    if (HttpConnection *c = m_exchange ? m_exchange->connection : nullptr)
        c->respond(m_exchange.get(), status, HttpHeaders(), contentType, body);
}

bool HttpResponder::beginStream(int status, const HttpHeaders &headers, qint64 contentLength, bool flushHead)
{
    HttpConnection *c = m_exchange ? m_exchange->connection : nullptr;
    return c && c->beginStream(m_exchange.get(), status, headers, contentLength, flushHead);
}

bool HttpResponder::write(const QByteArray &data)
{
    HttpConnection *c = m_exchange ? m_exchange->connection : nullptr;
    return c && c->write(m_exchange.get(), data);
}

void HttpResponder::end()
{
    if (HttpConnection *c = m_exchange ? m_exchange->connection : nullptr)
        c->end(m_exchange.get());
}

void HttpResponder::abort()
{
    if (HttpConnection *c = m_exchange ? m_exchange->connection : nullptr)
        c->abort(m_exchange.get());
}

qint64 HttpResponder::pendingBytes() const
{
    HttpConnection *c = m_exchange ? m_exchange->connection : nullptr;
    return c ? c->pendingBytes() : 0;
}

void HttpResponder::setCloseAfterResponse()
{
    if (m_exchange)
        m_exchange->forceClose = true;
}

void HttpResponder::onDisconnected(QObject *context, std::function<void()> callback)
{
    if (!m_exchange)
        return;
    if (m_exchange->lost) {
        // Registered after the client went: tell at once, so async work never waits for nothing.
        if (context && callback)
            callback();
        return;
    }
    if (m_exchange->connection)
        m_exchange->disconnected = {context, std::move(callback)};
}

void HttpResponder::onDrained(QObject *context, std::function<void()> callback)
{
    if (m_exchange && m_exchange->connection)
        m_exchange->drained = {context, std::move(callback)};
}

QObject *HttpResponder::threadContext() const
{
    if (!m_exchange || !m_exchange->connection)
        return nullptr;
    return m_exchange->threadContext;
}

} // namespace llmpool::gateway
