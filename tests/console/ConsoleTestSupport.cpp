#include "ConsoleTestSupport.h"

#include "Jwt.h"

#include <QDateTime>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QFile>
#include <QJsonDocument>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QRegularExpression>
#include <QTimer>

#include <csignal>

namespace llmpool::test {

namespace {

const QByteArray kJwtSecret = QByteArrayLiteral("console-test-secret-console-test-secret-01");

Error testError(const QString &message)
{
    return Error::internal(QStringLiteral("test"), message);
}

QProcessEnvironment toolEnvironment()
{
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("LLMPOOL_MIGRATIONS_DIR"), QStringLiteral(LLMPOOL_TEST_MIGRATIONS_DIR));
    env.remove(QStringLiteral("LLMPOOL_CONFIG"));
    env.remove(QStringLiteral("DATABASE_URL"));
    env.remove(QStringLiteral("REDIS_URL"));
    return env;
}

} // namespace

TestGateway::~TestGateway()
{
    stop();
}

Result<QString> TestGateway::runTool(const QStringList &arguments) const
{
    QProcess process;
    process.setProcessEnvironment(toolEnvironment());
    process.start(QStringLiteral(LLMPOOL_TEST_BINARY), arguments);
    if (!process.waitForFinished(60'000) || process.exitStatus() != QProcess::NormalExit || process.exitCode() != 0)
        return testError(QStringLiteral("llmpool %1 failed: %2")
                             .arg(arguments.join(QLatin1Char(' ')), QString::fromUtf8(process.readAllStandardError())));
    return QString::fromUtf8(process.readAllStandardOutput()).trimmed();
}

Status TestGateway::start(SharedServices &services, const QString &dir)
{
    Result<QString> database = services.createDatabase();
    if (!database)
        return database.takeError();
    m_config = dir + QStringLiteral("/gateway.toml");
    QFile file(m_config);
    if (!file.open(QIODevice::WriteOnly))
        return testError(QStringLiteral("cannot write %1").arg(m_config));
    file.write(QByteArray("[server]\nthreads = 1\n[database]\nurl = \"" + database->toUtf8() +
                          "\"\npool_size = 2\n[redis]\nurl = \"" + services.redisUrl().toUtf8() +
                          "\"\n[admin]\njwt_secret = \"" + kJwtSecret + "\"\n"));
    file.close();
    if (Result<QString> migrated = runTool({QStringLiteral("migrate"), QStringLiteral("--config"), m_config});
        !migrated)
        return migrated.takeError();
    // Minted here with the config's secret, as `llmpool admin create-jwt-token` does (TestCli covers
    // that command).
    Result<QByteArray> token =
        Jwt::mintAdminToken(kJwtSecret, QStringLiteral("console-test"), 3600, QDateTime::currentSecsSinceEpoch());
    if (!token)
        return token.takeError();
    m_token = QString::fromLatin1(*token);

    m_process = std::make_unique<QProcess>();
    m_process->setProcessEnvironment(toolEnvironment());
    m_process->setProcessChannelMode(QProcess::SeparateChannels);
    m_process->start(QStringLiteral(LLMPOOL_TEST_BINARY),
                     {QStringLiteral("serve"), QStringLiteral("--config"), m_config, QStringLiteral("--bind"),
                      QStringLiteral("127.0.0.1:0")});
    if (!m_process->waitForStarted(10'000))
        return testError(QStringLiteral("llmpool serve did not start"));
    static const QRegularExpression listening(QStringLiteral("listening on (http://127\\.0\\.0\\.1:\\d+)"));
    QString seen;
    QElapsedTimer timer;
    timer.start();
    while (timer.elapsed() < 30'000) {
        if (m_process->canReadLine()) {
            const QString line = QString::fromUtf8(m_process->readLine());
            seen += line;
            const QRegularExpressionMatch match = listening.match(line);
            if (match.hasMatch()) {
                m_url = match.captured(1);
                return Ok{};
            }
            continue;
        }
        if (m_process->state() == QProcess::NotRunning)
            break;
        m_process->waitForReadyRead(200);
    }
    return testError(QStringLiteral("llmpool serve did not listen: %1 %2")
                         .arg(seen, QString::fromUtf8(m_process->readAllStandardError())));
}

void TestGateway::stop()
{
    if (!m_process)
        return;
    if (m_process->state() != QProcess::NotRunning) {
        ::kill(pid_t(m_process->processId()), SIGTERM);
        if (!m_process->waitForFinished(15'000)) {
            m_process->kill();
            m_process->waitForFinished(5'000);
        }
    }
    m_process.reset();
}

TestGateway::Reply TestGateway::api(const QByteArray &method, const QString &path, const QJsonObject &body,
                                    const QString &token) const
{
    QNetworkAccessManager network;
    QNetworkRequest request(QUrl(QString(m_url + QStringLiteral("/api/v1") + path)));
    request.setRawHeader("Authorization", QByteArray("Bearer " + (token.isEmpty() ? m_token : token).toUtf8()));
    const QByteArray payload = body.isEmpty() ? QByteArray() : QJsonDocument(body).toJson(QJsonDocument::Compact);
    if (!payload.isEmpty())
        request.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
    QNetworkReply *reply = network.sendCustomRequest(request, method, payload);
    QEventLoop loop;
    QObject::connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
    QTimer::singleShot(30'000, &loop, &QEventLoop::quit);
    if (!reply->isFinished())
        loop.exec();
    Reply out;
    out.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    out.body = QJsonDocument::fromJson(reply->readAll()).object();
    delete reply;
    return out;
}

void MemoryTokenStore::read(const QString &account, QObject *context, ReadCallback done)
{
    const auto it = tokens.constFind(account);
    const std::optional<QString> found = it == tokens.constEnd() ? std::nullopt : std::optional<QString>(*it);
    QTimer::singleShot(0, context, [done = std::move(done), found] { done(found); });
}

void MemoryTokenStore::write(const QString &account, const QString &token, QObject *context, DoneCallback done)
{
    tokens.insert(account, token);
    QTimer::singleShot(0, context, [done = std::move(done)] { done(Ok{}); });
}

void MemoryTokenStore::remove(const QString &account, QObject *context, DoneCallback done)
{
    tokens.remove(account);
    QTimer::singleShot(0, context, [done = std::move(done)] { done(Ok{}); });
}

CliRun runCli(QStringList arguments, const QProcessEnvironment &env, console::TokenStore *tokens,
              const QString &profilePath, const QString &stdinText)
{
    QString outText, errText, inText = stdinText;
    QTextStream out(&outText), err(&errText), in(&inText);
    console::CliIo io{out, err, in, env};
    console::Cli cli;
    if (tokens)
        cli.setTokenStore(tokens);
    cli.setProfilePath(profilePath);
    arguments.prepend(QStringLiteral("llmpool-ctl"));
    CliRun run;
    run.exitCode = cli.run(arguments, io);
    out.flush();
    err.flush();
    run.out = outText;
    run.err = errText;
    return run;
}

} // namespace llmpool::test
