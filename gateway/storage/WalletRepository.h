#pragma once

// WalletRepository: wallets and the append-only ledger (SPEC §5). Pure functions over a connection:
// call them inside a Database job, on that job's database thread.
//
// Money rules (the same ones llmpool_settle_usage() applies to spending, and the ones reconcile()
// replays):
//   deposit    amount > 0: repays debt first, the rest goes to cash
//   withdrawal amount > 0: from cash only; "insufficient_funds" (409) when cash is short
//   credit     amount != 0: a signed change of credit_limit, which must stay >= 0
//   spend      amount >= 0: from cash first, the rest becomes debt
//   refund     amount > 0: like a deposit (repays debt first)
//   adjustment amount != 0: > 0 like a deposit, < 0 like a spend of |amount|
//
// Idempotency: an admin movement carries a unique_request_id, unique per user
// (ledger_entries_user_request_unique). applyMovement() takes the wallet's row lock before it looks
// the key up, so two requests with the same key serialise on that lock and the second one finds
// the first one's entry: one entry, two answers (created, then replayed).

#include "Money.h"
#include "Result.h"

#include <QDateTime>
#include <QList>
#include <QString>

#include <functional>
#include <optional>

class QSqlDatabase;

namespace llmpool::gateway {

// The three amounts of a wallet (and of a ledger entry's "after" columns).
struct WalletAmounts
{
    Money cash;
    Money creditLimit;
    Money debt;

    // What admission may spend before reservations: cash + credit_limit - debt.
    Result<Money> balance() const;
    bool operator==(const WalletAmounts &) const = default;
};

struct WalletRecord
{
    qint64 userId = 0;
    WalletAmounts amounts;
    QString currency;
    qint64 version = 0; // the user's newest ledger entry id; 0 when the user has none
};

struct LedgerEntry
{
    qint64 id = 0;
    qint64 userId = 0;
    QString kind; // deposit, withdrawal, credit, spend, refund, adjustment
    Money amount; // withdrawals positive; credit and adjustment signed
    WalletAmounts after;
    QString uniqueRequestId;
    std::optional<QString> note;
    QDateTime createdAt;
};

struct LedgerPage
{
    QList<LedgerEntry> entries;
    qint64 total = 0;
};

enum class MovementKind { Deposit, Withdrawal, Credit };

struct Movement
{
    qint64 userId = 0;
    MovementKind kind = MovementKind::Deposit;
    Money amount;
    QString uniqueRequestId;
    std::optional<QString> note;
};

struct MovementResult
{
    LedgerEntry entry;
    WalletRecord wallet; // after the movement (on a replay: as it is now)
    bool replayed = false;
};

// One place where the wallets and the ledger disagree.
struct WalletDrift
{
    qint64 userId = 0;
    QString userName;
    // 0: the wallet row itself differs from the newest entry (or from zero when there is none);
    // otherwise the ledger entry whose recorded "after" amounts do not follow from the entry before
    // it by the rules above (a tampered, inserted or missing row).
    qint64 entryId = 0;
    QString field;    // cash, credit_limit, debt, wallet (the row is missing)
    QString actual;   // the wallet's value, or the entry's recorded value
    QString expected; // what the ledger implies
};

struct ReconcileReport
{
    qint64 wallets = 0; // users checked
    QList<WalletDrift> drifts;
    bool truncated = false; // more drifts than kMaxReportedDrifts exist
};

class WalletRepository
{
public:
    static constexpr qsizetype kMaxRequestIdLength = 200; // ledger_entries_request_id_valid
    static constexpr qsizetype kMaxNoteLength = 1000;
    static constexpr int kMaxReportedDrifts = 10'000;

    static QString kindName(MovementKind kind);

    // nullopt when the user does not exist.
    static Result<std::optional<WalletRecord>> wallet(QSqlDatabase &db, qint64 userId);
    // Newest first; "not_found" (404) when the user does not exist.
    static Result<LedgerPage> ledgerPage(QSqlDatabase &db, qint64 userId, qint64 offset, int limit);

    // Checks what does not depend on the wallet: the amount's sign for the kind, the request id
    // (1..200 characters) and the note (at most 1000 characters), no NUL characters. Errors are
    // 400s naming the field (amount, unique_request_id, note).
    static Status validate(const Movement &movement);

    // Called inside the movement's transaction after the wallet and the ledger were written (not on
    // a replay); an error rolls everything back.
    using AuditFn = std::function<Status(QSqlDatabase &db, const WalletRecord &before, const MovementResult &after)>;

    // Applies one admin movement in one transaction (wallet locked, idempotency checked, rules
    // applied, ledger row inserted, wallet updated, audit written). Errors: validate()'s 400s,
    // "not_found" (404), "idempotency_conflict" (409: the key was used for another kind or amount),
    // "insufficient_funds" (409), "credit_limit_negative" (409), database errors.
    static Result<MovementResult> applyMovement(QSqlDatabase &db, const Movement &movement, const AuditFn &audit = {});

    // The rules above, exactly, for one entry applied to `before`.
    static Result<WalletAmounts> applyRule(const WalletAmounts &before, QStringView kind, Money amount);

    // Proves wallet = Σ ledger for every user in one snapshot: each entry's "after" amounts must
    // follow from the previous entry's (zero before the first) by the rules, and the wallet must
    // equal its newest entry's (zero without entries). Set-based: one pass over the ledger with a
    // window function, one index probe per user.
    static Result<ReconcileReport> reconcile(QSqlDatabase &db);
};

} // namespace llmpool::gateway
