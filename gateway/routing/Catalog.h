#pragma once

// Catalog: an immutable snapshot of the routing catalog — upstreams and model rows — built once
// from storage and shared as std::shared_ptr<const Catalog>. The proxy swaps the pointer atomically
// when a change arrives (STYLE §1), so a request keeps the snapshot it started with (and with it
// the prices in force when it started, SPEC §5).
//
// Lookup of a public model name is one hash probe giving the contiguous rows of that name.
//
// Thread: none of its own; immutable after construction, so any thread may read it concurrently.

#include "Money.h"
#include "routing/Capability.h"
#include "routing/UpstreamKind.h"

#include <QHash>
#include <QString>
#include <QStringList>

#include <memory>
#include <optional>
#include <span>
#include <vector>

class QDebug;

namespace llmpool::gateway {

struct CatalogUpstream
{
    qint64 id = 0;
    QString name;
    UpstreamKind kind = UpstreamKind::OpenAI;
    QString apiBase; // empty = the kind's default
    QString apiKey;  // SECRET, decrypted plaintext; empty = send no key. Redacted by operator<<.
    int weight = 1;  // ≥ 0; multiplies the weight of each of its model rows; 0 = never chosen
    bool enabled = true;
    QString proxyUrl;        // outbound HTTP proxy for this upstream; empty = direct
    QString azureApiVersion; // azure only; empty = kDefaultAzureApiVersion
    QStringList tags;
};

struct ModelPrices
{
    Money inputPer1M;
    Money cachedInputPer1M;
    Money outputPer1M;
    Money perImage;
    Money speechPer1MChars;
    Money transcriptionPerMinute;
    bool operator==(const ModelPrices &) const = default;
};

struct CatalogModel
{
    qint64 id = 0;
    QString publicName;    // what clients send as "model"
    qint64 upstreamId = 0; // a CatalogUpstream::id
    QString upstreamModel; // what the upstream is sent (Azure: the deployment)
    Capabilities capabilities;
    int weight = 1; // ≥ 0; 0 = never chosen
    bool enabled = true;
    ModelPrices prices;
};

class Catalog
{
public:
    // An empty catalog (no models; every lookup fails).
    Catalog() = default;
    // Rows may come in any order. Upstream ids are unique in storage; should two rows share one the
    // first is kept. A model row whose upstream is missing is kept (admin views show it) but is never
    // servable. Negative weights count as 0.
    Catalog(std::vector<CatalogUpstream> upstreams, std::vector<CatalogModel> models);

    static std::shared_ptr<const Catalog> make(std::vector<CatalogUpstream> upstreams, std::vector<CatalogModel> models)
    {
        return std::make_shared<const Catalog>(std::move(upstreams), std::move(models));
    }

    const std::vector<CatalogUpstream> &upstreams() const { return m_upstreams; }
    // Sorted by (public name, id).
    const std::vector<CatalogModel> &models() const { return m_models; }

    const CatalogUpstream *upstream(qint64 id) const;
    // Every row with this public name (enabled or not), ordered by id; empty if unknown.
    std::span<const CatalogModel> rows(QStringView publicName) const;
    bool contains(QStringView publicName) const { return !rows(publicName).empty(); }

    // The row is enabled and its upstream exists and is enabled (health and weight aside).
    bool isServable(const CatalogModel &row) const;
    // Some row of the name is servable: the model is offered at all.
    bool isOffered(QStringView publicName) const;

    // Whether `allowed` (a key's allowed-model list; nullopt = every model) admits the name.
    static bool isAllowed(QStringView publicName, const std::optional<QStringList> &allowed);
    // Sorted public names that are offered and allowed: what GET /v1/models shows a key.
    QStringList modelsFor(const std::optional<QStringList> &allowed = std::nullopt) const;

private:
    struct Range
    {
        qsizetype offset = 0;
        qsizetype count = 0;
    };

    std::vector<CatalogUpstream> m_upstreams;
    std::vector<CatalogModel> m_models;
    QHash<qint64, qsizetype> m_upstreamIndex; // id → index in m_upstreams
    QHash<QString, Range> m_byName;           // public name → its rows in m_models
};

// Redacted: shows "apiKey: <set>" or "<none>", never the key.
QDebug operator<<(QDebug debug, const CatalogUpstream &upstream);
QDebug operator<<(QDebug debug, const CatalogModel &model);

} // namespace llmpool::gateway
