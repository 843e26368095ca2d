// A Redis client over hiredis that reports absl::Status and reconnects by itself.
// One connection, used by one command at a time (callers share it through a mutex); a
// command that finds the connection broken fails with Unavailable and the next command opens a
// new connection, so a restarted Redis is used again without restarting the service. A failed
// command is not retried here: only the caller knows whether repeating it is safe.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

struct redisContext;

namespace parley::redis {

// A reply, converted from hiredis. Error replies never appear here: they become a Status.
struct Reply {
  enum class Type { kNil, kString, kStatus, kInteger, kArray };
  Type type = Type::kNil;
  std::string str;              // kString and kStatus
  int64_t integer = 0;          // kInteger
  std::vector<Reply> elements;  // kArray
};

struct ClientOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  absl::Duration connect_timeout = absl::Seconds(1);
  absl::Duration command_timeout = absl::Seconds(2);
};

// Parses "host:port" (host may be a name or an IPv4 address); InvalidArgument otherwise.
absl::StatusOr<ClientOptions> ParseAddress(absl::string_view address);

class Client {
 public:
  explicit Client(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends one command, e.g. {"SET", key, value}. Errors:
  //   Unavailable         no connection, or it broke during the command (reconnects next time)
  //   FailedPrecondition  WRONGTYPE and other errors the data's state causes
  //   NotFound            NOSCRIPT (EVALSHA of a script the server does not have)
  //   Internal            any other error reply, with Redis' message
  absl::StatusOr<Reply> Command(const std::vector<std::string>& args);

  // Whether the server answers PING; a stale connection is replaced and PING tried again.
  absl::Status Ping();

 private:
  absl::Status ConnectLocked();
  void DropLocked();

  const ClientOptions options_;
  std::mutex mu_;
  redisContext* ctx_ = nullptr;  // null while disconnected
};

}  // namespace parley::redis
