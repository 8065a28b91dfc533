#include "Dto.h"

#include <cmath>

namespace llmpool::dto {

namespace {

// Reads members of one wire object; the first problem is kept and later reads are no-ops, so a
// parser reads everything and checks once.
class Reader
{
public:
    explicit Reader(const QJsonObject &object, QString what) : m_object(object), m_what(std::move(what)) {}

    const std::optional<Error> &error() const { return m_error; }

    qint64 integer(QLatin1StringView name)
    {
        const std::optional<qint64> value = nullableInteger(name);
        if (!value && !m_error)
            fail(name, QStringLiteral("is null"));
        return value.value_or(0);
    }

    std::optional<qint64> nullableInteger(QLatin1StringView name)
    {
        const QJsonValue value = take(name);
        if (m_error || value.isNull())
            return std::nullopt;
        const double number = value.toDouble();
        if (!value.isDouble() || std::floor(number) != number || std::fabs(number) > 9007199254740992.0) {
            fail(name, QStringLiteral("is not an integer"));
            return std::nullopt;
        }
        return qint64(number);
    }

    QString string(QLatin1StringView name)
    {
        const QJsonValue value = take(name);
        if (m_error)
            return {};
        if (!value.isString()) {
            fail(name, QStringLiteral("is not a string"));
            return {};
        }
        return value.toString();
    }

    std::optional<QString> nullableString(QLatin1StringView name)
    {
        const QJsonValue value = take(name);
        if (m_error || value.isNull())
            return std::nullopt;
        if (!value.isString()) {
            fail(name, QStringLiteral("is not a string"));
            return std::nullopt;
        }
        return value.toString();
    }

    bool boolean(QLatin1StringView name)
    {
        const QJsonValue value = take(name);
        if (m_error)
            return false;
        if (!value.isBool()) {
            fail(name, QStringLiteral("is not a boolean"));
            return false;
        }
        return value.toBool();
    }

    std::optional<Money> nullableMoney(QLatin1StringView name)
    {
        const std::optional<QString> text = nullableString(name);
        if (!text)
            return std::nullopt;
        Result<Money> money = Money::parse(*text);
        if (!money) {
            fail(name, QStringLiteral("is not a decimal amount"));
            return std::nullopt;
        }
        return *money;
    }

    Money money(QLatin1StringView name)
    {
        const std::optional<Money> value = nullableMoney(name);
        if (!value && !m_error)
            fail(name, QStringLiteral("is null"));
        return value.value_or(Money());
    }

    std::optional<QDateTime> nullableTime(QLatin1StringView name)
    {
        const std::optional<QString> text = nullableString(name);
        if (!text)
            return std::nullopt;
        QDateTime time = QDateTime::fromString(*text, Qt::ISODateWithMs);
        if (!time.isValid()) {
            fail(name, QStringLiteral("is not an RFC 3339 time"));
            return std::nullopt;
        }
        return time.toUTC();
    }

    QDateTime time(QLatin1StringView name)
    {
        const std::optional<QDateTime> value = nullableTime(name);
        if (!value && !m_error)
            fail(name, QStringLiteral("is null"));
        return value.value_or(QDateTime());
    }

    std::optional<QStringList> nullableStringList(QLatin1StringView name)
    {
        const QJsonValue value = take(name);
        if (m_error || value.isNull())
            return std::nullopt;
        if (!value.isArray()) {
            fail(name, QStringLiteral("is not a list"));
            return std::nullopt;
        }
        QStringList out;
        for (const QJsonValue &item : value.toArray()) {
            if (!item.isString()) {
                fail(name, QStringLiteral("holds something other than strings"));
                return std::nullopt;
            }
            out.append(item.toString());
        }
        return out;
    }

    QStringList stringList(QLatin1StringView name) { return nullableStringList(name).value_or(QStringList()); }

    // Members a newer server may add are optional for older ones: read only when present.
    bool has(QLatin1StringView name) const { return m_object.contains(name); }

private:
    QJsonValue take(QLatin1StringView name)
    {
        if (m_error)
            return {};
        const auto it = m_object.constFind(name);
        if (it == m_object.constEnd()) {
            fail(name, QStringLiteral("is missing"));
            return {};
        }
        return it.value();
    }

    void fail(QLatin1StringView name, const QString &problem)
    {
        if (!m_error)
            m_error =
                Error{QStringLiteral("invalid_response"), QStringLiteral("invalid_response"), 502,
                      QStringLiteral("the server's %1 member \"%2\" %3").arg(m_what, name, problem), QString(name)};
    }

    const QJsonObject &m_object;
    QString m_what;
    std::optional<Error> m_error;
};

template <class T> Result<T> finish(const Reader &reader, T value)
{
    if (reader.error())
        return *reader.error();
    return value;
}

} // namespace

Result<Pagination> Pagination::fromJson(const QJsonObject &object)
{
    const QJsonValue data = object.value(QStringLiteral("data"));
    if (!data.isArray())
        return Error{QStringLiteral("invalid_response"), QStringLiteral("invalid_response"), 502,
                     QStringLiteral("the server's list has no \"data\" array"), QStringLiteral("data")};
    const QJsonObject pagination = object.value(QStringLiteral("pagination")).toObject();
    Reader r(pagination, QStringLiteral("pagination"));
    Pagination p;
    p.page = int(r.integer(QLatin1StringView("page")));
    p.pageSize = int(r.integer(QLatin1StringView("page_size")));
    p.total = r.integer(QLatin1StringView("total"));
    p.totalPages = r.integer(QLatin1StringView("total_pages"));
    return finish(r, p);
}

Result<User> User::fromJson(const QJsonObject &object)
{
    Reader r(object, QStringLiteral("user"));
    User u;
    u.id = r.integer(QLatin1StringView("id"));
    u.name = r.string(QLatin1StringView("name"));
    u.email = r.nullableString(QLatin1StringView("email"));
    u.enabled = r.boolean(QLatin1StringView("enabled"));
    u.createdAt = r.time(QLatin1StringView("created_at"));
    u.updatedAt = r.time(QLatin1StringView("updated_at"));
    return finish(r, u);
}

Result<Wallet> Wallet::fromJson(const QJsonObject &object)
{
    Reader r(object, QStringLiteral("wallet"));
    Wallet w;
    w.userId = r.integer(QLatin1StringView("user_id"));
    w.cash = r.money(QLatin1StringView("cash"));
    w.creditLimit = r.money(QLatin1StringView("credit_limit"));
    w.debt = r.money(QLatin1StringView("debt"));
    w.reserved = r.money(QLatin1StringView("reserved"));
    w.available = r.money(QLatin1StringView("available"));
    w.currency = r.string(QLatin1StringView("currency"));
    return finish(r, w);
}

Result<LedgerEntry> LedgerEntry::fromJson(const QJsonObject &object)
{
    Reader r(object, QStringLiteral("ledger entry"));
    LedgerEntry e;
    e.id = r.integer(QLatin1StringView("id"));
    e.userId = r.integer(QLatin1StringView("user_id"));
    e.kind = r.string(QLatin1StringView("kind"));
    e.amount = r.money(QLatin1StringView("amount"));
    e.cashAfter = r.money(QLatin1StringView("cash_after"));
    e.creditLimitAfter = r.money(QLatin1StringView("credit_limit_after"));
    e.debtAfter = r.money(QLatin1StringView("debt_after"));
    e.uniqueRequestId = r.nullableString(QLatin1StringView("unique_request_id")).value_or(QString());
    e.note = r.nullableString(QLatin1StringView("note")).value_or(QString());
    e.createdAt = r.time(QLatin1StringView("created_at"));
    return finish(r, e);
}

Result<ApiKey> ApiKey::fromJson(const QJsonObject &object)
{
    Reader r(object, QStringLiteral("API key"));
    ApiKey k;
    k.id = r.integer(QLatin1StringView("id"));
    k.userId = r.integer(QLatin1StringView("user_id"));
    k.name = r.string(QLatin1StringView("name"));
    k.prefix = r.string(QLatin1StringView("prefix"));
    k.enabled = r.boolean(QLatin1StringView("enabled"));
    k.expiresAt = r.nullableTime(QLatin1StringView("expires_at"));
    k.allowedModels = r.nullableStringList(QLatin1StringView("allowed_models"));
    k.rpmLimit = r.nullableInteger(QLatin1StringView("rpm_limit"));
    k.tpmLimit = r.nullableInteger(QLatin1StringView("tpm_limit"));
    k.spendLimit = r.nullableMoney(QLatin1StringView("spend_limit"));
    k.lastUsedAt = r.nullableTime(QLatin1StringView("last_used_at"));
    k.createdAt = r.time(QLatin1StringView("created_at"));
    if (r.has(QLatin1StringView("key")))
        k.key = r.string(QLatin1StringView("key"));
    return finish(r, k);
}

Result<Upstream> Upstream::fromJson(const QJsonObject &object)
{
    Reader r(object, QStringLiteral("upstream"));
    Upstream u;
    u.id = r.integer(QLatin1StringView("id"));
    u.name = r.string(QLatin1StringView("name"));
    u.kind = r.string(QLatin1StringView("kind"));
    u.apiBase = r.string(QLatin1StringView("api_base"));
    u.apiKeyPreview = r.nullableString(QLatin1StringView("api_key_preview")).value_or(QString());
    u.weight = r.integer(QLatin1StringView("weight"));
    u.enabled = r.boolean(QLatin1StringView("enabled"));
    u.health = r.nullableString(QLatin1StringView("health")).value_or(QString());
    u.tags = r.stringList(QLatin1StringView("tags"));
    u.createdAt = r.time(QLatin1StringView("created_at"));
    u.updatedAt = r.time(QLatin1StringView("updated_at"));
    return finish(r, u);
}

Result<Model> Model::fromJson(const QJsonObject &object)
{
    Reader r(object, QStringLiteral("model"));
    Model m;
    m.id = r.integer(QLatin1StringView("id"));
    m.name = r.string(QLatin1StringView("name"));
    m.upstreamId = r.integer(QLatin1StringView("upstream_id"));
    m.upstreamModel = r.string(QLatin1StringView("upstream_model"));
    m.capabilities = r.stringList(QLatin1StringView("capabilities"));
    m.weight = r.integer(QLatin1StringView("weight"));
    m.enabled = r.boolean(QLatin1StringView("enabled"));
    m.inputPricePer1M = r.money(QLatin1StringView("input_price_per_1m"));
    m.cachedInputPricePer1M = r.money(QLatin1StringView("cached_input_price_per_1m"));
    m.outputPricePer1M = r.money(QLatin1StringView("output_price_per_1m"));
    m.imagePrice = r.money(QLatin1StringView("image_price"));
    m.speechPricePer1MChars = r.money(QLatin1StringView("speech_price_per_1m_chars"));
    m.transcriptionPricePerMinute = r.money(QLatin1StringView("transcription_price_per_minute"));
    return finish(r, m);
}

Result<UsageEvent> UsageEvent::fromJson(const QJsonObject &object)
{
    Reader r(object, QStringLiteral("usage event"));
    UsageEvent e;
    e.requestId = r.string(QLatin1StringView("request_id"));
    e.userId = r.nullableInteger(QLatin1StringView("user_id"));
    e.keyId = r.nullableInteger(QLatin1StringView("key_id"));
    e.model = r.nullableString(QLatin1StringView("model")).value_or(QString());
    e.upstreamId = r.nullableInteger(QLatin1StringView("upstream_id"));
    e.upstreamModel = r.nullableString(QLatin1StringView("upstream_model")).value_or(QString());
    e.endpoint = r.string(QLatin1StringView("endpoint"));
    e.status = int(r.integer(QLatin1StringView("status")));
    e.stream = r.boolean(QLatin1StringView("stream"));
    e.promptTokens = r.nullableInteger(QLatin1StringView("prompt_tokens")).value_or(0);
    e.cachedTokens = r.nullableInteger(QLatin1StringView("cached_tokens")).value_or(0);
    e.completionTokens = r.nullableInteger(QLatin1StringView("completion_tokens")).value_or(0);
    e.totalTokens = r.nullableInteger(QLatin1StringView("total_tokens")).value_or(0);
    e.cost = r.nullableMoney(QLatin1StringView("cost")).value_or(Money());
    e.usageEstimated = r.boolean(QLatin1StringView("usage_estimated"));
    e.latencyMs = r.nullableInteger(QLatin1StringView("latency_ms")).value_or(0);
    e.ttfbMs = r.nullableInteger(QLatin1StringView("ttfb_ms"));
    e.createdAt = r.time(QLatin1StringView("created_at"));
    return finish(r, e);
}

Result<AuditEntry> AuditEntry::fromJson(const QJsonObject &object)
{
    Reader r(object, QStringLiteral("audit entry"));
    AuditEntry a;
    a.id = r.integer(QLatin1StringView("id"));
    a.at = r.time(QLatin1StringView("at"));
    a.actor = r.string(QLatin1StringView("actor"));
    a.action = r.string(QLatin1StringView("action"));
    a.resource = r.string(QLatin1StringView("resource"));
    a.resourceId = r.nullableString(QLatin1StringView("resource_id")).value_or(QString());
    return finish(r, a);
}

} // namespace llmpool::dto
