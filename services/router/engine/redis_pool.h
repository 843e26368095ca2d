// A fixed set of Redis connections shared by the engine's callers: each redis::Client runs one
// command at a time, so concurrent gRPC handlers and background loops spread over several.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "libs/redis/client.h"

namespace parley::router::engine {

class RedisPool {
 public:
  RedisPool(const redis::ClientOptions& options, int size);

  // A connection, chosen in turn; safe from any thread.
  redis::Client& Get();
  const redis::ClientOptions& options() const { return options_; }

 private:
  redis::ClientOptions options_;
  std::vector<std::unique_ptr<redis::Client>> clients_;
  std::atomic<unsigned> next_{0};
};

}  // namespace parley::router::engine
