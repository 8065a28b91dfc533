#include "cli/OpenAiCommands.h"

#include "admin/UpstreamDetector.h"
#include "routing/UpstreamTarget.h"
#include "security/SecretBox.h"
#include "storage/Database.h"
#include "storage/UpstreamRepository.h"

#include <QCommandLineParser>
#include <QEventLoop>

namespace llmpool::gateway {

namespace {

struct UpstreamFlags
{
    QCommandLineOption apiKey{QStringLiteral("api-key"), QStringLiteral("The upstream's API key."),
                              QStringLiteral("KEY")};
    QCommandLineOption apiBase{QStringLiteral("api-base"),
                               QStringLiteral("Base URL, e.g. https://api.openai.com/v1 (default: the kind's)."),
                               QStringLiteral("URL")};
    QCommandLineOption kind{QStringLiteral("kind"), QStringLiteral("openai, azure, openrouter, dashscope or ark."),
                            QStringLiteral("KIND"), QStringLiteral("openai")};
    QCommandLineOption apiVersion{QStringLiteral("api-version"), QStringLiteral("Azure api-version."),
                                  QStringLiteral("VERSION")};
    QCommandLineOption probeImages{QStringLiteral("probe-images"),
                                   QStringLiteral("Also probe image generation (a billable call).")};

    void addTo(QCommandLineParser &parser) const
    {
        parser.addOptions({apiKey, apiBase, kind, apiVersion, probeImages});
    }

    // Validated detector options, or the usage message.
    Result<DetectorOptions> read(const QCommandLineParser &parser) const
    {
        DetectorOptions o;
        const auto k = parseUpstreamKind(parser.value(kind));
        if (!k) {
            return Error::invalidRequest(
                QStringLiteral("usage"),
                QStringLiteral("--kind must be one of openai, azure, openrouter, dashscope, ark"));
        }
        o.kind = *k;
        auto base = UpstreamTarget::resolveApiBase(o.kind, parser.value(apiBase));
        if (!base) {
            return Error::invalidRequest(QStringLiteral("usage"),
                                         QStringLiteral("--api-base: ") + base.error().message);
        }
        o.apiBase = *base;
        o.apiKey = parser.value(apiKey);
        if (o.apiKey.isEmpty()) {
            return Error::invalidRequest(QStringLiteral("usage"), QStringLiteral("--api-key is required"));
        }
        o.azureApiVersion = parser.value(apiVersion);
        o.probeImages = parser.isSet(probeImages);
        return o;
    }
};

// Runs the detector on this thread's event loop until it answers.
Result<DetectionResult> detect(const DetectorOptions &options, bool listOnly)
{
    std::optional<Result<DetectionResult>> outcome;
    QEventLoop loop;
    UpstreamDetector detector(options);
    detector.run(
        [&](Result<DetectionResult> r) {
            outcome.emplace(std::move(r));
            loop.quit();
        },
        listOnly);
    if (!outcome) {
        loop.exec();
    }
    return std::move(*outcome);
}

class DetectCommand : public Command
{
public:
    DetectCommand()
        : Command(QStringLiteral("detect"),
                  QStringLiteral("List an upstream's models and probe what each can do; prints a table."))
    {
    }

    int execute(const QStringList &args, CliContext &ctx) override
    {
        QCommandLineParser parser;
        UpstreamFlags flags;
        flags.addTo(parser);
        if (const int rc = parse(parser, args, ctx); rc >= 0) {
            return rc;
        }
        auto options = flags.read(parser);
        if (!options) {
            return ctx.usage(options.error().message);
        }
        auto result = detect(*options, false);
        if (!result) {
            return ctx.fail(result.error());
        }
        ctx.out << UpstreamDetector::table(*result);
        ctx.out.flush();
        return ExitOk;
    }
};

class AddCommand : public Command
{
public:
    AddCommand()
        : Command(QStringLiteral("add"),
                  QStringLiteral("Store an upstream (key encrypted) with every model it lists and their capabilities."))
    {
    }

    int execute(const QStringList &args, CliContext &ctx) override
    {
        QCommandLineParser parser;
        UpstreamFlags flags;
        flags.addTo(parser);
        const QCommandLineOption name(QStringLiteral("name"), QStringLiteral("A unique name for the upstream."),
                                      QStringLiteral("NAME"));
        const QCommandLineOption noDetect(QStringLiteral("no-detect"),
                                          QStringLiteral("Store the upstream only: no model list, no probes."));
        parser.addOptions({name, noDetect});
        if (const int rc = parse(parser, args, ctx); rc >= 0) {
            return rc;
        }
        const QString upstreamName = parser.value(name).trimmed();
        if (upstreamName.isEmpty() || upstreamName.size() > 200) {
            return ctx.usage(QStringLiteral("--name NAME is required (1 to 200 characters)"));
        }
        auto options = flags.read(parser);
        if (!options) {
            return ctx.usage(options.error().message);
        }
        auto config = ctx.loadConfig();
        if (!config) {
            return ctx.fail(config.error());
        }

        std::vector<NewModel> models;
        if (!parser.isSet(noDetect)) {
            auto result = detect(*options, false);
            if (!result) {
                return ctx.fail(result.error());
            }
            ctx.out << UpstreamDetector::table(*result);
            for (const DetectedModel &m : result->models) {
                // A model with no proven capability is stored disabled: the operator decides.
                models.push_back(NewModel{m.id, m.id, capabilityNames(m.capabilities), bool(m.capabilities)});
            }
        }

        const SecretBox box(config->security.encryptionKey);
        auto sealed = box.seal(options->apiKey.toUtf8());
        if (!sealed) {
            return ctx.fail(sealed.error());
        }
        NewUpstream upstream;
        upstream.name = upstreamName;
        upstream.kind = upstreamKindName(options->kind);
        upstream.apiBase = options->apiBase;
        upstream.apiKeySealed = sealed->stored;
        upstream.apiKeyFormat = sealed->format;
        upstream.apiKeyPreview = SecretBox::preview(options->apiKey.toUtf8());
        if (!options->azureApiVersion.isEmpty()) {
            upstream.extra.insert(QStringLiteral("api_version"), options->azureApiVersion);
        }

        auto db = openCliDatabase(*config, QStringLiteral("llmpool-cli"));
        if (!db) {
            return ctx.fail(db.error());
        }
        auto id = (*db)->runSync(
            [&](QSqlDatabase &conn) { return UpstreamRepository::insertWithModels(conn, upstream, models); });
        if (!id) {
            return ctx.fail(id.error());
        }
        const qsizetype enabled =
            std::count_if(models.begin(), models.end(), [](const NewModel &m) { return m.enabled; });
        ctx.out << "added upstream " << upstreamName << " (id " << *id << ") with " << models.size() << " models, "
                << enabled << " enabled" << Qt::endl;
        return ExitOk;
    }
};

} // namespace

std::unique_ptr<CommandGroup> makeOpenAiCommands()
{
    auto group = std::make_unique<CommandGroup>(QStringLiteral("openai"),
                                                QStringLiteral("Inspect and add OpenAI-compatible upstreams."));
    group->add(std::make_unique<DetectCommand>());
    group->add(std::make_unique<AddCommand>());
    return group;
}

} // namespace llmpool::gateway
