#include "http/HttpHeaderScanner.h"

#include "HttpToken.h"

namespace llmpool::gateway {

namespace {

constexpr bool isTchar(unsigned char c)
{
    return isHttpTokenChar(c);
}

struct TcharTable
{
    bool v[256] = {};
    constexpr TcharTable()
    {
        for (int i = 0; i < 256; ++i)
            v[i] = isTchar(static_cast<unsigned char>(i));
    }
};
constexpr TcharTable kTchar;

// Field values: VCHAR, obs-text, SP and HTAB. Every other control byte (CR and LF included,
// handled by the state machine) is refused.
constexpr bool isValueByte(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

} // namespace

HttpHeaderScanner::Status HttpHeaderScanner::feed(const char *data, qsizetype size, qsizetype *consumed)
{
    const auto *p = reinterpret_cast<const unsigned char *>(data);
    for (qsizetype i = 0; i < size; ++i) {
        if (++m_scanned > m_max)
            return Status::TooLarge;
        const unsigned char c = p[i];
        switch (m_state) {
        case State::Start:
            if (c == '\r')
                m_state = State::StartLf;
            else if (c >= 0x21 && c != 0x7f)
                m_state = State::RequestLine;
            else
                return Status::Invalid;
            break;
        case State::StartLf:
            if (c != '\n')
                return Status::Invalid;
            m_state = State::Start;
            break;
        case State::RequestLine:
            if (c == '\r')
                m_state = State::RequestLineLf;
            else if (c < 0x20 || c == 0x7f)
                return Status::Invalid; // bare LF, tabs and other controls in the request line
            break;
        case State::RequestLineLf:
        case State::ValueLf:
            if (c != '\n')
                return Status::Invalid; // bare CR
            m_state = State::LineStart;
            break;
        case State::LineStart:
            if (c == '\r') {
                m_state = State::FinalLf;
            } else if (kTchar.v[c]) {
                m_state = State::FieldName;
            } else {
                return Status::Invalid; // obs-fold (SP/HTAB), bare LF, empty name, junk
            }
            break;
        case State::FieldName:
            if (c == ':')
                m_state = State::Value;
            else if (!kTchar.v[c])
                return Status::Invalid; // whitespace before the colon, CR/LF without a colon
            break;
        case State::Value:
            if (c == '\r')
                m_state = State::ValueLf;
            else if (!isValueByte(c))
                return Status::Invalid; // bare LF, NUL, other controls
            break;
        case State::FinalLf:
            if (c != '\n')
                return Status::Invalid;
            *consumed = i + 1;
            return Status::Done;
        }
    }
    *consumed = size;
    return Status::NeedMore;
}

} // namespace llmpool::gateway
