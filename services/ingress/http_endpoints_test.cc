#include "services/ingress/http_endpoints.h"

#include <atomic>

#include "gtest/gtest.h"
#include "libs/testing/metrics.h"
#include "prometheus/registry.h"

namespace parley::ingress {
namespace {

http::Response Call(const http::Router& router, absl::string_view path) {
  const http::Router::Match match = router.Find("GET", path);
  EXPECT_NE(match.handler, nullptr) << path;
  return (*match.handler)(http::Request{.method = "GET", .path = std::string(path)});
}

TEST(HttpRoutesTest, HealthzIsAlwaysOkAndReadyzFollowsReadiness) {
  std::atomic<bool> ready{false};
  const http::Router router = HttpRoutes([&ready] { return ready.load(); });
  EXPECT_EQ(Call(router, "/healthz").status, 200);
  EXPECT_EQ(Call(router, "/healthz").body, "ok\n");
  EXPECT_EQ(Call(router, "/readyz").status, 503);
  ready = true;
  EXPECT_EQ(Call(router, "/readyz").status, 200);
  EXPECT_EQ(Call(router, "/readyz").body, "ready\n");
  EXPECT_EQ(Call(router, "/healthz").status, 200);
}

TEST(HttpMetricsTest, CountsByRouteAndCodeAndObservesLatency) {
  prometheus::Registry registry;
  const http::Observer observe = HttpMetrics(registry);
  observe("GET", "/readyz", 200, 0.002);
  observe("GET", "/readyz", 503, 0.001);
  observe("GET", "/readyz", 503, 0.001);
  using parley::testing::MetricSample;
  EXPECT_EQ(
      MetricSample(registry, "parley_http_requests_total", {{"code", "200"}, {"route", "/readyz"}}),
      1);
  EXPECT_EQ(
      MetricSample(registry, "parley_http_requests_total", {{"code", "503"}, {"route", "/readyz"}}),
      2);
  EXPECT_EQ(MetricSample(registry, "parley_http_request_seconds", {{"route", "/readyz"}}), 3);
}

}  // namespace
}  // namespace parley::ingress
