// UserRepository and ApiKeyRepository against a migrated database.

#include "ApiKeys.h"
#include "SharedServices.h"
#include "StorageTestUtil.h"
#include "storage/ApiKeyRepository.h"
#include "storage/Database.h"
#include "storage/UserRepository.h"

#include <QTest>

using namespace llmpool;
using namespace llmpool::gateway;
using namespace llmpool::test;

class TestRepositories : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<SharedServices> m_services;
    std::unique_ptr<Database> m_db;

    Result<UserRecord> createUser(const QString &name, std::optional<QString> email = std::nullopt)
    {
        NewUser user;
        user.name = name;
        user.email = std::move(email);
        return m_db->runSync([user](QSqlDatabase &db) { return UserRepository::create(db, user); });
    }

    Result<ApiKeyRecord> insertKey(NewApiKey key)
    {
        return m_db->runSync([key](QSqlDatabase &db) { return ApiKeyRepository::insert(db, key); });
    }

    Result<std::optional<ApiKeyLookup>> lookup(const QByteArray &hash,
                                               const QDateTime &now = QDateTime::currentDateTimeUtc())
    {
        return m_db->runSync([hash, now](QSqlDatabase &db) { return ApiKeyRepository::findByHash(db, hash, now); },
                             JobRetry::Idempotent);
    }

    static NewApiKey newKey(qint64 userId)
    {
        const QString plaintext = ApiKeys::generate();
        NewApiKey key;
        key.userId = userId;
        key.name = QStringLiteral("ci");
        key.prefix = ApiKeys::prefix(plaintext);
        key.keyHash = ApiKeys::hash(plaintext);
        return key;
    }

private Q_SLOTS:
    void initTestCase()
    {
        Result<std::unique_ptr<SharedServices>> services = SharedServices::fromEnv();
        QVERIFY2(services.ok(), services.ok() ? "" : qPrintable(services.error().message));
        m_services = std::move(services.value());
        m_db = migratedDatabase(*m_services);
    }

    void cleanupTestCase()
    {
        m_db.reset();
        m_services.reset();
    }

    void createsUserWithWallet()
    {
        const QDateTime before = QDateTime::currentDateTimeUtc().addSecs(-5);
        Result<UserRecord> user = createUser(QStringLiteral("  alice  "), QStringLiteral("alice@example.com"));
        QVERIFY2(user.ok(), user.ok() ? "" : qPrintable(user.error().message));
        QVERIFY(user->id > 0);
        QCOMPARE(user->name, QStringLiteral("alice")); // trimmed
        QCOMPARE(user->email, std::optional<QString>(QStringLiteral("alice@example.com")));
        QVERIFY(user->enabled);
        QVERIFY(user->createdAt >= before);
        QCOMPARE(user->createdAt.timeSpec(), Qt::UTC);

        Result<SqlOutcome> wallet =
            sqlOn(*m_db, QStringLiteral("SELECT cash::text || '/' || credit_limit::text || '/' || debt::text || '/' || "
                                        "currency FROM wallets WHERE user_id = %1")
                             .arg(user->id));
        QVERIFY(wallet.ok() && wallet->ok);
        QCOMPARE(wallet->value.toString(), QStringLiteral("0.000000000/0.000000000/0.000000000/USD"));

        Result<std::optional<UserRecord>> byName =
            m_db->runSync([](QSqlDatabase &db) { return UserRepository::findByName(db, QStringLiteral("alice")); });
        QVERIFY(byName.ok() && byName->has_value());
        QCOMPARE((*byName)->id, user->id);
        QCOMPARE((*byName)->createdAt, user->createdAt);

        const qint64 id = user->id;
        Result<std::optional<UserRecord>> byId =
            m_db->runSync([id](QSqlDatabase &db) { return UserRepository::findById(db, id); });
        QVERIFY(byId.ok() && byId->has_value());
        QCOMPARE((*byId)->name, QStringLiteral("alice"));

        Result<std::optional<UserRecord>> missing =
            m_db->runSync([](QSqlDatabase &db) { return UserRepository::findByName(db, QStringLiteral("nobody")); });
        QVERIFY(missing.ok());
        QVERIFY(!missing->has_value());
    }

    void userWithoutEmail()
    {
        Result<UserRecord> user = createUser(QStringLiteral("no-mail"));
        QVERIFY(user.ok());
        QVERIFY(!user->email.has_value());
        Result<UserRecord> blank = createUser(QStringLiteral("blank-mail"), QStringLiteral("  "));
        QVERIFY(blank.ok());
        QVERIFY(!blank->email.has_value());
    }

    void duplicateNameIsAConflict()
    {
        QVERIFY(createUser(QStringLiteral("bob")).ok());
        Result<UserRecord> again = createUser(QStringLiteral("bob"));
        QVERIFY(!again.ok());
        QCOMPARE(again.error().code, QStringLiteral("user_exists"));
        QCOMPARE(again.error().httpStatus, 409);
        // Nothing half-created: still exactly one bob and one wallet for him.
        Result<SqlOutcome> count = sqlOn(*m_db, QStringLiteral("SELECT count(*) FROM users u JOIN wallets w ON "
                                                               "w.user_id = u.id WHERE u.name = 'bob'"));
        QCOMPARE(count->value.toInt(), 1);
    }

    void invalidUsers_data()
    {
        QTest::addColumn<QString>("name");
        QTest::addColumn<QString>("email");
        QTest::addColumn<QString>("code");
        QTest::newRow("empty") << QString() << QString() << QStringLiteral("invalid_name");
        QTest::newRow("blank") << QStringLiteral("   ") << QString() << QStringLiteral("invalid_name");
        QTest::newRow("too long") << QString(201, QLatin1Char('x')) << QString() << QStringLiteral("invalid_name");
        QTest::newRow("bad email") << QStringLiteral("carol") << QStringLiteral("carol.example.com")
                                   << QStringLiteral("invalid_email");
    }

    void invalidUsers()
    {
        QFETCH(QString, name);
        QFETCH(QString, email);
        QFETCH(QString, code);
        Result<UserRecord> user = createUser(name, email.isEmpty() ? std::nullopt : std::optional<QString>(email));
        QVERIFY(!user.ok());
        QCOMPARE(user.error().code, code);
        QCOMPARE(user.error().httpStatus, 400);
    }

    void insertsAndFindsKeys()
    {
        Result<UserRecord> user = createUser(QStringLiteral("keyholder"));
        QVERIFY(user.ok());
        NewApiKey key = newKey(user->id);
        key.allowedModels = QStringList{QStringLiteral("gpt-4o"), QStringLiteral("text-embedding-3-small")};
        key.rpmLimit = 60;
        key.tpmLimit = 100'000;
        key.spendLimit = *Money::parse(u"12.5");
        key.expiresAt = QDateTime::currentDateTimeUtc().addDays(30);
        Result<ApiKeyRecord> inserted = insertKey(key);
        QVERIFY2(inserted.ok(), inserted.ok() ? "" : qPrintable(inserted.error().message));
        QVERIFY(inserted->id > 0);
        QCOMPARE(inserted->keyHash, key.keyHash);
        QCOMPARE(inserted->prefix, key.prefix);
        QCOMPARE(inserted->allowedModels, key.allowedModels);
        QCOMPARE(inserted->rpmLimit, key.rpmLimit);
        QCOMPARE(inserted->tpmLimit, key.tpmLimit);
        QVERIFY(inserted->spendLimit.has_value());
        QCOMPARE(inserted->spendLimit->toString(), QStringLiteral("12.500000000"));
        QCOMPARE(inserted->expiresAt->toMSecsSinceEpoch(), key.expiresAt->toMSecsSinceEpoch());
        QVERIFY(!inserted->revokedAt.has_value());

        Result<std::optional<ApiKeyLookup>> found = lookup(key.keyHash);
        QVERIFY(found.ok() && found->has_value());
        QCOMPARE((*found)->state, ApiKeyState::Active);
        QCOMPARE((*found)->key.id, inserted->id);
        QCOMPARE((*found)->userName, QStringLiteral("keyholder"));
        QVERIFY((*found)->userEnabled);

        // A key without optional settings round-trips its NULLs.
        Result<ApiKeyRecord> plain = insertKey(newKey(user->id));
        QVERIFY(plain.ok());
        QVERIFY(!plain->allowedModels && !plain->rpmLimit && !plain->tpmLimit && !plain->spendLimit &&
                !plain->expiresAt);

        Result<std::optional<ApiKeyLookup>> unknown = lookup(ApiKeys::hash(ApiKeys::generate()));
        QVERIFY(unknown.ok());
        QVERIFY(!unknown->has_value());
    }

    void keyErrors()
    {
        Result<UserRecord> user = createUser(QStringLiteral("dup-keys"));
        QVERIFY(user.ok());
        NewApiKey key = newKey(user->id);
        QVERIFY(insertKey(key).ok());
        Result<ApiKeyRecord> duplicate = insertKey(key);
        QVERIFY(!duplicate.ok());
        QCOMPARE(duplicate.error().code, QStringLiteral("api_key_exists"));
        QCOMPARE(duplicate.error().httpStatus, 409);

        Result<ApiKeyRecord> noUser = insertKey(newKey(987654321));
        QVERIFY(!noUser.ok());
        QCOMPARE(noUser.error().code, QStringLiteral("user_not_found"));
        QCOMPARE(noUser.error().httpStatus, 404);

        NewApiKey badHash = newKey(user->id);
        badHash.keyHash = "sk-lp-plaintext-must-never-be-stored";
        QCOMPARE(insertKey(badHash).error().code, QStringLiteral("invalid_api_key"));

        NewApiKey emptyModels = newKey(user->id);
        emptyModels.allowedModels = QStringList{};
        QCOMPARE(insertKey(emptyModels).error().code, QStringLiteral("invalid_api_key"));

        NewApiKey zeroRpm = newKey(user->id);
        zeroRpm.rpmLimit = 0;
        QCOMPARE(insertKey(zeroRpm).error().httpStatus, 400);
    }

    void keyStates()
    {
        Result<UserRecord> user = createUser(QStringLiteral("stateful"));
        QVERIFY(user.ok());
        const QDateTime now = QDateTime::currentDateTimeUtc();

        NewApiKey expiring = newKey(user->id);
        expiring.expiresAt = now.addSecs(60);
        QVERIFY(insertKey(expiring).ok());
        QCOMPARE((*lookup(expiring.keyHash, now))->state, ApiKeyState::Active);
        // The clock seam decides "now": a minute later the key has expired.
        QCOMPARE((*lookup(expiring.keyHash, now.addSecs(61)))->state, ApiKeyState::Expired);

        NewApiKey revoked = newKey(user->id);
        QVERIFY(insertKey(revoked).ok());
        QVERIFY(sqlOn(*m_db, QStringLiteral("UPDATE api_keys SET revoked_at = now() WHERE key_hash = '%1'")
                                 .arg(QString::fromLatin1(revoked.keyHash)))
                    ->ok);
        QCOMPARE((*lookup(revoked.keyHash))->state, ApiKeyState::Revoked);

        NewApiKey disabled = newKey(user->id);
        QVERIFY(insertKey(disabled).ok());
        QVERIFY(sqlOn(*m_db, QStringLiteral("UPDATE api_keys SET enabled = false WHERE key_hash = '%1'")
                                 .arg(QString::fromLatin1(disabled.keyHash)))
                    ->ok);
        QCOMPARE((*lookup(disabled.keyHash))->state, ApiKeyState::Disabled);

        NewApiKey good = newKey(user->id);
        QVERIFY(insertKey(good).ok());
        QVERIFY(sqlOn(*m_db, QStringLiteral("UPDATE users SET enabled = false WHERE id = %1").arg(user->id))->ok);
        Result<std::optional<ApiKeyLookup>> ofDisabledUser = lookup(good.keyHash);
        QCOMPARE((*ofDisabledUser)->state, ApiKeyState::UserDisabled);
        QVERIFY(!(*ofDisabledUser)->userEnabled);
        // A key problem is reported before the user's (401 before 403).
        QCOMPARE((*lookup(revoked.keyHash))->state, ApiKeyState::Revoked);
    }
};

QTEST_GUILESS_MAIN(TestRepositories)
#include "TestRepositories.moc"
