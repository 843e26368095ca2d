// Shared by the session end-to-end tests: a private PostgreSQL with the `parley` database,
// and the real parley-session binary started (and killed, and restarted) against it.
#pragma once

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "libs/testing/probes.h"
#include "libs/testing/servers.h"
#include "libs/testing/subprocess.h"

namespace parley::e2e {

class SessionBinary {
 public:
  // Starts parley-session with `flags` added to the ports and PostgreSQL URI; waits for
  // SERVING.
  static std::unique_ptr<SessionBinary> Start(const std::string& pg_uri,
                                              const std::vector<std::string>& flags,
                                              const std::string& log) {
    auto s = std::unique_ptr<SessionBinary>(new SessionBinary);
    s->grpc_port_ = testing::PickFreePort();
    s->metrics_port_ = testing::PickFreePort();
    s->log_ = log;
    std::vector<std::string> argv = {
        PARLEY_SESSION_BIN,
        absl::StrCat("--grpc_address=127.0.0.1:", s->grpc_port_),
        absl::StrCat("--metrics_address=127.0.0.1:", s->metrics_port_),
        "--pg_uri=" + pg_uri,
        "--health_poll_interval=100ms",
    };
    argv.insert(argv.end(), flags.begin(), flags.end());
    auto process = testing::Subprocess::Spawn(argv, {}, log);
    EXPECT_TRUE(process.ok()) << process.status();
    if (!process.ok()) return nullptr;
    s->process_ = *std::move(process);
    const absl::Status up =
        testing::WaitForHealth(s->address(), grpc::health::v1::HealthCheckResponse::SERVING);
    EXPECT_TRUE(up.ok()) << up << "\n" << s->Log();
    return s;
  }

  std::string address() const { return absl::StrCat("127.0.0.1:", grpc_port_); }
  int metrics_port() const { return metrics_port_; }
  testing::Subprocess& process() { return *process_; }
  std::string Log() const {
    std::ifstream in(log_);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

 private:
  SessionBinary() = default;
  int grpc_port_ = 0;
  int metrics_port_ = 0;
  std::string log_;
  std::unique_ptr<testing::Subprocess> process_;
};

}  // namespace parley::e2e
