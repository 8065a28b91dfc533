#pragma once

// UsageEventJson: the wire form of a UsageEvent on the Redis Stream and in the spool file — one
// compact JSON object (no newline inside, so the spool is one event per line). Its field names are
// what llmpool_settle_usage() (migrations/0002_billing.sql) reads. Money travels as decimal text.

#include "Result.h"
#include "usage/UsageEvent.h"

#include <QByteArray>

namespace llmpool::gateway {

class UsageEventJson
{
public:
    static QByteArray encode(const UsageEvent &event);

    // What the pipeline needs to route an event without decoding all of it.
    struct Header
    {
        QByteArray requestId;
        qint64 userId = 0;
        qint64 keyId = 0;
        Money cost;
    };
    // Checks the fields the settle function relies on; "usage_event_invalid" otherwise.
    static Result<Header> header(QByteArrayView json);
};

} // namespace llmpool::gateway
