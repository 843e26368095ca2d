// For ingress tests that need configured channels on a real PostgreSQL: a migrated fresh
// database with a pool, a key ring, a store and a cache, and one-call builders of an
// application, a page and a sender with valid defaults. Built only with the tests
// (ingress_test_support).
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "libs/pg/pool.h"
#include "libs/testing/servers.h"
#include "parley/ingress/v1/ingress.pb.h"
#include "services/ingress/channel_cache.h"
#include "services/ingress/pg_channel_store.h"
#include "services/ingress/secret_box.h"

namespace parley::ingress::testing {

// A key ring with one fixed test key ("test-k1"); `id` and `seed` make other keys.
SecretBox TestSecretBox(const std::string& id = "test-k1", char seed = 'k');

// A fresh database with the ingress schema, and a store and a cache over it. The cache is
// loaded (Refresh) but not started: call env->cache->Refresh() after changes, or Start().
struct ChannelEnv {
  std::unique_ptr<parley::testing::TestDatabase> db;
  std::unique_ptr<pg::Pool> pool;
  std::unique_ptr<SecretBox> box;
  std::unique_ptr<PgChannelStore> store;
  std::shared_ptr<ChannelCache> cache;
};
absl::StatusOr<std::unique_ptr<ChannelEnv>> NewChannelEnv(
    const std::string& public_base_url = "http://127.0.0.1:8080",
    ChannelCacheOptions cache_options = {});

// A string no other call in this process returns, made of digits (usable as Meta ids).
std::string UniqueDigits();

// A 32-hex-character secret derived from `seed` (valid App Secret / Auth Token).
std::string HexSecret(const std::string& seed);

// Registers an application: meta_app_id unique unless given, secret HexSecret("app").
absl::StatusOr<v1::FacebookApp> CreateApp(PgChannelStore& store, std::string meta_app_id = "",
                                          std::string app_secret = "");

// Adds a page to `app_id` (Parley id): page_id unique unless given, token "EAAtest...",
// settings work stream a fixed UUID, language "en-US", other flags as in `settings` when given.
absl::StatusOr<v1::FacebookPage> CreatePage(PgChannelStore& store, const std::string& app_id,
                                            std::string page_id = "",
                                            std::string page_access_token = "",
                                            const common::v1::EndpointSettings* settings = nullptr);

// Registers a sender: phone unique unless given ("+1555" + digits), Account SID "AC" + 32 hex,
// Auth Token HexSecret("twilio") unless given.
absl::StatusOr<v1::WhatsAppSender> CreateSender(
    PgChannelStore& store, std::string phone_number = "", std::string auth_token = "",
    const common::v1::EndpointSettings* settings = nullptr);

// The work stream id the builders use.
inline constexpr char kTestWorkStreamId[] = "8a1f0b9e-3f2a-4d1b-8c7e-0123456789ab";

}  // namespace parley::ingress::testing
