#include "libs/service/service_main.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"
#include "libs/common/log.h"
#include "libs/common/signals.h"
#include "libs/grpc/server_runner.h"
#include "libs/metrics/metrics.h"
#include "libs/pg/migrations.h"
#include "libs/pg/pool.h"
#include "libs/redis/client.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

#ifndef PARLEY_VERSION
#define PARLEY_VERSION "dev"
#endif

namespace parley::service {
namespace {

constexpr int kExitFailure = 1;
constexpr int kExitConfig = 2;

std::vector<Setting> Settings(const Spec& spec) {
  std::vector<Setting> s = {
      {"grpc_address", absl::StrCat("0.0.0.0:", spec.grpc_port), "gRPC listen address"},
      {"metrics_address", absl::StrCat("0.0.0.0:", spec.metrics_port),
       "Prometheus /metrics listen address"},
      {"pg_uri", "postgresql://postgres@127.0.0.1:55432/parley",
       "PostgreSQL connection URI (the default is the server `./dev up` starts)",
       Visibility::kUriPassword},
      {"pg_pool_size", "8", "most PostgreSQL connections open at once"},
      {"migrate_on_start", "true", "apply pending migrations before reporting SERVING"},
      {"health_poll_interval", "1s", "how often dependencies are probed for readiness"},
      {"shutdown_grace", "10s", "how long in-flight calls may finish after SIGTERM"},
      {"log_level", "info", "debug, info, warn or error"},
  };
  if (spec.uses_redis) {
    s.push_back({"redis_address", "127.0.0.1:56379",
                 "Redis host:port (the default is the server `./dev up` starts)"});
  }
  s.insert(s.end(), spec.extra_settings.begin(), spec.extra_settings.end());
  return s;
}

// Everything a run needs, read from the configuration; errors name the setting.
struct Runtime {
  ServerOptions server;
  pg::PoolOptions pg;
  std::optional<redis::ClientOptions> redis;
  bool migrate_on_start = true;
};

absl::StatusOr<Runtime> ReadRuntime(const Config& config, const Spec& spec) {
  Runtime rt;
  rt.server.address = config.Get("grpc_address");
  absl::StatusOr<absl::Duration> poll = config.GetDuration("health_poll_interval");
  absl::StatusOr<absl::Duration> grace = config.GetDuration("shutdown_grace");
  absl::StatusOr<int> pool_size = config.GetInt("pg_pool_size");
  absl::StatusOr<bool> migrate = config.GetBool("migrate_on_start");
  for (const absl::Status& s :
       {poll.status(), grace.status(), pool_size.status(), migrate.status()}) {
    if (!s.ok()) return s;
  }
  if (*pool_size < 1) return absl::InvalidArgumentError("setting pg_pool_size: must be >= 1");
  rt.server.health_poll_interval = *poll;
  rt.server.shutdown_grace = *grace;
  rt.pg.uri = config.Get("pg_uri");
  rt.pg.size = *pool_size;
  rt.migrate_on_start = *migrate;
  if (spec.uses_redis) {
    absl::StatusOr<redis::ClientOptions> r = redis::ParseAddress(config.Get("redis_address"));
    if (!r.ok())
      return absl::InvalidArgumentError(
          absl::StrCat("setting redis_address: ", r.status().message()));
    rt.redis = *r;
  }
  return rt;
}

int RunMigrate(pg::Pool& pool, const Spec& spec) {
  absl::StatusOr<pg::MigrationReport> report = pg::Migrate(pool, *spec.migrations);
  if (!report.ok()) {
    log::Error("migration failed", {{"error", report.status().ToString()}});
    return kExitFailure;
  }
  log::Info("migrations applied", {{"applied", absl::StrJoin(report->applied, ",")},
                                   {"database_version", absl::StrCat(report->database_version)}});
  return 0;
}

// The PostgreSQL probe: passes once the schema is current (when this replica migrates) and
// the server answers.
DependencyProbe PgProbe(pg::Pool& pool, const Spec& spec, bool migrate) {
  auto migrated = std::make_shared<std::atomic<bool>>(!migrate || spec.migrations == nullptr);
  return {"postgresql", [&pool, &spec, migrated]() -> absl::Status {
            if (!migrated->load()) {
              absl::StatusOr<pg::MigrationReport> r = pg::Migrate(pool, *spec.migrations);
              if (!r.ok()) return r.status();
              log::Info("migrations applied", {{"applied", absl::StrJoin(r->applied, ",")}});
              migrated->store(true);
            }
            return pool.Ping();
          }};
}

// Starts every component; on a failure stops those already started and returns the failure.
absl::Status StartComponents(const std::vector<std::unique_ptr<Component>>& components) {
  for (size_t i = 0; i < components.size(); ++i) {
    absl::Status s = components[i]->Start();
    if (s.ok()) continue;
    for (size_t j = 0; j < i; ++j) components[j]->Shutdown(absl::ZeroDuration());
    return s;
  }
  return absl::OkStatus();
}

int Serve(const Config& config, const Spec& spec, const Runtime& rt, pg::Pool& pool,
          redis::Client* redis, const ServiceFactory& factory) {
  auto registry = std::make_shared<prometheus::Registry>();
  metrics::RegisterBuildInfo(*registry, spec.name, PARLEY_VERSION);
  absl::StatusOr<std::unique_ptr<metrics::MetricsServer>> metrics_server =
      metrics::MetricsServer::Start(config.Get("metrics_address"), registry);
  if (!metrics_server.ok()) {
    log::Error("cannot serve metrics", {{"error", metrics_server.status().ToString()}});
    return kExitFailure;
  }

  std::vector<DependencyProbe> probes = {PgProbe(pool, spec, rt.migrate_on_start)};
  // Migrate before the background loops start, so that a first start does not greet the
  // operator with "relation does not exist" from each of them. When PostgreSQL is down now,
  // the readiness probe migrates as soon as it answers.
  if (absl::Status s = probes[0].check(); !s.ok()) {
    log::Warn("postgresql not ready at start; serving NOT_SERVING until it is",
              {{"error", s.ToString()}});
  }
  if (redis != nullptr) probes.push_back({"redis", [redis] { return redis->Ping(); }});

  auto& up = prometheus::BuildGauge()
                 .Name("parley_dependency_up")
                 .Help("1 when the dependency answered the last readiness probe, else 0.")
                 .Register(*registry);
  ServerRunner runner(rt.server, std::move(probes));
  runner.SetProbeListener([&up](const auto& results, bool) {
    for (const auto& [name, status] : results) {
      up.Add({{"dependency", name}}).Set(status.ok() ? 1 : 0);
    }
  });

  std::atomic<bool> stopping{false};
  Context context{.config = config,
                  .pg = pool,
                  .redis = redis,
                  .metrics = *registry,
                  .ready = [&runner, &stopping] { return !stopping.load() && runner.serving(); }};
  absl::StatusOr<std::vector<std::unique_ptr<grpc::Service>>> services = factory(context);
  if (!services.ok()) {
    log::Error("cannot build services", {{"error", services.status().ToString()}});
    return absl::IsInvalidArgument(services.status()) ? kExitConfig : kExitFailure;
  }
  for (auto& service : *services) runner.AddService(service.get());
  runner.AddInterceptor(metrics::NewRpcMetricsInterceptor(*registry));
  if (absl::Status s = runner.Start(); !s.ok()) {
    log::Error("cannot serve gRPC", {{"error", s.ToString()}});
    return kExitFailure;
  }
  if (absl::Status s = StartComponents(context.components); !s.ok()) {
    log::Error("cannot start", {{"error", s.ToString()}});
    runner.Shutdown();
    return kExitFailure;
  }
  log::Info("started", {{"grpc_port", absl::StrCat(runner.port())},
                        {"metrics_port", absl::StrCat((*metrics_server)->port())},
                        {"version", PARLEY_VERSION}});

  const int signal = WaitForTerminationSignal();
  log::Info("stopping: draining in-flight work", {{"signal", absl::StrCat(signal)}});
  stopping = true;
  runner.StopServing();
  for (auto& component : context.components) component->Shutdown(rt.server.shutdown_grace);
  runner.Shutdown();
  log::Info("stopped");
  return 0;
}

}  // namespace

int Main(int argc, char** argv, Spec spec, const ServiceFactory& factory) {
#ifdef NDEBUG
  // Debian's Abseil keeps lock-order (deadlock) detection on in every build; it cost 1-6 % of
  // the services' CPU in the benchmarks. Debug and sanitizer builds (the tests) keep it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif
  BlockTerminationSignals();
  log::SetComponent(spec.name);
  Config config(Settings(spec));
  if (absl::Status s = config.Load(argc, argv, std::getenv); !s.ok()) {
    std::fprintf(stderr, "%s: %s\n", argv[0], std::string(s.message()).c_str());
    return kExitConfig;
  }
  if (config.help_requested()) {
    std::printf("usage: %s [migrate] [--setting=value ...]\nsettings:\n%s", argv[0],
                config.Help().c_str());
    return 0;
  }
  log::Level level;
  if (!log::ParseLevel(config.Get("log_level"), &level)) {
    std::fprintf(stderr, "%s: setting log_level: '%s' is not debug, info, warn or error\n", argv[0],
                 config.Get("log_level").c_str());
    return kExitConfig;
  }
  log::SetMinLevel(level);
  const std::vector<std::string>& args = config.positional();
  const bool migrate_only = !args.empty() && args[0] == "migrate";
  if (!args.empty() && (!migrate_only || args.size() > 1)) {
    std::fprintf(stderr, "%s: unexpected argument '%s' (only 'migrate' is a command)\n", argv[0],
                 args.back().c_str());
    return kExitConfig;
  }
  absl::StatusOr<Runtime> rt = ReadRuntime(config, spec);
  if (!rt.ok()) {
    std::fprintf(stderr, "%s: %s\n", argv[0], std::string(rt.status().message()).c_str());
    return kExitConfig;
  }
  for (const auto& [name, value] : config.Effective()) {
    log::Debug("setting", {{"name", name}, {"value", value}});
  }

  pg::Pool pool(rt->pg);
  if (migrate_only) return RunMigrate(pool, spec);
  std::unique_ptr<redis::Client> redis;
  if (rt->redis.has_value()) redis = std::make_unique<redis::Client>(*rt->redis);
  return Serve(config, spec, *rt, pool, redis.get(), factory);
}

}  // namespace parley::service
