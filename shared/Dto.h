#pragma once

// Typed views of the admin REST API's JSON (SPEC §6, §9 "Field names"): what the console and its
// CLI read from the gateway. Each DTO parses strictly from the wire object (fromJson): a missing
// member or a wrong type is an Error (code "invalid_response") naming the member, so a client never
// works on half-understood data. Money members are exact decimals (Money), times are UTC.
// Plain values; no Qt object, no network, any thread.

#include "Money.h"
#include "Result.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonObject>
#include <QList>
#include <QString>
#include <QStringList>

#include <optional>

namespace llmpool::dto {

// {"pagination":{"page","page_size","total","total_pages"}}
struct Pagination
{
    int page = 1;
    int pageSize = 20;
    qint64 total = 0;
    qint64 totalPages = 0;

    static Result<Pagination> fromJson(const QJsonObject &object);
    bool hasMore() const { return page < totalPages; }
};

struct User
{
    qint64 id = 0;
    QString name;
    std::optional<QString> email;
    bool enabled = true;
    QDateTime createdAt;
    QDateTime updatedAt;

    static Result<User> fromJson(const QJsonObject &object);
};

struct Wallet
{
    qint64 userId = 0;
    Money cash;
    Money creditLimit;
    Money debt;
    Money reserved;
    Money available;
    QString currency;

    static Result<Wallet> fromJson(const QJsonObject &object);
};

// A deposit, withdrawal, credit or spend (SPEC §5): the movement and the wallet after it.
struct LedgerEntry
{
    qint64 id = 0;
    qint64 userId = 0;
    QString kind;
    Money amount;
    Money cashAfter;
    Money creditLimitAfter;
    Money debtAfter;
    QString uniqueRequestId;
    QString note;
    QDateTime createdAt;

    static Result<LedgerEntry> fromJson(const QJsonObject &object);
};

struct ApiKey
{
    qint64 id = 0;
    qint64 userId = 0;
    QString name;
    QString prefix;
    bool enabled = true;
    std::optional<QDateTime> expiresAt;
    std::optional<QStringList> allowedModels;
    std::optional<qint64> rpmLimit;
    std::optional<qint64> tpmLimit;
    std::optional<Money> spendLimit;
    std::optional<QDateTime> lastUsedAt;
    QDateTime createdAt;
    // The plaintext: present only in the answers to create and rotate.
    std::optional<QString> key;

    static Result<ApiKey> fromJson(const QJsonObject &object);
};

struct Upstream
{
    qint64 id = 0;
    QString name;
    QString kind;
    QString apiBase;
    QString apiKeyPreview;
    qint64 weight = 1;
    bool enabled = true;
    QString health;
    QStringList tags;
    QDateTime createdAt;
    QDateTime updatedAt;

    static Result<Upstream> fromJson(const QJsonObject &object);
};

struct Model
{
    qint64 id = 0;
    QString name;
    qint64 upstreamId = 0;
    QString upstreamModel;
    QStringList capabilities;
    qint64 weight = 1;
    bool enabled = true;
    Money inputPricePer1M;
    Money cachedInputPricePer1M;
    Money outputPricePer1M;
    Money imagePrice;
    Money speechPricePer1MChars;
    Money transcriptionPricePerMinute;

    static Result<Model> fromJson(const QJsonObject &object);
};

struct UsageEvent
{
    QString requestId;
    std::optional<qint64> userId;
    std::optional<qint64> keyId;
    QString model;
    std::optional<qint64> upstreamId;
    QString upstreamModel;
    QString endpoint;
    int status = 0;
    bool stream = false;
    qint64 promptTokens = 0;
    qint64 cachedTokens = 0;
    qint64 completionTokens = 0;
    qint64 totalTokens = 0;
    Money cost;
    bool usageEstimated = false;
    qint64 latencyMs = 0;
    std::optional<qint64> ttfbMs;
    QDateTime createdAt;

    static Result<UsageEvent> fromJson(const QJsonObject &object);
};

struct AuditEntry
{
    qint64 id = 0;
    QDateTime at;
    QString actor;
    QString action;
    QString resource;
    QString resourceId;

    static Result<AuditEntry> fromJson(const QJsonObject &object);
};

// One page of a page-numbered list: {"data":[…],"pagination":{…}}.
template <class T> struct Page
{
    QList<T> items;
    Pagination pagination;

    static Result<Page> fromJson(const QJsonObject &object)
    {
        Result<Pagination> pagination = Pagination::fromJson(object);
        if (!pagination)
            return pagination.takeError();
        Page page;
        page.pagination = *pagination;
        const QJsonArray data = object.value(QStringLiteral("data")).toArray();
        page.items.reserve(data.size());
        for (const QJsonValue &value : data) {
            if (!value.isObject())
                return Error{QStringLiteral("invalid_response"), QStringLiteral("invalid_response"), 502,
                             QStringLiteral("the server sent a list item that is not an object"),
                             QStringLiteral("data")};
            Result<T> item = T::fromJson(value.toObject());
            if (!item)
                return item.takeError();
            page.items.append(std::move(*item));
        }
        return page;
    }
};

} // namespace llmpool::dto
