// The gRPC server runner against real sockets and a real PostgreSQL: readiness that follows
// the database, reflection, per-RPC metrics, and a shutdown that drains in-flight calls.
#include <atomic>
#include <future>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "libs/grpc/server_runner.h"
#include "libs/metrics/metrics.h"
#include "libs/pg/pool.h"
#include "libs/testing/probes.h"
#include "libs/testing/servers.h"
#include "parley/testing/v1/echo.grpc.pb.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"

namespace parley {
namespace {

using grpc::health::v1::HealthCheckResponse;
using parley::testing::v1::EchoRequest;
using parley::testing::v1::EchoResponse;
using parley::testing::v1::EchoService;

// Answers after the requested delay, on a thread of its own so that the callback thread is
// never blocked.
class EchoServiceImpl final : public EchoService::CallbackService {
 public:
  ~EchoServiceImpl() override {
    for (auto& t : threads_) t.join();
  }

  absl::Notification& received() { return received_; }

  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* context, const EchoRequest* request,
                                 EchoResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    if (request->text().empty()) {
      reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "text: must not be empty"));
      return reactor;
    }
    if (!received_.HasBeenNotified()) received_.Notify();
    std::lock_guard<std::mutex> lock(mu_);
    threads_.emplace_back([reactor, request, response] {
      std::this_thread::sleep_for(std::chrono::milliseconds(request->delay_ms()));
      response->set_text(request->text());
      reactor->Finish(grpc::Status::OK);
    });
    return reactor;
  }

 private:
  absl::Notification received_;
  std::mutex mu_;
  std::vector<std::thread> threads_;
};

grpc::Status CallEcho(const std::string& address, const std::string& text, int delay_ms,
                      std::string* answer = nullptr) {
  auto stub =
      EchoService::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  EchoRequest request;
  request.set_text(text);
  request.set_delay_ms(delay_ms);
  EchoResponse response;
  grpc::Status status = stub->Echo(&context, request, &response);
  if (answer != nullptr) *answer = response.text();
  return status;
}

ServerOptions FastOptions() {
  return {.address = "127.0.0.1:0",
          .health_poll_interval = absl::Milliseconds(50),
          .shutdown_grace = absl::Seconds(20)};
}

std::string Address(const ServerRunner& runner) {
  return absl::StrCat("127.0.0.1:", runner.port());
}

TEST(ServerRunnerTest, HealthFollowsPostgresWithoutARestart) {
  auto server = testing::PgServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  pg::Pool pool({.uri = (*server)->uri(), .size = 2});
  ServerRunner runner(FastOptions(), {{"postgresql", [&pool] { return pool.Ping(); }}});
  ASSERT_TRUE(runner.Start().ok());
  const std::string address = Address(runner);

  ASSERT_TRUE(testing::WaitForHealth(address, HealthCheckResponse::SERVING).ok());
  ASSERT_TRUE((*server)->Stop().ok());
  EXPECT_TRUE(testing::WaitForHealth(address, HealthCheckResponse::NOT_SERVING).ok());
  ASSERT_TRUE((*server)->Resume().ok());
  EXPECT_TRUE(testing::WaitForHealth(address, HealthCheckResponse::SERVING).ok());
}

TEST(ServerRunnerTest, NotServingUntilEveryProbePasses) {
  std::atomic<bool> redis_up{false};
  std::atomic<int> rounds{0};
  ServerRunner runner(
      FastOptions(),
      {{"postgresql", [] { return absl::OkStatus(); }},
       {"redis", [&] { return redis_up ? absl::OkStatus() : absl::UnavailableError("down"); }}});
  runner.SetProbeListener([&](const auto&, bool) { ++rounds; });
  ASSERT_TRUE(runner.Start().ok());
  const std::string address = Address(runner);
  while (rounds < 3) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  absl::StatusOr<testing::ServingStatus> status = testing::CheckHealth(address);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(*status, HealthCheckResponse::NOT_SERVING);
  EXPECT_FALSE(runner.serving());
  // Alive all the same: a liveness probe must not restart the pod for a dependency.
  absl::StatusOr<testing::ServingStatus> alive = testing::CheckHealth(address, kLivenessService);
  ASSERT_TRUE(alive.ok()) << alive.status();
  EXPECT_EQ(*alive, HealthCheckResponse::SERVING);

  redis_up = true;
  EXPECT_TRUE(testing::WaitForHealth(address, HealthCheckResponse::SERVING).ok());
  EXPECT_TRUE(runner.serving());
}

TEST(ServerRunnerTest, ReflectionListsTheRegisteredServices) {
  EchoServiceImpl echo;
  ServerRunner runner(FastOptions(), {});
  runner.AddService(&echo);
  ASSERT_TRUE(runner.Start().ok());

  absl::StatusOr<std::vector<std::string>> names = testing::ListServices(Address(runner));
  ASSERT_TRUE(names.ok()) << names.status();
  EXPECT_NE(std::find(names->begin(), names->end(), "parley.testing.v1.EchoService"), names->end());
  EXPECT_NE(std::find(names->begin(), names->end(), "grpc.health.v1.Health"), names->end());
}

// Sends raw request bytes to Echo and returns the status.
grpc::Status CallEchoRaw(const std::string& address, const std::string& bytes) {
  grpc::GenericStub stub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, "/parley.testing.v1.EchoService/Echo", grpc::StubOptions(), &request,
                 &response, [&](grpc::Status s) { done.set_value(std::move(s)); });
  return done.get_future().get();
}

TEST(ServerRunnerTest, InvalidUtf8InAStringFieldIsInvalidArgumentNamingTheField) {
  EchoServiceImpl echo;
  ServerRunner runner(FastOptions(), {});
  runner.AddService(&echo);
  ASSERT_TRUE(runner.Start().ok());

  // Field 1 (text), length 2, "\xC3\x28": not UTF-8.
  const grpc::Status bad = CallEchoRaw(Address(runner), std::string("\x0a\x02\xc3\x28", 4));
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(bad.error_message().find("field parley.testing.v1.EchoRequest.text"), std::string::npos)
      << bad.error_message();
  EXPECT_NE(bad.error_message().find("UTF-8"), std::string::npos) << bad.error_message();

  // The same field with valid UTF-8 reaches the handler.
  EXPECT_TRUE(CallEchoRaw(Address(runner), std::string("\x0a\x02\xc3\xa9", 4)).ok());
}

TEST(ServerRunnerTest, ShutdownDrainsInFlightCallsAndRefusesNewOnes) {
  EchoServiceImpl echo;
  ServerRunner runner(FastOptions(), {});
  runner.AddService(&echo);
  ASSERT_TRUE(runner.Start().ok());
  const std::string address = Address(runner);

  std::string answer;
  auto in_flight = std::async(std::launch::async,
                              [&] { return CallEcho(address, "still here", 1500, &answer); });
  echo.received().WaitForNotification();
  auto shutdown = std::async(std::launch::async, [&] { runner.Shutdown(); });

  grpc::Status status = in_flight.get();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(answer, "still here");
  shutdown.get();
  EXPECT_EQ(CallEcho(address, "too late", 0).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST(ServerRunnerTest, InterceptorCountsEveryCallByCodeAndTimesIt) {
  EchoServiceImpl echo;
  prometheus::Registry registry;
  ServerRunner runner(FastOptions(), {});
  runner.AddService(&echo);
  runner.AddInterceptor(metrics::NewRpcMetricsInterceptor(registry));
  ASSERT_TRUE(runner.Start().ok());
  const std::string address = Address(runner);

  ASSERT_TRUE(CallEcho(address, "a", 0).ok());
  ASSERT_TRUE(CallEcho(address, "b", 0).ok());
  ASSERT_EQ(CallEcho(address, "", 0).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  const std::string text = prometheus::TextSerializer().Serialize(registry.Collect());
  const std::string labels =
      R"(grpc_method="Echo",grpc_service="parley.testing.v1.EchoService",grpc_type="unary")";
  EXPECT_NE(text.find(absl::StrCat(R"(grpc_server_handled_total{grpc_code="OK",)", labels, "} 2")),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(absl::StrCat(R"(grpc_server_handled_total{grpc_code="InvalidArgument",)",
                                   labels, "} 1")),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(absl::StrCat("grpc_server_handling_seconds_count{", labels, "} 3")),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(absl::StrCat("grpc_server_started_total{", labels, "} 3")), std::string::npos)
      << text;
}

TEST(ServerRunnerTest, StopServingTurnsHealthNotServingWhileCallsStillWork) {
  EchoServiceImpl echo;
  ServerRunner runner(FastOptions(), {{"postgresql", [] { return absl::OkStatus(); }}});
  runner.AddService(&echo);
  ASSERT_TRUE(runner.Start().ok());
  const std::string address = Address(runner);
  ASSERT_TRUE(testing::WaitForHealth(address, HealthCheckResponse::SERVING).ok());

  runner.StopServing();
  absl::StatusOr<testing::ServingStatus> status = testing::CheckHealth(address);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(*status, HealthCheckResponse::NOT_SERVING);
  EXPECT_FALSE(runner.serving());
  EXPECT_TRUE(CallEcho(address, "draining", 0).ok());
}

TEST(ServerRunnerTest, BindFailureIsUnavailable) {
  ServerRunner first(FastOptions(), {});
  ASSERT_TRUE(first.Start().ok());
  ServerRunner second({.address = Address(first)}, {});
  absl::Status status = second.Start();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace parley
