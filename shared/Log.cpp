#include "Log.h"

#include "Clock.h"

#include <QDateTime>
#include <QMutex>

#include <atomic>
#include <cstring>

namespace llmpool {

Q_LOGGING_CATEGORY(lcServer, "llmpool.server", QtInfoMsg)
Q_LOGGING_CATEGORY(lcHttp, "llmpool.http", QtInfoMsg)
Q_LOGGING_CATEGORY(lcStorage, "llmpool.storage", QtInfoMsg)
Q_LOGGING_CATEGORY(lcRedis, "llmpool.redis", QtInfoMsg)
Q_LOGGING_CATEGORY(lcProxy, "llmpool.proxy", QtInfoMsg)
Q_LOGGING_CATEGORY(lcUpstream, "llmpool.upstream", QtInfoMsg)
Q_LOGGING_CATEGORY(lcBilling, "llmpool.billing", QtInfoMsg)
Q_LOGGING_CATEGORY(lcUsage, "llmpool.usage", QtInfoMsg)
Q_LOGGING_CATEGORY(lcAdmin, "llmpool.admin", QtInfoMsg)
Q_LOGGING_CATEGORY(lcConfig, "llmpool.config", QtInfoMsg)
Q_LOGGING_CATEGORY(lcCli, "llmpool.cli", QtInfoMsg)

namespace {

// Handler state. Written by install()/uninstall() (start-up, tests) and read by the handler on
// every thread; the stream sits behind the same mutex that serialises the writes.
QBasicMutex s_mutex;
std::atomic<Log::Format> s_format{Log::Format::Text}; // read outside the lock while formatting
FILE *s_out = nullptr;
QtMessageHandler s_previous = nullptr;
bool s_installed = false;

QByteArray shortCategory(const char *category)
{
    if (!category)
        return QByteArrayLiteral("default");
    constexpr char prefix[] = "llmpool.";
    constexpr size_t prefixLen = sizeof(prefix) - 1;
    if (std::strncmp(category, prefix, prefixLen) == 0 && category[prefixLen] != '\0')
        return QByteArray(category + prefixLen);
    return QByteArray(category);
}

// Text lines: the message as UTF-8 with C0 controls and DEL escaped (\n, \r, \t, \xNN) and
// backslash doubled, so the escaping is reversible and a line break can only be the terminator.
void appendTextEscaped(QByteArray &out, const QByteArray &utf8)
{
    static const char hex[] = "0123456789abcdef";
    for (const char ch : utf8) {
        const auto c = static_cast<unsigned char>(ch);
        switch (c) {
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        default:
            if (c < 0x20 || c == 0x7f) {
                out += "\\x";
                out += hex[c >> 4];
                out += hex[c & 0xf];
            } else {
                out += ch;
            }
        }
    }
}

// RFC 8259 string body. Hand-written rather than QJsonObject so the keys keep the documented order
// (ts, level, category, msg) that log shippers and people scanning the output expect.
void appendJsonString(QByteArray &out, const QByteArray &utf8)
{
    static const char hex[] = "0123456789abcdef";
    out += '"';
    for (const char ch : utf8) {
        const auto c = static_cast<unsigned char>(ch);
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        default:
            if (c < 0x20 || c == 0x7f) {
                out += "\\u00";
                out += hex[c >> 4];
                out += hex[c & 0xf];
            } else {
                out += ch;
            }
        }
    }
    out += '"';
}

void handler(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    const QByteArray line = Log::formatLine(s_format.load(std::memory_order_relaxed), type, context.category, message,
                                            Clock::instance().nowMSecs());
    QMutexLocker lock(&s_mutex);
    FILE *out = s_out ? s_out : stderr;
    std::fwrite(line.constData(), 1, static_cast<size_t>(line.size()), out);
    std::fputc('\n', out);
    std::fflush(out);
}

} // namespace

const char *Log::levelName(QtMsgType type)
{
    switch (type) {
    case QtDebugMsg:
        return "DEBUG";
    case QtInfoMsg:
        return "INFO";
    case QtWarningMsg:
        return "WARN";
    case QtCriticalMsg:
        return "ERROR";
    case QtFatalMsg:
        return "FATAL";
    }
    return "INFO";
}

QByteArray Log::formatLine(Format format, QtMsgType type, const char *category, const QString &message,
                           qint64 msecsSinceEpoch)
{
    const QByteArray ts =
        QDateTime::fromMSecsSinceEpoch(msecsSinceEpoch, Qt::UTC).toString(Qt::ISODateWithMs).toLatin1();
    const QByteArray cat = shortCategory(category);
    const QByteArray msg = message.toUtf8();
    QByteArray out;
    out.reserve(msg.size() + 80);
    if (format == Format::Json) {
        out += "{\"ts\":";
        appendJsonString(out, ts);
        out += ",\"level\":";
        appendJsonString(out, levelName(type));
        out += ",\"category\":";
        appendJsonString(out, cat);
        out += ",\"msg\":";
        appendJsonString(out, msg);
        out += '}';
    } else {
        out += ts;
        out += ' ';
        out += levelName(type);
        out += ' ';
        appendTextEscaped(out, cat);
        out += ": ";
        appendTextEscaped(out, msg);
    }
    return out;
}

void Log::install(Format format, FILE *out)
{
    QMutexLocker lock(&s_mutex);
    s_format.store(format, std::memory_order_relaxed);
    s_out = out;
    if (!s_installed) {
        s_previous = qInstallMessageHandler(handler);
        s_installed = true;
    }
}

void Log::uninstall()
{
    QMutexLocker lock(&s_mutex);
    if (!s_installed)
        return;
    qInstallMessageHandler(s_previous);
    s_previous = nullptr;
    s_installed = false;
    s_out = nullptr;
}

} // namespace llmpool
