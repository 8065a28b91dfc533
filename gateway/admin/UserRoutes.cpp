// The users resource (SPEC §6, §9): GET/POST /users, GET/PUT/DELETE /users/{id}. DELETE disables.
// Every write records an audit entry in its own transaction and announces "user:<id>".

#include "admin/AdminResource.h"
#include "proxy/Invalidation.h"
#include "storage/AuditRepository.h"
#include "storage/Transaction.h"
#include "storage/UserAdminRepository.h"
#include "storage/UserRepository.h"

namespace llmpool::gateway {

namespace {

using namespace admin;

constexpr qsizetype kMaxNameLength = 200;
constexpr qsizetype kMaxEmailLength = 320;
constexpr qsizetype kMaxSearchLength = 200;

QJsonObject userJson(const UserRecord &user)
{
    return QJsonObject{{QStringLiteral("id"), user.id},
                       {QStringLiteral("name"), user.name},
                       {QStringLiteral("email"), user.email ? QJsonValue(*user.email) : QJsonValue::Null},
                       {QStringLiteral("enabled"), user.enabled},
                       {QStringLiteral("created_at"), timeJson(user.createdAt)},
                       {QStringLiteral("updated_at"), timeJson(user.updatedAt)}};
}

struct UserPatch
{
    std::optional<QString> name;
    std::optional<std::optional<QString>> email;
    std::optional<bool> enabled;
};

// Applies `change` to the locked user, writes it and the audit entry in one transaction.
template <class Change>
Result<UserRecord> changeUser(QSqlDatabase &db, qint64 id, const QString &actor, const QString &action, Change change)
{
    return inTransaction(db, [&]() -> Result<UserRecord> {
        Result<std::optional<UserRecord>> found = UserAdminRepository::lockById(db, id);
        if (!found)
            return found.takeError();
        if (!found->has_value())
            return Error::notFound(QStringLiteral("user %1 does not exist").arg(id));
        const UserRecord before = **found;
        UserRecord after = before;
        change(after);
        Result<UserRecord> updated = UserAdminRepository::update(db, after);
        if (!updated)
            return updated;
        if (Status audited = AuditRepository::insert(db, actor, action, QStringLiteral("user"), QString::number(id),
                                                     userJson(before), userJson(*updated));
            !audited)
            return audited.takeError();
        return updated;
    });
}

void listUsers(AdminCall &call)
{
    Result<PageRequest> page = parsePage(call.request);
    if (!page)
        return replyError(call.responder, page.error());
    const QString search = QString::fromUtf8(call.request.queryParam("q"));
    if (search.size() > kMaxSearchLength)
        return replyError(
            call.responder,
            BodyReader::invalidField(QLatin1StringView("q"),
                                     QStringLiteral("q must have at most %1 characters").arg(kMaxSearchLength)));
    const PageRequest p = *page;
    runJob(
        call, [search, p](QSqlDatabase &db) { return UserAdminRepository::list(db, search, p.offset(), p.pageSize); },
        [p](HttpResponder &responder, UserPage result) {
            QJsonArray data;
            for (const UserRecord &user : result.users)
                data.append(userJson(user));
            respondJson(responder, 200, pageJson(data, p, result.total));
        },
        JobRetry::Idempotent);
}

void createUser(AdminCall &call)
{
    BodyReader body(call.request.body(), {QLatin1StringView("name"), QLatin1StringView("email")});
    std::optional<QString> name;
    std::optional<std::optional<QString>> email;
    body.require(QLatin1StringView("name"));
    body.string(QLatin1StringView("name"), name, kMaxNameLength);
    body.nullableString(QLatin1StringView("email"), email, kMaxEmailLength);
    if (body.error())
        return replyError(call.responder, *body.error());
    NewUser user;
    user.name = *name;
    user.email = email.value_or(std::nullopt);
    user.currency = call.context->currency;
    const QString actor = call.actor;
    runJob(
        call,
        [user, actor](QSqlDatabase &db) {
            return inTransaction(db, [&]() -> Result<UserRecord> {
                Result<UserRecord> created = UserRepository::create(db, user);
                if (!created)
                    return created;
                if (Status audited =
                        AuditRepository::insert(db, actor, QStringLiteral("user.create"), QStringLiteral("user"),
                                                QString::number(created->id), std::nullopt, userJson(*created));
                    !audited)
                    return audited.takeError();
                return created;
            });
        },
        [](HttpResponder &responder, UserRecord created) { respondJson(responder, 201, userJson(created)); });
}

void getUser(AdminCall &call)
{
    const QByteArray rawId = call.request.pathParam("id");
    const std::optional<qint64> id = parseId(rawId);
    if (!id)
        return replyError(call.responder, notFound(QStringLiteral("user"), rawId));
    runJob(
        call, [id = *id](QSqlDatabase &db) { return UserRepository::findById(db, id); },
        [id = *id](HttpResponder &responder, std::optional<UserRecord> user) {
            if (!user)
                return replyError(responder, Error::notFound(QStringLiteral("user %1 does not exist").arg(id)));
            respondJson(responder, 200, userJson(*user));
        },
        JobRetry::Idempotent);
}

void writeUser(AdminCall &call, const QString &action, std::function<void(UserRecord &)> change)
{
    const QByteArray rawId = call.request.pathParam("id");
    const std::optional<qint64> id = parseId(rawId);
    if (!id)
        return replyError(call.responder, notFound(QStringLiteral("user"), rawId));
    const QString actor = call.actor;
    auto context = call.context;
    runJob(
        call, [id = *id, actor, action, change](QSqlDatabase &db) { return changeUser(db, id, actor, action, change); },
        [context](HttpResponder &responder, UserRecord user) {
            publishInvalidation(*context, Invalidation::userChanged(user.id));
            respondJson(responder, 200, userJson(user));
        });
}

void updateUser(AdminCall &call)
{
    BodyReader body(call.request.body(),
                    {QLatin1StringView("name"), QLatin1StringView("email"), QLatin1StringView("enabled")});
    UserPatch patch;
    body.string(QLatin1StringView("name"), patch.name, kMaxNameLength);
    body.nullableString(QLatin1StringView("email"), patch.email, kMaxEmailLength);
    body.boolean(QLatin1StringView("enabled"), patch.enabled);
    if (body.error())
        return replyError(call.responder, *body.error());
    writeUser(call, QStringLiteral("user.update"), [patch](UserRecord &user) {
        if (patch.name)
            user.name = *patch.name;
        if (patch.email)
            user.email = *patch.email;
        if (patch.enabled)
            user.enabled = *patch.enabled;
    });
}

void disableUser(AdminCall &call)
{
    writeUser(call, QStringLiteral("user.disable"), [](UserRecord &user) { user.enabled = false; });
}

} // namespace

std::vector<AdminRoute> userRoutes()
{
    return {
        {"GET",
         "/users",
         listUsers,
         {.summary = "List users",
          .tag = "users",
          .query = {{"q", api::Type::String, "only users whose name or email contains this"}},
          .responseSchema = "User",
          .shape = api::Shape::Page}},
        {"POST",
         "/users",
         createUser,
         {.summary = "Create a user (with an empty wallet)",
          .tag = "users",
          .requestSchema = "UserCreate",
          .responseSchema = "User",
          .status = 201}},
        {"GET", "/users/{id}", getUser, {.summary = "Get a user", .tag = "users", .responseSchema = "User"}},
        {"PUT",
         "/users/{id}",
         updateUser,
         {.summary = "Update a user (partial)",
          .tag = "users",
          .requestSchema = "UserUpdate",
          .responseSchema = "User"}},
        {"DELETE",
         "/users/{id}",
         disableUser,
         {.summary = "Disable a user (kept for history; their keys stop working)",
          .tag = "users",
          .responseSchema = "User"}},
    };
}

} // namespace llmpool::gateway
