#pragma once

// The console CLI's command line: positionals and `--name VALUE` / `--name=VALUE` / `--flag`
// options in any order (SPEC §9: global options anywhere on the line). "--" ends the options.
// A lone "-" and negative numbers ("-5", "-0.5") are positionals, so `wallet credit alice -5`
// works. Every option is declared in one table (kOptions) with whether it takes a value; each verb
// then says which it accepts (ParsedArgs::checkAllowed).

#include "Result.h"

#include <QMap>
#include <QString>
#include <QStringList>

#include <optional>

namespace llmpool::console {

struct ParsedArgs
{
    QStringList positionals;
    QMap<QString, QString> options; // name without "--"; flags map to "true"
    QStringList order;              // option names as given, first occurrence

    bool has(const QString &name) const { return options.contains(name); }
    std::optional<QString> value(const QString &name) const
    {
        const auto it = options.constFind(name);
        return it == options.constEnd() ? std::nullopt : std::optional<QString>(*it);
    }
    // The first option given that is neither global nor in `allowed`, if any.
    std::optional<QString> firstNotAllowed(const QStringList &allowed) const;
};

class ArgParser
{
public:
    // Options every command takes.
    static const QStringList &globalOptions();
    // Whether --name exists and takes a value; nullopt for an unknown option.
    static std::optional<bool> takesValue(const QString &name);
    // Error.code "usage"; the message names the problem ("unknown option --bogus").
    static Result<ParsedArgs> parse(const QStringList &arguments);
};

} // namespace llmpool::console
