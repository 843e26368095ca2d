#include "services/session/pg_contact_store.h"

#include <algorithm>
#include <functional>
#include <optional>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "libs/common/paging.h"
#include "services/session/rows.h"

namespace parley::session {
namespace {

using Tx = pqxx::transaction_base;

constexpr char kContactColumns[] =
    "SELECT ct.id::text, ct.display_name, ct.first_name, ct.last_name, ct.email, "
    "ct.phone_number, ct.locale, ct.timezone_offset_hours, ct.verified, ct.auto_created, "
    "session.us(ct.created_at), session.us(ct.updated_at), ct.merged_into::text "
    "FROM session.contacts ct ";

constexpr char kIdentities[] = R"sql(
SELECT channel, endpoint_id, user_id, profile_name, session.us(linked_at),
       session.us(last_seen_at)
FROM session.channel_identities WHERE contact_id = $1::uuid ORDER BY linked_at, id)sql";

// $1 query (LIKE-escaped, lower case), $2 email, $3 phone, $4 channel, $5 endpoint, $6 user,
// $7 offset, $8 limit.
constexpr char kSearch[] = R"sql(
WHERE ct.merged_into IS NULL
  AND ($1::text = '' OR lower(ct.display_name) LIKE $1 || '%' OR
       lower(ct.display_name) LIKE '% ' || $1 || '%' OR lower(ct.first_name) LIKE $1 || '%' OR
       lower(ct.last_name) LIKE $1 || '%' OR lower(ct.email) LIKE $1 || '%' OR
       ct.phone_number LIKE $1 || '%')
  AND ($2::text = '' OR lower(ct.email) = lower($2::text))
  AND ($3::text = '' OR ct.phone_number = $3::text)
  AND ($6::text = '' OR EXISTS (
        SELECT 1 FROM session.channel_identities i WHERE i.contact_id = ct.id
        AND i.channel = $4::smallint AND i.endpoint_id = $5::text AND i.user_id = $6::text))
ORDER BY (lower(ct.display_name) LIKE $1 || '%') DESC, ct.verified DESC, ct.display_name, ct.id
OFFSET $7 LIMIT $8)sql";

// $1 display, $2 first, $3 last, $4 email, $5 phone, $6 locale, $7 tz, $8 verified.
constexpr char kInsert[] = R"sql(
INSERT INTO session.contacts (display_name, first_name, last_name, email, phone_number, locale,
                              timezone_offset_hours, verified)
VALUES ($1, $2, $3, $4, $5, $6, $7::double precision, $8) RETURNING id::text)sql";

constexpr char kIdentityForUpdate[] = R"sql(
SELECT i.id::text, i.contact_id::text, ct.auto_created, ct.display_name
FROM session.channel_identities i JOIN session.contacts ct ON ct.id = i.contact_id
WHERE i.channel = $1::smallint AND i.endpoint_id = $2::text AND i.user_id = $3::text
FOR UPDATE OF i, ct)sql";

// $1 identity, $2 from contact, $3 to contact.
constexpr char kMoveIdentity[] = R"sql(
WITH i AS (UPDATE session.channel_identities SET contact_id = $3::uuid, linked_at = now()
           WHERE id = $1::uuid)
UPDATE session.conversations SET contact_id = $3::uuid, updated_at = now()
WHERE identity_id = $1::uuid AND contact_id = $2::uuid)sql";

// Removes an auto-created contact left with nothing.
constexpr char kDropIfEmpty[] = R"sql(
DELETE FROM session.contacts ct
WHERE ct.id = $1::uuid AND ct.auto_created
  AND NOT EXISTS (SELECT 1 FROM session.channel_identities WHERE contact_id = ct.id)
  AND NOT EXISTS (SELECT 1 FROM session.conversations WHERE contact_id = ct.id)
  AND NOT EXISTS (SELECT 1 FROM session.contacts m WHERE m.merged_into = ct.id))sql";

constexpr char kMerge[] = R"sql(
WITH i AS (UPDATE session.channel_identities SET contact_id = $1::uuid WHERE contact_id = $2::uuid),
     c AS (UPDATE session.conversations SET contact_id = $1::uuid, updated_at = now()
           WHERE contact_id = $2::uuid),
     m AS (UPDATE session.contacts SET merged_into = $1::uuid WHERE merged_into = $2::uuid),
     s AS (SELECT * FROM session.contacts WHERE id = $2::uuid)
UPDATE session.contacts t SET
  display_name = CASE WHEN t.display_name = '' THEN s.display_name ELSE t.display_name END,
  first_name = CASE WHEN t.first_name = '' THEN s.first_name ELSE t.first_name END,
  last_name = CASE WHEN t.last_name = '' THEN s.last_name ELSE t.last_name END,
  email = CASE WHEN t.email = '' THEN s.email ELSE t.email END,
  phone_number = CASE WHEN t.phone_number = '' THEN s.phone_number ELSE t.phone_number END,
  locale = CASE WHEN t.locale = '' THEN s.locale ELSE t.locale END,
  timezone_offset_hours = coalesce(t.timezone_offset_hours, s.timezone_offset_hours),
  verified = t.verified OR s.verified, auto_created = t.auto_created AND s.auto_created,
  updated_at = now()
FROM s WHERE t.id = $1::uuid)sql";

std::string ContactNotFound(const std::string& id) {
  return absl::StrCat("contact ", id, ": not found");
}

v1::Contact ContactFromRow(Tx& tx, const pqxx::row& r) {
  v1::Contact c;
  c.set_id(r[0].as<std::string>());
  c.set_display_name(r[1].as<std::string>());
  c.set_first_name(r[2].as<std::string>());
  c.set_last_name(r[3].as<std::string>());
  c.set_email(r[4].as<std::string>());
  c.set_phone_number(r[5].as<std::string>());
  c.set_locale(r[6].as<std::string>());
  if (!r[7].is_null()) c.set_timezone_offset_hours(r[7].as<double>());
  c.set_verified(r[8].as<bool>());
  c.set_auto_created(r[9].as<bool>());
  SetTimestamp(r[10], [&] { return c.mutable_create_time(); });
  SetTimestamp(r[11], [&] { return c.mutable_update_time(); });
  for (const pqxx::row& i : tx.exec_params(kIdentities, c.id())) {
    v1::LinkedIdentity* li = c.add_identities();
    li->mutable_identity()->mutable_endpoint()->set_channel(
        static_cast<common::v1::Channel>(i[0].as<int>()));
    li->mutable_identity()->mutable_endpoint()->set_id(i[1].as<std::string>());
    li->mutable_identity()->set_user_id(i[2].as<std::string>());
    li->set_profile_name(i[3].as<std::string>());
    SetTimestamp(i[4], [&] { return li->mutable_link_time(); });
    SetTimestamp(i[5], [&] { return li->mutable_last_seen_time(); });
  }
  return c;
}

absl::StatusOr<v1::Contact> Load(Tx& tx, const std::string& id, bool for_update = false) {
  const pqxx::result rows = tx.exec_params(
      absl::StrCat(kContactColumns, "WHERE ct.id = $1::uuid", for_update ? " FOR UPDATE" : ""), id);
  if (rows.empty()) return absl::NotFoundError(ContactNotFound(id));
  if (!rows[0][12].is_null()) {
    return absl::NotFoundError(
        absl::StrCat("contact ", id, ": merged into contact ", rows[0][12].as<std::string>()));
  }
  return ContactFromRow(tx, rows[0]);
}

std::string IdentityName(const common::v1::ChannelIdentity& i) {
  return absl::StrCat(common::v1::Channel_Name(i.endpoint().channel()), " identity ", i.user_id(),
                      " on ", i.endpoint().id());
}

// Moves `identity` to `contact_id` (which must exist and be locked by the caller).
absl::Status LinkIn(Tx& tx, const std::string& contact_id,
                    const common::v1::ChannelIdentity& identity) {
  const pqxx::result rows =
      tx.exec_params(kIdentityForUpdate, static_cast<int>(identity.endpoint().channel()),
                     identity.endpoint().id(), identity.user_id());
  if (rows.empty()) {
    return absl::NotFoundError(
        absl::StrCat(IdentityName(identity), ": not found (Parley has never heard from it)"));
  }
  const std::string owner = rows[0][1].as<std::string>();
  if (owner == contact_id) return absl::OkStatus();
  if (!rows[0][2].as<bool>()) {
    return absl::FailedPreconditionError(absl::StrCat(
        IdentityName(identity), " belongs to contact ", owner, " (", rows[0][3].as<std::string>(),
        "): unlink it there first, or merge the contacts"));
  }
  tx.exec_params(kMoveIdentity, rows[0][0].as<std::string>(), owner, contact_id);
  tx.exec_params(kDropIfEmpty, owner);
  return absl::OkStatus();
}

std::optional<double> Tz(const v1::Contact& c) {
  if (!c.has_timezone_offset_hours()) return std::nullopt;
  return c.timezone_offset_hours();
}

std::string LikePrefix(const std::string& query) {
  return absl::StrReplaceAll(absl::AsciiStrToLower(query),
                             {{"\\", "\\\\"}, {"%", "\\%"}, {"_", "\\_"}});
}

// $1 request id, $2 kind. No row when the request id was seen before (after the transaction
// that recorded it committed).
constexpr char kClaimRequest[] = R"sql(
INSERT INTO session.contact_requests (request_id, kind) VALUES ($1::uuid, $2)
ON CONFLICT (request_id) DO NOTHING RETURNING 1)sql";

constexpr char kEarlierRequest[] =
    "SELECT kind, contact_id::text FROM session.contact_requests WHERE request_id = $1::uuid";

constexpr char kAnswerRequest[] =
    "UPDATE session.contact_requests SET contact_id = $2::uuid WHERE request_id = $1::uuid";

// Runs `apply` (which returns the contact id it produced) once per request id: a repeated id
// gets the contact the first call produced, as it is now. No request id: always applies.
absl::StatusOr<v1::Contact> Once(pqxx::work& tx, const std::string& request_id,
                                 const std::string& kind,
                                 const std::function<absl::StatusOr<std::string>()>& apply) {
  if (!request_id.empty() && tx.exec_params(kClaimRequest, request_id, kind).empty()) {
    const pqxx::row earlier = tx.exec_params1(kEarlierRequest, request_id);
    if (earlier[0].as<std::string>() != kind) {
      return absl::FailedPreconditionError(absl::StrCat("request_id ", request_id,
                                                        ": already used by a ",
                                                        earlier[0].as<std::string>(), " request"));
    }
    return Load(tx, earlier[1].as<std::string>());
  }
  absl::StatusOr<std::string> id = apply();
  if (!id.ok()) return id.status();
  if (!request_id.empty()) tx.exec_params(kAnswerRequest, request_id, *id);
  return Load(tx, *id);
}

}  // namespace

absl::StatusOr<v1::SearchContactsResponse> PgContactStore::Search(
    const v1::SearchContactsRequest& request) {
  absl::StatusOr<Page> page = ParsePage("contacts", request.page_size(), request.page_token());
  if (!page.ok()) return page.status();
  return pool_.Transact<v1::SearchContactsResponse>(
      [&](pqxx::work& tx) -> absl::StatusOr<v1::SearchContactsResponse> {
        const pqxx::result rows = tx.exec_params(
            absl::StrCat(kContactColumns, kSearch), LikePrefix(request.query()), request.email(),
            request.phone_number(), static_cast<int>(request.identity().endpoint().channel()),
            request.identity().endpoint().id(), request.identity().user_id(), page->offset,
            page->size + 1);
        v1::SearchContactsResponse out;
        for (int i = 0; i < std::min<int>(rows.size(), page->size); ++i) {
          *out.add_contacts() = ContactFromRow(tx, rows[i]);
        }
        if (static_cast<int>(rows.size()) > page->size) {
          out.set_next_page_token(NextPageToken("contacts", *page));
        }
        return out;
      });
}

absl::StatusOr<v1::Contact> PgContactStore::Get(const std::string& contact_id) {
  return pool_.Transact<v1::Contact>(
      [&](pqxx::work& tx) -> absl::StatusOr<v1::Contact> { return Load(tx, contact_id); });
}

absl::StatusOr<v1::Contact> PgContactStore::Create(const v1::CreateContactRequest& request) {
  const v1::Contact& c = request.contact();
  return pool_.Transact<v1::Contact>([&](pqxx::work& tx) -> absl::StatusOr<v1::Contact> {
    return Once(tx, request.request_id(), "create", [&]() -> absl::StatusOr<std::string> {
      const std::string id =
          tx.exec_params1(kInsert, c.display_name(), c.first_name(), c.last_name(), c.email(),
                          c.phone_number(), c.locale(), Tz(c), c.verified())[0]
              .as<std::string>();
      if (!request.link_identity().user_id().empty()) {
        if (absl::Status s = LinkIn(tx, id, request.link_identity()); !s.ok()) return s;
      }
      return id;
    });
  });
}

absl::StatusOr<v1::Contact> PgContactStore::Update(const v1::UpdateContactRequest& request) {
  const v1::Contact& c = request.contact();
  return pool_.Transact<v1::Contact>([&](pqxx::work& tx) -> absl::StatusOr<v1::Contact> {
    absl::StatusOr<v1::Contact> current = Load(tx, c.id(), /*for_update=*/true);
    if (!current.ok()) return current.status();
    v1::Contact next = *current;
    for (const std::string& path : request.update_mask().paths()) {
      const auto* field = v1::Contact::descriptor()->FindFieldByName(path);
      const auto* reflection = v1::Contact::GetReflection();
      if (field->has_presence() && !reflection->HasField(c, field)) {
        reflection->ClearField(&next, field);
        continue;
      }
      switch (field->cpp_type()) {
        case google::protobuf::FieldDescriptor::CPPTYPE_STRING:
          reflection->SetString(&next, field, reflection->GetString(c, field));
          break;
        case google::protobuf::FieldDescriptor::CPPTYPE_BOOL:
          reflection->SetBool(&next, field, reflection->GetBool(c, field));
          break;
        default:
          reflection->SetDouble(&next, field, reflection->GetDouble(c, field));
      }
    }
    tx.exec_params(
        "UPDATE session.contacts SET display_name = $2, first_name = $3, last_name = $4, "
        "email = $5, phone_number = $6, locale = $7, timezone_offset_hours = $8::double precision, "
        "verified = $9, updated_at = now() WHERE id = $1::uuid",
        c.id(), next.display_name(), next.first_name(), next.last_name(), next.email(),
        next.phone_number(), next.locale(), Tz(next), next.verified());
    return Load(tx, c.id());
  });
}

absl::StatusOr<v1::Contact> PgContactStore::Link(const v1::LinkIdentityRequest& request) {
  return pool_.Transact<v1::Contact>([&](pqxx::work& tx) -> absl::StatusOr<v1::Contact> {
    if (absl::Status s = Load(tx, request.contact_id(), true).status(); !s.ok()) return s;
    if (absl::Status s = LinkIn(tx, request.contact_id(), request.identity()); !s.ok()) return s;
    return Load(tx, request.contact_id());
  });
}

absl::StatusOr<v1::UnlinkIdentityResponse> PgContactStore::Unlink(
    const v1::UnlinkIdentityRequest& request) {
  const common::v1::ChannelIdentity& identity = request.identity();
  return pool_.Transact<v1::UnlinkIdentityResponse>(
      [&](pqxx::work& tx) -> absl::StatusOr<v1::UnlinkIdentityResponse> {
        if (absl::Status s = Load(tx, request.contact_id(), true).status(); !s.ok()) return s;
        const pqxx::result rows =
            tx.exec_params(kIdentityForUpdate, static_cast<int>(identity.endpoint().channel()),
                           identity.endpoint().id(), identity.user_id());
        if (rows.empty() || rows[0][1].as<std::string>() != request.contact_id()) {
          return absl::NotFoundError(absl::StrCat(
              IdentityName(identity), ": not linked to contact ", request.contact_id()));
        }
        // The new contact takes the identity; past conversations stay where they are.
        const std::string fresh =
            tx.exec_params1(
                  "INSERT INTO session.contacts (display_name, auto_created) "
                  "SELECT profile_name, true FROM session.channel_identities WHERE id = $1::uuid "
                  "RETURNING id::text",
                  rows[0][0].as<std::string>())[0]
                .as<std::string>();
        tx.exec_params(
            "UPDATE session.channel_identities SET contact_id = $2::uuid, linked_at = now() "
            "WHERE id = $1::uuid",
            rows[0][0].as<std::string>(), fresh);
        v1::UnlinkIdentityResponse out;
        absl::StatusOr<v1::Contact> c = Load(tx, request.contact_id());
        if (!c.ok()) return c.status();
        *out.mutable_contact() = *std::move(c);
        out.set_new_contact_id(fresh);
        return out;
      });
}

absl::StatusOr<v1::Contact> PgContactStore::Merge(const v1::MergeContactsRequest& request) {
  return pool_.Transact<v1::Contact>([&](pqxx::work& tx) -> absl::StatusOr<v1::Contact> {
    return Once(tx, request.request_id(), "merge", [&]() -> absl::StatusOr<std::string> {
      // Lock both in a fixed order.
      const bool target_first = request.target_contact_id() < request.source_contact_id();
      for (const std::string& id :
           target_first
               ? std::vector<std::string>{request.target_contact_id(), request.source_contact_id()}
               : std::vector<std::string>{request.source_contact_id(),
                                          request.target_contact_id()}) {
        if (absl::Status s = Load(tx, id, true).status(); !s.ok()) return s;
      }
      tx.exec_params(kMerge, request.target_contact_id(), request.source_contact_id());
      tx.exec_params(
          "UPDATE session.contacts SET merged_into = $1::uuid, updated_at = now() "
          "WHERE id = $2::uuid",
          request.target_contact_id(), request.source_contact_id());
      return request.target_contact_id();
    });
  });
}

absl::StatusOr<v1::GetCustomerSummaryResponse> PgContactStore::Summary(
    const v1::GetCustomerSummaryRequest& request) {
  const int limit =
      request.max_conversations() == 0 ? 10 : std::min(request.max_conversations(), 100);
  return pool_.Transact<v1::GetCustomerSummaryResponse>(
      [&](pqxx::work& tx) -> absl::StatusOr<v1::GetCustomerSummaryResponse> {
        std::string contact_id;
        std::string exclude;
        switch (request.key_case()) {
          case v1::GetCustomerSummaryRequest::kContactId:
            contact_id = request.contact_id();
            break;
          case v1::GetCustomerSummaryRequest::kConversationId: {
            const pqxx::result r = tx.exec_params(
                "SELECT contact_id::text FROM session.conversations WHERE id = $1::uuid",
                request.conversation_id());
            if (r.empty()) {
              return absl::NotFoundError(
                  absl::StrCat("conversation ", request.conversation_id(), ": not found"));
            }
            contact_id = r[0][0].as<std::string>();
            exclude = request.conversation_id();
            break;
          }
          default: {
            const auto& i = request.identity();
            const pqxx::result r = tx.exec_params(
                "SELECT contact_id::text FROM session.channel_identities WHERE channel = "
                "$1::smallint AND endpoint_id = $2::text AND user_id = $3::text",
                static_cast<int>(i.endpoint().channel()), i.endpoint().id(), i.user_id());
            if (r.empty()) return absl::NotFoundError(absl::StrCat(IdentityName(i), ": not found"));
            contact_id = r[0][0].as<std::string>();
          }
        }
        v1::GetCustomerSummaryResponse out;
        absl::StatusOr<v1::Contact> c = Load(tx, contact_id);
        if (!c.ok()) return c.status();
        *out.mutable_contact() = *std::move(c);
        const pqxx::result rows = tx.exec_params(
            absl::StrCat("SELECT ", kSummaryColumns,
                         " FROM session.conversations c WHERE c.contact_id = $1::uuid "
                         "AND c.id::text <> $2::text ORDER BY c.opened_at DESC, c.id LIMIT $3"),
            contact_id, exclude, limit);
        for (const pqxx::row& r : rows) *out.add_conversations() = SummaryFromRow(r);
        out.set_total_conversations(
            tx.exec_params1(
                  "SELECT count(*) FROM session.conversations WHERE contact_id = $1::uuid",
                  contact_id)[0]
                .as<int>());
        return out;
      });
}

}  // namespace parley::session
