#include "services/ingress/http_endpoints.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "libs/common/log.h"
#include "prometheus/counter.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace parley::ingress {
namespace {

// Upper bounds in seconds, as for the gRPC latencies: from half a millisecond to half a minute.
const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
  return *buckets;
}

class HttpComponent : public service::Component {
 public:
  HttpComponent(http::Options options, http::Router router)
      : server_(std::move(options), std::move(router)) {}

  // service::Component:
  absl::Status Start() override {
    absl::Status s = server_.Start();
    if (s.ok()) log::Info("serving HTTP", {{"http_port", absl::StrCat(server_.port())}});
    return s;
  }
  void Shutdown(absl::Duration grace) override { server_.Shutdown(grace); }

 private:
  http::Server server_;
};

absl::StatusOr<int> PositiveInt(const Config& config, absl::string_view name) {
  absl::StatusOr<int> value = config.GetInt(name);
  if (!value.ok()) return value.status();
  if (*value < 1)
    return absl::InvalidArgumentError(absl::StrCat("setting ", name, ": must be >= 1"));
  return value;
}

}  // namespace

std::vector<Setting> HttpSettings() {
  return {
      {"http_address", "0.0.0.0:8080", "HTTP listen address of the provider webhooks"},
      {"http_max_body_bytes", "1048576", "largest webhook body accepted; larger ones get 413"},
      {"http_threads", "64",
       "threads running webhook handlers: at most this many webhooks wait for session at "
       "once (those waiting together share calls to session); connections and probes have "
       "threads of their own"},
  };
}

http::Router HttpRoutes(std::function<bool()> ready) {
  http::Router router;
  router.Get("/healthz", [](const http::Request&) { return http::Text(200, "ok\n"); });
  router.Get("/readyz", [ready = std::move(ready)](const http::Request&) {
    return ready() ? http::Text(200, "ready\n") : http::Text(503, "not ready\n");
  });
  return router;
}

http::Observer HttpMetrics(prometheus::Registry& registry) {
  auto& requests = prometheus::BuildCounter()
                       .Name("parley_http_requests_total")
                       .Help("HTTP requests answered, by route and status code.")
                       .Register(registry);
  auto& seconds = prometheus::BuildHistogram()
                      .Name("parley_http_request_seconds")
                      .Help("Time from the end of an HTTP request to the end of its response.")
                      .Register(registry);
  return [&requests, &seconds](absl::string_view, absl::string_view route, int status,
                               double elapsed) {
    requests.Add({{"route", std::string(route)}, {"code", absl::StrCat(status)}}).Increment();
    seconds.Add({{"route", std::string(route)}}, LatencyBuckets()).Observe(elapsed);
  };
}

absl::StatusOr<std::unique_ptr<service::Component>> NewHttpComponent(service::Context& context) {
  return NewHttpComponent(context, HttpRoutes(context.ready));
}

absl::StatusOr<std::unique_ptr<service::Component>> NewHttpComponent(service::Context& context,
                                                                     http::Router router) {
  absl::StatusOr<int> max_body = PositiveInt(context.config, "http_max_body_bytes");
  if (!max_body.ok()) return max_body.status();
  absl::StatusOr<int> threads = PositiveInt(context.config, "http_threads");
  if (!threads.ok()) return threads.status();
  http::Options options{
      .address = context.config.Get("http_address"),
      .threads = 2,
      .handler_threads = *threads,
      .max_body_bytes = static_cast<size_t>(*max_body),
      .observer = HttpMetrics(context.metrics),
  };
  return std::make_unique<HttpComponent>(std::move(options), std::move(router));
}

}  // namespace parley::ingress
