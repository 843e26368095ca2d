// For tests: a parley-provider-sim process on a free port, and typed access to its control
// endpoints (recorded requests, scripted failures, registered credentials, webhooks).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/http_client/http_client.h"
#include "libs/testing/subprocess.h"

namespace parley::provider_sim {

// One request the simulator recorded.
struct Recorded {
  std::string api;  // graph, twilio, media, unknown
  int status = 0;   // what the simulator answered
  std::string method;
  std::string path;
  std::vector<std::pair<std::string, std::string>> query;    // decoded
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-case
  std::string body;
  std::vector<std::pair<std::string, std::string>> form;  // decoded, for form bodies

  std::string Query(const std::string& name) const;
  std::string Header(const std::string& name) const;
  std::string Form(const std::string& name) const;
  std::vector<std::string> FormAll(const std::string& name) const;
};

class SimProcess {
 public:
  // Starts `binary` on 127.0.0.1:<free port> and waits until it answers.
  static absl::StatusOr<std::unique_ptr<SimProcess>> Start(const std::string& binary);

  std::string base_url() const { return base_url_; }
  int port() const { return port_; }

  absl::StatusOr<std::vector<Recorded>> Requests(const std::string& api = "");
  absl::Status Reset();
  // After `after` more requests to `api` (graph, twilio, media, any) answered normally, the
  // next `count` get `status` and `body` (and Retry-After when given).
  absl::Status Fail(const std::string& api, int status, const std::string& body, int count = 1,
                    const std::string& retry_after = "", int after = 0);
  absl::Status RegisterPage(const std::string& page_id, const std::string& token,
                            const std::string& app_secret);
  absl::Status RegisterAccount(const std::string& account_sid, const std::string& auth_token);
  // POSTs a control request and returns the simulator's answer.
  absl::StatusOr<http_client::Response> Control(const std::string& path, const std::string& json);

 private:
  SimProcess(std::unique_ptr<testing::Subprocess> process, int port);

  std::unique_ptr<testing::Subprocess> process_;
  int port_;
  std::string base_url_;
  http_client::Client client_;
};

}  // namespace parley::provider_sim
