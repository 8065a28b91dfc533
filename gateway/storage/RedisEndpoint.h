#pragma once

// RedisEndpoint: a parsed Redis URL. A plain value type, any thread.
//
//   redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]
//   unix://[[USER]:PASSWORD@]/path/to/redis.sock[?db=N]
//
// Components are percent-decoded; HOST may be a bracketed IPv6 literal. `rediss://` (TLS) is
// refused rather than silently downgraded: Debian's hiredis 0.14 has no TLS. The password is a
// secret; only redacted() may be logged.

#include "Result.h"

#include <QString>

namespace llmpool::gateway {

class RedisEndpoint
{
public:
    QString host = QStringLiteral("127.0.0.1"); // TCP only
    int port = 6379;                            // TCP only
    QString socketPath;                         // non-empty: a Unix socket
    QString username;                           // Redis 6 ACL user; empty = AUTH with the password only
    QString password;
    int db = 0;

    bool isUnix() const { return !socketPath.isEmpty(); }

    // Error code "redis_url_invalid" (500); the message never contains the URL or its password.
    static Result<RedisEndpoint> parse(const QString &url);
    QString redacted() const;

    bool operator==(const RedisEndpoint &) const = default;
};

} // namespace llmpool::gateway
