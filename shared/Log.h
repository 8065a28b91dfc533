#pragma once

// Logging: one QLoggingCategory per area ("llmpool.<area>", Info and above enabled by default;
// QT_LOGGING_RULES="llmpool.http.debug=true" turns on debug output) and a process-wide message
// handler that writes exactly one line per message to stderr, as text or JSON
// ([telemetry] log_format):
//
//   text: 2026-11-23T01:02:03.456Z INFO http: message
//   json: {"ts":"2026-11-23T01:02:03.456Z","level":"INFO","category":"http","msg":"message"}
//
// Our categories print without the "llmpool." prefix; Qt's own ("qt.network.ssl", "default") print
// as they are. Newlines and control characters inside a message are escaped, so one message can
// never forge a second log line. Timestamps come from the clock seam (UTC, milliseconds).
// The handler is thread-safe: lines from different threads never interleave.

#include <QLoggingCategory>
#include <QString>

#include <cstdio>

namespace llmpool {

Q_DECLARE_LOGGING_CATEGORY(lcServer)
Q_DECLARE_LOGGING_CATEGORY(lcHttp)
Q_DECLARE_LOGGING_CATEGORY(lcStorage)
Q_DECLARE_LOGGING_CATEGORY(lcRedis)
Q_DECLARE_LOGGING_CATEGORY(lcProxy)
Q_DECLARE_LOGGING_CATEGORY(lcUpstream)
Q_DECLARE_LOGGING_CATEGORY(lcBilling)
Q_DECLARE_LOGGING_CATEGORY(lcUsage)
Q_DECLARE_LOGGING_CATEGORY(lcAdmin)
Q_DECLARE_LOGGING_CATEGORY(lcConfig)
Q_DECLARE_LOGGING_CATEGORY(lcCli)

class Log
{
public:
    enum class Format { Text, Json };

    // Installs the handler (replacing Qt's default) writing to `out` (stderr unless a test passes
    // its own stream). Safe to call again to switch format, e.g. once the config is loaded.
    static void install(Format format, FILE *out = stderr);
    // Restores the handler that was active before the first install().
    static void uninstall();

    // The line (without trailing newline) the handler writes; exposed for tests and for the access
    // log, which wants the same shape. `category` is the category name as Qt reports it.
    static QByteArray formatLine(Format format, QtMsgType type, const char *category, const QString &message,
                                 qint64 msecsSinceEpoch);

    // "DEBUG", "INFO", "WARN", "ERROR", "FATAL".
    static const char *levelName(QtMsgType type);
};

} // namespace llmpool
