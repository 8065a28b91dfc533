#include "http/HttpWire.h"

#include "Clock.h"

#include <array>
#include <cstdio>
#include <ctime>

namespace llmpool::gateway {

QByteArrayView HttpWire::reasonPhrase(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 307:
        return "Temporary Redirect";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 402:
        return "Payment Required";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 411:
        return "Length Required";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 417:
        return "Expectation Failed";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 499:
        return "Client Closed Request";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        break;
    }
    if (status < 200)
        return "Informational";
    if (status < 300)
        return "Success";
    if (status < 400)
        return "Redirection";
    if (status < 500)
        return "Client Error";
    return "Server Error";
}

QByteArrayView HttpWire::statusLine(int status)
{
    // Built once for every code 100..599 (thread-safe static init), then shared read-only.
    static const std::array<QByteArray, 500> lines = [] {
        std::array<QByteArray, 500> a;
        for (int code = 100; code < 600; ++code)
            a[size_t(code - 100)] =
                "HTTP/1.1 " + QByteArray::number(code) + ' ' + reasonPhrase(code).toByteArray() + "\r\n";
        return a;
    }();
    if (status < 100 || status > 599)
        status = 500;
    return lines[size_t(status - 100)];
}

QByteArrayView HttpWire::dateHeader()
{
    struct Cache
    {
        qint64 second = -1;
        char text[64] = {};
        int length = 0;
    };
    thread_local Cache cache;
    const qint64 now = Clock::instance().nowSecs();
    if (now != cache.second) {
        static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
        static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
        const std::time_t t = static_cast<std::time_t>(now);
        std::tm tm{};
        gmtime_r(&t, &tm);
        cache.length = std::snprintf(cache.text, sizeof cache.text, "date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n",
                                     days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900,
                                     tm.tm_hour, tm.tm_min, tm.tm_sec);
        cache.second = now;
    }
    return QByteArrayView(cache.text, cache.length);
}

int HttpWire::formatDecimal(char *buf, quint64 value)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = static_cast<char>('0' + value % 10);
        value /= 10;
    } while (value);
    for (int i = 0; i < n; ++i)
        buf[i] = tmp[n - 1 - i];
    return n;
}

int HttpWire::formatHex(char *buf, quint64 value)
{
    static const char digits[] = "0123456789abcdef";
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = digits[value & 0xf];
        value >>= 4;
    } while (value);
    for (int i = 0; i < n; ++i)
        buf[i] = tmp[n - 1 - i];
    return n;
}

bool HttpWire::isSafeHeader(QByteArrayView name, QByteArrayView value)
{
    if (name.isEmpty())
        return false;
    for (char c : name) {
        const auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u >= 0x7f || c == ':')
            return false;
    }
    for (char c : value) {
        if (c == '\r' || c == '\n' || c == '\0')
            return false;
    }
    return true;
}

} // namespace llmpool::gateway
