#include "upstream/UpstreamOutcome.h"

#include <QRegularExpression>

#include <algorithm>

namespace llmpool::gateway {

const char *UpstreamOutcome::kindName(Kind kind)
{
    switch (kind) {
    case Kind::Ok:
        return "ok";
    case Kind::ConnectFailed:
        return "connect_failed";
    case Kind::TimeoutBeforeFirstByte:
        return "timeout_before_first_byte";
    case Kind::IdleTimeout:
        return "idle_timeout";
    case Kind::TotalTimeout:
        return "total_timeout";
    case Kind::ConnectionLost:
        return "connection_lost";
    case Kind::ProtocolError:
        return "protocol_error";
    case Kind::ResponseTooLarge:
        return "response_too_large";
    case Kind::ClientStalled:
        return "client_stalled";
    case Kind::Aborted:
        return "aborted";
    }
    return "unknown";
}

Error UpstreamOutcome::toError() const
{
    QString code = QString::fromLatin1(kindName(kind));
    if (kind != Kind::ClientStalled && kind != Kind::Aborted)
        code.prepend(QStringLiteral("upstream_"));
    const bool timeout = isTimeout();
    return Error{timeout ? QStringLiteral("upstream_timeout") : QStringLiteral("upstream_error"),
                 code,
                 timeout ? 504 : 502,
                 message.isEmpty() ? QStringLiteral("upstream request failed") : message,
                 {}};
}

QString UpstreamOutcome::sanitize(const QByteArray &text, const QList<QByteArray> &secrets)
{
    QByteArray out = text;
    // Longest first, so a password that contains a shorter secret is still removed whole.
    QList<QByteArray> sorted;
    for (const QByteArray &s : secrets) {
        if (!s.isEmpty())
            sorted.append(s);
    }
    std::sort(sorted.begin(), sorted.end(),
              [](const QByteArray &a, const QByteArray &b) { return a.size() > b.size(); });
    for (const QByteArray &s : sorted)
        out.replace(s, "***");

    QString result = QString::fromUtf8(out);
    // Userinfo in any URL curl may quote (its own messages rarely do; a proxy URL or a redirect
    // target could), whether or not we knew the secret in it.
    static const QRegularExpression userinfo(QStringLiteral("([A-Za-z][A-Za-z0-9+.-]*://)[^/@\\s]*@"));
    result.replace(userinfo, QStringLiteral("\\1***@"));
    for (QChar &c : result) {
        if (c.unicode() < 0x20 || c.unicode() == 0x7f)
            c = QLatin1Char(' ');
    }
    return result.trimmed();
}

} // namespace llmpool::gateway
