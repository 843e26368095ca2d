#include "libs/pg/migrations.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "libs/pg/pool.h"

namespace parley::pg {
namespace {

// Serialises every migration run in the database, whatever the component: migrations are rare
// and short, and one lock keeps the creation of the bookkeeping table race-free too.
constexpr int64_t kMigrationLockKey = 0x7061726c6579;  // "parley"

constexpr char kCreateTable[] = R"sql(
CREATE TABLE IF NOT EXISTS parley_schema_migrations (
  component  text        NOT NULL,
  version    integer     NOT NULL,
  name       text        NOT NULL,
  checksum   text        NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (component, version)
))sql";

constexpr char kSelectApplied[] =
    "SELECT version, name, checksum FROM parley_schema_migrations WHERE component = $1";

constexpr char kInsertApplied[] =
    "INSERT INTO parley_schema_migrations (component, version, name, checksum) "
    "VALUES ($1, $2, $3, $4)";

[[noreturn]] void BuildDefect(const std::string& what) {
  std::fprintf(stderr, "migrations: %s\n", what.c_str());
  std::abort();
}

struct Applied {
  std::string name;
  std::string checksum;
};

}  // namespace

std::string Fnv1aHex(absl::string_view data) {
  uint64_t hash = 14695981039346656037ULL;
  for (const char c : data) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ULL;
  }
  return absl::StrFormat("%016x", hash);
}

MigrationSet::MigrationSet(std::string component,
                           const std::vector<std::pair<std::string, std::string>>& files)
    : component_(std::move(component)) {
  for (const auto& [name, sql] : files) {
    int version = 0;
    if (name.size() < 10 || name[4] != '_' || !absl::SimpleAtoi(name.substr(0, 4), &version) ||
        version <= 0) {
      BuildDefect(absl::StrCat(component_, "/", name, ": not named NNNN_name.sql"));
    }
    migrations_.push_back(Migration{version, name, sql, Fnv1aHex(sql)});
  }
  std::sort(migrations_.begin(), migrations_.end(),
            [](const Migration& a, const Migration& b) { return a.version < b.version; });
  for (size_t i = 1; i < migrations_.size(); ++i) {
    if (migrations_[i].version == migrations_[i - 1].version) {
      BuildDefect(absl::StrCat(component_, ": two migrations numbered ", migrations_[i].version));
    }
  }
}

absl::StatusOr<MigrationReport> Migrate(Pool& pool, const MigrationSet& set) {
  const std::string& component = set.component();
  return pool.Transact<MigrationReport>([&](pqxx::work& tx) -> absl::StatusOr<MigrationReport> {
    tx.exec_params("SELECT pg_advisory_xact_lock($1)", kMigrationLockKey);
    tx.exec(kCreateTable);

    std::map<int, Applied> applied;
    for (const auto& row : tx.exec_params(kSelectApplied, component)) {
      applied[row[0].as<int>()] = Applied{row[1].as<std::string>(), row[2].as<std::string>()};
    }
    const int before = applied.empty() ? 0 : applied.rbegin()->first;

    MigrationReport report;
    for (const Migration& m : set.migrations()) {
      if (auto it = applied.find(m.version); it != applied.end()) {
        if (it->second.checksum != m.checksum) {
          return absl::FailedPreconditionError(absl::StrCat(
              "migration ", component, "/", m.name, " was changed after it was applied as ",
              it->second.name, "; migrations are forward-only: add a new file instead"));
        }
        continue;
      }
      if (m.version < before) {
        return absl::FailedPreconditionError(
            absl::StrCat("migration ", component, "/", m.name, " is numbered below version ",
                         before, ", which is already applied; number new files after it"));
      }
      try {
        tx.exec(m.sql);
      } catch (const std::exception& e) {
        absl::Status status = StatusFromException(e);
        return absl::Status(status.code(), absl::StrCat("migration ", component, "/", m.name, ": ",
                                                        status.message()));
      }
      tx.exec_params(kInsertApplied, component, m.version, m.name, m.checksum);
      report.applied.push_back(m.version);
      applied[m.version] = Applied{m.name, m.checksum};
    }
    report.database_version = applied.empty() ? 0 : applied.rbegin()->first;
    report.database_ahead =
        !set.migrations().empty() && report.database_version > set.migrations().back().version;
    return report;
  });
}

}  // namespace parley::pg
