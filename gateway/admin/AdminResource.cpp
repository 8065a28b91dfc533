#include "admin/AdminResource.h"

#include "Log.h"
#include "proxy/Invalidation.h"
#include "storage/RedisPool.h"

#include <QJsonDocument>
#include <QJsonParseError>
#include <QTimer>

#include <cmath>

namespace llmpool::gateway::admin {

namespace {

constexpr int kMaxPage = 1'000'000'000;
constexpr int kMaxPageSize = 100;
constexpr int kDefaultPageSize = 20;
constexpr int kPublishWaitMs = 2'000;

// Strict positive decimal (digits only, no sign, at most 9 digits); nullopt otherwise.
std::optional<int> smallNumber(QByteArrayView text)
{
    if (text.isEmpty() || text.size() > 9)
        return std::nullopt;
    int value = 0;
    for (char c : text) {
        if (c < '0' || c > '9')
            return std::nullopt;
        value = value * 10 + (c - '0');
    }
    return value;
}

} // namespace

void respondJson(HttpResponder &responder, int status, const QJsonObject &body)
{
    responder.respond(status, "application/json", QJsonDocument(body).toJson(QJsonDocument::Compact));
}

void publishInvalidation(const AdminContext &context, const QByteArray &message)
{
    if (!context.redis)
        return;
    RedisClient *client = context.redis->local();
    auto publish = [client, message] {
        client->publish(QByteArray(Invalidation::kChannel.data(), Invalidation::kChannel.size()), message, client,
                        [message](Result<qint64> sent) {
                            if (!sent)
                                qCWarning(lcAdmin).noquote()
                                    << "invalidation" << message << "not published:" << sent.error().message;
                        });
    };
    if (client->isConnected()) {
        publish();
        return;
    }
    // A thread's client is made on first use and may still be connecting: a command now would
    // fail fast, and the change would only reach other instances when their caches expire.
    auto waiting = std::make_shared<QMetaObject::Connection>();
    *waiting = QObject::connect(client, &RedisClient::connected, client, [waiting, publish] {
        QObject::disconnect(*waiting);
        publish();
    });
    QTimer::singleShot(kPublishWaitMs, client, [waiting, message] {
        if (QObject::disconnect(*waiting))
            qCWarning(lcAdmin).noquote() << "invalidation" << message << "not published: Redis is not connected";
    });
}

QString timeText(const QDateTime &time)
{
    return time.toUTC().toString(Qt::ISODateWithMs);
}

QJsonValue timeJson(const std::optional<QDateTime> &time)
{
    if (!time || !time->isValid())
        return QJsonValue::Null;
    return timeText(*time);
}

QJsonValue moneyJson(const std::optional<Money> &money)
{
    if (!money)
        return QJsonValue::Null;
    return money->toString();
}

std::optional<qint64> parseId(QByteArrayView text)
{
    if (text.isEmpty() || text.size() > 18)
        return std::nullopt;
    qint64 value = 0;
    for (char c : text) {
        if (c < '0' || c > '9')
            return std::nullopt;
        value = value * 10 + (c - '0');
    }
    if (value <= 0)
        return std::nullopt;
    return value;
}

Error notFound(const QString &what, QByteArrayView id)
{
    // The id is echoed only when it is one; hostile path text stays out of the message.
    const std::optional<qint64> parsed = parseId(id);
    return Error::notFound(parsed ? QStringLiteral("%1 %2 does not exist").arg(what).arg(*parsed)
                                  : QStringLiteral("%1 not found").arg(what));
}

Result<PageRequest> parsePage(const HttpRequest &request)
{
    PageRequest page;
    if (request.hasQueryParam("page")) {
        const std::optional<int> value = smallNumber(request.queryParam("page"));
        if (!value || *value < 1 || *value > kMaxPage)
            return Error::invalidRequest(QStringLiteral("invalid_page"),
                                         QStringLiteral("page must be an integer from 1"), QStringLiteral("page"));
        page.page = *value;
    }
    page.pageSize = kDefaultPageSize;
    if (request.hasQueryParam("page_size")) {
        const std::optional<int> value = smallNumber(request.queryParam("page_size"));
        if (!value || *value < 1 || *value > kMaxPageSize)
            return Error::invalidRequest(QStringLiteral("invalid_page_size"),
                                         QStringLiteral("page_size must be an integer from 1 to %1").arg(kMaxPageSize),
                                         QStringLiteral("page_size"));
        page.pageSize = *value;
    }
    return page;
}

Result<std::optional<qint64>> queryId(const HttpRequest &request, QByteArrayView name)
{
    if (!request.hasQueryParam(name))
        return std::optional<qint64>();
    const std::optional<qint64> id = parseId(request.queryParam(name));
    const QString param = QString::fromLatin1(name);
    if (!id)
        return Error::invalidRequest(QStringLiteral("invalid_parameter"),
                                     QStringLiteral("%1 must be a positive integer id").arg(param), param);
    return std::optional<qint64>(*id);
}

QDateTime parseRfc3339(const QString &text)
{
    if (text.size() > 64)
        return {};
    // RFC 3339 requires an offset ("Z" or ±hh:mm): a local time would be ambiguous. It also
    // allows a space or a lower-case "t" between date and time; Qt takes only "T".
    QString normalized = text;
    if (normalized.size() > 10 && (normalized[10] == QLatin1Char('t') || normalized[10] == QLatin1Char(' ')))
        normalized[10] = QLatin1Char('T');
    if (normalized.endsWith(QLatin1Char('z')))
        normalized[normalized.size() - 1] = QLatin1Char('Z');
    const QDateTime time = QDateTime::fromString(normalized, Qt::ISODateWithMs);
    if (!time.isValid() || time.timeSpec() == Qt::LocalTime)
        return {};
    return time.toUTC();
}

Result<std::optional<QDateTime>> queryTime(const HttpRequest &request, QByteArrayView name)
{
    if (!request.hasQueryParam(name))
        return std::optional<QDateTime>();
    const QByteArray raw = request.queryParam(name);
    const QDateTime time = raw.size() <= 64 ? parseRfc3339(QString::fromUtf8(raw)) : QDateTime();
    const QString param = QString::fromLatin1(name);
    if (!time.isValid())
        return Error::invalidRequest(
            QStringLiteral("invalid_parameter"),
            QStringLiteral("%1 must be an RFC 3339 timestamp with a time zone, e.g. 2026-01-02T03:04:05Z").arg(param),
            param);
    return std::optional<QDateTime>(time);
}

Result<std::optional<QString>> queryText(const HttpRequest &request, QByteArrayView name, qsizetype maxLength)
{
    if (!request.hasQueryParam(name))
        return std::optional<QString>();
    const QString param = QString::fromLatin1(name);
    const QByteArray raw = request.queryParam(name);
    // Bytes first: a huge parameter is refused without decoding it.
    const QString text = raw.size() <= maxLength * 4 ? QString::fromUtf8(raw) : QString();
    if (raw.size() > maxLength * 4 || text.size() > maxLength)
        return Error::invalidRequest(QStringLiteral("invalid_parameter"),
                                     QStringLiteral("%1 must have at most %2 characters").arg(param).arg(maxLength),
                                     param);
    if (text.trimmed().isEmpty())
        return Error::invalidRequest(QStringLiteral("invalid_parameter"),
                                     QStringLiteral("%1 must not be empty").arg(param), param);
    // PostgreSQL text cannot hold NUL; such a value matches nothing and would only be an error there.
    if (text.contains(QChar(0)))
        return Error::invalidRequest(QStringLiteral("invalid_parameter"),
                                     QStringLiteral("%1 must not contain NUL characters").arg(param), param);
    return std::optional<QString>(text);
}

QJsonObject pageJson(const QJsonArray &data, const PageRequest &page, qint64 total)
{
    const qint64 totalPages = (total + page.pageSize - 1) / page.pageSize;
    return QJsonObject{{QStringLiteral("data"), data},
                       {QStringLiteral("pagination"), QJsonObject{{QStringLiteral("page"), page.page},
                                                                  {QStringLiteral("page_size"), page.pageSize},
                                                                  {QStringLiteral("total"), total},
                                                                  {QStringLiteral("total_pages"), totalPages}}}};
}

BodyReader::BodyReader(const QByteArray &body, std::initializer_list<QLatin1StringView> allowed, bool emptyIsObject)
{
    if (body.trimmed().isEmpty() && emptyIsObject)
        return;
    QJsonParseError parseError;
    const QJsonDocument document = QJsonDocument::fromJson(body, &parseError);
    if (parseError.error != QJsonParseError::NoError || !document.isObject()) {
        m_error = Error::invalidRequest(QStringLiteral("invalid_json"),
                                        QStringLiteral("the request body must be a JSON object"));
        return;
    }
    m_object = document.object();
    for (auto it = m_object.constBegin(); it != m_object.constEnd(); ++it) {
        const QString key = it.key();
        if (std::none_of(allowed.begin(), allowed.end(), [&key](QLatin1StringView a) { return key == a; })) {
            m_error = Error::invalidRequest(QStringLiteral("unknown_field"),
                                            QStringLiteral("unknown field \"%1\"").arg(key.left(100)), key.left(100));
            return;
        }
    }
}

Error BodyReader::invalidField(QLatin1StringView name, const QString &message)
{
    return Error::invalidRequest(QStringLiteral("invalid_field"), message, QString(name));
}

void BodyReader::fail(QLatin1StringView name, const QString &message)
{
    if (!m_error)
        m_error = invalidField(name, message);
}

std::optional<QJsonValue> BodyReader::take(QLatin1StringView name)
{
    if (m_error)
        return std::nullopt;
    const auto it = m_object.constFind(name);
    if (it == m_object.constEnd())
        return std::nullopt;
    return it.value();
}

void BodyReader::require(QLatin1StringView name)
{
    if (!m_error && !m_object.contains(name))
        fail(name, QStringLiteral("%1 is required").arg(name));
}

void BodyReader::string(QLatin1StringView name, std::optional<QString> &out, qsizetype maxLength)
{
    const std::optional<QJsonValue> value = take(name);
    if (!value)
        return;
    if (!value->isString())
        return fail(name, QStringLiteral("%1 must be a string").arg(name));
    if (value->toString().size() > maxLength)
        return fail(name, QStringLiteral("%1 must have at most %2 characters").arg(name).arg(maxLength));
    out = value->toString();
}

void BodyReader::nullableString(QLatin1StringView name, std::optional<std::optional<QString>> &out, qsizetype maxLength)
{
    const std::optional<QJsonValue> value = take(name);
    if (!value)
        return;
    if (value->isNull()) {
        out = std::optional<QString>();
        return;
    }
    std::optional<QString> text;
    string(name, text, maxLength);
    if (text)
        out = text;
}

void BodyReader::boolean(QLatin1StringView name, std::optional<bool> &out)
{
    const std::optional<QJsonValue> value = take(name);
    if (!value)
        return;
    if (!value->isBool())
        return fail(name, QStringLiteral("%1 must be true or false").arg(name));
    out = value->toBool();
}

void BodyReader::nullableInteger(QLatin1StringView name, std::optional<std::optional<qint64>> &out, qint64 min,
                                 qint64 max)
{
    const std::optional<QJsonValue> value = take(name);
    if (!value)
        return;
    if (value->isNull()) {
        out = std::optional<qint64>();
        return;
    }
    const double number = value->toDouble();
    if (!value->isDouble() || std::trunc(number) != number || number < double(min) || number > double(max))
        return fail(name, QStringLiteral("%1 must be an integer from %2 to %3").arg(name).arg(min).arg(max));
    out = std::optional<qint64>(qint64(number));
}

void BodyReader::nullableMoney(QLatin1StringView name, std::optional<std::optional<Money>> &out)
{
    const std::optional<QJsonValue> value = take(name);
    if (!value)
        return;
    if (value->isNull()) {
        out = std::optional<Money>();
        return;
    }
    if (!value->isString())
        return fail(name, QStringLiteral("%1 must be a decimal string such as \"12.5\"").arg(name));
    Result<Money> money = Money::parse(value->toString());
    if (!money)
        return fail(name, QStringLiteral("%1: %2").arg(name, money.error().message));
    out = std::optional<Money>(*money);
}

void BodyReader::nullableTime(QLatin1StringView name, std::optional<std::optional<QDateTime>> &out)
{
    const std::optional<QJsonValue> value = take(name);
    if (!value)
        return;
    if (value->isNull()) {
        out = std::optional<QDateTime>();
        return;
    }
    const QString text = value->isString() ? value->toString() : QString();
    // RFC 3339 requires an offset ("Z" or ±hh:mm): a local time would be ambiguous.
    const QDateTime time = text.size() <= 64 ? QDateTime::fromString(text, Qt::ISODateWithMs) : QDateTime();
    if (!time.isValid() || time.timeSpec() == Qt::LocalTime)
        return fail(name, QStringLiteral("%1 must be an RFC 3339 timestamp with a time zone").arg(name));
    out = std::optional<QDateTime>(time.toUTC());
}

void BodyReader::nullableStringList(QLatin1StringView name, std::optional<std::optional<QStringList>> &out,
                                    qsizetype maxItems, qsizetype maxItemLength, bool allowEmpty)
{
    const std::optional<QJsonValue> value = take(name);
    if (!value)
        return;
    if (value->isNull()) {
        out = std::optional<QStringList>();
        return;
    }
    if (!value->isArray() || (value->toArray().isEmpty() && !allowEmpty) || value->toArray().size() > maxItems)
        return fail(name, QStringLiteral("%1 must be a list of %2 to %3 names, or null")
                              .arg(name)
                              .arg(allowEmpty ? 0 : 1)
                              .arg(maxItems));
    QStringList list;
    for (const QJsonValue item : value->toArray()) {
        if (!item.isString() || item.toString().trimmed().isEmpty() || item.toString().size() > maxItemLength)
            return fail(name, QStringLiteral("%1 must contain non-empty strings of at most %2 characters")
                                  .arg(name)
                                  .arg(maxItemLength));
        list.append(item.toString());
    }
    list.removeDuplicates();
    out = std::optional<QStringList>(list);
}

} // namespace llmpool::gateway::admin
