#include "http/Router.h"

#include "Log.h"

#include <algorithm>

namespace llmpool::gateway {

namespace {

// Splits "/a/b/c" into views "a", "b", "c" one at a time. "/" is one empty segment.
class SegmentCursor
{
public:
    explicit SegmentCursor(QByteArrayView path) : m_path(path), m_pos(path.isEmpty() ? 0 : 1) {}
    bool atEnd() const { return m_pos > m_path.size(); }
    QByteArrayView next()
    {
        qsizetype end = m_path.indexOf('/', m_pos);
        if (end < 0)
            end = m_path.size();
        const QByteArrayView seg = m_path.sliced(m_pos, end - m_pos);
        m_pos = end + 1;
        return seg;
    }
    QByteArrayView rest() const { return m_path.sliced(m_pos); }

private:
    QByteArrayView m_path;
    qsizetype m_pos;
};

// Sort key: literal segments before parameters before a rest parameter, position by position.
bool moreSpecific(const std::vector<std::pair<int, QByteArray>> &a, const std::vector<std::pair<int, QByteArray>> &b)
{
    const size_t n = std::min(a.size(), b.size());
    for (size_t i = 0; i < n; ++i) {
        if (a[i].first != b[i].first)
            return a[i].first < b[i].first;
    }
    return a.size() > b.size();
}

} // namespace

void Router::addRoute(QByteArrayView method, QByteArrayView pattern, HttpHandler handler)
{
    std::vector<Segment> segments;
    bool valid = pattern.startsWith('/');
    SegmentCursor cursor(pattern);
    while (valid && !cursor.atEnd()) {
        const QByteArrayView seg = cursor.next();
        if (seg.startsWith('{')) {
            if (!seg.endsWith('}') || seg.size() < 3) {
                valid = false;
                break;
            }
            QByteArrayView name = seg.sliced(1, seg.size() - 2);
            if (name.endsWith("...")) {
                name.chop(3);
                if (name.isEmpty() || !cursor.atEnd()) {
                    valid = false;
                    break;
                }
                segments.push_back({Segment::Rest, name.toByteArray()});
            } else {
                segments.push_back({Segment::Param, name.toByteArray()});
            }
        } else if (seg.contains('{') || seg.contains('}')) {
            valid = false;
        } else {
            segments.push_back({Segment::Literal, seg.toByteArray()});
        }
    }
    if (!valid || method.isEmpty()) {
        qCCritical(lcHttp) << "invalid route" << method << pattern;
        Q_ASSERT_X(false, "Router::addRoute", "invalid route pattern");
        return;
    }

    const QByteArray source = pattern.toByteArray();
    auto it = std::find_if(m_patterns.begin(), m_patterns.end(),
                           [&](const std::unique_ptr<Pattern> &p) { return p->source == source; });
    Pattern *target = nullptr;
    if (it != m_patterns.end()) {
        target = it->get();
    } else {
        auto p = std::make_unique<Pattern>();
        p->source = source;
        p->segments = std::move(segments);
        target = p.get();
        m_patterns.push_back(std::move(p));
        const bool exact = std::all_of(target->segments.begin(), target->segments.end(),
                                       [](const Segment &s) { return s.kind == Segment::Literal; });
        if (exact)
            m_exact.insert(source, target);
        auto key = [](const Pattern &p) {
            std::vector<std::pair<int, QByteArray>> k;
            for (const Segment &s : p.segments)
                k.emplace_back(int(s.kind), s.text);
            return k;
        };
        std::stable_sort(m_patterns.begin(), m_patterns.end(),
                         [&](const std::unique_ptr<Pattern> &a, const std::unique_ptr<Pattern> &b) {
                             return moreSpecific(key(*a), key(*b));
                         });
    }
    for (MethodHandler &mh : target->methods) {
        if (mh.method == method) {
            mh.handler = std::move(handler); // re-registration replaces
            return;
        }
    }
    target->methods.push_back({method.toByteArray(), std::move(handler)});
}

qsizetype Router::routeCount() const
{
    qsizetype n = 0;
    for (const auto &p : m_patterns)
        n += qsizetype(p->methods.size());
    return n;
}

std::vector<Router::RouteEntry> Router::routes() const
{
    std::vector<RouteEntry> entries;
    for (const auto &p : m_patterns) {
        for (const MethodHandler &mh : p->methods)
            entries.push_back({mh.method, p->source});
    }
    return entries;
}

const HttpHandler *Router::findMethod(const Pattern &p, QByteArrayView method)
{
    for (const MethodHandler &mh : p.methods) {
        if (mh.method == method)
            return &mh.handler;
    }
    if (method == QByteArrayView("HEAD")) {
        for (const MethodHandler &mh : p.methods) {
            if (mh.method == QByteArrayView("GET"))
                return &mh.handler;
        }
    }
    return nullptr;
}

void Router::appendAllow(const Pattern &p, QList<QByteArray> &allow)
{
    for (const MethodHandler &mh : p.methods) {
        if (!allow.contains(mh.method))
            allow.append(mh.method);
        if (mh.method == "GET" && !allow.contains("HEAD"))
            allow.append("HEAD");
    }
}

bool Router::matchSegments(const Pattern &p, QByteArrayView rawPath, QVarLengthArray<HttpRequest::Param, 4> *params)
{
    if (!rawPath.startsWith('/'))
        return false;
    SegmentCursor cursor(rawPath);
    for (const Segment &s : p.segments) {
        if (cursor.atEnd())
            return false;
        if (s.kind == Segment::Rest) {
            const QByteArrayView rest = cursor.rest();
            if (rest.isEmpty())
                return false;
            if (params)
                params->append({s.text, HttpRequest::percentDecode(rest)});
            return true;
        }
        const QByteArrayView seg = cursor.next();
        if (s.kind == Segment::Literal) {
            if (seg.contains('%') ? HttpRequest::percentDecode(seg) != s.text : seg != s.text)
                return false;
        } else {
            if (seg.isEmpty())
                return false;
            if (params)
                params->append({s.text, HttpRequest::percentDecode(seg)});
        }
    }
    return cursor.atEnd();
}

Router::Match Router::match(QByteArrayView method, QByteArrayView rawPath,
                            QVarLengthArray<HttpRequest::Param, 4> &params) const
{
    params.clear();
    Match result;
    // Hot path: an exact route, path without escapes. fromRawData does not copy.
    if (!rawPath.contains('%')) {
        const QByteArray key = QByteArray::fromRawData(rawPath.data(), rawPath.size());
        if (const Pattern *p = m_exact.value(key, nullptr)) {
            if (const HttpHandler *h = findMethod(*p, method)) {
                result.status = 200;
                result.handler = h;
                return result;
            }
        }
    }
    bool pathKnown = false;
    for (const auto &p : m_patterns) {
        if (!matchSegments(*p, rawPath, nullptr))
            continue;
        pathKnown = true;
        if (const HttpHandler *h = findMethod(*p, method)) {
            matchSegments(*p, rawPath, &params);
            result.status = 200;
            result.handler = h;
            return result;
        }
    }
    if (!pathKnown)
        return result;
    QList<QByteArray> allow;
    for (const auto &p : m_patterns) {
        if (matchSegments(*p, rawPath, nullptr))
            appendAllow(*p, allow);
    }
    result.status = 405;
    result.allow = allow.join(", ");
    return result;
}

} // namespace llmpool::gateway
