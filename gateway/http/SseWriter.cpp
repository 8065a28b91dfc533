#include "http/SseWriter.h"

namespace llmpool::gateway {

bool SseWriter::begin(int status, const HttpHeaders &extraHeaders)
{
    HttpHeaders headers = extraHeaders;
    headers.append({QByteArrayLiteral("content-type"), QByteArrayLiteral("text/event-stream")});
    headers.append({QByteArrayLiteral("cache-control"), QByteArrayLiteral("no-cache")});
    headers.append({QByteArrayLiteral("x-accel-buffering"), QByteArrayLiteral("no")});
    return m_responder.beginStream(status, headers);
}

QByteArray SseWriter::format(QByteArrayView data, QByteArrayView event, QByteArrayView id)
{
    QByteArray out;
    out.reserve(data.size() + event.size() + id.size() + 24);
    // A field value cannot hold a line break: keep only the part before it.
    auto field = [&out](const char *name, QByteArrayView value) {
        qsizetype cut = value.indexOf('\n');
        const qsizetype cr = value.indexOf('\r');
        if (cr >= 0 && (cut < 0 || cr < cut))
            cut = cr;
        out.append(name);
        out.append(cut >= 0 ? value.first(cut) : value);
        out.append('\n');
    };
    if (!event.isEmpty())
        field("event: ", event);
    if (!id.isEmpty())
        field("id: ", id);
    qsizetype start = 0;
    for (;;) {
        qsizetype end = data.indexOf('\n', start);
        const bool last = end < 0;
        if (last)
            end = data.size();
        QByteArrayView line = data.sliced(start, end - start);
        if (line.endsWith('\r'))
            line.chop(1);
        out.append("data: ");
        out.append(line);
        out.append('\n');
        if (last)
            break;
        start = end + 1;
    }
    out.append('\n');
    return out;
}

bool SseWriter::send(QByteArrayView data, QByteArrayView event, QByteArrayView id)
{
    return m_responder.write(format(data, event, id));
}

bool SseWriter::comment(QByteArrayView text)
{
    QByteArray out(":");
    if (!text.isEmpty()) {
        out.append(' ');
        const qsizetype cut = text.indexOf('\n');
        out.append(cut < 0 ? text : text.first(cut));
    }
    out.append("\n\n");
    return m_responder.write(out);
}

} // namespace llmpool::gateway
