#include "services/ingress/ingress_runtime.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "libs/common/log.h"
#include "libs/pg/pool.h"
#include "services/ingress/channel_cache.h"
#include "services/ingress/channel_config_service.h"
#include "services/ingress/http_endpoints.h"
#include "services/ingress/pg_channel_store.h"
#include "services/ingress/provider_gateway_service.h"
#include "services/ingress/webhook_handlers.h"

namespace parley::ingress {
namespace {

// base64("parley.dev.key.never.use.in.prod"): lets `./dev up` store channel secrets without
// configuration. Start-up warns while it is in use; deployments always set secrets_key.
constexpr char kDevelopmentKey[] = "cGFybGV5LmRldi5rZXkubmV2ZXIudXNlLmluLnByb2Q=";

}  // namespace

std::vector<Setting> IngressSettings() {
  std::vector<Setting> settings = HttpSettings();
  std::vector<Setting> outbound = OutboundSettings();  // ProviderGatewayService's
  settings.insert(settings.end(), outbound.begin(), outbound.end());
  const std::vector<Setting> webhooks = WebhookSettings();
  settings.insert(settings.end(), webhooks.begin(), webhooks.end());
  settings.insert(
      settings.end(),
      {
          {"public_base_url", "http://127.0.0.1:8080",
           "public URL the providers call (TLS ends at a proxy); Callback URIs start with it"},
          {"channel_refresh_interval", "1s",
           "how often each replica checks for channel configuration changes"},
          {"secrets_key_id", "k1", "id of secrets_key, stored beside every secret it encrypts"},
          {"secrets_key", kDevelopmentKey,
           "AES-256 key of the channel secrets, base64 of 32 bytes (default: a development key)",
           Visibility::kSecret},
          {"secrets_previous_keys", "",
           "older keys that still decrypt after a rotation: id:base64,id:base64",
           Visibility::kSecret},
      });
  return settings;
}

absl::StatusOr<std::string> NormalizePublicBaseUrl(absl::string_view url) {
  absl::string_view trimmed = url;
  while (absl::ConsumeSuffix(&trimmed, "/")) {
  }
  absl::string_view rest = trimmed;
  if (!absl::ConsumePrefix(&rest, "https://") && !absl::ConsumePrefix(&rest, "http://")) {
    return absl::InvalidArgumentError(
        "setting public_base_url: must start with https:// (or http://)");
  }
  if (rest.empty() || rest[0] == '/') {
    return absl::InvalidArgumentError("setting public_base_url: no host");
  }
  for (char c : rest) {
    if (c == '?' || c == '#' || static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError(
          "setting public_base_url: no query, fragment, spaces or control characters allowed");
    }
  }
  return std::string(trimmed);
}

absl::StatusOr<IngressOptions> ReadIngressOptions(const Config& config) {
  IngressOptions o;
  absl::StatusOr<std::string> base = NormalizePublicBaseUrl(config.Get("public_base_url"));
  if (!base.ok()) return base.status();
  o.public_base_url = *std::move(base);
  absl::StatusOr<absl::Duration> refresh = config.GetDuration("channel_refresh_interval");
  if (!refresh.ok()) return refresh.status();
  if (*refresh <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("setting channel_refresh_interval: must be positive");
  }
  o.channel_refresh_interval = *refresh;
  return o;
}

absl::StatusOr<SecretBox> ReadSecretBox(const Config& config) {
  if (config.Get("secrets_key") == kDevelopmentKey) {
    log::Warn(
        "secrets_key is the built-in development key: channel secrets are not protected; set "
        "PARLEY_SECRETS_KEY (openssl rand -base64 32) outside development");
  }
  return SecretBox::FromSettings(config.Get("secrets_key_id"), config.Get("secrets_key"),
                                 config.Get("secrets_previous_keys"));
}

IngressRuntime::IngressRuntime(service::Context& context, IngressOptions options, SecretBox box)
    : context_(context),
      options_(std::move(options)),
      box_(std::move(box)),
      store_(std::make_unique<PgChannelStore>(context.pg, box_, options_.public_base_url)),
      cache_(std::make_shared<ChannelCache>(
          context.pg, box_,
          ChannelCacheOptions{.refresh_interval = options_.channel_refresh_interval,
                              .after_first_load = [this] { ResealInBackground(); }})),
      executor_(context.pg.options().size) {}

// Secrets still sealed under an older key are resealed under the current one, once per start,
// after the first load (the schema exists then); see docs/adr/0009. A failure only delays it
// to the next start.
void IngressRuntime::ResealInBackground() {
  executor_.Post([this] {
    absl::StatusOr<int> n = store_->ResealSecrets();
    if (!n.ok()) {
      log::Warn("channel secrets not resealed; retried at the next start",
                {{"error", n.status().ToString()}});
    } else if (*n > 0) {
      log::Info("channel secrets resealed under the current key",
                {{"count", absl::StrCat(*n)}, {"key_id", box_.current_key_id()}});
    }
  });
}

IngressRuntime::~IngressRuntime() { cache_->Stop(); }

absl::StatusOr<std::unique_ptr<IngressRuntime>> IngressRuntime::Create(service::Context& context) {
  absl::StatusOr<IngressOptions> options = ReadIngressOptions(context.config);
  if (!options.ok()) return options.status();
  if (absl::StatusOr<OutboundOptions> outbound = ReadOutboundOptions(context.config);
      !outbound.ok()) {
    return outbound.status();
  }
  absl::StatusOr<SecretBox> box = ReadSecretBox(context.config);
  if (!box.ok()) return box.status();
  std::unique_ptr<IngressRuntime> runtime(
      new IngressRuntime(context, *std::move(options), *std::move(box)));

  // Ready (HTTP /readyz) once the dependencies answer and the channels have been loaded.
  std::shared_ptr<ChannelCache> cache = runtime->cache_;
  http::Router router =
      HttpRoutes([ready = context.ready, cache] { return ready() && cache->loaded(); });
  // Webhook routes are added here.
  absl::StatusOr<std::shared_ptr<WebhookHandlers>> webhooks = NewWebhookHandlers(
      context.config, context.metrics, cache, [cache] { return cache->loaded(); },
      runtime->options_.public_base_url);
  if (!webhooks.ok()) return webhooks.status();
  AddWebhookRoutes(router, *std::move(webhooks));

  absl::StatusOr<std::unique_ptr<service::Component>> http =
      NewHttpComponent(context, std::move(router));
  if (!http.ok()) return http.status();
  runtime->http_ = *std::move(http);
  return runtime;
}

std::vector<std::unique_ptr<grpc::Service>> IngressRuntime::Services() {
  std::vector<std::unique_ptr<grpc::Service>> services;
  services.push_back(std::make_unique<ChannelConfigServiceImpl>(*store_, executor_));
  // Further ingress gRPC services (ProviderGatewayService) are added here.
  absl::StatusOr<std::unique_ptr<grpc::Service>> gateway = NewProviderGatewayService(
      context_.config, context_.pg, context_.metrics, cache_, options_.public_base_url);
  if (gateway.ok()) {
    services.push_back(*std::move(gateway));
  } else {  // not reached: Create checked the settings
    log::Error("ProviderGatewayService not served", {{"error", gateway.status().ToString()}});
  }
  return services;
}

std::shared_ptr<ChannelDirectory> IngressRuntime::directory() const { return cache_; }

absl::Status IngressRuntime::Start() {
  cache_->Start();
  return http_->Start();
}

void IngressRuntime::Shutdown(absl::Duration grace) {
  http_->Shutdown(grace);
  cache_->Stop();
}

}  // namespace parley::ingress
