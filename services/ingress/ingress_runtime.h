// Everything the parley-ingress binary runs besides the shared service frame: its settings,
// the key ring of the channel secrets, the channel store and the cache every replica reads
// (ChannelDirectory), the gRPC services and the HTTP server of the webhooks. main.cc only
// declares the Spec and hands over to IngressRuntime::Create.
//
// Extending it: webhook routes are registered in IngressRuntime::Create (ingress_runtime.cc,
// where the http::Router is filled) and gRPC services in IngressRuntime::Services; both get
// what they need from directory(), options(), executor() and the service::Context.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/impl/codegen/service_type.h"
#include "libs/common/config.h"
#include "libs/common/executor.h"
#include "libs/service/service_main.h"
#include "services/ingress/channel_directory.h"
#include "services/ingress/secret_box.h"

namespace parley::ingress {

class ChannelCache;
class PgChannelStore;

struct IngressOptions {
  // Where the providers reach this deployment (TLS terminates at a proxy in production), with
  // no trailing slash; Callback URIs are built on it and Twilio signatures cover it.
  std::string public_base_url = "http://127.0.0.1:8080";
  // How often each replica polls for channel configuration changes.
  absl::Duration channel_refresh_interval = absl::Seconds(1);
};

// The settings ingress adds: the HTTP server's (HttpSettings), public_base_url,
// channel_refresh_interval, secrets_key_id, secrets_key and secrets_previous_keys (the last two
// secret: never logged nor shown by --help).
std::vector<Setting> IngressSettings();
// InvalidArgument naming the setting.
absl::StatusOr<IngressOptions> ReadIngressOptions(const Config& config);
// The key ring from secrets_key_id, secrets_key and secrets_previous_keys; InvalidArgument
// naming the setting (never quoting a key).
absl::StatusOr<SecretBox> ReadSecretBox(const Config& config);

// A public base URL as Callback URIs use it: http(s)://host[:port][/path] without a trailing
// slash, query or fragment. InvalidArgument otherwise.
absl::StatusOr<std::string> NormalizePublicBaseUrl(absl::string_view url);

// Owns what the services use; as a service::Component it runs the cache's polling thread and
// the HTTP server between Start and Shutdown. Main destroys it after the services it built.
class IngressRuntime : public service::Component {
 public:
  // Reads the settings and builds everything; InvalidArgument names a wrong setting.
  static absl::StatusOr<std::unique_ptr<IngressRuntime>> Create(service::Context& context);
  ~IngressRuntime() override;

  // The gRPC services; they refer to this runtime, which must outlive them.
  std::vector<std::unique_ptr<grpc::Service>> Services();

  const IngressOptions& options() const { return options_; }
  // What webhook handlers and outbound sends read; shared, valid while anyone holds it.
  std::shared_ptr<ChannelDirectory> directory() const;
  // Threads for blocking work of gRPC handlers.
  Executor& executor() { return executor_; }

  // service::Component: starts the cache's polling, then the HTTP server; stops both.
  absl::Status Start() override;
  void Shutdown(absl::Duration grace) override;

 private:
  IngressRuntime(service::Context& context, IngressOptions options, SecretBox box);
  void ResealInBackground();

  service::Context& context_;
  const IngressOptions options_;
  SecretBox box_;
  std::unique_ptr<PgChannelStore> store_;
  std::shared_ptr<ChannelCache> cache_;
  Executor executor_;  // destroyed first among these: its queued tasks use the store
  std::unique_ptr<service::Component> http_;
};

}  // namespace parley::ingress
