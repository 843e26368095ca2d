#include "services/router/router_runtime.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "services/router/routing_admin_service.h"

namespace parley::router {

std::vector<Setting> RouterSettings() {
  return {
      {"definitions_poll_interval", "1s",
       "how often each replica checks whether routing definitions changed"},
  };
}

absl::StatusOr<RouterOptions> ReadRouterOptions(const Config& config) {
  RouterOptions o;
  absl::StatusOr<absl::Duration> poll = config.GetDuration("definitions_poll_interval");
  if (!poll.ok()) return poll.status();
  if (*poll <= absl::ZeroDuration() || *poll > absl::Seconds(5)) {
    return absl::InvalidArgumentError(
        "setting definitions_poll_interval: must be positive and at most 5s (changes reach "
        "every replica within 5 seconds)");
  }
  o.definitions_poll_interval = *poll;
  return o;
}

RouterRuntime::RouterRuntime(pg::Pool& pool, prometheus::Registry& metrics, RouterOptions options,
                             int workers)
    : pool_(pool),
      metrics_(metrics),
      executor_(workers),
      store_(std::make_unique<PgRoutingStore>(pool)),
      cache_(std::make_unique<DefinitionsCache>(*store_, options.definitions_poll_interval)) {}

RouterRuntime::~RouterRuntime() {
  Shutdown(absl::ZeroDuration());
  components_.clear();  // before the cache and store they may refer to
}

void RouterRuntime::AddComponent(std::unique_ptr<service::Component> component) {
  components_.push_back(std::move(component));
}

std::vector<std::unique_ptr<grpc::Service>> RouterRuntime::Services() {
  std::vector<std::unique_ptr<grpc::Service>> services;
  services.push_back(std::make_unique<RoutingAdminServiceImpl>(*store_, cache_.get(), executor_));
  return services;
}

absl::Status RouterRuntime::Start() {
  if (absl::Status s = cache_->Start(); !s.ok()) return s;
  for (; started_ < components_.size(); ++started_) {
    if (absl::Status s = components_[started_]->Start(); !s.ok()) {
      Shutdown(absl::ZeroDuration());
      return s;
    }
  }
  return absl::OkStatus();
}

void RouterRuntime::Shutdown(absl::Duration grace) {
  for (; started_ > 0; --started_) components_[started_ - 1]->Shutdown(grace);
  cache_->Shutdown(grace);
}

}  // namespace parley::router
