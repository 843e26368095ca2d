// ingress's HTTP server: the port the providers' webhooks arrive on (their handlers come with
// the Messenger and Twilio work), with Kubernetes' liveness and readiness endpoints, and the
// Prometheus metrics of every request:
//   parley_http_requests_total{route,code}
//   parley_http_request_seconds{route}   (histogram)
// `route` is the registered path, or "unmatched", so that scanners cannot blow up the labels.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/common/config.h"
#include "libs/http/router.h"
#include "libs/http/server.h"
#include "libs/service/service_main.h"

namespace prometheus {
class Registry;
}  // namespace prometheus

namespace parley::ingress {

// The settings of the HTTP server (http_address, http_max_body_bytes, http_threads).
std::vector<Setting> HttpSettings();

// GET /healthz: 200 "ok" while the process runs (liveness).
// GET /readyz: 200 "ready" while `ready()` holds, else 503 "not ready" (readiness): the same
// answer as grpc.health.v1, so Kubernetes stops sending webhooks to a replica whose database
// is gone.
http::Router HttpRoutes(std::function<bool()> ready);

// Records the metrics above into `registry`, which must outlive the observer.
http::Observer HttpMetrics(prometheus::Registry& registry);

// The HTTP server as a Component of the ingress binary, configured from the settings above.
// InvalidArgument names a setting that is wrong.
absl::StatusOr<std::unique_ptr<service::Component>> NewHttpComponent(service::Context& context);
// The same, serving `router` (HttpRoutes plus the webhook routes, built by the caller).
absl::StatusOr<std::unique_ptr<service::Component>> NewHttpComponent(service::Context& context,
                                                                     http::Router router);

}  // namespace parley::ingress
