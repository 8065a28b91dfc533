#include "routing/Catalog.h"

#include <QDebug>

#include <algorithm>

namespace llmpool::gateway {

Catalog::Catalog(std::vector<CatalogUpstream> upstreams, std::vector<CatalogModel> models)
{
    m_upstreams.reserve(upstreams.size());
    for (CatalogUpstream &u : upstreams) {
        if (m_upstreamIndex.contains(u.id))
            continue;
        u.weight = std::max(u.weight, 0);
        m_upstreamIndex.insert(u.id, qsizetype(m_upstreams.size()));
        m_upstreams.push_back(std::move(u));
    }

    m_models = std::move(models);
    for (CatalogModel &m : m_models)
        m.weight = std::max(m.weight, 0);
    std::sort(m_models.begin(), m_models.end(), [](const CatalogModel &a, const CatalogModel &b) {
        const int c = QString::compare(a.publicName, b.publicName, Qt::CaseSensitive);
        return c != 0 ? c < 0 : a.id < b.id;
    });
    m_byName.reserve(qsizetype(m_models.size()));
    for (qsizetype i = 0; i < qsizetype(m_models.size());) {
        qsizetype j = i + 1;
        while (j < qsizetype(m_models.size()) && m_models[size_t(j)].publicName == m_models[size_t(i)].publicName)
            ++j;
        m_byName.insert(m_models[size_t(i)].publicName, Range{i, j - i});
        i = j;
    }
}

const CatalogUpstream *Catalog::upstream(qint64 id) const
{
    const auto it = m_upstreamIndex.constFind(id);
    return it == m_upstreamIndex.cend() ? nullptr : &m_upstreams[size_t(*it)];
}

std::span<const CatalogModel> Catalog::rows(QStringView publicName) const
{
    // QHash<QString> lookups take a QString; names are short, so the copy is cheap.
    const auto it = m_byName.constFind(publicName.toString());
    if (it == m_byName.cend())
        return {};
    return std::span<const CatalogModel>(m_models.data() + it->offset, size_t(it->count));
}

bool Catalog::isServable(const CatalogModel &row) const
{
    if (!row.enabled)
        return false;
    const CatalogUpstream *u = upstream(row.upstreamId);
    return u && u->enabled;
}

bool Catalog::isOffered(QStringView publicName) const
{
    const std::span<const CatalogModel> r = rows(publicName);
    return std::any_of(r.begin(), r.end(), [this](const CatalogModel &m) { return isServable(m); });
}

bool Catalog::isAllowed(QStringView publicName, const std::optional<QStringList> &allowed)
{
    if (!allowed)
        return true;
    return std::any_of(allowed->cbegin(), allowed->cend(), [publicName](const QString &a) { return a == publicName; });
}

QStringList Catalog::modelsFor(const std::optional<QStringList> &allowed) const
{
    QStringList names;
    // m_models is sorted by name, so walking it gives each name once, in order.
    for (size_t i = 0; i < m_models.size(); ++i) {
        const QString &name = m_models[i].publicName;
        if (i > 0 && m_models[i - 1].publicName == name)
            continue;
        if (isAllowed(name, allowed) && isOffered(name))
            names.append(name);
    }
    return names;
}

QDebug operator<<(QDebug debug, const CatalogUpstream &u)
{
    const QDebugStateSaver saver(debug);
    debug.nospace() << "CatalogUpstream(id=" << u.id << ", name=" << u.name << ", kind=" << upstreamKindName(u.kind)
                    << ", apiBase=" << u.apiBase << ", apiKey=" << (u.apiKey.isEmpty() ? "<none>" : "<set>")
                    << ", weight=" << u.weight << ", enabled=" << u.enabled
                    << ", proxyUrl=" << (u.proxyUrl.isEmpty() ? QStringLiteral("<none>") : QStringLiteral("<set>"))
                    << ", azureApiVersion=" << u.azureApiVersion << ", tags=" << u.tags << ')';
    return debug;
}

QDebug operator<<(QDebug debug, const CatalogModel &m)
{
    const QDebugStateSaver saver(debug);
    debug.nospace() << "CatalogModel(id=" << m.id << ", name=" << m.publicName << ", upstreamId=" << m.upstreamId
                    << ", upstreamModel=" << m.upstreamModel
                    << ", capabilities=" << capabilityNames(m.capabilities).join(u',') << ", weight=" << m.weight
                    << ", enabled=" << m.enabled << ')';
    return debug;
}

} // namespace llmpool::gateway
