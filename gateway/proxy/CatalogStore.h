#pragma once

// CatalogStore: the routing Catalog the data plane reads, as an immutable snapshot swapped
// atomically (STYLE §1): readers take a shared_ptr and keep a consistent view for their whole
// request, writers build a new snapshot off the hot path and publish it with one atomic store.
//
// The snapshot is built from the database (CatalogRepository) on a database thread, with the
// upstream keys decrypted there (SecretBox). It is reloaded when an admin change is announced
// (reload(), driven by the invalidation channel) and periodically as a safety net.
// A failed reload keeps the previous snapshot: a database blip must not empty the catalog.
//
// Thread: the object lives on the main thread (its timer and reload callbacks run there);
// current() may be called from any thread.

#include "routing/Catalog.h"
#include "security/SecretBox.h"

#include <QObject>
#include <QTimer>

#include <atomic>
#include <memory>

namespace llmpool::gateway {

class Database;
struct CatalogRows;

class CatalogStore : public QObject
{
    Q_OBJECT
public:
    CatalogStore(Database *database, SecretBox secrets, QObject *parent = nullptr);

    std::shared_ptr<const Catalog> current() const { return m_current.load(std::memory_order_acquire); }
    // Replaces the snapshot (tests; reload() uses it too).
    void publish(std::shared_ptr<const Catalog> catalog);

    // Loads the catalog again in the background. Calls made while a load runs are folded into
    // one more load after it, so a burst of admin changes costs at most two loads. Until a first
    // load has succeeded, a failed one is retried every second whatever the reload interval.
    void reload();
    // The first load, blocking (main thread, before the event loop serves requests), so that a
    // freshly started gateway does not answer "unknown model" for models it has. A failure is
    // returned and left to the background retries.
    Status loadNow();
    bool isLoaded() const { return m_loaded.load(std::memory_order_acquire); }
    void setReloadInterval(int ms);

    // Converts stored rows; rows that cannot be used (unknown kind, undecryptable key) are
    // skipped with a warning rather than failing the whole catalog.
    static std::shared_ptr<const Catalog> build(const CatalogRows &rows, const SecretBox &secrets);

Q_SIGNALS:
    void reloaded();

private:
    Database *m_database;
    SecretBox m_secrets;
    std::atomic<std::shared_ptr<const Catalog>> m_current;
    QTimer m_timer;
    bool m_loading = false;
    std::atomic<bool> m_loaded{false};
    bool m_again = false;
};

} // namespace llmpool::gateway
