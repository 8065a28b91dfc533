#pragma once

// UpstreamTarget: where one upstream call goes and how it authenticates, derived from an upstream's
// kind, api_base and key, the endpoint path ("chat/completions", "embeddings", "models", …) and the
// upstream model (the deployment, for Azure).
//
//   openai, openrouter, dashscope, ark:  {base}/{path}            authorization: Bearer KEY
//   azure (classic):  {base}/openai/deployments/{deployment}/{path}?api-version=V     api-key: KEY
//                     {base}/openai/{models|responses}?api-version=V (no deployment segment: these
//                     two are resource-level in Azure; the deployment travels in the body's model)
//   azure (v1 API, base ends with /openai/v1):  {base}/{path}[?api-version=V if one was set]  api-key
//
// An Azure base may be given with or without its trailing "/openai". An empty api_base means the
// kind's default (none for Azure: error). Trailing slashes are dropped, the deployment and the
// api-version are percent-encoded. An empty key sends no auth header (self-hosted servers).
//
// The struct carries a secret in authHeaderValue: its QDebug output redacts it.
//
// Pure value type; any thread.

#include "Result.h"
#include "routing/UpstreamKind.h"

#include <QByteArray>
#include <QString>

class QDebug;

namespace llmpool::gateway {

struct UpstreamTarget
{
    QByteArray url;             // fully encoded
    QByteArray authHeaderName;  // "authorization", "api-key", or empty (no key configured)
    QByteArray authHeaderValue; // SECRET: "Bearer sk-…" or the raw Azure key

    // Validates and normalises an api_base: http or https, a host, no user info (a password in a URL
    // ends up in logs; the key has its own field), no query or fragment, no trailing slash. An empty
    // text gives the kind's default. Errors: 400 "invalid_api_base" / "api_base_required", param
    // "api_base"; the message quotes the base only without any user info.
    static Result<QString> resolveApiBase(UpstreamKind kind, QStringView apiBase);

    // `endpointPath` is a path below the base without a leading slash (one is tolerated).
    // `azureApiVersion` empty = kDefaultAzureApiVersion (classic Azure only).
    static Result<UpstreamTarget> build(UpstreamKind kind, QStringView apiBase, QStringView endpointPath,
                                        QStringView upstreamModel, QStringView apiKey,
                                        QStringView azureApiVersion = {});
};

// Prints the URL and the header name, never the key.
QDebug operator<<(QDebug debug, const UpstreamTarget &target);

} // namespace llmpool::gateway
