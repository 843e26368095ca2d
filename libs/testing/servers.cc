#include "libs/testing/servers.h"

#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <pqxx/pqxx>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "libs/redis/client.h"

namespace parley::testing {
namespace {

namespace fs = std::filesystem;

// The newest PostgreSQL server binaries Debian installed, unless PARLEY_PG_BINDIR says.
std::string PgBinDir() {
  if (const char* dir = std::getenv("PARLEY_PG_BINDIR"); dir != nullptr) return dir;
  std::string best;
  int best_version = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const int version = std::atoi(entry.path().filename().c_str());
    if (version > best_version && fs::exists(entry.path() / "bin" / "initdb")) {
      best_version = version;
      best = (entry.path() / "bin").string();
    }
  }
  return best;
}

std::string RandomSuffix() {
  std::random_device rd;
  return absl::StrCat(std::uniform_int_distribution<uint64_t>()(rd) % 1000000000000ULL);
}

}  // namespace

std::string WithDatabase(const std::string& uri, const std::string& database) {
  const size_t scheme = uri.find("://");
  const size_t query = uri.find('?');
  const std::string base = uri.substr(0, query);
  const std::string rest = query == std::string::npos ? "" : uri.substr(query);
  const size_t slash = base.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  return absl::StrCat(slash == std::string::npos ? base : base.substr(0, slash), "/", database,
                      rest);
}

std::vector<std::string> PgServer::AsPostgres(std::vector<std::string> argv) const {
  if (geteuid() != 0) return argv;
  argv.insert(argv.begin(), {"runuser", "-u", "postgres", "--"});
  return argv;
}

absl::Status PgServer::PgCtl(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {PgBinDir() + "/pg_ctl", "-D", dir_ + "/data", "-w"};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(AsPostgres(argv), dir_ + "/pg_ctl.log");
}

absl::StatusOr<std::unique_ptr<PgServer>> PgServer::Start() {
  if (PgBinDir().empty()) {
    return absl::FailedPreconditionError(
        "no PostgreSQL under /usr/lib/postgresql; apt install "
        "postgresql or set PARLEY_PG_BINDIR");
  }
  std::unique_ptr<PgServer> server(new PgServer(MakeTempDir("parley-pg"), PickFreePort()));
  if (geteuid() == 0) {
    const passwd* pw = getpwnam("postgres");
    if (pw == nullptr)
      return absl::FailedPreconditionError("running as root without a postgres user");
    if (chown(server->dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      return absl::InternalError("cannot chown the PostgreSQL test directory");
    }
  }
  absl::Status status = RunCommand(
      server->AsPostgres({PgBinDir() + "/initdb", "-D", server->dir_ + "/data", "-U", "postgres",
                          "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"}),
      server->dir_ + "/initdb.log");
  if (!status.ok()) return status;
  if (status = server->Resume(); !status.ok()) return status;
  return server;
}

absl::Status PgServer::Resume() {
  const std::string options =
      absl::StrCat("-p ", port_, " -k ", dir_, " -c listen_addresses=127.0.0.1 -c fsync=off",
                   " -c synchronous_commit=off -c full_page_writes=off -c max_connections=200");
  absl::Status status = PgCtl({"-l", dir_ + "/server.log", "-o", options, "start"});
  running_ = status.ok();
  return status;
}

absl::Status PgServer::Stop() {
  absl::Status status = PgCtl({"-m", "fast", "stop"});
  if (status.ok()) running_ = false;
  return status;
}

PgServer::~PgServer() {
  if (running_) (void)Stop();
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string PgServer::uri(const std::string& database) const {
  return absl::StrCat("postgresql://postgres@127.0.0.1:", port_, "/", database);
}

absl::StatusOr<std::unique_ptr<RedisServer>> RedisServer::Start() {
  std::unique_ptr<RedisServer> server(new RedisServer(MakeTempDir("parley-redis"), PickFreePort()));
  if (absl::Status status = server->Resume(); !status.ok()) return status;
  return server;
}

absl::Status RedisServer::Resume() {
  absl::StatusOr<std::unique_ptr<Subprocess>> process =
      Subprocess::Spawn({"redis-server", "--port", absl::StrCat(port_), "--bind", "127.0.0.1",
                         "--save", "", "--appendonly", "no", "--dir", dir_},
                        {}, dir_ + "/redis.log");
  if (!process.ok()) return process.status();
  process_ = *std::move(process);
  redis::Client client(redis::ClientOptions{.host = "127.0.0.1", .port = port_});
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (!client.Ping().ok()) {
    if (!process_->running() || absl::Now() > deadline) {
      return absl::InternalError(
          absl::StrCat("redis-server did not start; see ", dir_, "/redis.log"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return absl::OkStatus();
}

absl::Status RedisServer::Stop() {
  if (process_ == nullptr) return absl::OkStatus();
  process_->Signal(SIGTERM);
  absl::StatusOr<int> code = process_->WaitFor(absl::Seconds(20));
  process_.reset();
  return code.status();
}

RedisServer::~RedisServer() {
  (void)Stop();
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string RedisServer::address() const { return absl::StrCat("127.0.0.1:", port_); }

absl::StatusOr<std::unique_ptr<TestDatabase>> TestDatabase::Create() {
  std::unique_ptr<TestDatabase> db(new TestDatabase());
  if (const char* shared = std::getenv("PARLEY_TEST_PG_URI"); shared != nullptr && *shared) {
    db->admin_uri_ = shared;
  } else {
    absl::StatusOr<std::unique_ptr<PgServer>> server = PgServer::Start();
    if (!server.ok()) return server.status();
    db->private_server_ = *std::move(server);
    db->admin_uri_ = db->private_server_->uri();
  }
  db->name_ = absl::StrCat("parley_test_", RandomSuffix());
  try {
    pqxx::connection conn(db->admin_uri_);
    pqxx::nontransaction tx(conn);
    tx.exec("CREATE DATABASE " + tx.quote_name(db->name_));
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("cannot create a test database: ", e.what()));
  }
  db->uri_ = WithDatabase(db->admin_uri_, db->name_);
  return db;
}

TestDatabase::~TestDatabase() {
  if (private_server_ != nullptr) return;  // the whole server goes away
  try {
    pqxx::connection conn(admin_uri_);
    pqxx::nontransaction tx(conn);
    tx.exec("DROP DATABASE IF EXISTS " + tx.quote_name(name_) + " WITH (FORCE)");
  } catch (const std::exception&) {
    // A leftover database in a throwaway server is harmless.
  }
}

}  // namespace parley::testing
