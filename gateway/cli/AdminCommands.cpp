#include "cli/AdminCommands.h"

#include "ApiKeys.h"
#include "Clock.h"
#include "Jwt.h"
#include "storage/ApiKeyRepository.h"
#include "storage/Database.h"
#include "storage/UserRepository.h"

#include <QCommandLineParser>

namespace llmpool::gateway {

namespace {

class CreateUserCommand : public Command
{
public:
    CreateUserCommand()
        : Command(QStringLiteral("create-user"), QStringLiteral("Create a user (account) with an empty wallet."))
    {
    }

    int execute(const QStringList &args, CliContext &ctx) override
    {
        QCommandLineParser parser;
        const QCommandLineOption name(QStringLiteral("name"),
                                      QStringLiteral("Unique user name (prompted for when absent)."),
                                      QStringLiteral("NAME"));
        const QCommandLineOption email(QStringLiteral("email"), QStringLiteral("Optional e-mail address."),
                                       QStringLiteral("EMAIL"));
        parser.addOptions({name, email});
        if (const int rc = parse(parser, args, ctx); rc >= 0) {
            return rc;
        }
        if (!parser.positionalArguments().isEmpty()) {
            return ctx.usage(QStringLiteral("create-user takes no positional arguments; use --name NAME"));
        }
        QString userName = parser.value(name).trimmed();
        if (!parser.isSet(name)) {
            ctx.err << "User name: " << Qt::flush;
            userName = ctx.in.readLine().trimmed();
        }
        if (userName.isEmpty()) {
            return ctx.usage(QStringLiteral("a user name is required (--name NAME)"));
        }
        NewUser newUser;
        newUser.name = userName;
        if (const QString e = parser.value(email).trimmed(); !e.isEmpty()) {
            newUser.email = e;
        }

        auto config = ctx.loadConfig();
        if (!config) {
            return ctx.fail(config.error());
        }
        newUser.currency = config->billing.currency;
        auto db = openCliDatabase(*config, QStringLiteral("llmpool-cli"));
        if (!db) {
            return ctx.fail(db.error());
        }
        auto user = (*db)->runSync([&](QSqlDatabase &conn) { return UserRepository::create(conn, newUser); });
        if (!user) {
            return ctx.fail(user.error());
        }
        ctx.out << "created user " << user->name << " (id " << user->id << ")" << Qt::endl;
        return ExitOk;
    }
};

class CreateApiKeyCommand : public Command
{
public:
    CreateApiKeyCommand()
        : Command(QStringLiteral("create-api-key"),
                  QStringLiteral("Create an API key for a user; prints only the key, once."))
    {
    }

    int execute(const QStringList &args, CliContext &ctx) override
    {
        QCommandLineParser parser;
        parser.addPositionalArgument(QStringLiteral("USER_NAME"), QStringLiteral("The user who owns the key."));
        const QCommandLineOption name(QStringLiteral("name"), QStringLiteral("A name for the key."),
                                      QStringLiteral("KEY_NAME"), QStringLiteral("default"));
        parser.addOption(name);
        if (const int rc = parse(parser, args, ctx); rc >= 0) {
            return rc;
        }
        if (parser.positionalArguments().size() != 1) {
            return ctx.usage(QStringLiteral("create-api-key needs exactly one USER_NAME"));
        }
        const QString userName = parser.positionalArguments().constFirst();
        const QString keyName = parser.value(name).trimmed();
        if (keyName.isEmpty() || keyName.size() > 200) {
            return ctx.usage(QStringLiteral("--name must be 1 to 200 characters"));
        }

        auto config = ctx.loadConfig();
        if (!config) {
            return ctx.fail(config.error());
        }
        auto db = openCliDatabase(*config, QStringLiteral("llmpool-cli"));
        if (!db) {
            return ctx.fail(db.error());
        }
        const QString plaintext = ApiKeys::generate();
        NewApiKey key;
        key.name = keyName;
        key.prefix = ApiKeys::prefix(plaintext);
        key.keyHash = ApiKeys::hash(plaintext);
        auto created = (*db)->runSync([&](QSqlDatabase &conn) -> Result<ApiKeyRecord> {
            auto user = UserRepository::findByName(conn, userName);
            if (!user) {
                return user.takeError();
            }
            if (!user->has_value()) {
                return Error::notFound(QStringLiteral("no user named '%1'").arg(userName), QStringLiteral("USER_NAME"));
            }
            key.userId = (*user)->id;
            return ApiKeyRepository::insert(conn, key);
        });
        if (!created) {
            return ctx.fail(created.error());
        }
        // Alone on stdout so that KEY=$(llmpool admin create-api-key alice) works.
        ctx.out << plaintext << Qt::endl;
        return ExitOk;
    }
};

class CreateJwtTokenCommand : public Command
{
public:
    CreateJwtTokenCommand()
        : Command(QStringLiteral("create-jwt-token"),
                  QStringLiteral("Mint an admin JWT (HS256, signed with [admin] jwt_secret); prints only the token."))
    {
    }

    int execute(const QStringList &args, CliContext &ctx) override
    {
        QCommandLineParser parser;
        const QCommandLineOption expire(QStringLiteral("expire"),
                                        QStringLiteral("Lifetime in seconds; 0 = never expires (default 3600)."),
                                        QStringLiteral("SECONDS"), QStringLiteral("3600"));
        const QCommandLineOption subject(QStringLiteral("subject"), QStringLiteral("The token's subject (sub claim)."),
                                         QStringLiteral("NAME"), QStringLiteral("admin"));
        parser.addOptions({expire, subject});
        if (const int rc = parse(parser, args, ctx); rc >= 0) {
            return rc;
        }
        if (!parser.positionalArguments().isEmpty()) {
            return ctx.usage(QStringLiteral("create-jwt-token takes no positional arguments"));
        }
        bool ok = false;
        const qint64 expireSecs = parser.value(expire).toLongLong(&ok);
        // At most ten years: a longer lifetime is almost certainly a typo, and --expire 0 exists.
        if (!ok || expireSecs < 0 || expireSecs > 10ll * 366 * 24 * 3600) {
            return ctx.usage(QStringLiteral("--expire must be a whole number of seconds from 0 to 316224000"));
        }
        auto config = ctx.loadConfig();
        if (!config) {
            return ctx.fail(config.error());
        }
        if (config->admin.jwtSecret.isEmpty()) {
            return ctx.usage(QStringLiteral("admin.jwt_secret is not set in ") +
                             (config->sourcePath.isEmpty() ? QStringLiteral("the configuration") : config->sourcePath));
        }
        auto token = Jwt::mintAdminToken(config->admin.jwtSecret, parser.value(subject), expireSecs,
                                         Clock::instance().nowSecs());
        if (!token) {
            return ctx.fail(token.error());
        }
        ctx.out << QString::fromLatin1(*token) << Qt::endl;
        return ExitOk;
    }
};

} // namespace

std::unique_ptr<CommandGroup> makeAdminCommands()
{
    auto group = std::make_unique<CommandGroup>(QStringLiteral("admin"),
                                                QStringLiteral("Administrative tasks run against the database."));
    group->add(std::make_unique<CreateUserCommand>());
    group->add(std::make_unique<CreateApiKeyCommand>());
    group->add(std::make_unique<CreateJwtTokenCommand>());
    return group;
}

} // namespace llmpool::gateway
