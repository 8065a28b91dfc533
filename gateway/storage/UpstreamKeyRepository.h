#pragma once

// UpstreamKeyRepository: the stored (sealed) API keys of every upstream, for `llmpool security
// rotate-key`, which re-seals them all under a new encryption key in one transaction. Knows
// nothing of encryption: it moves the stored text and its format.
//
// Stateless; call inside a Database job, on that job's database thread, within a transaction
// (lockAll() locks the rows until it ends).

#include "Result.h"

#include <QByteArray>
#include <QList>
#include <QString>

class QSqlDatabase;

namespace llmpool::gateway {

struct StoredUpstreamKey
{
    qint64 id = 0;
    QString name;
    QByteArray stored; // api_key_encrypted
    QString format;    // api_key_format: "plain" or "aes-256-gcm"
};

class UpstreamKeyRepository
{
public:
    // Every upstream's stored key, by id, locked FOR UPDATE.
    static Result<QList<StoredUpstreamKey>> lockAll(QSqlDatabase &db);
    static Status store(QSqlDatabase &db, qint64 id, const QByteArray &stored, const QString &format);
};

} // namespace llmpool::gateway
