#pragma once

// JsonText: JSON string literals written by hand, where a QJsonDocument would cost more than the
// work around it or would not keep a field order (error bodies, the usage event, the model rewrite
// in request bodies, the test upstream's replies).

#include <QByteArray>
#include <QByteArrayView>
#include <QStringView>

namespace llmpool {

// `utf8` as a JSON string literal, quotes included, appended to `out`: `"` and `\` escaped, \n \r
// \t as such, other control characters and DEL as \u00XX, everything else (UTF-8 included) as is.
void appendJsonString(QByteArray &out, QByteArrayView utf8);
void appendJsonString(QByteArray &out, QStringView text);
QByteArray jsonString(QStringView text);

} // namespace llmpool
