#include "storage/RedisReply.h"

#include <hiredis/hiredis.h>

namespace llmpool::gateway {

RedisReply RedisReply::fromInteger(qint64 value)
{
    RedisReply r;
    r.type = Type::Integer;
    r.integer = value;
    return r;
}

RedisReply RedisReply::fromString(QByteArray value, Type type)
{
    RedisReply r;
    r.type = type;
    r.string = std::move(value);
    return r;
}

RedisReply RedisReply::fromArray(QList<RedisReply> elements)
{
    RedisReply r;
    r.type = Type::Array;
    r.elements = std::move(elements);
    return r;
}

RedisReply RedisReply::fromHiredis(const redisReply *reply)
{
    if (!reply)
        return nil();
    switch (reply->type) {
    case REDIS_REPLY_INTEGER:
        return fromInteger(reply->integer);
    case REDIS_REPLY_STRING:
        return fromString(QByteArray(reply->str, qsizetype(reply->len)), Type::String);
    case REDIS_REPLY_STATUS:
        return fromString(QByteArray(reply->str, qsizetype(reply->len)), Type::Status);
    case REDIS_REPLY_ERROR:
        return fromString(QByteArray(reply->str, qsizetype(reply->len)), Type::Error);
    case REDIS_REPLY_ARRAY: {
        QList<RedisReply> elements;
        elements.reserve(qsizetype(reply->elements));
        for (size_t i = 0; i < reply->elements; ++i)
            elements.append(fromHiredis(reply->element[i]));
        return fromArray(std::move(elements));
    }
    case REDIS_REPLY_NIL:
    default:
        return nil();
    }
}

QString RedisReply::describe() const
{
    switch (type) {
    case Type::Nil:
        return QStringLiteral("(nil)");
    case Type::Integer:
        return QStringLiteral("(integer) ") + QString::number(integer);
    case Type::String:
        return QLatin1Char('"') + QString::fromUtf8(string.left(200)) + QLatin1Char('"');
    case Type::Status:
        return QString::fromUtf8(string.left(200));
    case Type::Error:
        return QStringLiteral("(error) ") + QString::fromUtf8(string.left(200));
    case Type::Array: {
        QStringList parts;
        for (const RedisReply &e : elements.mid(0, 20))
            parts << e.describe();
        if (elements.size() > 20)
            parts << QStringLiteral("…");
        return QLatin1Char('[') + parts.join(QStringLiteral(", ")) + QLatin1Char(']');
    }
    }
    return {};
}

} // namespace llmpool::gateway
