#include "services/router/engine/session_relay.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "libs/common/log.h"
#include "services/router/engine/util.h"

namespace parley::router::engine {
namespace {

constexpr char kGroup[] = "relay";

// Session's answers that retrying cannot change: the update is dropped (and logged).
bool Permanent(const absl::Status& s) {
  return absl::IsNotFound(s) || absl::IsFailedPrecondition(s) || absl::IsInvalidArgument(s);
}

}  // namespace

SessionRelay::SessionRelay(const redis::ClientOptions& redis, Keys keys, DeliverUpdate deliver,
                           SessionRelayOptions options)
    : redis_([&] {
        redis::ClientOptions o = redis;
        o.command_timeout = std::max(o.command_timeout, options.block + absl::Seconds(2));
        return o;
      }()),
      keys_(std::move(keys)),
      deliver_(std::move(deliver)),
      options_(options),
      consumer_(NewUuid()) {}

SessionRelay::~SessionRelay() { Shutdown(absl::ZeroDuration()); }

absl::Status SessionRelay::EnsureGroup() {
  absl::StatusOr<redis::Reply> r =
      redis_.Command({"XGROUP", "CREATE", keys_.SessionUpdates(), kGroup, "0", "MKSTREAM"});
  if (r.ok() || absl::StrContains(r.status().message(), "BUSYGROUP")) return absl::OkStatus();
  return r.status();
}

absl::StatusOr<int> SessionRelay::DeliverEntries(const redis::Reply& entries) {
  int delivered = 0;
  for (const redis::Reply& entry : entries.elements) {
    if (entry.elements.size() < 2) continue;
    const std::string& id = entry.elements[0].str;
    std::string payload, seq;
    const auto& kv = entry.elements[1].elements;
    for (size_t i = 0; i + 1 < kv.size(); i += 2) {
      if (kv[i].str == "u") payload = kv[i + 1].str;
      if (kv[i].str == "s") seq = kv[i + 1].str;
    }
    session::v1::ApplyRoutingUpdateRequest update;
    int64_t sequence = 0;
    if (update.ParseFromString(payload) && absl::SimpleAtoi(seq, &sequence)) {
      update.set_routing_sequence(sequence);
      absl::Status s = deliver_(update);
      if (!s.ok() && !Permanent(s)) return s;  // keep it; retried after a backoff
      if (!s.ok()) {
        log::Warn("session refused a routing update; dropped",
                  {{"conversation_id", update.conversation_id()}, {"error", s.ToString()}});
      }
    } else {
      log::Error("malformed session update entry; dropped", {{"id", id}});
    }
    absl::StatusOr<redis::Reply> ack = redis_.Command({"XACK", keys_.SessionUpdates(), kGroup, id});
    if (!ack.ok()) return ack.status();
    absl::StatusOr<redis::Reply> del = redis_.Command({"XDEL", keys_.SessionUpdates(), id});
    if (!del.ok()) return del.status();
    ++delivered;
  }
  return delivered;
}

absl::StatusOr<int> SessionRelay::RunOnce() {
  if (absl::Status s = EnsureGroup(); !s.ok()) return s;
  const std::string count = absl::StrCat(options_.batch);
  // Entries of replicas that went silent (and our own after a failure), oldest first.
  absl::StatusOr<redis::Reply> claimed = redis_.Command(
      {"XAUTOCLAIM", keys_.SessionUpdates(), kGroup, consumer_,
       absl::StrCat(absl::ToInt64Milliseconds(options_.claim_after)), "0-0", "COUNT", count});
  if (!claimed.ok()) return claimed.status();
  int delivered = 0;
  if (claimed->elements.size() >= 2) {
    absl::StatusOr<int> n = DeliverEntries(claimed->elements[1]);
    if (!n.ok()) return n.status();
    delivered += *n;
  }
  // Our own pending entries (a failed delivery), then new ones.
  for (const char* from : {"0", ">"}) {
    std::vector<std::string> cmd = {"XREADGROUP", "GROUP", kGroup, consumer_, "COUNT", count};
    if (std::string(from) == ">" && delivered == 0) {
      cmd.insert(cmd.end(), {"BLOCK", absl::StrCat(absl::ToInt64Milliseconds(options_.block))});
    }
    cmd.insert(cmd.end(), {"STREAMS", keys_.SessionUpdates(), from});
    absl::StatusOr<redis::Reply> read = redis_.Command(cmd);
    if (!read.ok()) return read.status();
    for (const redis::Reply& stream : read->elements) {
      if (stream.elements.size() < 2) continue;
      absl::StatusOr<int> n = DeliverEntries(stream.elements[1]);
      if (!n.ok()) return n.status();
      delivered += *n;
    }
  }
  return delivered;
}

absl::Status SessionRelay::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return absl::OkStatus();
  stopping_ = false;
  thread_ = std::thread([this] { Loop(); });
  return absl::OkStatus();
}

void SessionRelay::Shutdown(absl::Duration) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SessionRelay::Loop() {
  absl::Duration backoff = options_.initial_backoff;
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
    }
    absl::StatusOr<int> n = RunOnce();
    if (n.ok()) {
      backoff = options_.initial_backoff;
      continue;
    }
    log::Warn("session relay round failed; retrying", {{"error", n.status().ToString()}});
    std::unique_lock<std::mutex> lock(mu_);
    if (wake_.wait_for(lock, absl::ToChronoMilliseconds(backoff), [this] { return stopping_; })) {
      return;
    }
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

}  // namespace parley::router::engine
