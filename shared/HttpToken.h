#pragma once

// RFC 9110 `tchar`: the only bytes allowed in an HTTP field name and a method. Shared by the HTTP
// front end (requests) and the upstream client (responses and the headers it forwards), which must
// agree on what a valid header name is.

namespace llmpool {

constexpr bool isHttpTokenChar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
        return true;
    }
    switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
        return true;
    default:
        return false;
    }
}

} // namespace llmpool
