// RoutingDefinitions kept in memory: the whole snapshot is loaded from PostgreSQL, then the
// revision (one row) is polled every `poll_interval`; when it moved, a new snapshot is loaded
// and swapped in atomically (readers keep the snapshot they hold). A local change can ask for a
// reload at once (RequestReload). As a service::Component it runs its poll thread between
// Start and Shutdown; Start tries one load so that the engine starts with definitions, but a
// PostgreSQL that does not answer yet does not stop start-up (health says NOT_SERVING and
// the poller keeps trying).
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "libs/service/service_main.h"
#include "services/router/pg_routing_store.h"
#include "services/router/routing_definitions.h"

namespace parley::router {

class DefinitionsCache : public RoutingDefinitions, public service::Component {
 public:
  // Called (on the poll thread) after every new snapshot was swapped in.
  using Listener = std::function<void(std::shared_ptr<const RoutingSnapshot>)>;

  DefinitionsCache(PgRoutingStore& store, absl::Duration poll_interval = absl::Seconds(1));
  ~DefinitionsCache() override;  // stops the poll thread

  // RoutingDefinitions
  std::shared_ptr<const RoutingSnapshot> Current() const override;

  // Add before Start.
  void AddListener(Listener listener);

  // Loads now when the revision differs from the current snapshot's (or nothing is loaded
  // yet). Unavailable when PostgreSQL does not answer. Thread-safe.
  absl::Status Reload();
  // Wakes the poll thread to reload now (after a change made through this replica).
  void RequestReload();
  // Whether a snapshot has been loaded since construction.
  bool loaded() const;

  // service::Component
  absl::Status Start() override;
  void Shutdown(absl::Duration grace) override;

 private:
  void Poll();

  PgRoutingStore& store_;
  const absl::Duration poll_interval_;
  std::vector<Listener> listeners_;

  mutable std::mutex snapshot_mu_;
  std::shared_ptr<const RoutingSnapshot> snapshot_;
  bool loaded_ = false;

  std::mutex reload_mu_;  // one load at a time

  std::mutex poll_mu_;
  std::condition_variable poll_cv_;
  bool stopping_ = false;
  bool wake_ = false;
  std::thread poller_;
};

}  // namespace parley::router
