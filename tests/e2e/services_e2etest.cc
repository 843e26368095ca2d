// The four real service binaries, started as processes against a real PostgreSQL and Redis:
// each applies its migrations, reports SERVING over grpc.health.v1, serves reflection and a
// valid /metrics, follows its dependencies' availability, and exits 0 on SIGTERM. Ingress also
// serves HTTP (the webhook port) whose /readyz follows the same readiness.
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "libs/testing/probes.h"
#include "libs/testing/servers.h"
#include "libs/testing/subprocess.h"

namespace parley {
namespace {

using grpc::health::v1::HealthCheckResponse;

struct Binary {
  std::string name;
  std::string path;
  bool uses_redis;
  bool serves_http;
};

const std::vector<Binary>& Binaries() {
  static const auto* binaries = new std::vector<Binary>{
      {"ingress", PARLEY_INGRESS_BIN, false, true},
      {"router", PARLEY_ROUTER_BIN, true, false},
      {"session", PARLEY_SESSION_BIN, false, false},
      {"attachments", PARLEY_ATTACHMENTS_BIN, false, false},
  };
  return *binaries;
}

struct Running {
  const Binary* binary;
  int grpc_port;
  int metrics_port;
  int http_port;  // 0 unless the binary serves HTTP
  std::string log;
  std::unique_ptr<testing::Subprocess> process;

  std::string grpc_address() const { return absl::StrCat("127.0.0.1:", grpc_port); }
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Polls GET path until it answers `want`; the last answer (or error) otherwise. This waits for
// a state; it does not assert how long reaching it takes.
absl::StatusOr<testing::HttpResponse> WaitForHttp(int port, const std::string& path, int want) {
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  absl::StatusOr<testing::HttpResponse> last = absl::UnknownError("not asked");
  while (absl::Now() < deadline) {
    last = testing::HttpGet(port, path);
    if (last.ok() && last->status == want) return last;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return last;
}

// Whether GET /metrics comes to contain `text` (metrics are recorded just after a response).
bool WaitForMetric(int port, const std::string& text) {
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    absl::StatusOr<testing::HttpResponse> metrics = testing::HttpGet(port, "/metrics");
    if (metrics.ok() && metrics->body.find(text) != std::string::npos) return true;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return false;
}

// Expects GET path on `port` to answer `want`, waiting for it.
void ExpectHttp(int port, const std::string& path, int want) {
  absl::StatusOr<testing::HttpResponse> r = WaitForHttp(port, path, want);
  ASSERT_TRUE(r.ok()) << path << ": " << r.status();
  EXPECT_EQ(r->status, want) << path << ": " << r->body;
}

class ServicesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto pg = testing::PgServer::Start();
    ASSERT_TRUE(pg.ok()) << pg.status();
    pg_ = std::move(*pg).release();
    auto redis = testing::RedisServer::Start();
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = std::move(*redis).release();
    pqxx::connection conn(pg_->uri());
    pqxx::nontransaction(conn).exec("CREATE DATABASE parley");
    dir_ = new std::string(testing::MakeTempDir("parley-e2e"));
  }
  static void TearDownTestSuite() {
    delete redis_;
    delete pg_;
    delete dir_;
  }

  void TearDown() override {
    if (HasFailure()) {
      for (const Running& r : running_) {
        std::cerr << "---- log of " << r.binary->name << "\n" << ReadFile(r.log) << "\n";
      }
    }
  }

  std::vector<std::string> Flags(const Running& r) {
    std::vector<std::string> argv = {
        r.binary->path,
        absl::StrCat("--grpc_address=127.0.0.1:", r.grpc_port),
        absl::StrCat("--metrics_address=127.0.0.1:", r.metrics_port),
        "--pg_uri=" + pg_->uri("parley"),
        "--health_poll_interval=100ms",
    };
    if (r.binary->uses_redis) argv.push_back("--redis_address=" + redis_->address());
    if (r.http_port != 0) argv.push_back(absl::StrCat("--http_address=127.0.0.1:", r.http_port));
    return argv;
  }

  void StartAll() {
    for (const Binary& b : Binaries()) {
      Running r{&b,
                testing::PickFreePort(),
                testing::PickFreePort(),
                b.serves_http ? testing::PickFreePort() : 0,
                absl::StrCat(*dir_, "/", b.name, ".log"),
                nullptr};
      auto process = testing::Subprocess::Spawn(Flags(r), {}, r.log);
      ASSERT_TRUE(process.ok()) << process.status();
      r.process = *std::move(process);
      running_.push_back(std::move(r));
    }
  }

  void ExpectAll(testing::ServingStatus want) {
    for (const Running& r : running_) {
      absl::Status s = testing::WaitForHealth(r.grpc_address(), want);
      EXPECT_TRUE(s.ok()) << r.binary->name << ": " << s;
    }
  }

  void StopAllCleanly() {
    for (Running& r : running_) r.process->Signal(SIGTERM);
    for (Running& r : running_) {
      absl::StatusOr<int> code = r.process->WaitFor(absl::Seconds(60));
      ASSERT_TRUE(code.ok()) << r.binary->name << ": " << code.status();
      EXPECT_EQ(*code, 0) << r.binary->name;
    }
  }

  const Running& ingress() const { return running_[0]; }

  static testing::PgServer* pg_;
  static testing::RedisServer* redis_;
  static std::string* dir_;
  std::vector<Running> running_;
};

testing::PgServer* ServicesTest::pg_ = nullptr;
testing::RedisServer* ServicesTest::redis_ = nullptr;
std::string* ServicesTest::dir_ = nullptr;

TEST_F(ServicesTest, AllFourServeHealthReflectionAndMetricsThenStopCleanly) {
  StartAll();
  ExpectAll(HealthCheckResponse::SERVING);

  // Each applied its own migrations, concurrently, exactly once.
  pqxx::connection conn(pg_->uri("parley"));
  pqxx::nontransaction tx(conn);
  const pqxx::result rows =
      tx.exec("SELECT component, count(*) FROM parley_schema_migrations GROUP BY component");
  std::map<std::string, int> versions;
  for (const auto& row : rows) versions[row[0].as<std::string>()] = row[1].as<int>();
  for (const Binary& b : Binaries()) EXPECT_GE(versions[b.name], 1) << b.name;
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM information_schema.schemata WHERE schema_name IN "
                     "('ingress','router','session','attachments')")[0]
                .as<int>(),
            4);

  // Ingress's HTTP server: alive and ready, and measured.
  ExpectHttp(ingress().http_port, "/healthz", 200);
  ExpectHttp(ingress().http_port, "/readyz", 200);
  EXPECT_TRUE(WaitForMetric(ingress().metrics_port,
                            R"(parley_http_requests_total{code="200",route="/readyz"})"));

  const bool have_promtool = std::system("command -v promtool >/dev/null 2>&1") == 0;
  for (const Running& r : running_) {
    SCOPED_TRACE(r.binary->name);
    // Reflection answers and lists the health service.
    absl::StatusOr<std::vector<std::string>> names = testing::ListServices(r.grpc_address());
    ASSERT_TRUE(names.ok()) << names.status();
    EXPECT_NE(std::find(names->begin(), names->end(), "grpc.health.v1.Health"), names->end());

    absl::StatusOr<testing::HttpResponse> metrics = testing::HttpGet(r.metrics_port, "/metrics");
    ASSERT_TRUE(metrics.ok()) << metrics.status();
    EXPECT_EQ(metrics->status, 200);
    EXPECT_NE(metrics->body.find(absl::StrCat("parley_build_info{service=\"", r.binary->name)),
              std::string::npos);
    EXPECT_NE(metrics->body.find(R"(parley_dependency_up{dependency="postgresql"} 1)"),
              std::string::npos)
        << metrics->body;
    EXPECT_NE(metrics->body.find(R"(grpc_server_handled_total{grpc_code="OK",grpc_method="Check",)"
                                 R"(grpc_service="grpc.health.v1.Health")"),
              std::string::npos)
        << metrics->body;
    if (r.binary->uses_redis) {
      EXPECT_NE(metrics->body.find(R"(parley_dependency_up{dependency="redis"} 1)"),
                std::string::npos);
    }
    if (have_promtool) {
      const std::string file = absl::StrCat(*dir_, "/", r.binary->name, ".metrics");
      std::ofstream(file) << metrics->body;
      EXPECT_EQ(std::system(("promtool check metrics < " + file + " >&2").c_str()), 0);
    }
  }
  StopAllCleanly();
}

TEST_F(ServicesTest, PostgresOutageTurnsEveryServiceNotServingAndBack) {
  StartAll();
  ExpectAll(HealthCheckResponse::SERVING);
  ExpectHttp(ingress().http_port, "/readyz", 200);
  ASSERT_TRUE(pg_->Stop().ok());
  ExpectAll(HealthCheckResponse::NOT_SERVING);
  ExpectHttp(ingress().http_port, "/readyz", 503);
  ExpectHttp(ingress().http_port, "/healthz", 200);  // alive: no restart wanted
  ASSERT_TRUE(pg_->Resume().ok());
  ExpectAll(HealthCheckResponse::SERVING);
  ExpectHttp(ingress().http_port, "/readyz", 200);
  StopAllCleanly();
}

TEST_F(ServicesTest, RedisOutageTurnsTheRouterNotServingAndBack) {
  StartAll();
  ExpectAll(HealthCheckResponse::SERVING);
  const Running& router = running_[1];
  ASSERT_EQ(router.binary->name, "router");
  ASSERT_TRUE(redis_->Stop().ok());
  EXPECT_TRUE(testing::WaitForHealth(router.grpc_address(), HealthCheckResponse::NOT_SERVING).ok());
  // The others do not depend on Redis.
  absl::StatusOr<testing::ServingStatus> session = testing::CheckHealth(running_[2].grpc_address());
  ASSERT_TRUE(session.ok());
  EXPECT_EQ(*session, HealthCheckResponse::SERVING);
  ASSERT_TRUE(redis_->Resume().ok());
  EXPECT_TRUE(testing::WaitForHealth(router.grpc_address(), HealthCheckResponse::SERVING).ok());
  StopAllCleanly();
}

TEST_F(ServicesTest, StartsNotServingWhilePostgresIsDownAndMigratesWhenItArrives) {
  ASSERT_TRUE(pg_->Stop().ok());
  StartAll();
  for (const Running& r : running_) {
    // Up and answering health checks, but not ready.
    absl::Status s = testing::WaitForHealth(r.grpc_address(), HealthCheckResponse::NOT_SERVING);
    EXPECT_TRUE(s.ok()) << r.binary->name << ": " << s;
  }
  ASSERT_TRUE(pg_->Resume().ok());
  ExpectAll(HealthCheckResponse::SERVING);
  StopAllCleanly();
}

TEST_F(ServicesTest, MigrateCommandAppliesAndExits) {
  for (const Binary& b : Binaries()) {
    const std::string log = absl::StrCat(*dir_, "/", b.name, "-migrate.log");
    EXPECT_TRUE(
        testing::RunCommand({b.path, "migrate", "--pg_uri=" + pg_->uri("parley")}, log).ok())
        << ReadFile(log);
  }
}

TEST_F(ServicesTest, ConfigurationErrorsStopStartUpWithExitCode2AndAClearLine) {
  const std::string log = absl::StrCat(*dir_, "/bad-flags.log");
  auto p = testing::Subprocess::Spawn({PARLEY_SESSION_BIN, "--pg_pool_size=lots"}, {}, log);
  ASSERT_TRUE(p.ok());
  absl::StatusOr<int> code = (*p)->WaitFor(absl::Seconds(30));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 2);
  EXPECT_NE(ReadFile(log).find("setting pg_pool_size: 'lots' is not an integer"), std::string::npos)
      << ReadFile(log);
}

}  // namespace
}  // namespace parley
