#include "services/ingress/channel_test_support.h"

#include <atomic>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "ingress_migrations.h"
#include "libs/pg/migrations.h"

namespace parley::ingress::testing {

SecretBox TestSecretBox(const std::string& id, char seed) {
  absl::StatusOr<SecretBox> box = SecretBox::Create({{id, std::string(32, seed)}});
  if (!box.ok()) std::abort();  // fixed, valid inputs
  return *std::move(box);
}

absl::StatusOr<std::unique_ptr<ChannelEnv>> NewChannelEnv(const std::string& public_base_url,
                                                          ChannelCacheOptions cache_options) {
  auto env = std::make_unique<ChannelEnv>();
  absl::StatusOr<std::unique_ptr<parley::testing::TestDatabase>> db =
      parley::testing::TestDatabase::Create();
  if (!db.ok()) return db.status();
  env->db = *std::move(db);
  env->pool = std::make_unique<pg::Pool>(pg::PoolOptions{.uri = env->db->uri(), .size = 8});
  absl::StatusOr<pg::MigrationReport> report = pg::Migrate(*env->pool, Migrations());
  if (!report.ok()) return report.status();
  env->box = std::make_unique<SecretBox>(TestSecretBox());
  env->store = std::make_unique<PgChannelStore>(*env->pool, *env->box, public_base_url);
  env->cache = std::make_shared<ChannelCache>(*env->pool, *env->box, cache_options);
  if (absl::Status s = env->cache->Refresh(); !s.ok()) return s;
  return env;
}

std::string UniqueDigits() {
  static std::atomic<int> next{0};
  return absl::StrFormat("%011d%05d", absl::ToUnixMicros(absl::Now()) % 100000000000,
                         ++next % 100000);
}

std::string HexSecret(const std::string& seed) {
  std::string out;
  for (unsigned char c : seed) out += absl::StrCat(absl::Hex(c, absl::kZeroPad2));
  while (out.size() < 32) out += "0123456789abcdef";
  return out.substr(0, 32);
}

absl::StatusOr<v1::FacebookApp> CreateApp(PgChannelStore& store, std::string meta_app_id,
                                          std::string app_secret) {
  v1::CreateFacebookAppRequest req;
  req.mutable_app()->set_meta_app_id(meta_app_id.empty() ? UniqueDigits() : meta_app_id);
  req.mutable_app()->set_name(absl::StrCat("App ", req.app().meta_app_id()));
  req.mutable_app()->set_app_secret(app_secret.empty() ? HexSecret("app") : app_secret);
  return store.CreateApp(req);
}

absl::StatusOr<v1::FacebookPage> CreatePage(PgChannelStore& store, const std::string& app_id,
                                            std::string page_id, std::string page_access_token,
                                            const common::v1::EndpointSettings* settings) {
  v1::CreateFacebookPageRequest req;
  v1::FacebookPage* p = req.mutable_page();
  p->set_page_id(page_id.empty() ? UniqueDigits() : page_id);
  p->set_name(absl::StrCat("Page ", p->page_id()));
  p->set_parent_app_id(app_id);
  p->set_page_access_token(page_access_token.empty() ? absl::StrCat("EAAtest-token-", p->page_id())
                                                     : page_access_token);
  if (settings != nullptr) *p->mutable_settings() = *settings;
  if (p->settings().work_stream_id().empty()) {
    p->mutable_settings()->set_work_stream_id(kTestWorkStreamId);
  }
  if (p->settings().language().empty()) p->mutable_settings()->set_language("en-US");
  return store.CreatePage(req);
}

absl::StatusOr<v1::WhatsAppSender> CreateSender(PgChannelStore& store, std::string phone_number,
                                                std::string auth_token,
                                                const common::v1::EndpointSettings* settings) {
  v1::CreateWhatsAppSenderRequest req;
  v1::WhatsAppSender* s = req.mutable_sender();
  s->set_phone_number(phone_number.empty() ? absl::StrCat("+1555", UniqueDigits().substr(6))
                                           : phone_number);
  s->set_name(absl::StrCat("Sender ", s->phone_number()));
  s->set_account_sid(absl::StrCat("AC", HexSecret("account")));
  s->set_auth_token(auth_token.empty() ? HexSecret("twilio") : auth_token);
  if (settings != nullptr) *s->mutable_settings() = *settings;
  if (s->settings().work_stream_id().empty()) {
    s->mutable_settings()->set_work_stream_id(kTestWorkStreamId);
  }
  if (s->settings().language().empty()) s->mutable_settings()->set_language("en-US");
  return store.CreateSender(req);
}

}  // namespace parley::ingress::testing
