// parley-provider-sim: Facebook's Graph Send API and Twilio's Messages API on one HTTP port,
// for tests and for `./dev up` (play the customer with curl; see README.md here).
//   parley-provider-sim [--address=0.0.0.0:8090]   (or PARLEY_ADDRESS)
// Exit codes: 0 after SIGTERM/SIGINT, 1 when the port cannot be bound, 2 for a bad setting.
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "libs/common/config.h"
#include "libs/common/log.h"
#include "libs/common/signals.h"
#include "libs/http/server.h"
#include "tests/tools/provider_sim/simulator.h"

int main(int argc, char** argv) {
  parley::BlockTerminationSignals();
  parley::Config config({
      {.name = "address", .default_value = "0.0.0.0:8090", .help = "host:port to listen on"},
      {.name = "threads", .default_value = "4", .help = "HTTP server threads"},
  });
  if (absl::Status s = config.Load(argc, argv, [](const char* n) { return std::getenv(n); });
      !s.ok()) {
    std::cerr << s.message() << "\n";
    return 2;
  }
  if (config.help_requested()) {
    std::cout << config.Help();
    return 0;
  }
  absl::StatusOr<int> threads = config.GetInt("threads");
  if (!threads.ok()) {
    std::cerr << threads.status().message() << "\n";
    return 2;
  }
  parley::log::SetComponent("provider-sim");
  parley::provider_sim::Simulator simulator;
  parley::http::Server server(
      {.address = config.Get("address"), .threads = *threads, .max_body_bytes = 8 << 20},
      simulator.Routes());
  if (absl::Status s = server.Start(); !s.ok()) {
    parley::log::Error("cannot listen", {{"error", s.message()}});
    return 1;
  }
  parley::log::Info("provider simulator listening", {{"address", config.Get("address")}});
  parley::WaitForTerminationSignal();
  server.Shutdown(absl::Seconds(2));
  return 0;
}
