#include "cli/ArgParser.h"

#include <QHash>
#include <QRegularExpression>

namespace llmpool::console {

namespace {

Error usage(const QString &message)
{
    return Error{QStringLiteral("usage"), QStringLiteral("usage"), 0, message, {}};
}

// name → takes a value
const QHash<QString, bool> &optionTable()
{
    static const QHash<QString, bool> table{
        // global
        {QStringLiteral("url"), true},
        {QStringLiteral("token"), true},
        {QStringLiteral("profile"), true},
        {QStringLiteral("format"), true},
        {QStringLiteral("timeout"), true},
        {QStringLiteral("all"), false},
        {QStringLiteral("help"), false},
        // lists
        {QStringLiteral("page"), true},
        {QStringLiteral("page-size"), true},
        {QStringLiteral("search"), true},
        // users
        {QStringLiteral("name"), true},
        {QStringLiteral("email"), true},
        {QStringLiteral("enabled"), true},
        // wallets
        {QStringLiteral("request-id"), true},
        {QStringLiteral("note"), true},
        // keys
        {QStringLiteral("expires"), true},
        {QStringLiteral("models"), true},
        {QStringLiteral("rpm"), true},
        {QStringLiteral("tpm"), true},
        {QStringLiteral("spend-limit"), true},
        // upstreams
        {QStringLiteral("kind"), true},
        {QStringLiteral("api-base"), true},
        {QStringLiteral("api-key"), true},
        {QStringLiteral("weight"), true},
        {QStringLiteral("tags"), true},
        {QStringLiteral("no-detect"), false},
        {QStringLiteral("probe-images"), false},
        // models
        {QStringLiteral("upstream"), true},
        {QStringLiteral("upstream-model"), true},
        {QStringLiteral("capabilities"), true},
        {QStringLiteral("input-price"), true},
        {QStringLiteral("cached-input-price"), true},
        {QStringLiteral("output-price"), true},
        {QStringLiteral("image-price"), true},
        {QStringLiteral("speech-price"), true},
        {QStringLiteral("transcription-price"), true},
        // usage
        {QStringLiteral("user"), true},
        {QStringLiteral("key"), true},
        {QStringLiteral("model"), true},
        {QStringLiteral("since"), true},
        {QStringLiteral("until"), true},
        {QStringLiteral("limit"), true},
        {QStringLiteral("after"), true},
        {QStringLiteral("by"), true},
        {QStringLiteral("group"), true},
    };
    return table;
}

bool looksNegativeNumber(const QString &token)
{
    static const QRegularExpression number(QStringLiteral("^-[0-9]+(\\.[0-9]+)?$"));
    return number.match(token).hasMatch();
}

} // namespace

const QStringList &ArgParser::globalOptions()
{
    static const QStringList options{QStringLiteral("url"),    QStringLiteral("token"),   QStringLiteral("profile"),
                                     QStringLiteral("format"), QStringLiteral("timeout"), QStringLiteral("help")};
    return options;
}

std::optional<bool> ArgParser::takesValue(const QString &name)
{
    const auto it = optionTable().constFind(name);
    if (it == optionTable().constEnd())
        return std::nullopt;
    return *it;
}

std::optional<QString> ParsedArgs::firstNotAllowed(const QStringList &allowed) const
{
    for (const QString &name : order) {
        if (!ArgParser::globalOptions().contains(name) && !allowed.contains(name))
            return name;
    }
    return std::nullopt;
}

Result<ParsedArgs> ArgParser::parse(const QStringList &arguments)
{
    ParsedArgs parsed;
    bool optionsEnded = false;
    for (qsizetype i = 0; i < arguments.size(); ++i) {
        const QString &token = arguments.at(i);
        if (optionsEnded || token == QLatin1String("-") || !token.startsWith(QLatin1Char('-')) ||
            looksNegativeNumber(token)) {
            parsed.positionals.append(token);
            continue;
        }
        if (token == QLatin1String("--")) {
            optionsEnded = true;
            continue;
        }
        if (token == QLatin1String("-h")) {
            parsed.options.insert(QStringLiteral("help"), QStringLiteral("true"));
            parsed.order.append(QStringLiteral("help"));
            continue;
        }
        if (!token.startsWith(QLatin1String("--")))
            return usage(QStringLiteral("unknown option %1 (options are spelled --name)").arg(token));
        QString name = token.mid(2);
        std::optional<QString> inlineValue;
        if (const qsizetype eq = name.indexOf(QLatin1Char('=')); eq >= 0) {
            inlineValue = name.mid(eq + 1);
            name.truncate(eq);
        }
        const std::optional<bool> withValue = takesValue(name);
        if (!withValue)
            return usage(QStringLiteral("unknown option --%1").arg(name));
        QString value = QStringLiteral("true");
        if (*withValue) {
            if (inlineValue) {
                value = *inlineValue;
            } else {
                if (i + 1 >= arguments.size())
                    return usage(QStringLiteral("--%1 needs a value").arg(name));
                value = arguments.at(++i);
            }
        } else if (inlineValue) {
            return usage(QStringLiteral("--%1 takes no value").arg(name));
        }
        if (parsed.options.contains(name))
            return usage(QStringLiteral("--%1 given twice").arg(name));
        parsed.options.insert(name, value);
        parsed.order.append(name);
    }
    return parsed;
}

} // namespace llmpool::console
