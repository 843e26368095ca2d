// Real PostgreSQL and Redis servers for tests, started as child processes on free ports with
// their data in a temporary directory, and stopped (and restarted) on demand so that tests
// can take a dependency away and give it back.
//
// Most suites do not need a server of their own: TestDatabase gives each suite a fresh
// database in the PostgreSQL that `./dev test` started (PARLEY_TEST_PG_URI), and starts a
// private server only when that variable is absent (a test binary run by hand).
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "libs/testing/subprocess.h"

namespace parley::testing {

class PgServer {
 public:
  // initdb (as the `postgres` user when running as root, since initdb refuses root) and start.
  static absl::StatusOr<std::unique_ptr<PgServer>> Start();
  ~PgServer();  // stops the server and deletes its data

  // A URI for `database` as the superuser `postgres`, over TCP.
  std::string uri(const std::string& database = "postgres") const;
  int port() const { return port_; }

  absl::Status Stop();    // pg_ctl stop -m fast
  absl::Status Resume();  // start again, same port and data

 private:
  PgServer(std::string dir, int port) : dir_(std::move(dir)), port_(port) {}
  std::vector<std::string> AsPostgres(std::vector<std::string> argv) const;
  absl::Status PgCtl(const std::vector<std::string>& args) const;

  std::string dir_;
  int port_;
  bool running_ = false;
};

class RedisServer {
 public:
  static absl::StatusOr<std::unique_ptr<RedisServer>> Start();
  ~RedisServer();

  std::string address() const;  // "127.0.0.1:<port>"
  int port() const { return port_; }

  absl::Status Stop();    // SIGTERM, and wait
  absl::Status Resume();  // start again on the same port (empty: no persistence)

 private:
  RedisServer(std::string dir, int port) : dir_(std::move(dir)), port_(port) {}

  std::string dir_;
  int port_;
  std::unique_ptr<Subprocess> process_;
};

// A fresh database for one test suite, dropped at the end.
class TestDatabase {
 public:
  static absl::StatusOr<std::unique_ptr<TestDatabase>> Create();
  ~TestDatabase();

  const std::string& uri() const { return uri_; }

 private:
  TestDatabase() = default;

  std::unique_ptr<PgServer> private_server_;  // only when no shared server was given
  std::string admin_uri_;
  std::string name_;
  std::string uri_;
};

// Replaces the database name at the end of a postgresql:// URI (keeps any ?query).
std::string WithDatabase(const std::string& uri, const std::string& database);

}  // namespace parley::testing
