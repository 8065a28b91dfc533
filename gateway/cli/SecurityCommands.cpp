#include "cli/SecurityCommands.h"

#include "security/SecretBox.h"
#include "storage/AuditRepository.h"
#include "storage/Database.h"
#include "storage/Transaction.h"
#include "storage/UpstreamKeyRepository.h"

#include <QCommandLineParser>
#include <QJsonObject>

namespace llmpool::gateway {

namespace {

// 64 hex characters → the 32-byte key; nullopt otherwise.
std::optional<QByteArray> parseKey(const QString &hex)
{
    if (hex.size() != 2 * SecretBox::kKeyBytes)
        return std::nullopt;
    for (const QChar ch : hex) {
        if (!((ch >= u'0' && ch <= u'9') || (ch >= u'a' && ch <= u'f') || (ch >= u'A' && ch <= u'F')))
            return std::nullopt;
    }
    return QByteArray::fromHex(hex.toLatin1());
}

// `llmpool security rotate-key --new-key HEX` (SPEC §4, §9): re-seals every upstream's API key
// under a new AES-256-GCM key in one transaction. Each stored key is opened with the current key
// ([security] encryption_key; plaintext rows need none) before anything is written: one that does
// not open (a wrong current key, a tampered row) rolls everything back and names the upstream. The
// rows stay locked until the commit, so an admin write cannot slip a key sealed the old way in
// between. Running gateways keep the keys they have loaded; they need the new key in their
// configuration before they next load the catalog, so the command says so.
class RotateKeyCommand : public Command
{
public:
    RotateKeyCommand()
        : Command(QStringLiteral("rotate-key"),
                  QStringLiteral("Re-encrypt every upstream API key under a new encryption key, in one transaction."))
    {
    }

    int execute(const QStringList &args, CliContext &ctx) override
    {
        QCommandLineParser parser;
        const QCommandLineOption newKey(
            QStringLiteral("new-key"),
            QStringLiteral("The new key: 64 hex characters (e.g. from `openssl rand -hex 32`); '-' reads it from "
                           "standard input, keeping it out of the process list."),
            QStringLiteral("HEX"));
        parser.addOption(newKey);
        if (const int rc = parse(parser, args, ctx); rc >= 0)
            return rc;
        if (!parser.positionalArguments().isEmpty())
            return ctx.usage(QStringLiteral("rotate-key takes no positional arguments"));
        if (!parser.isSet(newKey))
            return ctx.usage(QStringLiteral("--new-key HEX is required"));
        QString hex = parser.value(newKey).trimmed();
        if (hex == QLatin1String("-"))
            hex = ctx.in.readLine().trimmed();
        // The value is never echoed: not even its length says anything about it.
        const std::optional<QByteArray> key = parseKey(hex);
        if (!key)
            return ctx.usage(QStringLiteral("--new-key must be exactly 64 hexadecimal characters (a 32-byte "
                                            "AES-256 key, e.g. from `openssl rand -hex 32`)"));

        auto config = ctx.loadConfig();
        if (!config)
            return ctx.fail(config.error());
        const SecretBox current(config->security.encryptionKey);
        const SecretBox next(*key);
        auto db = openCliDatabase(*config, QStringLiteral("llmpool-cli"));
        if (!db)
            return ctx.fail(db.error());

        auto rotated = (*db)->runSync([&](QSqlDatabase &conn) {
            return inTransaction(conn, [&]() -> Result<qsizetype> {
                Result<QList<StoredUpstreamKey>> keys = UpstreamKeyRepository::lockAll(conn);
                if (!keys)
                    return keys.takeError();
                for (const StoredUpstreamKey &stored : *keys) {
                    Result<QByteArray> plaintext = current.open(stored.stored, stored.format);
                    if (!plaintext)
                        return Error::internal(
                            QStringLiteral("secret_undecryptable"),
                            QStringLiteral("the key of upstream '%1' (id %2) cannot be decrypted with the "
                                           "current [security] encryption_key%3; nothing was changed")
                                .arg(stored.name.left(200))
                                .arg(stored.id)
                                .arg(current.encrypts() ? QString() : QStringLiteral(" (none is configured)")));
                    Result<SealedSecret> sealed = next.seal(*plaintext);
                    if (!sealed)
                        return sealed.takeError();
                    if (Status s = UpstreamKeyRepository::store(conn, stored.id, sealed->stored, sealed->format); !s)
                        return s.takeError();
                }
                if (Status audited =
                        AuditRepository::insert(conn, QStringLiteral("cli"), QStringLiteral("security.rotate_key"),
                                                QStringLiteral("upstream"), QStringLiteral("*"), std::nullopt,
                                                QJsonObject{{QStringLiteral("upstreams"), qint64(keys->size())},
                                                            {QStringLiteral("format"), QString(SecretBox::kAesGcm)}});
                    !audited)
                    return audited.takeError();
                return keys->size();
            });
        });
        if (!rotated)
            return ctx.fail(rotated.error());

        ctx.out << "re-encrypted " << *rotated << (*rotated == 1 ? " upstream key" : " upstream keys")
                << " under the new key." << Qt::endl;
        ctx.out << "Now set [security] encryption_key to the new key in the configuration of every gateway and "
                   "worker ("
                << (ctx.configPath.isEmpty() ? QStringLiteral("llmpool.toml") : ctx.configPath)
                << ") and restart them: with the old key they can no longer read the upstream keys." << Qt::endl;
        return ExitOk;
    }
};

} // namespace

std::unique_ptr<CommandGroup> makeSecurityCommands()
{
    auto group = std::make_unique<CommandGroup>(QStringLiteral("security"),
                                                QStringLiteral("Secrets at rest: re-encrypt upstream keys."));
    group->add(std::make_unique<RotateKeyCommand>());
    return group;
}

} // namespace llmpool::gateway
