#pragma once

// Admission: the money check before a request reaches an upstream (SPEC §5). The data plane asks
// for a reservation of the request's maximum cost; the billing service grants it only if the
// user's available amount (and the key's spending cap) covers it, atomically across instances.
// The reservation is released when the request's usage event is recorded (UsageSink).

#include "Money.h"
#include "Result.h"

#include <QByteArray>

#include <functional>
#include <optional>

class QObject;

namespace llmpool::gateway {

struct AdmissionRequest
{
    QByteArray requestId;
    qint64 userId = 0;
    qint64 keyId = 0;
    Money amount;                    // the reservation: the request's maximum cost
    std::optional<Money> keySpendLimit; // the key's cap on its total spend, if any
};

class Admission
{
public:
    virtual ~Admission() = default;
    // `done` runs on the calling thread (guarded by `context`): Ok when reserved; 402
    // "insufficient_quota" / "key_spend_limit_reached" when refused; 503 "billing_unavailable"
    // when the shared state cannot be reached (the request is refused: never admitted unchecked).
    virtual void reserve(const AdmissionRequest &request, QObject *context, std::function<void(Status)> done) = 0;
};

} // namespace llmpool::gateway
