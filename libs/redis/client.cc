#include "libs/redis/client.h"

#include <hiredis/hiredis.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace parley::redis {
namespace {

absl::Status StatusFromErrorReply(absl::string_view message) {
  if (absl::StartsWith(message, "NOSCRIPT")) return absl::NotFoundError(message);
  if (absl::StartsWith(message, "WRONGTYPE")) return absl::FailedPreconditionError(message);
  if (absl::StartsWith(message, "LOADING") || absl::StartsWith(message, "BUSY") ||
      absl::StartsWith(message, "MASTERDOWN") || absl::StartsWith(message, "READONLY") ||
      absl::StartsWith(message, "TRYAGAIN")) {
    return absl::UnavailableError(absl::StrCat("redis: ", message));
  }
  return absl::InternalError(absl::StrCat("redis: ", message));
}

// Converts a reply tree; the first error reply anywhere in it becomes the Status.
absl::StatusOr<Reply> Convert(const redisReply* r) {
  Reply out;
  switch (r->type) {
    case REDIS_REPLY_ERROR:
      return StatusFromErrorReply(absl::string_view(r->str, r->len));
    case REDIS_REPLY_NIL:
      return out;
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::kString;
      out.str.assign(r->str, r->len);
      return out;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::kStatus;
      out.str.assign(r->str, r->len);
      return out;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::kInteger;
      out.integer = r->integer;
      return out;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::kArray;
      out.elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) {
        absl::StatusOr<Reply> element = Convert(r->element[i]);
        if (!element.ok()) return element.status();
        out.elements.push_back(*std::move(element));
      }
      return out;
    default:
      return absl::InternalError(absl::StrCat("redis: unexpected reply type ", r->type));
  }
}

}  // namespace

absl::StatusOr<ClientOptions> ParseAddress(absl::string_view address) {
  const size_t colon = address.rfind(':');
  ClientOptions options;
  if (colon == absl::string_view::npos || colon == 0 ||
      !absl::SimpleAtoi(address.substr(colon + 1), &options.port) || options.port <= 0 ||
      options.port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("redis address '", address, "' is not host:port"));
  }
  options.host = std::string(address.substr(0, colon));
  return options;
}

Client::Client(ClientOptions options) : options_(std::move(options)) {}

Client::~Client() {
  std::lock_guard<std::mutex> lock(mu_);
  DropLocked();
}

void Client::DropLocked() {
  if (ctx_ != nullptr) redisFree(ctx_);
  ctx_ = nullptr;
}

absl::Status Client::ConnectLocked() {
  const timeval connect_timeout = absl::ToTimeval(options_.connect_timeout);
  redisContext* ctx =
      redisConnectWithTimeout(options_.host.c_str(), options_.port, connect_timeout);
  if (ctx == nullptr) return absl::UnavailableError("redis: out of memory for a connection");
  if (ctx->err != 0) {
    absl::Status status = absl::UnavailableError(
        absl::StrCat("redis ", options_.host, ":", options_.port, " unreachable: ", ctx->errstr));
    redisFree(ctx);
    return status;
  }
  if (redisSetTimeout(ctx, absl::ToTimeval(options_.command_timeout)) != REDIS_OK) {
    redisFree(ctx);
    return absl::UnavailableError("redis: cannot set the command timeout");
  }
  ctx_ = ctx;
  return absl::OkStatus();
}

absl::StatusOr<Reply> Client::Command(const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> argvlen;
  argv.reserve(args.size());
  argvlen.reserve(args.size());
  for (const std::string& a : args) {
    argv.push_back(a.data());
    argvlen.push_back(a.size());
  }

  std::lock_guard<std::mutex> lock(mu_);
  if (ctx_ == nullptr) {
    if (absl::Status s = ConnectLocked(); !s.ok()) return s;
  }
  auto* reply = static_cast<redisReply*>(
      redisCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), argvlen.data()));
  if (reply == nullptr) {
    absl::Status status = absl::UnavailableError(absl::StrCat(
        "redis ", options_.host, ":", options_.port, " connection lost: ", ctx_->errstr));
    DropLocked();
    return status;
  }
  absl::StatusOr<Reply> out = Convert(reply);
  freeReplyObject(reply);
  return out;
}

absl::Status Client::Ping() {
  absl::StatusOr<Reply> reply = Command({"PING"});
  if (!reply.ok()) reply = Command({"PING"});  // the first may have met a stale connection
  if (!reply.ok()) return reply.status();
  if (reply->type != Reply::Type::kStatus || reply->str != "PONG") {
    return absl::InternalError(absl::StrCat("redis: PING answered '", reply->str, "'"));
  }
  return absl::OkStatus();
}

}  // namespace parley::redis
