#include "routing/AttemptOutcome.h"

namespace llmpool::gateway {

bool isRetryable(const AttemptOutcome &outcome)
{
    switch (outcome.kind) {
    case AttemptOutcome::Kind::Response:
        return outcome.httpStatus == 429 || (outcome.httpStatus >= 500 && outcome.httpStatus <= 599);
    case AttemptOutcome::Kind::ConnectFailed:
    case AttemptOutcome::Kind::TimeoutBeforeFirstByte:
        return true;
    case AttemptOutcome::Kind::TimeoutAfterFirstByte:
    case AttemptOutcome::Kind::BrokenResponse:
    case AttemptOutcome::Kind::ClientGone:
        return false;
    }
    return false;
}

bool shouldTryNext(const AttemptOutcome &outcome, bool bytesSentToClient, int attemptsMade, int attemptsPlanned)
{
    return !bytesSentToClient && attemptsMade < attemptsPlanned && isRetryable(outcome);
}

HealthVerdict healthVerdict(const AttemptOutcome &outcome)
{
    switch (outcome.kind) {
    case AttemptOutcome::Kind::Response:
        if (outcome.httpStatus == 429 || outcome.httpStatus >= 500)
            return HealthVerdict::Failure;
        return outcome.httpStatus > 0 ? HealthVerdict::Success : HealthVerdict::Failure;
    case AttemptOutcome::Kind::ConnectFailed:
    case AttemptOutcome::Kind::TimeoutBeforeFirstByte:
    case AttemptOutcome::Kind::TimeoutAfterFirstByte:
    case AttemptOutcome::Kind::BrokenResponse:
        return HealthVerdict::Failure;
    case AttemptOutcome::Kind::ClientGone:
        return HealthVerdict::Neutral;
    }
    return HealthVerdict::Neutral;
}

bool probeSucceeded(const AttemptOutcome &outcome)
{
    return outcome.kind == AttemptOutcome::Kind::Response && outcome.httpStatus >= 100 && outcome.httpStatus < 500 &&
           outcome.httpStatus != 429;
}

Error exhaustedError(const AttemptOutcome &last, int attempts)
{
    const QString prefix =
        attempts > 1 ? QStringLiteral("Tried %1 upstreams; the last ").arg(attempts) : QStringLiteral("The upstream ");
    if (last.kind == AttemptOutcome::Kind::TimeoutBeforeFirstByte ||
        last.kind == AttemptOutcome::Kind::TimeoutAfterFirstByte) {
        return Error{QStringLiteral("upstream_error"),
                     QStringLiteral("upstream_timeout"),
                     504,
                     prefix + QStringLiteral("timed out."),
                     {}};
    }
    const QString why = last.kind == AttemptOutcome::Kind::Response
                            ? QStringLiteral("answered with HTTP %1.").arg(last.httpStatus)
                            : QStringLiteral("failed (%1).").arg(outcomeLabel(last));
    return Error{QStringLiteral("upstream_error"), QStringLiteral("upstream_error"), 502, prefix + why, {}};
}

QString outcomeLabel(const AttemptOutcome &outcome)
{
    switch (outcome.kind) {
    case AttemptOutcome::Kind::Response:
        return QStringLiteral("http %1").arg(outcome.httpStatus);
    case AttemptOutcome::Kind::ConnectFailed:
        return QStringLiteral("connect_failed");
    case AttemptOutcome::Kind::TimeoutBeforeFirstByte:
        return QStringLiteral("timeout_before_first_byte");
    case AttemptOutcome::Kind::TimeoutAfterFirstByte:
        return QStringLiteral("timeout_after_first_byte");
    case AttemptOutcome::Kind::BrokenResponse:
        return QStringLiteral("broken_response");
    case AttemptOutcome::Kind::ClientGone:
        return QStringLiteral("client_gone");
    }
    return QString();
}

} // namespace llmpool::gateway
