#include "services/router/engine/engine_runtime.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "libs/grpc/status.h"
#include "services/router/engine/rebuild.h"
#include "services/router/presence_service.h"
#include "services/router/routing_service.h"

namespace parley::router::engine {
namespace {

absl::Status Invalid(absl::string_view setting, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("setting ", setting, ": ", problem));
}

absl::StatusOr<absl::Duration> Positive(const Config& config, absl::string_view name) {
  absl::StatusOr<absl::Duration> d = config.GetDuration(name);
  if (!d.ok()) return d.status();
  if (*d <= absl::ZeroDuration()) return Invalid(name, "must be positive");
  return d;
}

}  // namespace

std::vector<Setting> EngineSettings() {
  return {
      {"redis_key_prefix", "parley:router:", "prefix of every Redis key router writes"},
      {"redis_pool_size", "8", "Redis connections per replica"},
      {"router_workers", "16", "threads running presence and routing calls"},
      {"session_address", "127.0.0.1:50053", "session's gRPC address (routing updates)"},
      {"session_timeout", "5s", "deadline of each call to session"},
      {"presence_offline_after", "45s", "an agent without heartbeats this long goes OFFLINE"},
      {"heartbeat_interval", "15s", "how often agents' clients are told to send heartbeats"},
      {"agent_event_stream_max_len", "10000", "events kept per agent stream (approximate)"},
      {"sweep_interval", "250ms", "how often each replica expires offers and heartbeats"},
  };
}

absl::StatusOr<EngineRuntimeOptions> ReadEngineOptions(const Config& config) {
  EngineRuntimeOptions o;
  absl::StatusOr<redis::ClientOptions> redis = redis::ParseAddress(config.Get("redis_address"));
  if (!redis.ok()) return Invalid("redis_address", redis.status().message());
  o.redis = *redis;
  o.engine.key_prefix = config.Get("redis_key_prefix");
  if (o.engine.key_prefix.empty()) return Invalid("redis_key_prefix", "empty");
  absl::StatusOr<int> pool = config.GetInt("redis_pool_size");
  if (!pool.ok()) return pool.status();
  if (*pool < 1 || *pool > 256) return Invalid("redis_pool_size", "must be 1..256");
  o.redis_pool_size = *pool;
  absl::StatusOr<int> workers = config.GetInt("router_workers");
  if (!workers.ok()) return workers.status();
  if (*workers < 1 || *workers > 1024) return Invalid("router_workers", "must be 1..1024");
  o.workers = *workers;
  o.session_address = config.Get("session_address");
  if (o.session_address.empty()) return Invalid("session_address", "empty");
  absl::StatusOr<int> max_len = config.GetInt("agent_event_stream_max_len");
  if (!max_len.ok()) return max_len.status();
  if (*max_len < 100) return Invalid("agent_event_stream_max_len", "must be at least 100");
  o.engine.event_stream_max_len = *max_len;
  for (auto [name, out] : {std::pair{"session_timeout", &o.session_timeout},
                           std::pair{"presence_offline_after", &o.engine.offline_after},
                           std::pair{"heartbeat_interval", &o.engine.heartbeat_interval},
                           std::pair{"sweep_interval", &o.sweep_interval}}) {
    absl::StatusOr<absl::Duration> d = Positive(config, name);
    if (!d.ok()) return d.status();
    *out = *d;
  }
  if (o.engine.heartbeat_interval >= o.engine.offline_after) {
    return Invalid("heartbeat_interval", "must be shorter than presence_offline_after");
  }
  return o;
}

EngineRuntime::EngineRuntime(const RoutingDefinitions& definitions, EngineRuntimeOptions options,
                             RouterMetrics* metrics)
    : definitions_(definitions),
      options_(std::move(options)),
      pool_(options_.redis, options_.redis_pool_size),
      engine_(std::make_unique<RedisEngine>(pool_, definitions_, options_.engine, metrics)),
      executor_(options_.workers),
      session_channel_(
          grpc::CreateChannel(options_.session_address, grpc::InsecureChannelCredentials())),
      session_(session::v1::ConversationService::NewStub(session_channel_)) {
  const absl::Duration timeout = options_.session_timeout;
  session::v1::ConversationService::Stub* stub = session_.get();
  sweeper_ = std::make_unique<Sweeper>(
      *engine_, pool_, definitions_, options_.sweep_interval, [this, stub, timeout] {
        absl::StatusOr<RebuildCounts> counts = RebuildFromSession(*engine_, *stub, timeout);
        return counts.ok() ? absl::OkStatus() : counts.status();
      });
  relay_ = std::make_unique<SessionRelay>(
      options_.redis, engine_->keys(),
      [stub, timeout](const session::v1::ApplyRoutingUpdateRequest& update) {
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() +
                             absl::ToChronoMilliseconds(timeout));
        session::v1::ApplyRoutingUpdateResponse response;
        return FromGrpcStatus(stub->ApplyRoutingUpdate(&context, update, &response));
      },
      SessionRelayOptions{});
}

EngineRuntime::~EngineRuntime() { Shutdown(absl::ZeroDuration()); }

LiveUsage EngineRuntime::Usage() {
  LiveUsage usage;
  usage.queue_depth = [this](const std::string& id) -> absl::StatusOr<int64_t> {
    absl::StatusOr<redis::Reply> r = pool_.Get().Command({"ZCARD", engine_->keys().Queue(id)});
    if (!r.ok()) return r.status();
    return r->integer;
  };
  usage.agent_conversations = [this](const std::string& id) -> absl::StatusOr<int64_t> {
    absl::StatusOr<v1::AgentStatus> s = engine_->GetAgentStatus(id);
    if (absl::IsNotFound(s.status())) return 0;
    if (!s.ok()) return s.status();
    return s->active_conversation_ids_size() + s->pending_offer_ids_size();
  };
  return usage;
}

std::vector<std::unique_ptr<grpc::Service>> EngineRuntime::Services() {
  std::vector<std::unique_ptr<grpc::Service>> services;
  services.push_back(std::make_unique<PresenceServiceImpl>(*engine_, definitions_, executor_));
  services.push_back(std::make_unique<RoutingServiceImpl>(*engine_, executor_));
  return services;
}

absl::Status EngineRuntime::Start() {
  if (absl::Status s = sweeper_->Start(); !s.ok()) return s;
  return relay_->Start();
}

void EngineRuntime::Shutdown(absl::Duration grace) {
  relay_->Shutdown(grace);
  sweeper_->Shutdown(grace);
}

}  // namespace parley::router::engine
