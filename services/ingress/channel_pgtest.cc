// PgChannelStore and ChannelCache on a real PostgreSQL: CRUD, the one-application-per-page
// rule, secrets sealed at rest, key rotation, request_id idempotency, paging, and a cache that
// sees changes made through another store.
#include <algorithm>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "ingress_migrations.h"
#include "libs/pg/migrations.h"
#include "libs/testing/servers.h"
#include "services/ingress/channel_rows.h"
#include "services/ingress/channel_test_support.h"

namespace parley::ingress {
namespace {

namespace it = testing;

constexpr char kBase[] = "https://parley.example.com";

class ChannelStoreTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (env_ != nullptr) return;
    absl::StatusOr<std::unique_ptr<it::ChannelEnv>> env = it::NewChannelEnv(kBase);
    ASSERT_TRUE(env.ok()) << env.status();
    env_ = env->release();
  }

  static PgChannelStore& store() { return *env_->store; }
  static ChannelCache& cache() { return *env_->cache; }
  static pg::Pool& pool() { return *env_->pool; }

  // The first value of a one-row query, as text ("" for NULL).
  static std::string Query(const std::string& sql) {
    std::string out;
    absl::Status s = pool().Transact([&](pqxx::work& tx) {
      const pqxx::row r = tx.exec1(sql);
      out = r[0].is_null() ? "" : r[0].as<std::string>();
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s << " in " << sql;
    return out;
  }

  static v1::FacebookApp NewApp(const std::string& name = "") {
    absl::StatusOr<v1::FacebookApp> app = it::CreateApp(store());
    EXPECT_TRUE(app.ok()) << app.status();
    if (name.empty()) return *app;
    v1::UpdateFacebookAppRequest req;
    req.mutable_app()->set_id(app->id());
    req.mutable_app()->set_name(name);
    req.mutable_update_mask()->add_paths("name");
    absl::StatusOr<v1::FacebookApp> renamed = store().UpdateApp(req);
    EXPECT_TRUE(renamed.ok()) << renamed.status();
    return *renamed;
  }

  static v1::FacebookPage NewPage(const std::string& app_id, const std::string& name = "") {
    absl::StatusOr<v1::FacebookPage> page = it::CreatePage(store(), app_id);
    EXPECT_TRUE(page.ok()) << page.status();
    if (name.empty()) return *page;
    v1::UpdateFacebookPageRequest req;
    req.mutable_page()->set_id(page->id());
    req.mutable_page()->set_name(name);
    req.mutable_update_mask()->add_paths("name");
    absl::StatusOr<v1::FacebookPage> renamed = store().UpdatePage(req);
    EXPECT_TRUE(renamed.ok()) << renamed.status();
    return *renamed;
  }

  static it::ChannelEnv* env_;
};

it::ChannelEnv* ChannelStoreTest::env_ = nullptr;

bool IsUrlToken(const std::string& s) {
  return s.size() == 32 && std::all_of(s.begin(), s.end(), [](char c) {
           return absl::ascii_isalnum(c) || c == '-' || c == '_';
         });
}

TEST_F(ChannelStoreTest, CreatesReadsUpdatesAndDeletesAnApplication) {
  v1::CreateFacebookAppRequest req;
  req.mutable_app()->set_name("Acme Support");
  req.mutable_app()->set_meta_app_id(it::UniqueDigits());
  req.mutable_app()->set_app_secret(it::HexSecret("acme"));
  absl::StatusOr<v1::FacebookApp> app = store().CreateApp(req);
  ASSERT_TRUE(app.ok()) << app.status();
  EXPECT_EQ(app->id().size(), 36u);
  EXPECT_EQ(app->name(), "Acme Support");
  EXPECT_EQ(app->meta_app_id(), req.app().meta_app_id());
  EXPECT_EQ(app->app_secret(), "");
  EXPECT_TRUE(app->app_secret_set());
  EXPECT_EQ(app->page_count(), 0);
  EXPECT_GT(app->create_time().seconds(), 1700000000);
  EXPECT_EQ(app->create_time().seconds(), app->update_time().seconds());

  absl::StatusOr<v1::FacebookApp> got = store().GetApp(app->id());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->SerializeAsString(), app->SerializeAsString());

  v1::UpdateFacebookAppRequest update;
  update.mutable_app()->set_id(app->id());
  update.mutable_app()->set_name("Acme Help");
  update.mutable_app()->set_meta_app_id("1");  // not in the mask: ignored
  update.mutable_update_mask()->add_paths("name");
  absl::StatusOr<v1::FacebookApp> renamed = store().UpdateApp(update);
  ASSERT_TRUE(renamed.ok()) << renamed.status();
  EXPECT_EQ(renamed->name(), "Acme Help");
  EXPECT_EQ(renamed->meta_app_id(), app->meta_app_id());

  update.mutable_update_mask()->add_paths("meta_app_id");
  EXPECT_EQ(store().UpdateApp(update).status().message(),
            "update_mask: \"meta_app_id\" cannot change (register a new application instead)");

  EXPECT_TRUE(store().DeleteApp(app->id()).ok());
  EXPECT_EQ(store().GetApp(app->id()).status().message(),
            absl::StrCat("application ", app->id(), ": not found"));
  EXPECT_EQ(store().DeleteApp(app->id()).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store().GetApp("nope").status().message(), "id: \"nope\" is not a UUID (lower case)");
}

TEST_F(ChannelStoreTest, AMetaAppIdIsRegisteredOnce) {
  const v1::FacebookApp first = NewApp("First Acme");
  absl::StatusOr<v1::FacebookApp> again = it::CreateApp(store(), first.meta_app_id());
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(again.status().message(),
            absl::StrCat("application with App ID ", first.meta_app_id(),
                         " already exists: \"First Acme\" (id ", first.id(), ")"));
}

TEST_F(ChannelStoreTest, APageBelongsToOneApplicationAndTheErrorNamesIt) {
  const v1::FacebookApp owner = NewApp("Acme Support");
  const v1::FacebookApp other = NewApp("Other App");
  const v1::FacebookPage page = NewPage(owner.id());
  for (const v1::FacebookApp& app : {other, owner}) {
    absl::StatusOr<v1::FacebookPage> again = it::CreatePage(store(), app.id(), page.page_id());
    EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
    EXPECT_EQ(again.status().message(),
              absl::StrCat("page ", page.page_id(),
                           " already belongs to application \"Acme Support\" (App ID ",
                           owner.meta_app_id(), ", id ", owner.id(), ")"));
  }
  EXPECT_EQ(Query(absl::StrCat("SELECT count(*) FROM ingress.facebook_pages WHERE page_id = '",
                               page.page_id(), "'")),
            "1");
}

TEST_F(ChannelStoreTest, APageGetsItsCallbackUriAndVerifyToken) {
  const v1::FacebookApp app = NewApp();
  common::v1::EndpointSettings settings;
  settings.set_work_stream_id(it::kTestWorkStreamId);
  settings.set_human_agent_tag_enabled(true);
  settings.set_customer_attachments_enabled(true);
  v1::CreateFacebookPageRequest req;
  req.mutable_page()->set_page_id(it::UniqueDigits());
  req.mutable_page()->set_name("Acme");
  req.mutable_page()->set_parent_app_id(app.id());
  req.mutable_page()->set_page_access_token("EAAGm0PX4ZCpsBA");
  *req.mutable_page()->mutable_settings() = settings;
  absl::StatusOr<v1::FacebookPage> page = store().CreatePage(req);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->page_access_token(), "");
  EXPECT_TRUE(page->page_access_token_set());
  EXPECT_EQ(page->parent_app_id(), app.id());
  EXPECT_EQ(page->settings().language(), "en");  // the default
  EXPECT_TRUE(page->settings().human_agent_tag_enabled());
  EXPECT_TRUE(page->settings().customer_attachments_enabled());
  EXPECT_FALSE(page->settings().agent_attachments_enabled());
  const std::string prefix = absl::StrCat(kBase, "/webhooks/messenger/");
  ASSERT_TRUE(absl::StartsWith(page->callback_uri(), prefix)) << page->callback_uri();
  EXPECT_TRUE(IsUrlToken(page->callback_uri().substr(prefix.size()))) << page->callback_uri();
  EXPECT_TRUE(IsUrlToken(page->verify_token())) << page->verify_token();

  const v1::FacebookPage second = NewPage(app.id());
  EXPECT_NE(second.callback_uri(), page->callback_uri());
  EXPECT_NE(second.verify_token(), page->verify_token());
  absl::StatusOr<v1::FacebookApp> with_pages = store().GetApp(app.id());
  ASSERT_TRUE(with_pages.ok());
  EXPECT_EQ(with_pages->page_count(), 2);

  // Updates keep the Callback URI and the Verify Token.
  v1::UpdateFacebookPageRequest update;
  update.mutable_page()->set_id(page->id());
  update.mutable_page()->mutable_settings()->set_human_agent_tag_enabled(false);
  update.mutable_page()->mutable_settings()->set_language("de");
  update.mutable_update_mask()->add_paths("settings.human_agent_tag_enabled");
  absl::StatusOr<v1::FacebookPage> updated = store().UpdatePage(update);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_FALSE(updated->settings().human_agent_tag_enabled());
  EXPECT_EQ(updated->settings().language(), "en");
  EXPECT_TRUE(updated->settings().customer_attachments_enabled());
  EXPECT_EQ(updated->callback_uri(), page->callback_uri());
  EXPECT_EQ(updated->verify_token(), page->verify_token());
}

TEST_F(ChannelStoreTest, PageErrors) {
  const std::string missing = NewUuid();
  absl::StatusOr<v1::FacebookPage> orphan = it::CreatePage(store(), missing);
  EXPECT_EQ(orphan.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(orphan.status().message(),
            absl::StrCat("page.parent_app_id: no application with id ", missing));

  const v1::FacebookApp app = NewApp("Busy App");
  const v1::FacebookPage page = NewPage(app.id());
  const absl::Status busy = store().DeleteApp(app.id());
  EXPECT_EQ(busy.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(busy.message(),
            absl::StrCat("application ", app.meta_app_id(),
                         " (\"Busy App\"): 1 page still linked; delete them first"));

  v1::UpdateFacebookPageRequest update;
  update.mutable_page()->set_id(page.id());
  update.mutable_page()->set_parent_app_id(NewUuid());
  update.mutable_update_mask()->add_paths("parent_app_id");
  EXPECT_EQ(store().UpdatePage(update).status().message(),
            "update_mask: \"parent_app_id\" cannot change (a page stays with its application)");
  update.mutable_update_mask()->Clear();
  update.mutable_update_mask()->add_paths("settings.work_stream_id");
  EXPECT_EQ(store().UpdatePage(update).status().message(),
            "page.settings.work_stream_id: required");
  update.mutable_page()->set_id(NewUuid());
  EXPECT_EQ(store().UpdatePage(update).status().code(), absl::StatusCode::kNotFound);

  EXPECT_TRUE(store().DeletePage(page.id()).ok());
  EXPECT_EQ(store().DeletePage(page.id()).message(),
            absl::StrCat("page ", page.id(), ": not found"));
  EXPECT_TRUE(store().DeleteApp(app.id()).ok());
}

TEST_F(ChannelStoreTest, SecretsAreStoredSealedUnderTheKeyId) {
  const std::string app_secret = it::HexSecret("sealed-app");
  absl::StatusOr<v1::FacebookApp> app = it::CreateApp(store(), "", app_secret);
  ASSERT_TRUE(app.ok()) << app.status();
  const std::string token = "EAAplaintext-page-token-that-must-not-be-stored";
  absl::StatusOr<v1::FacebookPage> page = it::CreatePage(store(), app->id(), "", token);
  ASSERT_TRUE(page.ok()) << page.status();
  const std::string auth = it::HexSecret("sealed-twilio");
  absl::StatusOr<v1::WhatsAppSender> sender = it::CreateSender(store(), "", auth);
  ASSERT_TRUE(sender.ok()) << sender.status();

  struct Raw {
    std::string table, column, id, plain;
  };
  for (const Raw& r : {Raw{"facebook_apps", "app_secret", app->id(), app_secret},
                       Raw{"facebook_pages", "page_access_token", page->id(), token},
                       Raw{"whatsapp_senders", "auth_token", sender->id(), auth}}) {
    const std::string where = absl::StrCat(" FROM ingress.", r.table, " WHERE id = '", r.id, "'");
    EXPECT_EQ(Query(absl::StrCat("SELECT ", r.column, "_key_id", where)), "test-k1");
    const std::string blob = absl::HexStringToBytes(
        Query(absl::StrCat("SELECT encode(", r.column, "_sealed, 'hex')", where)));
    EXPECT_EQ(blob.size(), 1 + 12 + r.plain.size() + 16) << r.table;
    EXPECT_FALSE(absl::StrContains(blob, r.plain)) << r.table;
    // Nowhere in the row either (as text, in any column).
    EXPECT_EQ(Query(absl::StrCat("SELECT count(*) FROM ingress.", r.table,
                                 " t WHERE t::text LIKE '%", r.plain, "%'")),
              "0");
  }
  // Decrypted again by the cache.
  ASSERT_TRUE(cache().Refresh().ok());
  ASSERT_NE(cache().FindApp(app->id()), nullptr);
  EXPECT_EQ(cache().FindApp(app->id())->app_secret, app_secret);
  ASSERT_NE(cache().FindPage(page->page_id()), nullptr);
  EXPECT_EQ(cache().FindPage(page->page_id())->page_access_token, token);
  ASSERT_NE(cache().FindSender(sender->phone_number()), nullptr);
  EXPECT_EQ(cache().FindSender(sender->phone_number())->auth_token, auth);
  // The shared Twilio route's lookup: the number under its own account only.
  ASSERT_NE(cache().FindSenderOfAccount(sender->account_sid(), sender->phone_number()), nullptr);
  EXPECT_EQ(cache().FindSenderOfAccount(sender->account_sid(), sender->phone_number())->record_id,
            sender->id());
  EXPECT_EQ(
      cache().FindSenderOfAccount("AC00000000000000000000000000000000", sender->phone_number()),
      nullptr);
  EXPECT_EQ(cache().FindSenderOfAccount(sender->account_sid(), "+19999999999"), nullptr);
}

TEST_F(ChannelStoreTest, ReplacingASecretReseals) {
  const v1::FacebookApp app = NewApp();
  const std::string before =
      Query(absl::StrCat("SELECT encode(app_secret_sealed, 'hex') FROM ingress.facebook_apps "
                         "WHERE id = '",
                         app.id(), "'"));
  v1::UpdateFacebookAppRequest update;
  update.mutable_app()->set_id(app.id());
  update.mutable_app()->set_app_secret(it::HexSecret("rotated-by-admin"));
  update.mutable_update_mask()->add_paths("app_secret");
  ASSERT_TRUE(store().UpdateApp(update).ok());
  EXPECT_NE(Query(absl::StrCat("SELECT encode(app_secret_sealed, 'hex') FROM "
                               "ingress.facebook_apps WHERE id = '",
                               app.id(), "'")),
            before);
  ASSERT_TRUE(cache().Refresh().ok());
  EXPECT_EQ(cache().FindApp(app.id())->app_secret, it::HexSecret("rotated-by-admin"));

  update.mutable_app()->set_app_secret("short");
  EXPECT_EQ(store().UpdateApp(update).status().message(),
            "app.app_secret: 5 characters, expected 32..128 hexadecimal characters");
}

TEST_F(ChannelStoreTest, ARequestIdMakesCreatesIdempotent) {
  v1::CreateFacebookAppRequest req;
  req.mutable_app()->set_name("Idempotent");
  req.mutable_app()->set_meta_app_id(it::UniqueDigits());
  req.mutable_app()->set_app_secret(it::HexSecret("idem"));
  req.set_request_id(NewUuid());
  absl::StatusOr<v1::FacebookApp> first = store().CreateApp(req);
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<v1::FacebookApp> repeat = store().CreateApp(req);
  ASSERT_TRUE(repeat.ok()) << repeat.status();
  EXPECT_EQ(repeat->SerializeAsString(), first->SerializeAsString());
  EXPECT_EQ(Query(absl::StrCat("SELECT count(*) FROM ingress.facebook_apps WHERE meta_app_id = '",
                               req.app().meta_app_id(), "'")),
            "1");

  // The same id for another kind of create is refused.
  v1::CreateWhatsAppSenderRequest sender;
  sender.mutable_sender()->set_name("S");
  sender.mutable_sender()->set_account_sid(absl::StrCat("AC", it::HexSecret("a")));
  sender.mutable_sender()->set_auth_token(it::HexSecret("t"));
  sender.mutable_sender()->set_phone_number("+3161234567");
  sender.mutable_sender()->mutable_settings()->set_work_stream_id(it::kTestWorkStreamId);
  sender.set_request_id(req.request_id());
  absl::StatusOr<v1::WhatsAppSender> misuse = store().CreateSender(sender);
  EXPECT_EQ(misuse.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(misuse.status().message(),
            absl::StrCat("request_id: ", req.request_id(),
                         " was already used by CreateFacebookApp; use a new UUID for every "
                         "intended action"));

  // A failed create is not remembered: the same id may succeed once the cause is gone.
  v1::CreateFacebookAppRequest dup = req;
  dup.set_request_id(NewUuid());
  EXPECT_EQ(store().CreateApp(dup).status().code(), absl::StatusCode::kAlreadyExists);
  dup.mutable_app()->set_meta_app_id(it::UniqueDigits());
  EXPECT_TRUE(store().CreateApp(dup).ok());

  req.set_request_id("not-a-uuid");
  EXPECT_EQ(store().CreateApp(req).status().message(),
            "request_id: \"not-a-uuid\" is not a UUID (lower case)");
}

TEST_F(ChannelStoreTest, ListsPagesInNameOrderPageByPage) {
  const v1::FacebookApp app = NewApp();
  for (const char* name : {"e", "c", "a", "d", "b"}) NewPage(app.id(), name);
  v1::ListFacebookPagesRequest req;
  req.set_parent_app_id(app.id());
  req.set_page_size(2);
  std::vector<std::string> names;
  std::vector<int> sizes;
  for (int round = 0; round < 5; ++round) {
    absl::StatusOr<v1::ListFacebookPagesResponse> resp = store().ListPages(req);
    ASSERT_TRUE(resp.ok()) << resp.status();
    sizes.push_back(resp->pages_size());
    for (const v1::FacebookPage& p : resp->pages()) {
      names.push_back(p.name());
      EXPECT_EQ(p.page_access_token(), "");
    }
    if (resp->next_page_token().empty()) break;
    req.set_page_token(resp->next_page_token());
  }
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b", "c", "d", "e"}));
  EXPECT_EQ(sizes, (std::vector<int>{2, 2, 1}));

  // A token belongs to its list and filter.
  const std::string token = req.page_token();
  v1::ListFacebookPagesRequest other_filter;
  other_filter.set_page_token(token);
  EXPECT_EQ(store().ListPages(other_filter).status().message(),
            "page_token: not a token of this list");
  v1::ListFacebookAppsRequest apps;
  apps.set_page_token(token);
  EXPECT_EQ(store().ListApps(apps).status().message(), "page_token: not a token of this list");
  apps.set_page_token("");
  apps.set_page_size(-1);
  EXPECT_EQ(store().ListApps(apps).status().message(), "page_size: -1 is negative");
  other_filter.set_page_token("");
  other_filter.set_parent_app_id("x");
  EXPECT_EQ(store().ListPages(other_filter).status().message(),
            "parent_app_id: \"x\" is not a UUID (lower case)");
}

TEST_F(ChannelStoreTest, WhatsAppSenders) {
  absl::StatusOr<v1::WhatsAppSender> sender = it::CreateSender(store());
  ASSERT_TRUE(sender.ok()) << sender.status();
  EXPECT_EQ(sender->auth_token(), "");
  EXPECT_TRUE(sender->auth_token_set());
  const std::string prefix = absl::StrCat(kBase, "/webhooks/twilio/");
  ASSERT_TRUE(absl::StartsWith(sender->callback_uri(), prefix)) << sender->callback_uri();
  const std::string key = sender->callback_uri().substr(prefix.size());
  EXPECT_TRUE(IsUrlToken(key)) << key;
  EXPECT_EQ(sender->status_callback_uri(), absl::StrCat(prefix, key, "/status"));

  absl::StatusOr<v1::WhatsAppSender> again = it::CreateSender(store(), sender->phone_number());
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(again.status().message(),
            absl::StrCat("sender ", sender->phone_number(), " already exists: \"", sender->name(),
                         "\" (id ", sender->id(), ")"));

  v1::UpdateWhatsAppSenderRequest update;
  update.mutable_sender()->set_id(sender->id());
  update.mutable_sender()->mutable_settings()->set_human_agent_tag_enabled(true);
  update.mutable_update_mask()->add_paths("settings.human_agent_tag_enabled");
  EXPECT_EQ(store().UpdateSender(update).status().message(),
            "sender.settings.human_agent_tag_enabled: the Human Agent tag is Messenger only; must "
            "be false on WhatsApp");
  update.mutable_sender()->mutable_settings()->set_human_agent_tag_enabled(false);
  update.mutable_sender()->mutable_settings()->set_survey_enabled(true);
  update.mutable_sender()->set_account_sid(absl::StrCat("AC", it::HexSecret("new-account")));
  update.mutable_update_mask()->add_paths("settings.survey_enabled");
  update.mutable_update_mask()->add_paths("account_sid");
  absl::StatusOr<v1::WhatsAppSender> updated = store().UpdateSender(update);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_TRUE(updated->settings().survey_enabled());
  EXPECT_EQ(updated->account_sid(), update.sender().account_sid());
  EXPECT_EQ(updated->callback_uri(), sender->callback_uri());

  common::v1::EndpointRef ref;
  ref.set_channel(common::v1::CHANNEL_WHATSAPP);
  ref.set_id(sender->phone_number());
  absl::StatusOr<v1::GetEndpointSettingsResponse> settings = store().GetEndpointSettings(ref);
  ASSERT_TRUE(settings.ok()) << settings.status();
  EXPECT_TRUE(settings->settings().survey_enabled());
  EXPECT_EQ(settings->name(), sender->name());
  ref.set_channel(common::v1::CHANNEL_MESSENGER);
  EXPECT_EQ(store().GetEndpointSettings(ref).status().message(),
            absl::StrCat("page ", sender->phone_number(), ": not configured"));

  EXPECT_TRUE(store().DeleteSender(sender->id()).ok());
  EXPECT_EQ(store().GetSender(sender->id()).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ChannelStoreTest, TheCacheResolvesCallbacksAndForgetsDeletedRecords) {
  const v1::FacebookApp app = NewApp();
  const v1::FacebookPage page = NewPage(app.id());
  absl::StatusOr<v1::WhatsAppSender> sender = it::CreateSender(store());
  ASSERT_TRUE(sender.ok());
  const int64_t before = cache().revision();
  ASSERT_TRUE(cache().Refresh().ok());
  EXPECT_GT(cache().revision(), before);
  EXPECT_TRUE(cache().loaded());

  const std::string key = page.callback_uri().substr(page.callback_uri().rfind('/') + 1);
  std::shared_ptr<const MessengerCallback> cb = cache().FindMessengerCallback(key);
  ASSERT_NE(cb, nullptr);
  EXPECT_EQ(cb->app.record_id, app.id());
  EXPECT_EQ(cb->app.meta_app_id, app.meta_app_id());
  EXPECT_EQ(cb->app.app_secret, it::HexSecret("app"));
  EXPECT_EQ(cb->page.page_id, page.page_id());
  EXPECT_EQ(cb->page.verify_token, page.verify_token());
  EXPECT_EQ(cb->page.callback_key, key);
  EXPECT_EQ(cb->page.settings.work_stream_id(), it::kTestWorkStreamId);
  EXPECT_EQ(cache().FindMessengerCallback("unknown"), nullptr);

  const std::string wa_key = sender->callback_uri().substr(sender->callback_uri().rfind('/') + 1);
  std::shared_ptr<const WhatsAppSender> wa = cache().FindWhatsAppCallback(wa_key);
  ASSERT_NE(wa, nullptr);
  EXPECT_EQ(wa->phone_number, sender->phone_number());
  EXPECT_EQ(wa->account_sid, sender->account_sid());
  EXPECT_EQ(wa->auth_token, it::HexSecret("twilio"));

  // A record handed out stays valid after it is deleted and the snapshot replaced.
  ASSERT_TRUE(store().DeletePage(page.id()).ok());
  ASSERT_TRUE(store().DeleteSender(sender->id()).ok());
  ASSERT_TRUE(cache().Refresh().ok());
  EXPECT_EQ(cache().FindPage(page.page_id()), nullptr);
  EXPECT_EQ(cache().FindMessengerCallback(key), nullptr);
  EXPECT_EQ(cache().FindSender(sender->phone_number()), nullptr);
  EXPECT_EQ(cache().FindWhatsAppCallback(wa_key), nullptr);
  EXPECT_EQ(cb->page.page_id, page.page_id());

  // Nothing changed: the snapshot stays.
  const int64_t now = cache().revision();
  ASSERT_TRUE(cache().Refresh().ok());
  EXPECT_EQ(cache().revision(), now);
}

TEST_F(ChannelStoreTest, ARunningCacheSeesChangesMadeThroughAnotherStore) {
  // Another replica: its own pool and store on the same database.
  pg::Pool other_pool(pg::PoolOptions{.uri = env_->db->uri(), .size = 2});
  PgChannelStore other(other_pool, *env_->box, kBase);
  ChannelCache polling(pool(), *env_->box, {.refresh_interval = absl::Milliseconds(100)});
  polling.Start();

  absl::StatusOr<v1::FacebookApp> app = it::CreateApp(other);
  ASSERT_TRUE(app.ok());
  absl::StatusOr<v1::FacebookPage> page = it::CreatePage(other, app->id());
  ASSERT_TRUE(page.ok());
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (polling.FindPage(page->page_id()) == nullptr && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_NE(polling.FindPage(page->page_id()), nullptr);
  EXPECT_FALSE(polling.FindPage(page->page_id())->settings.human_agent_tag_enabled());

  v1::UpdateFacebookPageRequest update;
  update.mutable_page()->set_id(page->id());
  update.mutable_page()->mutable_settings()->set_human_agent_tag_enabled(true);
  update.mutable_update_mask()->add_paths("settings.human_agent_tag_enabled");
  ASSERT_TRUE(other.UpdatePage(update).ok());
  while (!polling.FindPage(page->page_id())->settings.human_agent_tag_enabled() &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_TRUE(polling.FindPage(page->page_id())->settings.human_agent_tag_enabled());
  polling.Stop();
}

TEST_F(ChannelStoreTest, ConcurrentLinksOfOnePageSucceedOnceAndTheOthersNameTheOwner) {
  const v1::FacebookApp a = NewApp("Racer A");
  const v1::FacebookApp b = NewApp("Racer B");
  const std::string page_id = it::UniqueDigits();
  std::vector<absl::StatusOr<v1::FacebookPage>> results(8, absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back(
        [&, i] { results[i] = it::CreatePage(store(), i % 2 == 0 ? a.id() : b.id(), page_id); });
  }
  for (std::thread& t : threads) t.join();
  int created = 0;
  std::string owner;
  for (const auto& r : results) {
    if (r.ok()) {
      ++created;
      owner = r->parent_app_id() == a.id() ? "Racer A" : "Racer B";
    }
  }
  ASSERT_EQ(created, 1);
  for (const auto& r : results) {
    if (r.ok()) continue;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kAlreadyExists) << r.status();
    EXPECT_TRUE(absl::StrContains(r.status().message(),
                                  absl::StrCat("already belongs to application \"", owner, "\"")))
        << r.status();
  }
}

// Rotation gets a database of its own: it reseals every secret there.
TEST(ChannelRotationTest, OldKeysStillDecryptAndResealingMovesEverySecretToTheNewKey) {
  absl::StatusOr<std::unique_ptr<it::ChannelEnv>> env = it::NewChannelEnv(kBase);
  ASSERT_TRUE(env.ok()) << env.status();
  it::ChannelEnv& e = **env;
  absl::StatusOr<v1::FacebookApp> app = it::CreateApp(*e.store);  // sealed under test-k1
  ASSERT_TRUE(app.ok());
  absl::StatusOr<v1::FacebookPage> page = it::CreatePage(*e.store, app->id());
  ASSERT_TRUE(page.ok());
  absl::StatusOr<v1::WhatsAppSender> sender = it::CreateSender(*e.store);
  ASSERT_TRUE(sender.ok());

  // The new ring: k2 encrypts, test-k1 still decrypts.
  absl::StatusOr<SecretBox> rotated =
      SecretBox::Create({{"k2", std::string(32, 'n')}, {"test-k1", std::string(32, 'k')}});
  ASSERT_TRUE(rotated.ok());
  PgChannelStore store(*e.pool, *rotated, kBase);
  ChannelCache cache(*e.pool, *rotated);
  ASSERT_TRUE(cache.Refresh().ok());
  ASSERT_NE(cache.FindApp(app->id()), nullptr);
  EXPECT_EQ(cache.FindApp(app->id())->app_secret, it::HexSecret("app"));

  absl::StatusOr<int> resealed = store.ResealSecrets();
  ASSERT_TRUE(resealed.ok()) << resealed.status();
  EXPECT_EQ(*resealed, 3);
  absl::StatusOr<int> again = store.ResealSecrets();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0);

  // A ring with only the new key reads everything.
  absl::StatusOr<SecretBox> only_new = SecretBox::Create({{"k2", std::string(32, 'n')}});
  ASSERT_TRUE(only_new.ok());
  ChannelCache fresh(*e.pool, *only_new);
  ASSERT_TRUE(fresh.Refresh().ok());
  EXPECT_EQ(fresh.FindApp(app->id())->app_secret, it::HexSecret("app"));
  EXPECT_EQ(fresh.FindPage(page->page_id())->page_access_token,
            absl::StrCat("EAAtest-token-", page->page_id()));
  EXPECT_EQ(fresh.FindSender(sender->phone_number())->auth_token, it::HexSecret("twilio"));

  // The old ring no longer can: the records stay, their secrets read as unset.
  ASSERT_TRUE(e.cache->Refresh().ok());
  ASSERT_NE(e.cache->FindApp(app->id()), nullptr);
  EXPECT_EQ(e.cache->FindApp(app->id())->app_secret, "");
}

// PostgreSQL taken away: writes are UNAVAILABLE and change nothing, the running cache keeps
// serving its last snapshot, and both recover when the server returns. A private server, since
// this one is stopped.
TEST(ChannelOutageTest, TheCacheServesItsLastSnapshotWhilePostgresqlIsAway) {
  absl::StatusOr<std::unique_ptr<parley::testing::PgServer>> server =
      parley::testing::PgServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  pg::Pool pool(pg::PoolOptions{.uri = (*server)->uri(), .size = 2});
  ASSERT_TRUE(pg::Migrate(pool, Migrations()).ok());
  const SecretBox box = it::TestSecretBox();
  PgChannelStore store(pool, box, kBase);
  absl::StatusOr<v1::FacebookApp> app = it::CreateApp(store);
  ASSERT_TRUE(app.ok()) << app.status();
  absl::StatusOr<v1::FacebookPage> page = it::CreatePage(store, app->id());
  ASSERT_TRUE(page.ok()) << page.status();
  ChannelCache cache(pool, box, {.refresh_interval = absl::Milliseconds(50)});
  ASSERT_TRUE(cache.Refresh().ok());
  cache.Start();

  ASSERT_TRUE((*server)->Stop().ok());
  absl::StatusOr<v1::FacebookApp> during = it::CreateApp(store);
  EXPECT_EQ(during.status().code(), absl::StatusCode::kUnavailable) << during.status();
  EXPECT_EQ(cache.Refresh().code(), absl::StatusCode::kUnavailable);
  absl::SleepFor(absl::Milliseconds(200));  // a few failed polls
  ASSERT_NE(cache.FindPage(page->page_id()), nullptr);
  EXPECT_EQ(cache.FindPage(page->page_id())->page_access_token,
            absl::StrCat("EAAtest-token-", page->page_id()));

  ASSERT_TRUE((*server)->Resume().ok());
  absl::StatusOr<v1::FacebookPage> later;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  do {
    later = it::CreatePage(store, app->id());
  } while (!later.ok() && absl::IsUnavailable(later.status()) && absl::Now() < deadline);
  ASSERT_TRUE(later.ok()) << later.status();
  while (cache.FindPage(later->page_id()) == nullptr && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_NE(cache.FindPage(later->page_id()), nullptr);
  cache.Stop();
}

}  // namespace
}  // namespace parley::ingress
