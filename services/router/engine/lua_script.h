// A Lua script run with EVALSHA, falling back to EVAL when Redis answers NOSCRIPT (a fresh or
// restarted Redis): EVAL loads the script into Redis' cache, so the next EVALSHA finds it
// again. Scripts are the only way router's engine changes state in Redis, so that each state
// transition is atomic with respect to every other replica.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/redis/client.h"

namespace parley::router::engine {

class LuaScript {
 public:
  explicit LuaScript(std::string source);

  const std::string& sha1() const { return sha1_; }

  // Runs the script with `keys` as KEYS and `args` as ARGV. Errors as redis::Client::Command.
  absl::StatusOr<redis::Reply> Run(redis::Client& client, const std::vector<std::string>& keys,
                                   const std::vector<std::string>& args) const;

 private:
  std::string source_;
  std::string sha1_;  // lower-case hex, as Redis names scripts
};

}  // namespace parley::router::engine
