#include "services/ingress/channel_rows.h"

#include <openssl/rand.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace parley::ingress {
namespace {

#define PARLEY_US(col) "(extract(epoch FROM " col ") * 1000000)::bigint"

void RandomBytes(unsigned char* out, int n) {
  // RAND_bytes fails only when OpenSSL cannot seed itself: nothing safe can be generated then.
  if (RAND_bytes(out, n) != 1) {
    std::fprintf(stderr, "RAND_bytes failed: no secure randomness\n");
    std::abort();
  }
}

void SetTime(const pqxx::field& micros, google::protobuf::Timestamp* out) {
  const int64_t us = micros.as<int64_t>();
  int64_t seconds = us / 1000000;
  int64_t rest = us % 1000000;
  if (rest < 0) {
    rest += 1000000;
    --seconds;
  }
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>(rest * 1000));
}

}  // namespace

std::string NewUuid() {
  unsigned char b[16];
  RandomBytes(b, sizeof b);
  b[6] = (b[6] & 0x0f) | 0x40;  // version 4
  b[8] = (b[8] & 0x3f) | 0x80;  // RFC 4122 variant
  return absl::StrFormat("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                         b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
                         b[12], b[13], b[14], b[15]);
}

std::string RandomUrlToken() {
  unsigned char b[24];
  RandomBytes(b, sizeof b);
  return absl::WebSafeBase64Escape(absl::string_view(reinterpret_cast<const char*>(b), sizeof b));
}

const char* const kAppColumns =
    "a.id::text, a.name, a.meta_app_id, a.app_secret_sealed IS NOT NULL, "
    "(SELECT count(*) FROM ingress.facebook_pages p WHERE p.app_id = a.id)::int, " PARLEY_US(
        "a.created_at") ", " PARLEY_US("a.updated_at");

const char* const kPageColumns =
    "p.id::text, p.page_id, p.app_id::text, p.name, p.page_access_token_sealed IS NOT NULL, "
    "p.language, p.work_stream_id::text, p.customer_attachments_enabled, "
    "p.agent_attachments_enabled, p.human_agent_tag_enabled, p.automated_messages_enabled, "
    "p.survey_enabled, p.callback_key, p.verify_token, " PARLEY_US("p.created_at") ", " PARLEY_US(
        "p.updated_at");

const char* const kSenderColumns =
    "s.id::text, s.name, s.account_sid, s.auth_token_sealed IS NOT NULL, s.phone_number, "
    "s.language, s.work_stream_id::text, s.customer_attachments_enabled, "
    "s.agent_attachments_enabled, s.human_agent_tag_enabled, s.automated_messages_enabled, "
    "s.survey_enabled, s.callback_key, " PARLEY_US("s.created_at") ", " PARLEY_US("s.updated_at");

#undef PARLEY_US

common::v1::EndpointSettings SettingsFromRow(const pqxx::row& row, int first) {
  common::v1::EndpointSettings s;
  s.set_language(row[first].as<std::string>());
  s.set_work_stream_id(row[first + 1].as<std::string>());
  s.set_customer_attachments_enabled(row[first + 2].as<bool>());
  s.set_agent_attachments_enabled(row[first + 3].as<bool>());
  s.set_human_agent_tag_enabled(row[first + 4].as<bool>());
  s.set_automated_messages_enabled(row[first + 5].as<bool>());
  s.set_survey_enabled(row[first + 6].as<bool>());
  return s;
}

v1::FacebookApp AppFromRow(const pqxx::row& row) {
  v1::FacebookApp a;
  a.set_id(row[0].as<std::string>());
  a.set_name(row[1].as<std::string>());
  a.set_meta_app_id(row[2].as<std::string>());
  a.set_app_secret_set(row[3].as<bool>());
  a.set_page_count(row[4].as<int>());
  SetTime(row[5], a.mutable_create_time());
  SetTime(row[6], a.mutable_update_time());
  return a;
}

v1::FacebookPage PageFromRow(const pqxx::row& row, const std::string& base_url, int first) {
  v1::FacebookPage p;
  p.set_id(row[first].as<std::string>());
  p.set_page_id(row[first + 1].as<std::string>());
  p.set_parent_app_id(row[first + 2].as<std::string>());
  p.set_name(row[first + 3].as<std::string>());
  p.set_page_access_token_set(row[first + 4].as<bool>());
  *p.mutable_settings() = SettingsFromRow(row, first + 5);
  p.set_callback_uri(MessengerCallbackUri(base_url, row[first + 12].as<std::string>()));
  p.set_verify_token(row[first + 13].as<std::string>());
  SetTime(row[first + 14], p.mutable_create_time());
  SetTime(row[first + 15], p.mutable_update_time());
  return p;
}

v1::WhatsAppSender SenderFromRow(const pqxx::row& row, const std::string& base_url, int first) {
  v1::WhatsAppSender s;
  s.set_id(row[first].as<std::string>());
  s.set_name(row[first + 1].as<std::string>());
  s.set_account_sid(row[first + 2].as<std::string>());
  s.set_auth_token_set(row[first + 3].as<bool>());
  s.set_phone_number(row[first + 4].as<std::string>());
  *s.mutable_settings() = SettingsFromRow(row, first + 5);
  const std::string key = row[first + 12].as<std::string>();
  s.set_callback_uri(TwilioCallbackUri(base_url, key));
  s.set_status_callback_uri(TwilioStatusCallbackUri(base_url, key));
  SetTime(row[first + 13], s.mutable_create_time());
  SetTime(row[first + 14], s.mutable_update_time());
  return s;
}

std::string MessengerCallbackUri(absl::string_view base_url, absl::string_view key) {
  return absl::StrCat(base_url, "/webhooks/messenger/", key);
}

std::string TwilioCallbackUri(absl::string_view base_url, absl::string_view key) {
  return absl::StrCat(base_url, "/webhooks/twilio/", key);
}

std::string TwilioStatusCallbackUri(absl::string_view base_url, absl::string_view key) {
  return absl::StrCat(base_url, "/webhooks/twilio/", key, "/status");
}

}  // namespace parley::ingress
