#include "libs/pg/pool.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace parley::pg {
namespace {

// The connection string with libpq's connect_timeout added.
std::string WithConnectTimeout(const std::string& uri, absl::Duration timeout) {
  const int64_t seconds = std::max<int64_t>(1, absl::ToInt64Seconds(timeout));
  if (absl::StrContains(uri, "connect_timeout")) return uri;
  if (absl::StartsWith(uri, "postgres://") || absl::StartsWith(uri, "postgresql://")) {
    return absl::StrCat(uri, absl::StrContains(uri, "?") ? "&" : "?", "connect_timeout=", seconds);
  }
  return absl::StrCat(uri, " connect_timeout=", seconds);
}

bool IsBroken(const std::exception& e) {
  return dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr ||
         dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr;
}

}  // namespace

absl::Status StatusFromException(const std::exception& e) {
  // Most specific first: several of these derive from sql_error.
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) {
    return absl::UnavailableError(absl::StrCat("postgresql unavailable: ", e.what()));
  }
  if (dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr ||
      dynamic_cast<const pqxx::statement_completion_unknown*>(&e) != nullptr) {
    return absl::UnavailableError(
        absl::StrCat("postgresql connection lost, outcome unknown: ", e.what()));
  }
  if (dynamic_cast<const pqxx::transaction_rollback*>(&e) != nullptr) {
    return absl::AbortedError(absl::StrCat("transaction conflict, retry: ", e.what()));
  }
  if (dynamic_cast<const pqxx::unique_violation*>(&e) != nullptr) {
    return absl::AlreadyExistsError(e.what());
  }
  if (dynamic_cast<const pqxx::integrity_constraint_violation*>(&e) != nullptr) {
    return absl::FailedPreconditionError(e.what());
  }
  if (dynamic_cast<const pqxx::data_exception*>(&e) != nullptr) {
    return absl::InvalidArgumentError(e.what());
  }
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e); sql != nullptr) {
    // Class 57: operator intervention (admin shutdown, query canceled); 08: connection.
    const std::string& state = sql->sqlstate();
    if (absl::StartsWith(state, "57") || absl::StartsWith(state, "08")) {
      return absl::UnavailableError(absl::StrCat("postgresql unavailable: ", e.what()));
    }
    return absl::InternalError(absl::StrCat("sql error ", state, ": ", e.what()));
  }
  return absl::InternalError(absl::StrCat("postgresql client error: ", e.what()));
}

Pool::Pool(PoolOptions options)
    : options_(std::move(options)),
      conninfo_(WithConnectTimeout(options_.uri, options_.connect_timeout)) {}

Pool::~Pool() = default;

absl::StatusOr<std::unique_ptr<pqxx::connection>> Pool::Acquire() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    const auto deadline =
        std::chrono::steady_clock::now() + absl::ToChronoMilliseconds(options_.acquire_timeout);
    const bool got =
        freed_.wait_until(lock, deadline, [&] { return !idle_.empty() || open_ < options_.size; });
    if (!got) {
      return absl::UnavailableError(absl::StrCat("postgresql pool: all ", options_.size,
                                                 " connections busy for ",
                                                 absl::FormatDuration(options_.acquire_timeout)));
    }
    if (!idle_.empty()) {
      std::unique_ptr<pqxx::connection> conn = std::move(idle_.back());
      idle_.pop_back();
      return conn;
    }
    ++open_;
  }
  try {
    return std::make_unique<pqxx::connection>(conninfo_);
  } catch (const std::exception& e) {
    Release(nullptr, /*broken=*/true);
    return StatusFromException(e);
  }
}

void Pool::Release(std::unique_ptr<pqxx::connection> conn, bool broken) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (broken || conn == nullptr || !conn->is_open()) {
      // When one connection broke the server probably went away: the idle ones are stale too.
      open_ -= 1 + static_cast<int>(idle_.size());
      idle_.clear();
    } else {
      idle_.push_back(std::move(conn));
    }
  }
  freed_.notify_all();
}

absl::Status Pool::WithConnection(const std::function<absl::Status(pqxx::connection&)>& fn) {
  absl::StatusOr<std::unique_ptr<pqxx::connection>> conn = Acquire();
  if (!conn.ok()) return conn.status();
  try {
    absl::Status status = fn(**conn);
    Release(std::move(*conn), /*broken=*/false);
    return status;
  } catch (const std::exception& e) {
    Release(std::move(*conn), IsBroken(e));
    return StatusFromException(e);
  }
}

absl::Status Pool::Transact(const std::function<absl::Status(pqxx::work&)>& fn) {
  return WithConnection([&](pqxx::connection& conn) -> absl::Status {
    pqxx::work tx(conn);
    absl::Status status = fn(tx);
    if (!status.ok()) return status;  // tx's destructor rolls back
    tx.commit();
    return absl::OkStatus();
  });
}

absl::Status Pool::Ping() {
  // A second attempt takes a fresh connection when the first found a stale one.
  absl::Status status;
  for (int attempt = 0; attempt < 2; ++attempt) {
    status = WithConnection([](pqxx::connection& conn) {
      pqxx::nontransaction tx(conn);
      tx.exec("SELECT 1");
      return absl::OkStatus();
    });
    if (status.ok()) return status;
  }
  return status;
}

}  // namespace parley::pg
