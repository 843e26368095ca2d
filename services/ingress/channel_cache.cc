#include "services/ingress/channel_cache.h"

#include <chrono>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "libs/common/log.h"
#include "services/ingress/channel_rows.h"
#include "services/ingress/pg_channel_store.h"

namespace parley::ingress {

template <typename T>
using ByKey = absl::flat_hash_map<std::string, std::shared_ptr<const T>>;

struct ChannelCache::Snapshot {
  bool loaded = false;
  int64_t revision = 0;
  ByKey<MessengerApp> apps;                      // by record id
  ByKey<MessengerPage> pages;                    // by Facebook Page ID
  ByKey<MessengerCallback> messenger_callbacks;  // by callback key
  ByKey<WhatsAppSender> senders;                 // by phone number
  ByKey<WhatsAppSender> whatsapp_callbacks;      // by callback key
};

namespace {

constexpr char kRevision[] = "SELECT revision FROM ingress.channel_revision";
constexpr char kApps[] =
    "SELECT id::text, meta_app_id, app_secret_key_id, encode(app_secret_sealed, 'hex') "
    "FROM ingress.facebook_apps";
// Settings (7 columns) start at index 7.
constexpr char kPages[] =
    "SELECT id::text, page_id, app_id::text, page_access_token_key_id, "
    "encode(page_access_token_sealed, 'hex'), verify_token, callback_key, language, "
    "work_stream_id::text, customer_attachments_enabled, agent_attachments_enabled, "
    "human_agent_tag_enabled, automated_messages_enabled, survey_enabled "
    "FROM ingress.facebook_pages";
// Settings (7 columns) start at index 6.
constexpr char kSenders[] =
    "SELECT id::text, phone_number, account_sid, auth_token_key_id, "
    "encode(auth_token_sealed, 'hex'), callback_key, language, work_stream_id::text, "
    "customer_attachments_enabled, agent_attachments_enabled, human_agent_tag_enabled, "
    "automated_messages_enabled, survey_enabled FROM ingress.whatsapp_senders";

// The decrypted secret of columns `key_id`, `hex` of a row; "" when unset or unreadable (the
// reason is logged, never the value).
std::string OpenSecret(const SecretBox& box, const pqxx::field& key_id, const pqxx::field& hex,
                       const std::string& context) {
  if (key_id.is_null() || hex.is_null()) return "";
  absl::StatusOr<std::string> plain =
      box.Open({key_id.as<std::string>(), absl::HexStringToBytes(hex.c_str())}, context);
  if (plain.ok()) return *std::move(plain);
  log::Error("channel secret cannot be decrypted; treated as unset",
             {{"secret", context}, {"error", plain.status().message()}});
  return "";
}

std::shared_ptr<const ChannelCache::Snapshot> Load(pqxx::work& tx, const SecretBox& box,
                                                   int64_t revision) {
  auto snap = std::make_shared<ChannelCache::Snapshot>();
  snap->loaded = true;
  snap->revision = revision;
  for (const pqxx::row& r : tx.exec(kApps)) {
    auto app = std::make_shared<MessengerApp>();
    app->record_id = r[0].as<std::string>();
    app->meta_app_id = r[1].as<std::string>();
    app->app_secret = OpenSecret(box, r[2], r[3], AppSecretContext(app->record_id));
    snap->apps.emplace(app->record_id, std::move(app));
  }
  for (const pqxx::row& r : tx.exec(kPages)) {
    auto page = std::make_shared<MessengerPage>();
    page->record_id = r[0].as<std::string>();
    page->page_id = r[1].as<std::string>();
    page->app_record_id = r[2].as<std::string>();
    page->page_access_token = OpenSecret(box, r[3], r[4], PageTokenContext(page->record_id));
    page->verify_token = r[5].as<std::string>();
    page->callback_key = r[6].as<std::string>();
    page->settings = SettingsFromRow(r, 7);
    auto app = snap->apps.find(page->app_record_id);
    if (app != snap->apps.end()) {  // always, by the foreign key
      snap->messenger_callbacks.emplace(
          page->callback_key,
          std::make_shared<MessengerCallback>(MessengerCallback{*app->second, *page}));
    }
    snap->pages.emplace(page->page_id, std::move(page));
  }
  for (const pqxx::row& r : tx.exec(kSenders)) {
    auto sender = std::make_shared<WhatsAppSender>();
    sender->record_id = r[0].as<std::string>();
    sender->phone_number = r[1].as<std::string>();
    sender->account_sid = r[2].as<std::string>();
    sender->auth_token = OpenSecret(box, r[3], r[4], AuthTokenContext(sender->record_id));
    sender->callback_key = r[5].as<std::string>();
    sender->settings = SettingsFromRow(r, 6);
    snap->whatsapp_callbacks.emplace(sender->callback_key, sender);
    snap->senders.emplace(sender->phone_number, std::move(sender));
  }
  return snap;
}

template <typename T>
std::shared_ptr<const T> Find(const ByKey<T>& map, absl::string_view key) {
  auto it = map.find(key);
  return it == map.end() ? nullptr : it->second;
}

}  // namespace

ChannelCache::ChannelCache(pg::Pool& pool, const SecretBox& box, ChannelCacheOptions options)
    : pool_(pool), box_(box), options_(options), snapshot_(std::make_shared<Snapshot>()) {}

ChannelCache::~ChannelCache() { Stop(); }

absl::Status ChannelCache::Refresh() {
  std::lock_guard<std::mutex> refresh(refresh_mu_);
  const std::shared_ptr<const Snapshot> current = Current();
  std::shared_ptr<const Snapshot> next;
  // The revision is read first: a change committed between it and the table reads is loaded
  // and seen again as a newer revision next time, never missed.
  absl::Status s = pool_.Transact([&](pqxx::work& tx) -> absl::Status {
    const int64_t revision = tx.exec1(kRevision)[0].as<int64_t>();
    if (current->loaded && revision == current->revision) return absl::OkStatus();
    next = Load(tx, box_, revision);
    return absl::OkStatus();
  });
  if (!s.ok() || next == nullptr) return s;
  log::Info("channel configuration loaded", {{"revision", absl::StrCat(next->revision)},
                                             {"apps", absl::StrCat(next->apps.size())},
                                             {"pages", absl::StrCat(next->pages.size())},
                                             {"senders", absl::StrCat(next->senders.size())}});
  std::lock_guard<std::mutex> lock(snapshot_mu_);
  snapshot_ = std::move(next);
  return absl::OkStatus();
}

void ChannelCache::Start() {
  std::lock_guard<std::mutex> lock(loop_mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void ChannelCache::Stop() {
  {
    std::lock_guard<std::mutex> lock(loop_mu_);
    if (!thread_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void ChannelCache::Loop() {
  bool failing = false;
  bool first_load_done = false;
  while (true) {
    const absl::Status s = Refresh();
    if (!s.ok() && !failing && !loaded()) {
      log::Info("channel configuration not loaded yet; retrying", {{"error", s.ToString()}});
    } else if (!s.ok() && !failing) {
      log::Warn("channel configuration not refreshed; serving the last one",
                {{"error", s.ToString()}});
    } else if (s.ok() && failing && first_load_done) {
      log::Info("channel configuration refreshes again");
    }
    failing = !s.ok();
    if (s.ok() && !first_load_done) {
      first_load_done = true;
      if (options_.after_first_load) options_.after_first_load();
    }
    std::unique_lock<std::mutex> lock(loop_mu_);
    if (wake_.wait_for(lock, absl::ToChronoMilliseconds(options_.refresh_interval),
                       [this] { return stopping_; })) {
      return;
    }
  }
}

std::shared_ptr<const ChannelCache::Snapshot> ChannelCache::Current() const {
  std::lock_guard<std::mutex> lock(snapshot_mu_);
  return snapshot_;
}

bool ChannelCache::loaded() const { return Current()->loaded; }
int64_t ChannelCache::revision() const { return Current()->revision; }

std::shared_ptr<const MessengerCallback> ChannelCache::FindMessengerCallback(
    absl::string_view callback_key) const {
  return Find(Current()->messenger_callbacks, callback_key);
}
std::shared_ptr<const MessengerPage> ChannelCache::FindPage(absl::string_view page_id) const {
  return Find(Current()->pages, page_id);
}
std::shared_ptr<const MessengerApp> ChannelCache::FindApp(absl::string_view app_record_id) const {
  return Find(Current()->apps, app_record_id);
}
std::shared_ptr<const WhatsAppSender> ChannelCache::FindWhatsAppCallback(
    absl::string_view callback_key) const {
  return Find(Current()->whatsapp_callbacks, callback_key);
}
std::shared_ptr<const WhatsAppSender> ChannelCache::FindSender(
    absl::string_view phone_number) const {
  return Find(Current()->senders, phone_number);
}

}  // namespace parley::ingress
