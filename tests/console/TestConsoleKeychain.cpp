// Tokens in the real system keychain: QtKeychain → Secret Service → gnome-keyring-daemon, in a
// private D-Bus session started by tests/console/with-keyring.sh (ctest runs this test through
// it). A token is written, read back, replaced and removed through KeychainTokenStore, and then the
// CLI keeps a profile's token there: `profile add --token`, a command using it, `profile remove`.

#include "ConsoleTestSupport.h"

#include <QEventLoop>
#include <QProcess>
#include <QTest>

using namespace llmpool;
using namespace llmpool::test;
using console::KeychainTokenStore;

namespace {

// Waits for one asynchronous keychain answer.
template <class T, class Call> T await(Call call)
{
    std::optional<T> answer;
    QObject context;
    call(&context, [&answer](T value) { answer = std::move(value); });
    QEventLoop loop;
    QElapsedTimer timer;
    timer.start();
    while (!answer && timer.elapsed() < 30'000)
        loop.processEvents(QEventLoop::WaitForMoreEvents, 100);
    if (!answer)
        qFatal("no answer from the keychain within 30 s");
    return std::move(*answer);
}

using ReadResult = Result<std::optional<QString>>;

} // namespace

class TestConsoleKeychain : public QObject
{
    Q_OBJECT

private:
    ReadResult read(KeychainTokenStore &store, const QString &account)
    {
        return await<ReadResult>([&](QObject *context, auto done) { store.read(account, context, done); });
    }
    Status write(KeychainTokenStore &store, const QString &account, const QString &token)
    {
        return await<Status>([&](QObject *context, auto done) { store.write(account, token, context, done); });
    }
    Status remove(KeychainTokenStore &store, const QString &account)
    {
        return await<Status>([&](QObject *context, auto done) { store.remove(account, context, done); });
    }

    std::unique_ptr<SharedServices> m_services;
    QTemporaryDir m_dir;

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        if (qEnvironmentVariableIsEmpty("DBUS_SESSION_BUS_ADDRESS") ||
            qEnvironmentVariableIsEmpty("LLMPOOL_TEST_KEYRING"))
            QFAIL("run through tests/console/with-keyring.sh (a private D-Bus session with an unlocked gnome-keyring); "
                  "ctest does");
    }

    void roundTrip()
    {
        KeychainTokenStore store(nullptr, QStringLiteral("llmpool-console-test"));
        const QString account =
            console::TokenStore::account(QStringLiteral("ci"), QUrl(QStringLiteral("http://127.0.0.1:19324")));
        QCOMPARE(account, QStringLiteral("ci@http://127.0.0.1:19324"));

        ReadResult before = read(store, account);
        QVERIFY2(before.ok(), qPrintable(before.ok() ? QString() : before.error().message));
        QVERIFY(!before->has_value());

        Status written = write(store, account, QStringLiteral("eyJ.first.token"));
        QVERIFY2(written.ok(), qPrintable(written.ok() ? QString() : written.error().message));
        ReadResult first = read(store, account);
        QVERIFY2(first.ok(), qPrintable(first.ok() ? QString() : first.error().message));
        QCOMPARE(first->value_or(QString()), QStringLiteral("eyJ.first.token"));

        // Another account of the same service is another secret.
        const QString other =
            console::TokenStore::account(QStringLiteral("ci"), QUrl(QStringLiteral("https://gw.example.com")));
        QVERIFY(write(store, other, QStringLiteral("eyJ.other")).ok());
        QVERIFY(write(store, account, QStringLiteral("eyJ.second.token")).ok());
        QCOMPARE(read(store, account)->value_or(QString()), QStringLiteral("eyJ.second.token"));
        QCOMPARE(read(store, other)->value_or(QString()), QStringLiteral("eyJ.other"));

        Status removed = remove(store, account);
        QVERIFY2(removed.ok(), qPrintable(removed.ok() ? QString() : removed.error().message));
        ReadResult after = read(store, account);
        QVERIFY(after.ok());
        QVERIFY(!after->has_value());
        // Removing what is not there is fine.
        QVERIFY(remove(store, account).ok());
        QVERIFY(remove(store, other).ok());
    }

    // The CLI with its default token store: the keychain.
    void cliProfileToken()
    {
        auto services = SharedServices::fromEnv();
        QVERIFY2(services.ok(), qPrintable(services.ok() ? QString() : services.error().message));
        m_services = std::move(*services);
        TestGateway gateway;
        const Status started = gateway.start(*m_services, m_dir.path());
        QVERIFY2(started.ok(), qPrintable(started.ok() ? QString() : started.error().message));
        const QString profiles = m_dir.filePath(QStringLiteral("console.json"));
        QProcessEnvironment env;
        env.insert(QStringLiteral("HOME"), m_dir.path());

        const CliRun added =
            runCli({QStringLiteral("profile"), QStringLiteral("add"), QStringLiteral("ring"), QStringLiteral("--url"),
                    gateway.url(), QStringLiteral("--token"), gateway.token()},
                   env, nullptr, profiles);
        QVERIFY2(added.exitCode == 0, qPrintable(added.err));
        QVERIFY(added.out.contains(QStringLiteral("token stored in the system keychain")));

        KeychainTokenStore store;
        const QString account = console::TokenStore::account(QStringLiteral("ring"), QUrl(gateway.url()));
        QCOMPARE(read(store, account)->value_or(QString()), gateway.token());

        const CliRun listed = runCli({QStringLiteral("user"), QStringLiteral("list")}, env, nullptr, profiles);
        QVERIFY2(listed.exitCode == 0, qPrintable(listed.err));
        QVERIFY(listed.out.startsWith(QStringLiteral("ID")));

        // login replaces the stored token after checking it with the server.
        const CliRun login =
            runCli({QStringLiteral("login")}, env, nullptr, profiles, QString(gateway.token() + QLatin1Char('\n')));
        QVERIFY2(login.exitCode == 0, qPrintable(login.err));

        // The executable too, with its own event loop (even when told to avoid glib's: libsecret
        // answers through it, so the program must keep it).
        QProcess process;
        QProcessEnvironment processEnv = QProcessEnvironment::systemEnvironment();
        processEnv.insert(QStringLiteral("QT_NO_GLIB"), QStringLiteral("1"));
        processEnv.insert(QStringLiteral("XDG_CONFIG_HOME"), m_dir.filePath(QStringLiteral("exe-config")));
        process.setProcessEnvironment(processEnv);
        process.start(QStringLiteral(LLMPOOL_TEST_CONSOLE),
                      {QStringLiteral("profile"), QStringLiteral("add"), QStringLiteral("exe"), QStringLiteral("--url"),
                       gateway.url(), QStringLiteral("--token"), QStringLiteral("-")});
        process.write(QByteArray(gateway.token().toUtf8() + '\n'));
        process.closeWriteChannel();
        QVERIFY(process.waitForFinished(30'000));
        QVERIFY2(process.exitCode() == 0, process.readAllStandardError().constData());
        process.start(QStringLiteral(LLMPOOL_TEST_CONSOLE), {QStringLiteral("user"), QStringLiteral("list"),
                                                             QStringLiteral("--format"), QStringLiteral("json")});
        QVERIFY(process.waitForFinished(30'000));
        QVERIFY2(process.exitCode() == 0, process.readAllStandardError().constData());
        QVERIFY(process.readAllStandardOutput().contains("\"pagination\""));
        process.start(QStringLiteral(LLMPOOL_TEST_CONSOLE),
                      {QStringLiteral("profile"), QStringLiteral("remove"), QStringLiteral("exe")});
        QVERIFY(process.waitForFinished(30'000));
        QCOMPARE(process.exitCode(), 0);
        QVERIFY(!read(store, console::TokenStore::account(QStringLiteral("exe"), QUrl(gateway.url())))->has_value());

        const CliRun removed = runCli({QStringLiteral("profile"), QStringLiteral("remove"), QStringLiteral("ring")},
                                      env, nullptr, profiles);
        QVERIFY2(removed.exitCode == 0, qPrintable(removed.err));
        ReadResult gone = read(store, account);
        QVERIFY(gone.ok());
        QVERIFY(!gone->has_value());
        gateway.stop();
    }

    void cleanupTestCase() { m_services.reset(); }
};

QTEST_GUILESS_MAIN(TestConsoleKeychain)
#include "TestConsoleKeychain.moc"
