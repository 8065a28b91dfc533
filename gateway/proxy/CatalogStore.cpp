#include "proxy/CatalogStore.h"

#include "Log.h"
#include "storage/CatalogRepository.h"
#include "storage/Database.h"

namespace llmpool::gateway {

CatalogStore::CatalogStore(Database *database, SecretBox secrets, QObject *parent)
    : QObject(parent), m_database(database), m_secrets(std::move(secrets)), m_current(std::make_shared<const Catalog>())
{
    connect(&m_timer, &QTimer::timeout, this, &CatalogStore::reload);
}

void CatalogStore::publish(std::shared_ptr<const Catalog> catalog)
{
    m_current.store(std::move(catalog), std::memory_order_release);
}

void CatalogStore::setReloadInterval(int ms)
{
    m_timer.start(ms);
}

void CatalogStore::reload()
{
    if (m_loading) {
        m_again = true;
        return;
    }
    m_loading = true;
    const SecretBox secrets = m_secrets;
    m_database->run(
        this,
        [secrets](QSqlDatabase &db) -> Result<std::shared_ptr<const Catalog>> {
            auto rows = CatalogRepository::loadAll(db);
            if (!rows) {
                return rows.takeError();
            }
            return build(*rows, secrets);
        },
        [this](Result<std::shared_ptr<const Catalog>> loaded) {
            m_loading = false;
            if (loaded) {
                publish(std::move(*loaded));
                m_loaded.store(true, std::memory_order_release);
                Q_EMIT reloaded();
            } else {
                qCWarning(lcProxy).noquote()
                    << "catalog reload failed, keeping the previous one:" << loaded.error().message;
                if (!isLoaded()) {
                    QTimer::singleShot(1'000, this, &CatalogStore::reload);
                }
            }
            if (std::exchange(m_again, false)) {
                reload();
            }
        },
        JobRetry::Idempotent);
}

Status CatalogStore::loadNow()
{
    const SecretBox secrets = m_secrets;
    auto loaded = m_database->runSync(
        [secrets](QSqlDatabase &db) -> Result<std::shared_ptr<const Catalog>> {
            auto rows = CatalogRepository::loadAll(db);
            if (!rows) {
                return rows.takeError();
            }
            return build(*rows, secrets);
        },
        JobRetry::Idempotent);
    if (!loaded) {
        return loaded.takeError();
    }
    publish(std::move(*loaded));
    m_loaded.store(true, std::memory_order_release);
    Q_EMIT reloaded();
    return Ok{};
}

std::shared_ptr<const Catalog> CatalogStore::build(const CatalogRows &rows, const SecretBox &secrets)
{
    std::vector<CatalogUpstream> upstreams;
    upstreams.reserve(rows.upstreams.size());
    for (const UpstreamRow &row : rows.upstreams) {
        const auto kind = parseUpstreamKind(row.kind);
        if (!kind) {
            qCWarning(lcProxy).noquote() << "upstream" << row.id << "has an unknown kind; skipped";
            continue;
        }
        auto key = secrets.open(row.apiKeyStored, row.apiKeyFormat);
        if (!key) {
            qCWarning(lcProxy).noquote() << "upstream" << row.id << "skipped:" << key.error().message;
            continue;
        }
        CatalogUpstream u;
        u.id = row.id;
        u.name = row.name;
        u.kind = *kind;
        u.apiBase = row.apiBase;
        u.apiKey = QString::fromUtf8(*key);
        u.weight = row.weight;
        u.enabled = row.enabled;
        u.proxyUrl = row.proxyUrl;
        u.azureApiVersion = row.extra.value(QStringLiteral("api_version")).toString();
        u.tags = row.tags;
        upstreams.push_back(std::move(u));
    }
    std::vector<CatalogModel> models;
    models.reserve(rows.models.size());
    for (const ModelRow &row : rows.models) {
        auto capabilities = parseCapabilities(row.capabilities);
        if (!capabilities) {
            qCWarning(lcProxy).noquote() << "model" << row.id << "skipped:" << capabilities.error().message;
            continue;
        }
        CatalogModel m;
        m.id = row.id;
        m.publicName = row.name;
        m.upstreamId = row.upstreamId;
        m.upstreamModel = row.upstreamModel;
        m.capabilities = *capabilities;
        m.weight = row.weight;
        m.enabled = row.enabled;
        m.prices.inputPer1M = row.inputPricePer1M;
        m.prices.cachedInputPer1M = row.cachedInputPricePer1M;
        m.prices.outputPer1M = row.outputPricePer1M;
        m.prices.perImage = row.imagePrice;
        m.prices.speechPer1MChars = row.speechPricePer1MChars;
        m.prices.transcriptionPerMinute = row.transcriptionPricePerMinute;
        models.push_back(std::move(m));
    }
    return Catalog::make(std::move(upstreams), std::move(models));
}

} // namespace llmpool::gateway
