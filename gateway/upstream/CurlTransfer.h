#pragma once

// Private to gateway/upstream.
//
// CurlTransfer: one pooled curl easy handle plus what must stay alive while curl may still touch
// it — the request's header list and body (curl sends from the body's bytes without copying), and
// the error buffer. Owned by its CurlMulti (pooled, or active while a call uses it); lives on the
// multi's thread.
//
// It is the userdata of every easy callback instead of the UpstreamCall itself: a call may be
// aborted or even deleted inside a curl callback, while curl still holds the handle until its
// removal runs after the curl call returns. `owner` is cleared at that moment, so a late callback
// sees no owner and fails the transfer instead of touching freed memory.

#include <QByteArray>

#include <curl/curl.h>

namespace llmpool::gateway {

class UpstreamCall;

namespace detail {

struct CurlTransfer
{
    CURL *easy = nullptr;
    curl_slist *headers = nullptr;
    QByteArray body;               // keeps CURLOPT_POSTFIELDS valid until the handle is removed
    UpstreamCall *owner = nullptr; // null once aborted / finished
    qsizetype activeIndex = -1;    // position in CurlMulti::m_active while it has an owner or is in the multi
    bool inMulti = false;          // curl_multi_add_handle succeeded and no removal ran yet
    bool addQueued = false;        // start() ran inside a curl callback: added right after that call returns
    bool removalQueued = false;    // abort() ran inside a curl callback: removed right after that call returns
    bool unpauseQueued = false;    // resume() asked for curl_easy_pause(CONT) on the next loop iteration
    char errorBuffer[CURL_ERROR_SIZE] = {};
};

} // namespace detail
} // namespace llmpool::gateway
