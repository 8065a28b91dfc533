// AES-256-GCM at rest for upstream keys: round trips, a fresh nonce every time, and every way a
// stored value can be wrong (other key, tampering, truncation, no key) failing loudly.

#include "security/SecretBox.h"

#include <QTest>

using namespace llmpool::gateway;

class TestSecretBox : public QObject
{
    Q_OBJECT

private:
    static QByteArray key(char fill) { return QByteArray(32, fill); }

private Q_SLOTS:
    void roundTrip_data()
    {
        QTest::addColumn<QByteArray>("plaintext");
        QTest::newRow("empty") << QByteArray();
        QTest::newRow("openai key") << QByteArray("sk-proj-abcdefghijklmnopqrstuvwxyz0123456789");
        QTest::newRow("binary") << QByteArray("\x00\x01\xff\xfe", 4);
        QTest::newRow("long") << QByteArray(10'000, 'k');
    }

    void roundTrip()
    {
        QFETCH(QByteArray, plaintext);
        const SecretBox box(key('a'));
        auto sealed = box.seal(plaintext);
        QVERIFY(sealed.ok());
        QCOMPARE(sealed->format, QStringLiteral("aes-256-gcm"));
        QVERIFY(!sealed->stored.contains(plaintext) || plaintext.isEmpty());
        // base64(nonce ‖ ciphertext ‖ tag)
        QCOMPARE(QByteArray::fromBase64(sealed->stored).size(), plaintext.size() + 12 + 16);
        auto opened = box.open(sealed->stored, sealed->format);
        QVERIFY(opened.ok());
        QCOMPARE(*opened, plaintext);
    }

    void freshNonce()
    {
        const SecretBox box(key('b'));
        QCOMPARE_NE(box.seal("same")->stored, box.seal("same")->stored);
    }

    void rejectsWrongKeyAndTampering()
    {
        const SecretBox box(key('c'));
        const QByteArray sealed = box.seal("sk-secret-value-1234")->stored;
        const QString gcm = QStringLiteral("aes-256-gcm");

        auto other = SecretBox(key('d')).open(sealed, gcm);
        QVERIFY(!other.ok());
        QCOMPARE(other.error().code, QStringLiteral("secret_undecryptable"));
        QVERIFY(!other.error().message.contains(QStringLiteral("sk-secret")));

        QByteArray raw = QByteArray::fromBase64(sealed);
        for (qsizetype i : {qsizetype(0), qsizetype(12), raw.size() - 1}) { // nonce, ciphertext, tag
            QByteArray flipped = raw;
            flipped[i] = char(flipped[i] ^ 0x01);
            QVERIFY(!box.open(flipped.toBase64(), gcm).ok());
        }
        QVERIFY(!box.open(raw.left(20).toBase64(), gcm).ok());
        QVERIFY(!box.open("not base64 at all!", gcm).ok());
        QVERIFY(!box.open(sealed, u"rot13").ok());
        QVERIFY(!SecretBox(QByteArray()).open(sealed, gcm).ok()); // encrypted row, no key configured
        QVERIFY(!SecretBox(QByteArray(31, 'x')).seal("x").ok());
    }

    void plaintextMode()
    {
        const SecretBox plain{QByteArray()};
        QVERIFY(!plain.encrypts());
        const SealedSecret sealed = *plain.seal("sk-visible");
        QCOMPARE(sealed.stored, QByteArray("sk-visible"));
        QCOMPARE(sealed.format, QStringLiteral("plain"));
        QCOMPARE(*plain.open(sealed.stored, sealed.format), QByteArray("sk-visible"));
        // A plaintext row stays readable after encryption is switched on (until rotate-key).
        QCOMPARE(*SecretBox(key('e')).open(sealed.stored, sealed.format), QByteArray("sk-visible"));
    }

    void preview()
    {
        QCOMPARE(SecretBox::preview("sk-abcdefghijklmnopwxyz"), QStringLiteral("sk-a…wxyz"));
        QCOMPARE(SecretBox::preview("short"), QStringLiteral("…"));
    }
};

QTEST_GUILESS_MAIN(TestSecretBox)
#include "TestSecretBox.moc"
