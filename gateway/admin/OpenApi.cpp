#include "admin/OpenApi.h"

#include "Log.h"

#include <QRegularExpression>

#include <map>

namespace llmpool::gateway {

namespace {

QString text(const char *s)
{
    return s ? QString::fromUtf8(s) : QString();
}

QJsonObject ref(const char *schema)
{
    return QJsonObject{{QStringLiteral("$ref"), QString(QStringLiteral("#/components/schemas/") + text(schema))}};
}

QJsonObject typeSchema(const api::Field &f)
{
    QJsonObject s;
    switch (f.type) {
    case api::Type::String:
        s.insert(QStringLiteral("type"), QStringLiteral("string"));
        break;
    case api::Type::Integer:
        s.insert(QStringLiteral("type"), QStringLiteral("integer"));
        s.insert(QStringLiteral("format"), QStringLiteral("int64"));
        break;
    case api::Type::Boolean:
        s.insert(QStringLiteral("type"), QStringLiteral("boolean"));
        break;
    case api::Type::Number:
        s.insert(QStringLiteral("type"), QStringLiteral("number"));
        break;
    case api::Type::Money:
        s.insert(QStringLiteral("type"), QStringLiteral("string"));
        s.insert(QStringLiteral("format"), QStringLiteral("decimal"));
        s.insert(QStringLiteral("pattern"), QStringLiteral("^-?[0-9]+(\\.[0-9]{1,9})?$"));
        break;
    case api::Type::Time:
        s.insert(QStringLiteral("type"), QStringLiteral("string"));
        s.insert(QStringLiteral("format"), QStringLiteral("date-time"));
        break;
    case api::Type::StringList:
        s.insert(QStringLiteral("type"), QStringLiteral("array"));
        s.insert(QStringLiteral("items"), QJsonObject{{QStringLiteral("type"), QStringLiteral("string")}});
        break;
    case api::Type::Object:
        s.insert(QStringLiteral("type"), QStringLiteral("object"));
        s.insert(QStringLiteral("additionalProperties"), true);
        break;
    case api::Type::Ref:
        // OpenAPI 3.0 ignores siblings of $ref; allOf carries nullable and description.
        s.insert(QStringLiteral("allOf"), QJsonArray{ref(f.ref)});
        break;
    case api::Type::RefList:
        s.insert(QStringLiteral("type"), QStringLiteral("array"));
        s.insert(QStringLiteral("items"), ref(f.ref));
        break;
    }
    if (!f.values.empty()) {
        QJsonArray values;
        for (const char *v : f.values)
            values.append(text(v));
        if (f.flags & api::Nullable)
            values.append(QJsonValue::Null);
        s.insert(QStringLiteral("enum"), values);
    }
    if (f.flags & api::Nullable)
        s.insert(QStringLiteral("nullable"), true);
    if (f.description && *f.description)
        s.insert(QStringLiteral("description"), text(f.description));
    return s;
}

QJsonObject objectSchema(const api::Schema &schema)
{
    QJsonObject properties;
    QJsonArray required;
    for (const api::Field &f : schema.fields) {
        properties.insert(text(f.name), typeSchema(f));
        if (f.flags & api::Required)
            required.append(text(f.name));
    }
    QJsonObject s{{QStringLiteral("type"), QStringLiteral("object")}, {QStringLiteral("properties"), properties}};
    if (!required.isEmpty())
        s.insert(QStringLiteral("required"), required);
    if (schema.description && *schema.description)
        s.insert(QStringLiteral("description"), text(schema.description));
    return s;
}

QJsonObject responseBody(const api::Operation &op)
{
    switch (op.shape) {
    case api::Shape::Object:
        return ref(op.responseSchema);
    case api::Shape::Page:
        return QJsonObject{
            {QStringLiteral("type"), QStringLiteral("object")},
            {QStringLiteral("required"), QJsonArray{QStringLiteral("data"), QStringLiteral("pagination")}},
            {QStringLiteral("properties"),
             QJsonObject{{QStringLiteral("data"), QJsonObject{{QStringLiteral("type"), QStringLiteral("array")},
                                                              {QStringLiteral("items"), ref(op.responseSchema)}}},
                         {QStringLiteral("pagination"), ref("Pagination")}}}};
    case api::Shape::CursorPage:
        return QJsonObject{
            {QStringLiteral("type"), QStringLiteral("object")},
            {QStringLiteral("required"),
             QJsonArray{QStringLiteral("data"), QStringLiteral("next_cursor"), QStringLiteral("has_more")}},
            {QStringLiteral("properties"),
             QJsonObject{
                 {QStringLiteral("data"), QJsonObject{{QStringLiteral("type"), QStringLiteral("array")},
                                                      {QStringLiteral("items"), ref(op.responseSchema)}}},
                 {QStringLiteral("next_cursor"),
                  QJsonObject{{QStringLiteral("type"), QStringLiteral("string")},
                              {QStringLiteral("nullable"), true},
                              {QStringLiteral("description"),
                               QStringLiteral("pass as `after` for the next page; null on the last")}}},
                 {QStringLiteral("has_more"), QJsonObject{{QStringLiteral("type"), QStringLiteral("boolean")}}}}}};
    }
    return {};
}

QJsonObject parameter(const QString &name, const QString &in, const QJsonObject &schema, bool required,
                      const QString &description)
{
    QJsonObject p{{QStringLiteral("name"), name},
                  {QStringLiteral("in"), in},
                  {QStringLiteral("required"), required},
                  {QStringLiteral("schema"), schema}};
    if (!description.isEmpty())
        p.insert(QStringLiteral("description"), description);
    return p;
}

QJsonObject errorResponse(const QString &description)
{
    return QJsonObject{
        {QStringLiteral("description"), description},
        {QStringLiteral("content"),
         QJsonObject{{QStringLiteral("application/json"), QJsonObject{{QStringLiteral("schema"), ref("Error")}}}}}};
}

QString operationId(const QByteArray &method, const QByteArray &pattern)
{
    QString id = QString::fromLatin1(method).toLower();
    for (const QByteArray &segment : pattern.split('/')) {
        if (segment.isEmpty())
            continue;
        QString part = QString::fromLatin1(segment);
        if (part.startsWith(QLatin1Char('{')))
            part = QStringLiteral("by_") + part.mid(1, part.size() - 2);
        part.replace(QRegularExpression(QStringLiteral("[^A-Za-z0-9_]")), QStringLiteral("_"));
        id += QLatin1Char('_') + part;
    }
    return id;
}

QJsonObject operation(const AdminRoute &route)
{
    const api::Operation &doc = route.doc;
    QJsonObject op;
    op.insert(QStringLiteral("operationId"), operationId(route.method, route.pattern));
    op.insert(QStringLiteral("summary"),
              doc.summary ? text(doc.summary) : QString::fromLatin1(QByteArray(route.method + ' ' + route.pattern)));
    if (doc.description)
        op.insert(QStringLiteral("description"), text(doc.description));
    if (doc.tag)
        op.insert(QStringLiteral("tags"), QJsonArray{text(doc.tag)});

    QJsonArray parameters;
    static const QRegularExpression pathParam(QStringLiteral("\\{([A-Za-z0-9_]+)\\}"));
    for (const QRegularExpressionMatch &m : pathParam.globalMatch(QString::fromLatin1(route.pattern)))
        parameters.append(parameter(m.captured(1), QStringLiteral("path"),
                                    QJsonObject{{QStringLiteral("type"), QStringLiteral("integer")},
                                                {QStringLiteral("format"), QStringLiteral("int64")},
                                                {QStringLiteral("minimum"), 1}},
                                    true, {}));
    if (doc.shape == api::Shape::Page) {
        parameters.append(parameter(QStringLiteral("page"), QStringLiteral("query"),
                                    QJsonObject{{QStringLiteral("type"), QStringLiteral("integer")},
                                                {QStringLiteral("minimum"), 1},
                                                {QStringLiteral("default"), 1}},
                                    false, {}));
        parameters.append(parameter(QStringLiteral("page_size"), QStringLiteral("query"),
                                    QJsonObject{{QStringLiteral("type"), QStringLiteral("integer")},
                                                {QStringLiteral("minimum"), 1},
                                                {QStringLiteral("maximum"), 100},
                                                {QStringLiteral("default"), 20}},
                                    false, {}));
    }
    for (const api::Field &f : doc.query) {
        QJsonObject schema = typeSchema(f);
        schema.remove(QStringLiteral("description"));
        parameters.append(
            parameter(text(f.name), QStringLiteral("query"), schema, f.flags & api::Required, text(f.description)));
    }
    if (!parameters.isEmpty())
        op.insert(QStringLiteral("parameters"), parameters);

    if (doc.requestSchema)
        op.insert(QStringLiteral("requestBody"),
                  QJsonObject{{QStringLiteral("required"), !doc.optionalBody},
                              {QStringLiteral("content"),
                               QJsonObject{{QStringLiteral("application/json"),
                                            QJsonObject{{QStringLiteral("schema"), ref(doc.requestSchema)}}}}}});

    QJsonObject responses;
    QJsonObject success{
        {QStringLiteral("description"), doc.status == 201 ? QStringLiteral("Created") : QStringLiteral("OK")}};
    if (doc.responseSchema)
        success.insert(QStringLiteral("content"),
                       QJsonObject{{QStringLiteral("application/json"),
                                    QJsonObject{{QStringLiteral("schema"), responseBody(doc)}}}});
    responses.insert(QString::number(doc.status), success);
    if (doc.replayStatus != 0 && doc.replayStatus != doc.status) {
        QJsonObject replay = success;
        replay.insert(
            QStringLiteral("description"),
            QStringLiteral("A replay of an earlier request with the same idempotency key: the original result"));
        responses.insert(QString::number(doc.replayStatus), replay);
    }
    if (doc.requestSchema || !doc.query.empty() || doc.shape == api::Shape::Page)
        responses.insert(QStringLiteral("400"), errorResponse(QStringLiteral("A field or parameter is invalid")));
    responses.insert(QStringLiteral("401"), errorResponse(QStringLiteral("Missing or invalid admin credentials")));
    if (route.pattern.contains('{'))
        responses.insert(QStringLiteral("404"), errorResponse(QStringLiteral("No such resource")));
    if (route.method != "GET")
        responses.insert(QStringLiteral("409"), errorResponse(QStringLiteral("Conflicts with existing data")));
    responses.insert(QStringLiteral("default"), errorResponse(QStringLiteral("Any other failure")));
    op.insert(QStringLiteral("responses"), responses);
    return op;
}

} // namespace

QJsonObject buildOpenApi(const std::vector<AdminRoute> &routes, const std::vector<api::Schema> &schemas)
{
    // Sorted paths, methods in the route table's order within a path.
    std::map<QString, QJsonObject> paths;
    for (const AdminRoute &route : routes) {
        QJsonObject &item = paths[QString::fromLatin1(route.pattern)];
        item.insert(QString::fromLatin1(route.method).toLower(), operation(route));
    }
    QJsonObject pathsJson;
    for (const auto &[path, item] : paths)
        pathsJson.insert(path, item);

    QJsonObject schemasJson;
    for (const api::Schema &schema : schemas)
        schemasJson.insert(text(schema.name), objectSchema(schema));

    return QJsonObject{
        {QStringLiteral("openapi"), QStringLiteral("3.0.3")},
        {QStringLiteral("info"),
         QJsonObject{{QStringLiteral("title"), QStringLiteral("LLMPool admin API")},
                     {QStringLiteral("version"), QStringLiteral(LLMPOOL_VERSION)},
                     {QStringLiteral("description"),
                      QStringLiteral("Users, keys, wallets, upstreams, models, usage, audit and status of an "
                                     "LLMPool gateway. Money is a decimal string with up to 9 places; times are "
                                     "RFC 3339 UTC.")}}},
        {QStringLiteral("servers"), QJsonArray{QJsonObject{{QStringLiteral("url"), QStringLiteral("/api/v1")}}}},
        {QStringLiteral("security"), QJsonArray{QJsonObject{{QStringLiteral("bearerAuth"), QJsonArray{}}},
                                                QJsonObject{{QStringLiteral("adminToken"), QJsonArray{}}}}},
        {QStringLiteral("paths"), pathsJson},
        {QStringLiteral("components"),
         QJsonObject{{QStringLiteral("schemas"), schemasJson},
                     {QStringLiteral("securitySchemes"),
                      QJsonObject{{QStringLiteral("bearerAuth"),
                                   QJsonObject{{QStringLiteral("type"), QStringLiteral("http")},
                                               {QStringLiteral("scheme"), QStringLiteral("bearer")},
                                               {QStringLiteral("bearerFormat"), QStringLiteral("JWT")},
                                               {QStringLiteral("description"),
                                                QStringLiteral("An admin JWT (HS256, admin scope) or the static "
                                                               "admin key")}}},
                                  {QStringLiteral("adminToken"),
                                   QJsonObject{{QStringLiteral("type"), QStringLiteral("apiKey")},
                                               {QStringLiteral("in"), QStringLiteral("header")},
                                               {QStringLiteral("name"), QStringLiteral("x-admin-token")}}}}}}}};
}

} // namespace llmpool::gateway
