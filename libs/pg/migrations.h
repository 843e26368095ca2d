// Schema migrations: numbered, forward-only SQL files (NNNN_name.sql) that each component
// embeds in its binary (cmake: parley_embed_migrations). Migrate applies the ones a database
// lacks, in order, in one transaction, under an advisory lock, so that several replicas
// starting at once apply each file exactly once and a failing file leaves nothing behind.
// Applied files are recorded in parley_schema_migrations with a checksum; changing a file
// after it was applied is refused (write a new migration instead).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace parley::pg {

class Pool;

struct Migration {
  int version = 0;       // NNNN from the file name
  std::string name;      // the file name, e.g. "0001_init.sql"
  std::string sql;       // the statements, run as one script
  std::string checksum;  // hex digest of sql, recorded when applied
};

// The ordered migrations of one component ("session", "router", ...).
class MigrationSet {
 public:
  // `files` are (file name, contents). Names that are not NNNN_*.sql, or two files with the
  // same version, are a build defect and abort.
  MigrationSet(std::string component,
               const std::vector<std::pair<std::string, std::string>>& files);

  const std::string& component() const { return component_; }
  const std::vector<Migration>& migrations() const { return migrations_; }

 private:
  std::string component_;
  std::vector<Migration> migrations_;
};

struct MigrationReport {
  std::vector<int> applied;     // versions applied by this call, in order
  int database_version = 0;     // highest version recorded after the call
  bool database_ahead = false;  // the database has versions this binary does not know
};

// Applies what is missing. Errors: FailedPrecondition when an applied file changed or a new
// file is numbered below an applied one; the error of the failing statement (with the file
// name) otherwise, in which case nothing of this call is kept.
absl::StatusOr<MigrationReport> Migrate(Pool& pool, const MigrationSet& set);

// A stable 64-bit FNV-1a digest in hex; used as the migration checksum.
std::string Fnv1aHex(absl::string_view data);

}  // namespace parley::pg
