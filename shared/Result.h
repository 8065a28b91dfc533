#pragma once

// Result<T>: a value or an Error. Our code throws no exceptions; every fallible call returns one
// of these, and every request failure becomes a response through one error function
// (gateway/http/ErrorReply.h) that reads Error::httpStatus / type / code.

#include <QString>

#include <optional>
#include <utility>
#include <variant>

namespace llmpool {

struct Error
{
    // OpenAI-style classification used in `{"error":{"message","type","param","code"}}`.
    QString type = QStringLiteral("server_error");
    QString code; // stable machine code, e.g. "invalid_json", "config_invalid"
    int httpStatus = 500;
    QString message; // human text; never contains a secret
    QString param;   // the offending field / key, if any

    static Error invalidRequest(QString code, QString message, QString param = {})
    {
        return Error{QStringLiteral("invalid_request_error"), std::move(code), 400, std::move(message),
                     std::move(param)};
    }
    static Error notFound(QString message, QString param = {})
    {
        return Error{QStringLiteral("invalid_request_error"), QStringLiteral("not_found"), 404, std::move(message),
                     std::move(param)};
    }
    static Error conflict(QString code, QString message)
    {
        return Error{QStringLiteral("invalid_request_error"), std::move(code), 409, std::move(message), {}};
    }
    static Error internal(QString code, QString message)
    {
        return Error{QStringLiteral("server_error"), std::move(code), 500, std::move(message), {}};
    }
    static Error unavailable(QString code, QString message)
    {
        return Error{QStringLiteral("server_error"), std::move(code), 503, std::move(message), {}};
    }
};

template <typename T> class [[nodiscard]] Result
{
public:
    Result(T value) : m_v(std::in_place_index<0>, std::move(value)) {}
    Result(Error error) : m_v(std::in_place_index<1>, std::move(error)) {}

    bool ok() const { return m_v.index() == 0; }
    explicit operator bool() const { return ok(); }

    T &value() & { return std::get<0>(m_v); }
    const T &value() const & { return std::get<0>(m_v); }
    T &&value() && { return std::get<0>(std::move(m_v)); }
    T *operator->() { return &std::get<0>(m_v); }
    const T *operator->() const { return &std::get<0>(m_v); }
    T &operator*() & { return value(); }
    const T &operator*() const & { return value(); }

    const Error &error() const { return std::get<1>(m_v); }
    Error &&takeError() { return std::get<1>(std::move(m_v)); }

private:
    std::variant<T, Error> m_v;
};

// Result<void> equivalent.
struct Ok
{
};
using Status = Result<Ok>;

} // namespace llmpool
