#pragma once

// RedisReply: one Redis reply as a plain value (RESP2: nil, integer, bulk string, status, error,
// array). Copyable, any thread. An error reply ("-WRONGTYPE …") is a successful transport of a
// reply, so it arrives as Result<RedisReply> with ok() and type Error; the caller decides.

#include <QByteArray>
#include <QList>
#include <QString>

struct redisReply;

namespace llmpool::gateway {

class RedisReply
{
public:
    enum class Type { Nil, Integer, String, Status, Error, Array };

    Type type = Type::Nil;
    qint64 integer = 0;         // Integer
    QByteArray string;          // String, Status, Error (the text without '-' / '+')
    QList<RedisReply> elements; // Array

    static RedisReply nil() { return {}; }
    static RedisReply fromInteger(qint64 value);
    static RedisReply fromString(QByteArray value, Type type = Type::String);
    static RedisReply fromArray(QList<RedisReply> elements);
    // Deep copy of a hiredis reply (which hiredis frees after the callback).
    static RedisReply fromHiredis(const redisReply *reply);

    bool isNil() const { return type == Type::Nil; }
    bool isError() const { return type == Type::Error; }
    bool isInteger() const { return type == Type::Integer; }
    bool isString() const { return type == Type::String; }
    bool isStatus() const { return type == Type::Status; }
    bool isArray() const { return type == Type::Array; }

    // For logs and test failures: `"OK"`, `(integer) 3`, `(error) WRONGTYPE …`, `[…]`.
    QString describe() const;

    bool operator==(const RedisReply &) const = default;
};

} // namespace llmpool::gateway
