#include "services/ingress/pg_channel_store.h"

#include <algorithm>
#include <optional>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "libs/common/log.h"
#include "libs/common/paging.h"
#include "services/ingress/channel_checks.h"
#include "services/ingress/channel_rows.h"

namespace parley::ingress {
namespace {

using Tx = pqxx::transaction_base;

// Idempotency of the Create rpcs (AIP-155, 24 hours).
constexpr char kExpireRequests[] =
    "DELETE FROM ingress.create_requests WHERE created_at < now() - interval '24 hours'";
constexpr char kClaimRequest[] =
    "INSERT INTO ingress.create_requests (request_id, kind) VALUES ($1::uuid, $2) "
    "ON CONFLICT (request_id) DO NOTHING RETURNING 1";
constexpr char kFindRequest[] =
    "SELECT kind, encode(response, 'hex') FROM ingress.create_requests "
    "WHERE request_id = $1::uuid";
constexpr char kAnswerRequest[] =
    "UPDATE ingress.create_requests SET response = decode($2, 'hex') WHERE request_id = $1::uuid";

// $1 id, $2 name, $3 meta_app_id, $4 key id, $5 sealed (hex).
constexpr char kInsertApp[] = R"sql(
INSERT INTO ingress.facebook_apps (id, name, meta_app_id, app_secret_key_id, app_secret_sealed)
VALUES ($1::uuid, $2, $3, $4, decode($5, 'hex'))
ON CONFLICT (meta_app_id) DO NOTHING RETURNING 1)sql";
constexpr char kAppByMetaId[] =
    "SELECT id::text, name FROM ingress.facebook_apps WHERE meta_app_id = $1";
constexpr char kUpdateAppName[] =
    "UPDATE ingress.facebook_apps SET name = $2, updated_at = now() WHERE id = $1::uuid";
constexpr char kSealAppSecret[] =
    "UPDATE ingress.facebook_apps SET app_secret_key_id = $2, app_secret_sealed = decode($3, "
    "'hex'), updated_at = now() WHERE id = $1::uuid";

// $1 id, $2 page_id, $3 app, $4 name, $5 key id, $6 sealed, $7..$13 settings, $14 callback key,
// $15 verify token.
constexpr char kInsertPage[] = R"sql(
INSERT INTO ingress.facebook_pages (id, page_id, app_id, name, page_access_token_key_id,
  page_access_token_sealed, language, work_stream_id, customer_attachments_enabled,
  agent_attachments_enabled, human_agent_tag_enabled, automated_messages_enabled,
  survey_enabled, callback_key, verify_token)
VALUES ($1::uuid, $2, $3::uuid, $4, $5, decode($6, 'hex'), $7, $8::uuid, $9, $10, $11, $12, $13,
        $14, $15)
ON CONFLICT (page_id) DO NOTHING RETURNING 1)sql";
constexpr char kPageOwner[] = R"sql(
SELECT a.id::text, a.name, a.meta_app_id FROM ingress.facebook_pages p
JOIN ingress.facebook_apps a ON a.id = p.app_id WHERE p.page_id = $1)sql";
// $1 id, $2 name, $3..$9 settings.
constexpr char kUpdatePage[] = R"sql(
UPDATE ingress.facebook_pages SET name = $2, language = $3, work_stream_id = $4::uuid,
  customer_attachments_enabled = $5, agent_attachments_enabled = $6,
  human_agent_tag_enabled = $7, automated_messages_enabled = $8, survey_enabled = $9,
  updated_at = now()
WHERE id = $1::uuid)sql";
constexpr char kSealPageToken[] =
    "UPDATE ingress.facebook_pages SET page_access_token_key_id = $2, page_access_token_sealed = "
    "decode($3, 'hex'), updated_at = now() WHERE id = $1::uuid";

// $1 id, $2 name, $3 account sid, $4 key id, $5 sealed, $6 phone, $7..$13 settings,
// $14 callback key.
constexpr char kInsertSender[] = R"sql(
INSERT INTO ingress.whatsapp_senders (id, name, account_sid, auth_token_key_id,
  auth_token_sealed, phone_number, language, work_stream_id, customer_attachments_enabled,
  agent_attachments_enabled, human_agent_tag_enabled, automated_messages_enabled,
  survey_enabled, callback_key)
VALUES ($1::uuid, $2, $3, $4, decode($5, 'hex'), $6, $7, $8::uuid, $9, $10, $11, $12, $13, $14)
ON CONFLICT (phone_number) DO NOTHING RETURNING 1)sql";
constexpr char kSenderByPhone[] =
    "SELECT id::text, name FROM ingress.whatsapp_senders WHERE phone_number = $1";
// $1 id, $2 name, $3 account sid, $4..$10 settings.
constexpr char kUpdateSender[] = R"sql(
UPDATE ingress.whatsapp_senders SET name = $2, account_sid = $3, language = $4,
  work_stream_id = $5::uuid, customer_attachments_enabled = $6, agent_attachments_enabled = $7,
  human_agent_tag_enabled = $8, automated_messages_enabled = $9, survey_enabled = $10,
  updated_at = now()
WHERE id = $1::uuid)sql";
constexpr char kSealAuthToken[] =
    "UPDATE ingress.whatsapp_senders SET auth_token_key_id = $2, auth_token_sealed = decode($3, "
    "'hex'), updated_at = now() WHERE id = $1::uuid";

constexpr char kSettingsColumns[] =
    "language, work_stream_id::text, customer_attachments_enabled, agent_attachments_enabled, "
    "human_agent_tag_enabled, automated_messages_enabled, survey_enabled, name";

// One sealed column, for ResealSecrets.
struct SecretColumn {
  const char* table;
  const char* prefix;  // <prefix>_key_id, <prefix>_sealed
  std::string (*context)(absl::string_view id);
};

// A display name in double quotes (names hold no control characters: they are validated).
std::string Quoted(absl::string_view name) {
  return absl::StrCat("\"", absl::StrReplaceAll(name, {{"\\", "\\\\"}, {"\"", "\\\""}}), "\"");
}

std::string Pages(int n) { return n == 1 ? "1 page" : absl::StrCat(n, " pages"); }

// A repeat of an answered create returns the first answer; a new request_id is claimed (in
// this transaction) and std::nullopt returned.
template <typename T>
absl::StatusOr<std::optional<T>> Claim(Tx& tx, const std::string& request_id,
                                       const std::string& kind) {
  if (request_id.empty()) return std::optional<T>();
  tx.exec(kExpireRequests);
  if (!tx.exec_params(kClaimRequest, request_id, kind).empty()) return std::optional<T>();
  const pqxx::result r = tx.exec_params(kFindRequest, request_id);
  if (r.empty()) return absl::AbortedError("request_id: claimed concurrently; retry");
  if (r[0][0].as<std::string>() != kind) {
    return absl::InvalidArgumentError(
        absl::StrCat("request_id: ", request_id, " was already used by ", r[0][0].as<std::string>(),
                     "; use a new UUID for every intended action"));
  }
  T first;
  if (r[0][1].is_null() || !first.ParseFromString(absl::HexStringToBytes(r[0][1].c_str()))) {
    return absl::InternalError(absl::StrCat("request_id: ", request_id, ": no stored answer"));
  }
  return std::optional<T>(std::move(first));
}

void Answer(Tx& tx, const std::string& request_id, const google::protobuf::Message& response) {
  if (request_id.empty()) return;
  tx.exec_params(kAnswerRequest, request_id, absl::BytesToHexString(response.SerializeAsString()));
}

absl::StatusOr<v1::FacebookApp> LoadApp(Tx& tx, const std::string& id, bool lock = false) {
  const pqxx::result r = tx.exec_params(
      absl::StrCat("SELECT ", kAppColumns, " FROM ingress.facebook_apps a WHERE a.id = $1::uuid",
                   lock ? " FOR UPDATE" : ""),
      id);
  if (r.empty()) return absl::NotFoundError(absl::StrCat("application ", id, ": not found"));
  return AppFromRow(r[0]);
}

absl::StatusOr<v1::FacebookPage> LoadPage(Tx& tx, const std::string& id, const std::string& base,
                                          bool lock = false) {
  const pqxx::result r = tx.exec_params(
      absl::StrCat("SELECT ", kPageColumns, " FROM ingress.facebook_pages p WHERE p.id = $1::uuid",
                   lock ? " FOR UPDATE" : ""),
      id);
  if (r.empty()) return absl::NotFoundError(absl::StrCat("page ", id, ": not found"));
  return PageFromRow(r[0], base);
}

absl::StatusOr<v1::WhatsAppSender> LoadSender(Tx& tx, const std::string& id,
                                              const std::string& base, bool lock = false) {
  const pqxx::result r =
      tx.exec_params(absl::StrCat("SELECT ", kSenderColumns,
                                  " FROM ingress.whatsapp_senders s WHERE s.id = $1::uuid",
                                  lock ? " FOR UPDATE" : ""),
                     id);
  if (r.empty()) return absl::NotFoundError(absl::StrCat("sender ", id, ": not found"));
  return SenderFromRow(r[0], base);
}

absl::Status Seal(Tx& tx, const SecretBox& box, const char* sql, const std::string& id,
                  absl::string_view secret, const std::string& context) {
  absl::StatusOr<SealedSecret> sealed = box.Seal(secret, context);
  if (!sealed.ok()) return sealed.status();
  tx.exec_params(sql, id, sealed->key_id, absl::BytesToHexString(sealed->blob));
  return absl::OkStatus();
}

absl::Status DeleteById(pg::Pool& pool, const char* table, const char* what,
                        const std::string& id) {
  if (absl::Status s = CheckUuid("id", id, true); !s.ok()) return s;
  return pool.Transact([&](pqxx::work& tx) -> absl::Status {
    if (tx.exec_params(
              absl::StrCat("DELETE FROM ingress.", table, " WHERE id = $1::uuid RETURNING 1"), id)
            .empty()) {
      return absl::NotFoundError(absl::StrCat(what, " ", id, ": not found"));
    }
    return absl::OkStatus();
  });
}

// The LIMIT/OFFSET page of `columns` FROM `from` (with $1 free for a filter), and its token.
template <typename Resp, typename Add>
absl::StatusOr<Resp> List(pg::Pool& pool, const std::string& list, int page_size,
                          const std::string& token, const std::string& query,
                          const std::string& filter, Add add) {
  absl::StatusOr<Page> page = ParsePage(list, page_size, token);
  if (!page.ok()) return page.status();
  return pool.Transact<Resp>([&](pqxx::work& tx) -> absl::StatusOr<Resp> {
    const pqxx::result rows = tx.exec_params(absl::StrCat(query, " OFFSET $2 LIMIT $3"), filter,
                                             page->offset, page->size + 1);
    Resp out;
    for (int i = 0; i < std::min<int>(rows.size(), page->size); ++i) add(rows[i], &out);
    if (static_cast<int>(rows.size()) > page->size) {
      out.set_next_page_token(NextPageToken(list, *page));
    }
    return out;
  });
}

}  // namespace

std::string AppSecretContext(absl::string_view app_id) {
  return absl::StrCat("facebook_apps/", app_id, "/app_secret");
}
std::string PageTokenContext(absl::string_view page_record_id) {
  return absl::StrCat("facebook_pages/", page_record_id, "/page_access_token");
}
std::string AuthTokenContext(absl::string_view sender_id) {
  return absl::StrCat("whatsapp_senders/", sender_id, "/auth_token");
}

PgChannelStore::PgChannelStore(pg::Pool& pool, const SecretBox& box, std::string public_base_url)
    : pool_(pool), box_(box), base_url_(absl::StripSuffix(public_base_url, "/")) {}

// --- Facebook applications -------------------------------------------------------------------

absl::StatusOr<v1::FacebookApp> PgChannelStore::CreateApp(
    const v1::CreateFacebookAppRequest& request) {
  const v1::FacebookApp& app = request.app();
  if (absl::Status s = CheckNewApp(app); !s.ok()) return s;
  if (absl::Status s = CheckUuid("request_id", request.request_id(), false); !s.ok()) return s;
  const std::string id = NewUuid();
  absl::StatusOr<SealedSecret> sealed = box_.Seal(app.app_secret(), AppSecretContext(id));
  if (!sealed.ok()) return sealed.status();
  return pool_.Transact<v1::FacebookApp>([&](pqxx::work& tx) -> absl::StatusOr<v1::FacebookApp> {
    auto first = Claim<v1::FacebookApp>(tx, request.request_id(), "CreateFacebookApp");
    if (!first.ok()) return first.status();
    if (first->has_value()) return **first;
    if (tx.exec_params(kInsertApp, id, app.name(), app.meta_app_id(), sealed->key_id,
                       absl::BytesToHexString(sealed->blob))
            .empty()) {
      const pqxx::row other = tx.exec_params1(kAppByMetaId, app.meta_app_id());
      return absl::AlreadyExistsError(absl::StrCat(
          "application with App ID ", app.meta_app_id(), " already exists: ",
          Quoted(other[1].as<std::string>()), " (id ", other[0].as<std::string>(), ")"));
    }
    absl::StatusOr<v1::FacebookApp> out = LoadApp(tx, id);
    if (out.ok()) Answer(tx, request.request_id(), *out);
    return out;
  });
}

absl::StatusOr<v1::FacebookApp> PgChannelStore::GetApp(const std::string& id) {
  if (absl::Status s = CheckUuid("id", id, true); !s.ok()) return s;
  return pool_.Transact<v1::FacebookApp>(
      [&](pqxx::work& tx) -> absl::StatusOr<v1::FacebookApp> { return LoadApp(tx, id); });
}

absl::StatusOr<v1::ListFacebookAppsResponse> PgChannelStore::ListApps(
    const v1::ListFacebookAppsRequest& request) {
  return List<v1::ListFacebookAppsResponse>(
      pool_, "apps", request.page_size(), request.page_token(),
      absl::StrCat("SELECT ", kAppColumns,
                   " FROM ingress.facebook_apps a WHERE $1::text = '' ORDER BY a.name, a.id"),
      "", [](const pqxx::row& r, auto* out) { *out->add_apps() = AppFromRow(r); });
}

absl::StatusOr<v1::FacebookApp> PgChannelStore::UpdateApp(
    const v1::UpdateFacebookAppRequest& request) {
  const v1::FacebookApp& in = request.app();
  if (absl::Status s = CheckUuid("app.id", in.id(), true); !s.ok()) return s;
  if (absl::Status s = CheckAppMask(request.update_mask()); !s.ok()) return s;
  return pool_.Transact<v1::FacebookApp>([&](pqxx::work& tx) -> absl::StatusOr<v1::FacebookApp> {
    absl::StatusOr<v1::FacebookApp> current = LoadApp(tx, in.id(), /*lock=*/true);
    if (!current.ok()) return current.status();
    v1::FacebookApp next = *current;
    ApplyMask(in, request.update_mask(), &next);
    if (absl::Status s = CheckUpdatedApp(next, request.update_mask()); !s.ok()) return s;
    tx.exec_params(kUpdateAppName, in.id(), next.name());
    if (!next.app_secret().empty()) {
      absl::Status s =
          Seal(tx, box_, kSealAppSecret, in.id(), next.app_secret(), AppSecretContext(in.id()));
      if (!s.ok()) return s;
    }
    return LoadApp(tx, in.id());
  });
}

absl::Status PgChannelStore::DeleteApp(const std::string& id) {
  if (absl::Status s = CheckUuid("id", id, true); !s.ok()) return s;
  return pool_.Transact([&](pqxx::work& tx) -> absl::Status {
    absl::StatusOr<v1::FacebookApp> app = LoadApp(tx, id, /*lock=*/true);
    if (!app.ok()) return app.status();
    if (app->page_count() > 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("application ", app->meta_app_id(), " (", Quoted(app->name()),
                       "): ", Pages(app->page_count()), " still linked; delete them first"));
    }
    tx.exec_params("DELETE FROM ingress.facebook_apps WHERE id = $1::uuid", id);
    return absl::OkStatus();
  });
}

// --- Facebook pages --------------------------------------------------------------------------

absl::StatusOr<v1::FacebookPage> PgChannelStore::CreatePage(
    const v1::CreateFacebookPageRequest& request) {
  const v1::FacebookPage& page = request.page();
  if (absl::Status s = CheckNewPage(page); !s.ok()) return s;
  if (absl::Status s = CheckUuid("request_id", request.request_id(), false); !s.ok()) return s;
  common::v1::EndpointSettings settings = page.settings();
  DefaultSettings(&settings);
  const std::string id = NewUuid();
  absl::StatusOr<SealedSecret> sealed = box_.Seal(page.page_access_token(), PageTokenContext(id));
  if (!sealed.ok()) return sealed.status();
  return pool_.Transact<v1::FacebookPage>([&](pqxx::work& tx) -> absl::StatusOr<v1::FacebookPage> {
    auto first = Claim<v1::FacebookPage>(tx, request.request_id(), "CreateFacebookPage");
    if (!first.ok()) return first.status();
    if (first->has_value()) return **first;
    if (tx.exec_params("SELECT 1 FROM ingress.facebook_apps WHERE id = $1::uuid FOR SHARE",
                       page.parent_app_id())
            .empty()) {
      return absl::NotFoundError(
          absl::StrCat("page.parent_app_id: no application with id ", page.parent_app_id()));
    }
    if (tx.exec_params(kInsertPage, id, page.page_id(), page.parent_app_id(), page.name(),
                       sealed->key_id, absl::BytesToHexString(sealed->blob), settings.language(),
                       settings.work_stream_id(), settings.customer_attachments_enabled(),
                       settings.agent_attachments_enabled(), settings.human_agent_tag_enabled(),
                       settings.automated_messages_enabled(), settings.survey_enabled(),
                       RandomUrlToken(), RandomUrlToken())
            .empty()) {
      const pqxx::row owner = tx.exec_params1(kPageOwner, page.page_id());
      return absl::AlreadyExistsError(
          absl::StrCat("page ", page.page_id(), " already belongs to application ",
                       Quoted(owner[1].as<std::string>()), " (App ID ", owner[2].as<std::string>(),
                       ", id ", owner[0].as<std::string>(), ")"));
    }
    absl::StatusOr<v1::FacebookPage> out = LoadPage(tx, id, base_url_);
    if (out.ok()) Answer(tx, request.request_id(), *out);
    return out;
  });
}

absl::StatusOr<v1::FacebookPage> PgChannelStore::GetPage(const std::string& id) {
  if (absl::Status s = CheckUuid("id", id, true); !s.ok()) return s;
  return pool_.Transact<v1::FacebookPage>([&](pqxx::work& tx) -> absl::StatusOr<v1::FacebookPage> {
    return LoadPage(tx, id, base_url_);
  });
}

absl::StatusOr<v1::ListFacebookPagesResponse> PgChannelStore::ListPages(
    const v1::ListFacebookPagesRequest& request) {
  if (absl::Status s = CheckUuid("parent_app_id", request.parent_app_id(), false); !s.ok()) {
    return s;
  }
  return List<v1::ListFacebookPagesResponse>(
      pool_, absl::StrCat("pages:", request.parent_app_id()), request.page_size(),
      request.page_token(),
      absl::StrCat("SELECT ", kPageColumns,
                   " FROM ingress.facebook_pages p WHERE ($1::text = '' OR p.app_id = "
                   "NULLIF($1::text, '')::uuid) "
                   "ORDER BY p.name, p.id"),
      request.parent_app_id(),
      [this](const pqxx::row& r, auto* out) { *out->add_pages() = PageFromRow(r, base_url_); });
}

absl::StatusOr<v1::FacebookPage> PgChannelStore::UpdatePage(
    const v1::UpdateFacebookPageRequest& request) {
  const v1::FacebookPage& in = request.page();
  if (absl::Status s = CheckUuid("page.id", in.id(), true); !s.ok()) return s;
  if (absl::Status s = CheckPageMask(request.update_mask()); !s.ok()) return s;
  return pool_.Transact<v1::FacebookPage>([&](pqxx::work& tx) -> absl::StatusOr<v1::FacebookPage> {
    absl::StatusOr<v1::FacebookPage> current = LoadPage(tx, in.id(), base_url_, /*lock=*/true);
    if (!current.ok()) return current.status();
    v1::FacebookPage next = *current;
    ApplyMask(in, request.update_mask(), &next);
    DefaultSettings(next.mutable_settings());
    if (absl::Status s = CheckUpdatedPage(next, request.update_mask()); !s.ok()) return s;
    const common::v1::EndpointSettings& st = next.settings();
    tx.exec_params(kUpdatePage, in.id(), next.name(), st.language(), st.work_stream_id(),
                   st.customer_attachments_enabled(), st.agent_attachments_enabled(),
                   st.human_agent_tag_enabled(), st.automated_messages_enabled(),
                   st.survey_enabled());
    if (!next.page_access_token().empty()) {
      absl::Status s = Seal(tx, box_, kSealPageToken, in.id(), next.page_access_token(),
                            PageTokenContext(in.id()));
      if (!s.ok()) return s;
    }
    return LoadPage(tx, in.id(), base_url_);
  });
}

absl::Status PgChannelStore::DeletePage(const std::string& id) {
  return DeleteById(pool_, "facebook_pages", "page", id);
}

// --- WhatsApp senders ------------------------------------------------------------------------

absl::StatusOr<v1::WhatsAppSender> PgChannelStore::CreateSender(
    const v1::CreateWhatsAppSenderRequest& request) {
  const v1::WhatsAppSender& sender = request.sender();
  if (absl::Status s = CheckNewSender(sender); !s.ok()) return s;
  if (absl::Status s = CheckUuid("request_id", request.request_id(), false); !s.ok()) return s;
  common::v1::EndpointSettings settings = sender.settings();
  DefaultSettings(&settings);
  const std::string id = NewUuid();
  absl::StatusOr<SealedSecret> sealed = box_.Seal(sender.auth_token(), AuthTokenContext(id));
  if (!sealed.ok()) return sealed.status();
  return pool_.Transact<v1::WhatsAppSender>([&](pqxx::work& tx)
                                                -> absl::StatusOr<v1::WhatsAppSender> {
    auto first = Claim<v1::WhatsAppSender>(tx, request.request_id(), "CreateWhatsAppSender");
    if (!first.ok()) return first.status();
    if (first->has_value()) return **first;
    if (tx.exec_params(
              kInsertSender, id, sender.name(), sender.account_sid(), sealed->key_id,
              absl::BytesToHexString(sealed->blob), sender.phone_number(), settings.language(),
              settings.work_stream_id(), settings.customer_attachments_enabled(),
              settings.agent_attachments_enabled(), settings.human_agent_tag_enabled(),
              settings.automated_messages_enabled(), settings.survey_enabled(), RandomUrlToken())
            .empty()) {
      const pqxx::row other = tx.exec_params1(kSenderByPhone, sender.phone_number());
      return absl::AlreadyExistsError(absl::StrCat(
          "sender ", sender.phone_number(), " already exists: ", Quoted(other[1].as<std::string>()),
          " (id ", other[0].as<std::string>(), ")"));
    }
    absl::StatusOr<v1::WhatsAppSender> out = LoadSender(tx, id, base_url_);
    if (out.ok()) Answer(tx, request.request_id(), *out);
    return out;
  });
}

absl::StatusOr<v1::WhatsAppSender> PgChannelStore::GetSender(const std::string& id) {
  if (absl::Status s = CheckUuid("id", id, true); !s.ok()) return s;
  return pool_.Transact<v1::WhatsAppSender>(
      [&](pqxx::work& tx) -> absl::StatusOr<v1::WhatsAppSender> {
        return LoadSender(tx, id, base_url_);
      });
}

absl::StatusOr<v1::ListWhatsAppSendersResponse> PgChannelStore::ListSenders(
    const v1::ListWhatsAppSendersRequest& request) {
  return List<v1::ListWhatsAppSendersResponse>(
      pool_, "senders", request.page_size(), request.page_token(),
      absl::StrCat("SELECT ", kSenderColumns,
                   " FROM ingress.whatsapp_senders s WHERE $1::text = '' ORDER BY s.name, s.id"),
      "",
      [this](const pqxx::row& r, auto* out) { *out->add_senders() = SenderFromRow(r, base_url_); });
}

absl::StatusOr<v1::WhatsAppSender> PgChannelStore::UpdateSender(
    const v1::UpdateWhatsAppSenderRequest& request) {
  const v1::WhatsAppSender& in = request.sender();
  if (absl::Status s = CheckUuid("sender.id", in.id(), true); !s.ok()) return s;
  if (absl::Status s = CheckSenderMask(request.update_mask()); !s.ok()) return s;
  return pool_.Transact<v1::WhatsAppSender>(
      [&](pqxx::work& tx) -> absl::StatusOr<v1::WhatsAppSender> {
        absl::StatusOr<v1::WhatsAppSender> current =
            LoadSender(tx, in.id(), base_url_, /*lock=*/true);
        if (!current.ok()) return current.status();
        v1::WhatsAppSender next = *current;
        ApplyMask(in, request.update_mask(), &next);
        DefaultSettings(next.mutable_settings());
        if (absl::Status s = CheckUpdatedSender(next, request.update_mask()); !s.ok()) return s;
        const common::v1::EndpointSettings& st = next.settings();
        tx.exec_params(kUpdateSender, in.id(), next.name(), next.account_sid(), st.language(),
                       st.work_stream_id(), st.customer_attachments_enabled(),
                       st.agent_attachments_enabled(), st.human_agent_tag_enabled(),
                       st.automated_messages_enabled(), st.survey_enabled());
        if (!next.auth_token().empty()) {
          absl::Status s =
              Seal(tx, box_, kSealAuthToken, in.id(), next.auth_token(), AuthTokenContext(in.id()));
          if (!s.ok()) return s;
        }
        return LoadSender(tx, in.id(), base_url_);
      });
}

absl::Status PgChannelStore::DeleteSender(const std::string& id) {
  return DeleteById(pool_, "whatsapp_senders", "sender", id);
}

// --- Endpoints -------------------------------------------------------------------------------

absl::StatusOr<v1::GetEndpointSettingsResponse> PgChannelStore::GetEndpointSettings(
    const common::v1::EndpointRef& endpoint) {
  if (absl::Status s = CheckEndpointRef(endpoint); !s.ok()) return s;
  const bool messenger = endpoint.channel() == common::v1::CHANNEL_MESSENGER;
  const std::string sql =
      messenger ? absl::StrCat("SELECT ", kSettingsColumns,
                               " FROM ingress.facebook_pages WHERE page_id = $1")
                : absl::StrCat("SELECT ", kSettingsColumns,
                               " FROM ingress.whatsapp_senders WHERE phone_number = $1");
  return pool_.Transact<v1::GetEndpointSettingsResponse>(
      [&](pqxx::work& tx) -> absl::StatusOr<v1::GetEndpointSettingsResponse> {
        const pqxx::result r = tx.exec_params(sql, endpoint.id());
        if (r.empty()) {
          return absl::NotFoundError(absl::StrCat(messenger ? "page " : "sender ",
                                                  ShowValue(endpoint.id()), ": not configured"));
        }
        v1::GetEndpointSettingsResponse out;
        *out.mutable_settings() = SettingsFromRow(r[0], 0);
        out.set_name(r[0][7].as<std::string>());
        return out;
      });
}

// --- Key rotation ----------------------------------------------------------------------------

absl::StatusOr<int> PgChannelStore::ResealSecrets() {
  static const SecretColumn kColumns[] = {
      {"facebook_apps", "app_secret", &AppSecretContext},
      {"facebook_pages", "page_access_token", &PageTokenContext},
      {"whatsapp_senders", "auth_token", &AuthTokenContext},
  };
  int resealed = 0;
  for (const SecretColumn& c : kColumns) {
    absl::Status status = pool_.Transact([&](pqxx::work& tx) -> absl::Status {
      const pqxx::result rows = tx.exec_params(
          absl::StrCat("SELECT id::text, ", c.prefix, "_key_id, encode(", c.prefix,
                       "_sealed, 'hex') FROM ingress.", c.table, " WHERE ", c.prefix,
                       "_key_id IS NOT NULL AND ", c.prefix, "_key_id <> $1 FOR UPDATE"),
          box_.current_key_id());
      const std::string update =
          absl::StrCat("UPDATE ingress.", c.table, " SET ", c.prefix, "_key_id = $2, ", c.prefix,
                       "_sealed = decode($3, 'hex') WHERE id = $1::uuid");
      for (const pqxx::row& r : rows) {
        const std::string id = r[0].as<std::string>();
        absl::StatusOr<std::string> plain = box_.Open(
            {r[1].as<std::string>(), absl::HexStringToBytes(r[2].c_str())}, c.context(id));
        if (!plain.ok()) {
          log::Warn("secret not resealed",
                    {{"table", c.table}, {"id", id}, {"error", plain.status().message()}});
          continue;
        }
        if (absl::Status s = Seal(tx, box_, update.c_str(), id, *plain, c.context(id)); !s.ok()) {
          return s;
        }
        ++resealed;
      }
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
  }
  return resealed;
}

}  // namespace parley::ingress
