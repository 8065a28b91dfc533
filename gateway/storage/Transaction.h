#pragma once

// Transaction: runs a unit of work inside one database transaction on a job's connection,
// committing when it returns a value and rolling back when it returns an Error (or the commit
// fails). Used by the admin writes, whose audit row must commit together with the change.
// Stateless; call it inside a Database job, on that job's database thread.

#include "Result.h"
#include "storage/SqlErrors.h"

#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>

#include <type_traits>

namespace llmpool::gateway {

template <class Work> auto inTransaction(QSqlDatabase &db, Work work) -> std::invoke_result_t<Work &>
{
    using R = std::invoke_result_t<Work &>;
    if (!db.transaction())
        return R(SqlErrors::toError(db.lastError(), db, u"begin transaction"));
    R result = work();
    if (!result) {
        db.rollback();
        // A statement that failed inside the transaction could not be deallocated when its
        // QSqlQuery died (the transaction was aborted by then): drop such leftovers so a
        // long-lived connection does not collect them. No QSqlQuery of the work is alive here.
        QSqlQuery(db).exec(QStringLiteral("DEALLOCATE ALL"));
        return result;
    }
    if (!db.commit()) {
        Error error = SqlErrors::toError(db.lastError(), db, u"commit");
        db.rollback();
        return R(std::move(error));
    }
    return result;
}

} // namespace llmpool::gateway
