// Child processes for tests: real servers (PostgreSQL, Redis, Parley's own binaries) started,
// signalled and reaped by the test that needs them.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace parley::testing {

class Subprocess {
 public:
  // Starts argv[0] (looked up in PATH) with the current environment plus `extra_env`
  // ("NAME=value"); stdout and stderr go to `log_path` (appended), or are inherited when empty.
  static absl::StatusOr<std::unique_ptr<Subprocess>> Spawn(
      const std::vector<std::string>& argv, const std::vector<std::string>& extra_env = {},
      const std::string& log_path = "");
  ~Subprocess();  // SIGKILL and reap if still running

  pid_t pid() const { return pid_; }
  void Signal(int signal);
  // Exit code, or 128 + the signal that ended it. DeadlineExceeded if it runs on past `timeout`.
  absl::StatusOr<int> WaitFor(absl::Duration timeout);
  bool running();

 private:
  explicit Subprocess(pid_t pid) : pid_(pid) {}

  pid_t pid_;
  int exit_code_ = -1;  // set once reaped
};

// Runs a command to completion; Internal with its exit code when it fails, with its output
// in `log_path`.
absl::Status RunCommand(const std::vector<std::string>& argv, const std::string& log_path,
                        absl::Duration timeout = absl::Seconds(120));

// A TCP port on 127.0.0.1 that was free a moment ago, picked at random in
// [kFirstTestPort, kLastTestPort]: below Linux's ephemeral range (32768-60999 by default), from
// which every outgoing connection of every process takes its local port. A port from bind(0)
// lies in that range, and a test's own client connections could take it in the moment before
// the service under test binds it (seen in CI: "cannot listen on 127.0.0.1:56135").
inline constexpr int kFirstTestPort = 20000;
inline constexpr int kLastTestPort = 32000;
int PickFreePort();

// A new empty directory under $TMPDIR (or /tmp).
std::string MakeTempDir(const std::string& prefix);

}  // namespace parley::testing
