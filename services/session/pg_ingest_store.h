// IngestStore on PostgreSQL: one transaction per batch. Concurrent batches for the same
// customer are serialized by a transaction-scoped advisory lock per channel identity (taken
// in a fixed order, so two batches never deadlock), and every write is idempotent through a
// unique constraint (messages, signals and dead letters on channel + endpoint + dedup key) or
// a status that only moves forward. A batch first runs without savepoints; when PostgreSQL
// refuses a value that the checks in C++ did not foresee, it runs again with one savepoint
// per event and dead-letters the events that fail. See docs/adr/0006-session-storage.md.
#pragma once

#include <functional>

#include "absl/time/time.h"
#include "libs/pg/pool.h"
#include "services/session/ingest_store.h"

namespace parley::session {

class PgIngestStore : public IngestStore {
 public:
  // `clock` gives the time used when a batch has no receive_time.
  explicit PgIngestStore(pg::Pool& pool, std::function<absl::Time()> clock = absl::Now)
      : pool_(pool), clock_(std::move(clock)) {}

  // IngestStore
  absl::StatusOr<v1::IngestResponse> Ingest(const v1::IngestRequest& request) override;

 private:
  absl::StatusOr<v1::IngestResponse> Run(const v1::IngestRequest& request, bool isolate);

  pg::Pool& pool_;
  std::function<absl::Time()> clock_;
};

}  // namespace parley::session
