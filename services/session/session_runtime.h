// Everything the parley-session binary runs besides the shared service frame: its own
// settings, the stores, the gRPC services, the router consumers and the outbox relay, built
// from a pool and a metrics registry. main.cc only declares the Spec and hands over.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/impl/codegen/service_type.h"
#include "libs/common/config.h"
#include "libs/common/executor.h"
#include "libs/pg/pool.h"
#include "libs/service/service_main.h"
#include "services/session/outbox_relay.h"

namespace prometheus {
class Registry;
}  // namespace prometheus

namespace parley::session {

class PgIngestStore;
class PgConversationStore;
class PgContactStore;
class RouterConsumers;
class IngestMetrics;
class AutoCloser;

struct SessionOptions {
  std::string router_address = "127.0.0.1:50052";
  absl::Duration router_timeout = absl::Seconds(5);
  OutboxRelayOptions relay;
  absl::Duration auto_close_interval = absl::Seconds(30);
  // Group commit of Ingest calls (PgIngestStore): groups in flight at once, calls per group.
  int ingest_groups = 1;
  int ingest_group_calls = 64;
};

// The settings session adds: router_address, router_timeout, outbox_poll_interval,
// outbox_initial_backoff, outbox_max_backoff, auto_close_interval, ingest_groups,
// ingest_group_calls.
std::vector<Setting> SessionSettings();
// InvalidArgument naming the setting.
absl::StatusOr<SessionOptions> ReadSessionOptions(const Config& config);

// Owns what the services use; as a service::Component it runs the outbox relay between
// Start and Shutdown. Main destroys it after the services it built.
class SessionRuntime : public service::Component {
 public:
  // `workers` threads run the handlers' PostgreSQL work (the pool's size is a good value).
  SessionRuntime(pg::Pool& pool, prometheus::Registry& metrics, SessionOptions options,
                 int workers);
  ~SessionRuntime() override;

  // The gRPC services; they refer to this runtime, which must outlive them.
  std::vector<std::unique_ptr<grpc::Service>> Services();

  // service::Component: the outbox relay and the auto-closer.
  absl::Status Start() override;
  void Shutdown(absl::Duration grace) override;

 private:
  Executor executor_;
  std::unique_ptr<IngestMetrics> ingest_metrics_;
  std::unique_ptr<PgIngestStore> ingest_store_;
  std::unique_ptr<PgConversationStore> conversation_store_;
  std::unique_ptr<PgContactStore> contact_store_;
  std::unique_ptr<RouterConsumers> router_;
  std::unique_ptr<OutboxRelay> relay_;
  std::unique_ptr<AutoCloser> auto_closer_;
};

}  // namespace parley::session
