// A bounded pool of PostgreSQL connections over libpqxx, with transactions that report
// absl::Status. This is the one place where libpqxx exceptions become Status values:
//   Unavailable        the server cannot be reached, a connection broke, the commit's outcome
//                      is unknown, or every connection stayed busy past the acquire timeout;
//                      retry the call.
//   Aborted            serialization failure or deadlock; retry the whole transaction.
//   AlreadyExists      a unique constraint refused the row.
//   FailedPrecondition another integrity constraint (foreign key, check, not null) refused it.
//   InvalidArgument    PostgreSQL refused a value (bad encoding, out of range, ...).
//   Internal           anything else: a bug in our SQL.
// Connections are made lazily, so a service starts (NOT_SERVING) while PostgreSQL is down and
// recovers without a restart when it comes back.
#pragma once

#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace parley::pg {

struct PoolOptions {
  // libpq connection string, URI or key=value form.
  std::string uri;
  // Most connections open at once.
  int size = 8;
  // How long Transact waits for a free connection before Unavailable.
  absl::Duration acquire_timeout = absl::Seconds(5);
  // How long opening a connection may take (libpq connect_timeout, whole seconds, at least 1).
  absl::Duration connect_timeout = absl::Seconds(3);
};

// The Status for an exception thrown by libpqxx (or anything else) inside a transaction.
absl::Status StatusFromException(const std::exception& e);

class Pool {
 public:
  explicit Pool(PoolOptions options);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Runs `fn` in a transaction and commits when it returns OK; rolls back when it returns an
  // error (which is passed through) or throws (converted as above).
  absl::Status Transact(const std::function<absl::Status(pqxx::work&)>& fn);

  // Transact for a function that produces a value.
  template <typename T>
  absl::StatusOr<T> Transact(const std::function<absl::StatusOr<T>(pqxx::work&)>& fn) {
    absl::StatusOr<T> out = absl::UnknownError("transaction did not run");
    absl::Status status = Transact([&](pqxx::work& tx) -> absl::Status {
      out = fn(tx);
      return out.status();
    });
    if (!status.ok()) return status;
    return out;
  }

  // Runs `fn` on a connection outside any transaction it did not open itself.
  absl::Status WithConnection(const std::function<absl::Status(pqxx::connection&)>& fn);

  // Whether the server answers `SELECT 1`. Unavailable with libpq's reason otherwise.
  absl::Status Ping();

  const PoolOptions& options() const { return options_; }

 private:
  absl::StatusOr<std::unique_ptr<pqxx::connection>> Acquire();
  void Release(std::unique_ptr<pqxx::connection> conn, bool broken);

  const PoolOptions options_;
  const std::string conninfo_;
  std::mutex mu_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;
  int open_ = 0;  // connections in idle_ plus those lent out
};

}  // namespace parley::pg
