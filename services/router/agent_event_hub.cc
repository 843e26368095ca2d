#include "services/router/agent_event_hub.h"

#include <algorithm>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "libs/common/log.h"

namespace parley::router {
namespace {

std::string WakeKey(const engine::Keys& keys) {
  absl::BitGen gen;
  return absl::StrFormat("%sagent-events-wake:{%016x%016x}", keys.prefix(),
                         absl::Uniform<uint64_t>(gen), absl::Uniform<uint64_t>(gen));
}

redis::ClientOptions ReaderOptions(redis::ClientOptions options, absl::Duration block) {
  // The reply to a blocking XREAD may take the whole block time.
  options.command_timeout = block + options.command_timeout;
  return options;
}

constexpr int64_t kWakeTtlMs = 10 * 60 * 1000;  // a crashed replica's wake stream goes away

}  // namespace

AgentEventHub::AgentEventHub(AgentEventLog& log, redis::ClientOptions redis,
                             AgentEventHubOptions options)
    : log_(log),
      options_(options),
      wake_key_(WakeKey(log.keys())),
      reader_(std::make_unique<redis::Client>(ReaderOptions(std::move(redis), options.block))) {}

AgentEventHub::~AgentEventHub() { Shutdown(absl::ZeroDuration()); }

absl::Status AgentEventHub::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (running_ || stopping_) return absl::OkStatus();
  running_ = true;
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void AgentEventHub::Shutdown(absl::Duration /*grace*/) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    CloseAllLocked(absl::UnavailableError("this router replica is shutting down; reconnect"));
  }
  stop_cv_.notify_all();
  if (!thread_.joinable()) return;
  Wake();
  thread_.join();
  (void)log_.redis().Get().Command({"DEL", wake_key_});
}

absl::Status AgentEventHub::Subscribe(const std::string& agent_id, Subscriber* subscriber) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!running_ || stopping_) {
      return absl::UnavailableError("this router replica is not serving event streams; reconnect");
    }
    auto it = watches_.find(agent_id);
    if (it != watches_.end()) {
      it->second.subscribers.push_back(subscriber);
      return absl::OkStatus();
    }
  }
  // A new stream to watch, from its current end.
  absl::StatusOr<EventCursor> tail = log_.Tail(agent_id);
  if (!tail.ok()) return tail.status();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return absl::UnavailableError("this router replica is shutting down; reconnect");
    Watch& watch = watches_[agent_id];
    if (watch.subscribers.empty()) watch.cursor = tail->id;  // else another Subscribe won
    watch.subscribers.push_back(subscriber);
  }
  Wake();
  return absl::OkStatus();
}

void AgentEventHub::Unsubscribe(const std::string& agent_id, Subscriber* subscriber) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = watches_.find(agent_id);
  if (it == watches_.end()) return;
  std::vector<Subscriber*>& subs = it->second.subscribers;
  subs.erase(std::remove(subs.begin(), subs.end(), subscriber), subs.end());
  if (subs.empty()) watches_.erase(it);
}

int AgentEventHub::subscriber_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  int n = 0;
  for (const auto& [agent, watch] : watches_) n += static_cast<int>(watch.subscribers.size());
  return n;
}

void AgentEventHub::CloseAllLocked(const absl::Status& status) {
  for (auto& [agent, watch] : watches_) {
    for (Subscriber* s : watch.subscribers) s->OnClosed(status);
  }
  watches_.clear();
}

void AgentEventHub::Wake() {
  engine::RedisPool::Lease client = log_.redis().Get();
  absl::StatusOr<redis::Reply> added =
      client.Command({"XADD", wake_key_, "MAXLEN", "1", "*", "w", "1"});
  if (!added.ok()) return;  // the blocked XREAD fails on its own when Redis is away
  (void)client.Command({"PEXPIRE", wake_key_, absl::StrCat(kWakeTtlMs)});
}

void AgentEventHub::Run() {
  while (true) {
    std::vector<std::string> command = {
        "XREAD",  "COUNT", "1000", "BLOCK", absl::StrCat(absl::ToInt64Milliseconds(options_.block)),
        "STREAMS"};
    absl::flat_hash_map<std::string, std::string> agent_by_key;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      std::vector<std::string> cursors = {wake_cursor_};
      command.push_back(wake_key_);
      for (const auto& [agent, watch] : watches_) {
        std::string key = log_.keys().AgentEvents(agent);
        command.push_back(key);
        cursors.push_back(watch.cursor);
        agent_by_key.emplace(std::move(key), agent);
      }
      command.insert(command.end(), cursors.begin(), cursors.end());
    }
    absl::StatusOr<redis::Reply> reply = reader_->Command(command);

    std::unique_lock<std::mutex> lock(mu_);
    if (stopping_) return;
    if (!reply.ok()) {
      if (!watches_.empty()) {
        log::Warn("agent event tail failed; closing its streams",
                  {{"error", reply.status().message()}});
      }
      CloseAllLocked(absl::UnavailableError(
          absl::StrCat("the agent event stream lost Redis: ", reply.status().message())));
      stop_cv_.wait_for(lock, absl::ToChronoMilliseconds(options_.retry_after),
                        [this] { return stopping_; });
      continue;
    }
    for (const redis::Reply& stream : reply->elements) {  // nil on timeout: no elements
      if (stream.elements.size() != 2 || stream.elements[1].elements.empty()) continue;
      const std::string& key = stream.elements[0].str;
      const std::string& last = stream.elements[1].elements.back().elements[0].str;
      if (key == wake_key_) {
        wake_cursor_ = last;
        continue;
      }
      auto agent = agent_by_key.find(key);
      if (agent == agent_by_key.end()) continue;
      auto it = watches_.find(agent->second);
      if (it == watches_.end()) continue;  // unsubscribed meanwhile
      it->second.cursor = last;
      for (Subscriber* s : it->second.subscribers) s->OnAppended();
    }
  }
}

}  // namespace parley::router
