#include "services/session/session_runtime.h"

#include "absl/strings/str_cat.h"
#include "services/session/auto_closer.h"
#include "services/session/pg_contact_store.h"
#include "services/session/pg_conversation_store.h"
#include "services/session/pg_ingest_store.h"
#include "services/session/router_consumers.h"
#include "services/session/session_service.h"

namespace parley::session {

std::vector<Setting> SessionSettings() {
  return {
      {"router_address", "127.0.0.1:50052", "router's gRPC host:port (outbox hand-over)"},
      {"router_timeout", "5s", "deadline of each call to router"},
      {"outbox_poll_interval", "200ms", "pause of the outbox relay when nothing is due"},
      {"outbox_initial_backoff", "1s", "delay before retrying a failed outbox hand-over"},
      {"outbox_max_backoff", "5m", "cap of the outbox retry delay (doubles per failure)"},
      {"auto_close_interval", "30s", "how often idle conversations are looked for and closed"},
      {"ingest_groups", "1",
       "Ingest group commits in flight at once, each on its own PostgreSQL connection (one "
       "group of many calls costs PostgreSQL less than two groups of half as many)"},
      {"ingest_group_calls", "64", "most Ingest calls stored together in one transaction"},
  };
}

absl::StatusOr<SessionOptions> ReadSessionOptions(const Config& config) {
  SessionOptions o;
  o.router_address = config.Get("router_address");
  struct Duration {
    const char* name;
    absl::Duration* out;
  };
  for (const Duration& d : {Duration{"router_timeout", &o.router_timeout},
                            Duration{"outbox_poll_interval", &o.relay.poll_interval},
                            Duration{"outbox_initial_backoff", &o.relay.initial_backoff},
                            Duration{"outbox_max_backoff", &o.relay.max_backoff},
                            Duration{"auto_close_interval", &o.auto_close_interval}}) {
    absl::StatusOr<absl::Duration> v = config.GetDuration(d.name);
    if (!v.ok()) return v.status();
    if (*v <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError(absl::StrCat("setting ", d.name, ": must be positive"));
    }
    *d.out = *v;
  }
  struct Count {
    const char* name;
    int* out;
  };
  for (const Count& c : {Count{"ingest_groups", &o.ingest_groups},
                         Count{"ingest_group_calls", &o.ingest_group_calls}}) {
    absl::StatusOr<int> v = config.GetInt(c.name);
    if (!v.ok()) return v.status();
    if (*v < 1)
      return absl::InvalidArgumentError(absl::StrCat("setting ", c.name, ": must be at least 1"));
    *c.out = *v;
  }
  return o;
}

SessionRuntime::SessionRuntime(pg::Pool& pool, prometheus::Registry& metrics,
                               SessionOptions options, int workers)
    : executor_(workers),
      ingest_metrics_(std::make_unique<IngestMetrics>(metrics)),
      ingest_store_(std::make_unique<PgIngestStore>(
          pool, absl::Now,
          IngestBatchingOptions{.max_concurrent_groups = options.ingest_groups,
                                .max_group_calls = options.ingest_group_calls})),
      conversation_store_(std::make_unique<PgConversationStore>(pool)),
      contact_store_(std::make_unique<PgContactStore>(pool)),
      router_(std::make_unique<RouterConsumers>(options.router_address, options.router_timeout)) {
  relay_ = std::make_unique<OutboxRelay>(
      pool,
      std::map<std::string, OutboxConsumer*>{{kOutboxRouteConversation, &router_->enqueue()},
                                             {kOutboxAgentMessage, &router_->agent_events()},
                                             {kOutboxFinishConversation, &router_->finish()}},
      options.relay, &metrics);
  auto_closer_ =
      std::make_unique<AutoCloser>(*conversation_store_, options.auto_close_interval, &metrics);
}

SessionRuntime::~SessionRuntime() = default;

std::vector<std::unique_ptr<grpc::Service>> SessionRuntime::Services() {
  std::vector<std::unique_ptr<grpc::Service>> services;
  services.push_back(std::make_unique<IngestServiceImpl>(*ingest_store_, ingest_metrics_.get()));
  services.push_back(std::make_unique<ConversationServiceImpl>(*conversation_store_, executor_));
  services.push_back(std::make_unique<TranscriptServiceImpl>(*conversation_store_, executor_));
  services.push_back(std::make_unique<ContactServiceImpl>(*contact_store_, executor_));
  return services;
}

absl::Status SessionRuntime::Start() {
  relay_->Start();
  auto_closer_->Start();
  return absl::OkStatus();
}

// The relay finishes the round in progress; rows not yet handed over stay in the outbox for
// the next process, so there is nothing to drain.
void SessionRuntime::Shutdown(absl::Duration /*grace*/) {
  auto_closer_->Stop();
  relay_->Stop();
}

}  // namespace parley::session
