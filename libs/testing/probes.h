// Client-side checks tests make against running servers, over real sockets: the standard
// gRPC health check, server reflection, and a plain HTTP GET (for /metrics).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.pb.h"

namespace parley::testing {

using ServingStatus = grpc::health::v1::HealthCheckResponse::ServingStatus;

// One grpc.health.v1.Health/Check of `service` ("" for the whole server) at host:port.
absl::StatusOr<ServingStatus> CheckHealth(const std::string& address,
                                          const std::string& service = "");

// Polls CheckHealth until it reports `want`; DeadlineExceeded with the last answer otherwise.
// This waits for a state; it does not assert how long reaching it takes.
absl::Status WaitForHealth(const std::string& address, ServingStatus want,
                           absl::Duration timeout = absl::Seconds(60));

// The services a server lists through gRPC server reflection.
absl::StatusOr<std::vector<std::string>> ListServices(const std::string& address);

struct HttpResponse {
  int status = 0;
  std::string content_type;
  std::string body;
};

// GET http://127.0.0.1:port/path with HTTP/1.0 (the server closes after the answer).
absl::StatusOr<HttpResponse> HttpGet(int port, const std::string& path);

}  // namespace parley::testing
