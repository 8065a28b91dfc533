#include "cli/Invocation.h"

#include "Money.h"
#include "session/TokenStore.h"

#include <QEventLoop>
#include <QRegularExpression>
#include <QTimer>

namespace llmpool::console {

namespace {

constexpr int kAllPageSize = 100;
constexpr int kMaxPages = 1'000'000;
constexpr int kKeychainTimeoutMs = 120'000;

bool isDigits(const QString &text)
{
    static const QRegularExpression digits(QStringLiteral("^[0-9]{1,18}$"));
    return digits.match(text).hasMatch();
}

} // namespace

Invocation::Invocation(CliIo &io, ParsedArgs args, QString program, QString commandLine, TokenStore *tokens,
                       QString profilePath)
    : m_io(io), m_args(std::move(args)), m_program(std::move(program)), m_commandLine(std::move(commandLine)),
      m_tokens(tokens), m_profilePath(std::move(profilePath)), m_client(std::make_unique<ApiClient>())
{
}

Invocation::~Invocation() = default;

int Invocation::readGlobalOptions()
{
    if (const std::optional<QString> format = m_args.value(QStringLiteral("format"))) {
        if (*format == QLatin1String("json"))
            m_json = true;
        else if (*format != QLatin1String("table"))
            return usageError(QStringLiteral("--format must be table or json, not \"%1\"").arg(*format));
    }
    if (m_args.has(QStringLiteral("timeout"))) {
        const std::optional<qint64> seconds = intOption(QStringLiteral("timeout"), 1, 86'400);
        if (!seconds)
            return kExitUsage;
        m_client->setTimeoutMs(int(*seconds * 1000));
    }
    return kExitOk;
}

int Invocation::usageError(const QString &message)
{
    m_io.err << m_program << ": " << message << '\n';
    if (!m_commandLine.isEmpty())
        m_io.err << "Try '" << m_program << ' ' << m_commandLine << " --help'.\n";
    m_io.err.flush();
    m_exit = kExitUsage;
    return kExitUsage;
}

int Invocation::fail(int exitCode, const QString &message)
{
    m_io.err << m_program << ": " << message << '\n';
    m_io.err.flush();
    m_exit = exitCode;
    return exitCode;
}

int Invocation::apiFailure(const ApiError &error)
{
    QString message = error.text();
    if (error.kind == ApiError::Kind::Http && error.httpStatus == 401)
        message += QStringLiteral(" (check the admin token: --token, LLMPOOL_TOKEN or `%1 login`)").arg(m_program);
    return fail(error.isRefusal() ? kExitRefused : kExitFailure, message);
}

std::optional<ProfileStore> Invocation::loadProfiles()
{
    ProfileStore store(m_profilePath);
    if (Status loaded = store.load(); !loaded) {
        usageError(loaded.error().message);
        return std::nullopt;
    }
    return store;
}

int Invocation::connect()
{
    auto fromEnv = [this](const char *name) -> std::optional<QString> {
        const QString value = m_io.env.value(QString::fromLatin1(name));
        return value.isEmpty() ? std::nullopt : std::optional<QString>(value);
    };
    std::optional<QString> urlText = m_args.value(QStringLiteral("url"));
    if (!urlText)
        urlText = fromEnv("LLMPOOL_URL");
    std::optional<QString> token = m_args.value(QStringLiteral("token"));
    if (!token)
        token = fromEnv("LLMPOOL_TOKEN");
    const std::optional<QString> profileName = m_args.value(QStringLiteral("profile"));

    std::optional<Profile> profile;
    if (!urlText || !token || profileName) {
        std::optional<ProfileStore> store = loadProfiles();
        if (!store)
            return kExitUsage;
        const QString name = profileName.value_or(store->current());
        if (!name.isEmpty()) {
            profile = store->find(name);
            if (!profile)
                return usageError(
                    QStringLiteral("there is no profile named \"%1\" (see `%2 profile list`)").arg(name, m_program));
        }
    }
    if (!urlText) {
        if (!profile)
            return usageError(QStringLiteral("no server given: pass --url URL, set LLMPOOL_URL, or add a profile "
                                             "(`%1 profile add NAME --url URL`)")
                                  .arg(m_program));
        urlText = profile->url.toString();
    }
    Result<QUrl> url = ApiClient::normalizeServerUrl(*urlText);
    if (!url)
        return usageError(url.error().message);

    if (!token) {
        // A profile's token goes only to that profile's server.
        const Result<QUrl> profileUrl =
            profile ? ApiClient::normalizeServerUrl(profile->url.toString()) : Result<QUrl>(QUrl());
        if (!profile || !profileUrl || *profileUrl != *url || !m_tokens)
            return usageError(QStringLiteral("no admin token given: pass --token TOKEN, set LLMPOOL_TOKEN, or log "
                                             "in (`%1 login`)")
                                  .arg(m_program));
        Result<std::optional<QString>> stored = readToken(TokenStore::account(profile->name, *url));
        if (!stored)
            return fail(kExitFailure, stored.error().message);
        if (!stored->has_value() || (*stored)->isEmpty())
            return usageError(QStringLiteral("no token is stored for profile \"%1\": run `%2 login --profile %1`")
                                  .arg(profile->name, m_program));
        token = **stored;
    }
    m_client->setServer(*url);
    m_client->setToken(*token);
    return kExitOk;
}

namespace {

// Runs one keychain call and waits for its answer, at most kKeychainTimeoutMs (a keychain may
// ask its user to unlock it first).
template <class T, class Start> Result<T> awaitKeychain(Start start)
{
    std::optional<Result<T>> answer;
    QEventLoop loop;
    QObject context;
    start(&context, [&answer, &loop](Result<T> result) {
        answer = std::move(result);
        loop.quit();
    });
    if (!answer) {
        QTimer::singleShot(kKeychainTimeoutMs, &loop, &QEventLoop::quit);
        loop.exec();
    }
    if (!answer)
        return Error{QStringLiteral("keychain_error"),
                     QStringLiteral("keychain_timeout"),
                     0,
                     QStringLiteral("the system keychain did not answer within %1 s").arg(kKeychainTimeoutMs / 1000),
                     {}};
    return std::move(*answer);
}

} // namespace

Result<std::optional<QString>> Invocation::readToken(const QString &account)
{
    return awaitKeychain<std::optional<QString>>(
        [this, &account](QObject *context, auto done) { m_tokens->read(account, context, done); });
}

Status Invocation::writeToken(const QString &account, const QString &token)
{
    return awaitKeychain<Ok>(
        [this, &account, &token](QObject *context, auto done) { m_tokens->write(account, token, context, done); });
}

Status Invocation::removeToken(const QString &account)
{
    return awaitKeychain<Ok>(
        [this, &account](QObject *context, auto done) { m_tokens->remove(account, context, done); });
}

bool Invocation::run(ApiJob &job)
{
    if (!job.isFinished()) {
        QEventLoop loop;
        QObject::connect(&job, &ApiJob::finished, &loop, &QEventLoop::quit);
        job.start();
        if (!job.isFinished())
            loop.exec();
    }
    if (job.error()) {
        apiFailure(*job.error());
        return false;
    }
    return true;
}

std::optional<QJsonObject> Invocation::list(const std::function<ApiJob *(const PageQuery &)> &makeJob)
{
    if (all()) {
        if (m_args.has(QStringLiteral("page")) || m_args.has(QStringLiteral("page-size"))) {
            usageError(QStringLiteral("--all walks every page: leave out --page and --page-size"));
            return std::nullopt;
        }
        QJsonArray items;
        for (int page = 1; page <= kMaxPages; ++page) {
            std::unique_ptr<ApiJob> job(makeJob(PageQuery{page, kAllPageSize}));
            if (!run(*job))
                return std::nullopt;
            const QJsonObject answer = job->object();
            for (const QJsonValue &item : answer.value(QStringLiteral("data")).toArray())
                items.append(item);
            Result<dto::Pagination> pagination = dto::Pagination::fromJson(answer);
            if (!pagination || page >= pagination->totalPages)
                break;
        }
        return QJsonObject{{QStringLiteral("data"), items}};
    }
    PageQuery query;
    if (m_args.has(QStringLiteral("page"))) {
        const std::optional<qint64> page = intOption(QStringLiteral("page"), 1, 1'000'000'000);
        if (!page)
            return std::nullopt;
        query.page = int(*page);
    }
    if (m_args.has(QStringLiteral("page-size"))) {
        const std::optional<qint64> size = intOption(QStringLiteral("page-size"), 1, 100);
        if (!size)
            return std::nullopt;
        query.pageSize = int(*size);
    }
    std::unique_ptr<ApiJob> job(makeJob(query));
    if (!run(*job))
        return std::nullopt;
    return job->object();
}

std::optional<qint64> Invocation::parseId(const QString &text, const QString &what)
{
    if (!isDigits(text) || text.toLongLong() <= 0) {
        usageError(QStringLiteral("%1 must be a numeric id, not \"%2\"").arg(what, text));
        return std::nullopt;
    }
    return text.toLongLong();
}

std::optional<qint64> Invocation::resolveByListing(const QString &text, const QString &what,
                                                   const std::function<ApiJob *(const PageQuery &)> &makeJob)
{
    for (int page = 1; page <= kMaxPages; ++page) {
        std::unique_ptr<ApiJob> job(makeJob(PageQuery{page, kAllPageSize}));
        if (!run(*job))
            return std::nullopt;
        const QJsonObject answer = job->object();
        for (const QJsonValue &item : answer.value(QStringLiteral("data")).toArray()) {
            const QJsonObject row = item.toObject();
            if (row.value(QStringLiteral("name")).toString() == text)
                return qint64(row.value(QStringLiteral("id")).toDouble());
        }
        Result<dto::Pagination> pagination = dto::Pagination::fromJson(answer);
        if (!pagination || page >= pagination->totalPages)
            break;
    }
    fail(kExitRefused, QStringLiteral("there is no %1 named \"%2\"").arg(what, text));
    return std::nullopt;
}

std::optional<qint64> Invocation::resolveUser(const QString &text)
{
    if (isDigits(text))
        return parseId(text, QStringLiteral("USER"));
    if (text.isEmpty()) {
        usageError(QStringLiteral("USER must be an id or a name"));
        return std::nullopt;
    }
    return resolveByListing(text, QStringLiteral("user"), [this, text](const PageQuery &page) {
        return new ListUsersJob(m_client.get(), page, text);
    });
}

std::optional<qint64> Invocation::resolveUpstream(const QString &text)
{
    if (isDigits(text))
        return parseId(text, QStringLiteral("UPSTREAM"));
    if (text.isEmpty()) {
        usageError(QStringLiteral("UPSTREAM must be an id or a name"));
        return std::nullopt;
    }
    return resolveByListing(text, QStringLiteral("upstream"),
                            [this](const PageQuery &page) { return new ListUpstreamsJob(m_client.get(), page); });
}

std::optional<qint64> Invocation::resolveModel(const QString &text)
{
    if (isDigits(text))
        return parseId(text, QStringLiteral("MODEL"));
    if (text.isEmpty()) {
        usageError(QStringLiteral("MODEL must be an id or a name"));
        return std::nullopt;
    }
    QList<qint64> ids;
    for (int page = 1; page <= kMaxPages; ++page) {
        ListModelsJob job(m_client.get(), PageQuery{page, kAllPageSize}, 0, text);
        if (!run(job))
            return std::nullopt;
        for (const dto::Model &model : job.page().items) {
            if (model.name == text)
                ids.append(model.id);
        }
        if (page >= job.page().pagination.totalPages)
            break;
    }
    if (ids.isEmpty()) {
        fail(kExitRefused, QStringLiteral("there is no model named \"%1\"").arg(text));
        return std::nullopt;
    }
    if (ids.size() > 1) {
        QStringList shown;
        for (qint64 id : ids)
            shown.append(QString::number(id));
        usageError(QStringLiteral("%1 models are named \"%2\" (ids %3): give the id")
                       .arg(ids.size())
                       .arg(text, shown.join(QStringLiteral(", "))));
        return std::nullopt;
    }
    return ids.first();
}

std::optional<qint64> Invocation::intOption(const QString &name, qint64 min, qint64 max)
{
    const QString text = m_args.value(name).value_or(QString());
    bool ok = false;
    const qint64 value = text.toLongLong(&ok);
    if (!ok || value < min || value > max) {
        usageError(
            QStringLiteral("--%1 must be an integer from %2 to %3, not \"%4\"").arg(name).arg(min).arg(max).arg(text));
        return std::nullopt;
    }
    return value;
}

std::optional<bool> Invocation::boolOption(const QString &name)
{
    const QString text = m_args.value(name).value_or(QString()).toLower();
    if (text == QLatin1String("true") || text == QLatin1String("yes") || text == QLatin1String("1"))
        return true;
    if (text == QLatin1String("false") || text == QLatin1String("no") || text == QLatin1String("0"))
        return false;
    usageError(QStringLiteral("--%1 must be true or false, not \"%2\"").arg(name, text));
    return std::nullopt;
}

std::optional<QString> Invocation::moneyOption(const QString &name)
{
    const QString text = m_args.value(name).value_or(QString());
    Result<Money> money = Money::parse(text);
    if (!money) {
        usageError(QStringLiteral("--%1: %2").arg(name, money.error().message));
        return std::nullopt;
    }
    return money->toString();
}

std::optional<QDateTime> Invocation::parseTime(const QString &text)
{
    QDateTime time = QDateTime::fromString(text, Qt::ISODateWithMs);
    if (!time.isValid())
        time = QDateTime::fromString(text, Qt::ISODate);
    // RFC 3339 needs an offset; a bare local time would mean different instants on different hosts.
    if (!time.isValid() || time.timeSpec() == Qt::LocalTime)
        return std::nullopt;
    return time.toUTC();
}

std::optional<QDateTime> Invocation::timeOption(const QString &name)
{
    const QString text = m_args.value(name).value_or(QString());
    const std::optional<QDateTime> time = parseTime(text);
    if (!time)
        usageError(QStringLiteral("--%1 must be an RFC 3339 time with an offset (2026-01-31T00:00:00Z), not \"%2\"")
                       .arg(name, text));
    return time;
}

QStringList Invocation::listValue(const QString &text)
{
    QStringList out;
    for (const QString &part : text.split(QLatin1Char(','))) {
        const QString trimmed = part.trimmed();
        if (!trimmed.isEmpty())
            out.append(trimmed);
    }
    return out;
}

void Invocation::printRecord(const QJsonObject &object, const QList<Column> &columns)
{
    if (m_json)
        Output::json(m_io.out, object);
    else
        Output::record(m_io.out, object, columns);
}

void Invocation::printList(const QJsonObject &answer, const QList<Column> &columns)
{
    if (m_json) {
        Output::json(m_io.out, answer);
        return;
    }
    const QJsonArray rows = answer.value(QStringLiteral("data")).toArray();
    Output::table(m_io.out, columns, rows);
    Result<dto::Pagination> pagination = dto::Pagination::fromJson(answer);
    if (pagination && pagination->hasMore())
        m_io.err << "page " << pagination->page << " of " << pagination->totalPages << " (" << pagination->total
                 << " in all): --page " << (pagination->page + 1) << " for the next, --all for every page\n";
}

} // namespace llmpool::console
