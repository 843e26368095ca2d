#include "services/ingress/graph_sender.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace parley::ingress {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void Key(Writer& w, const char* key) { w.Key(key); }
void Str(Writer& w, const std::string& value) {
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

}  // namespace

std::string AppSecretProof(absl::string_view app_secret, absl::string_view access_token) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), app_secret.data(), static_cast<int>(app_secret.size()),
       reinterpret_cast<const unsigned char*>(access_token.data()), access_token.size(), digest,
       &len);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), static_cast<size_t>(len)));
}

std::string GraphRequestBody(const GraphMessage& m) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  Key(w, "recipient");
  w.StartObject();
  Key(w, "id");
  Str(w, m.recipient_psid);
  w.EndObject();
  Key(w, "messaging_type");
  w.String(m.human_agent_tag ? "MESSAGE_TAG" : "RESPONSE");
  if (m.human_agent_tag) {
    Key(w, "tag");
    w.String("HUMAN_AGENT");
  }
  Key(w, "message");
  w.StartObject();
  if (!m.attachment_url.empty()) {
    Key(w, "attachment");
    w.StartObject();
    Key(w, "type");
    Str(w, m.attachment_type);
    Key(w, "payload");
    w.StartObject();
    Key(w, "url");
    Str(w, m.attachment_url);
    Key(w, "is_reusable");
    w.Bool(false);
    w.EndObject();
    w.EndObject();
  } else {
    Key(w, "text");
    Str(w, m.text);
    if (!m.quick_replies.empty()) {
      Key(w, "quick_replies");
      w.StartArray();
      for (const GraphQuickReply& q : m.quick_replies) {
        w.StartObject();
        Key(w, "content_type");
        w.String("text");
        Key(w, "title");
        Str(w, q.title);
        Key(w, "payload");
        Str(w, q.payload);
        w.EndObject();
      }
      w.EndArray();
    }
  }
  if (!m.metadata.empty()) {
    Key(w, "metadata");
    Str(w, m.metadata);
  }
  w.EndObject();
  if (!m.reply_to_mid.empty()) {
    Key(w, "reply_to");
    w.StartObject();
    Key(w, "mid");
    Str(w, m.reply_to_mid);
    w.EndObject();
  }
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

ProviderOutcome GraphSender::Send(const GraphMessage& m) const {
  std::string url =
      absl::StrCat(absl::StripSuffix(options_.base_url, "/"), "/", options_.version, "/",
                   http_client::UrlEscape(m.page_id), "/messages",
                   "?access_token=", http_client::UrlEscape(m.page_access_token),
                   "&appsecret_proof=", AppSecretProof(m.app_secret, m.page_access_token));
  absl::StatusOr<http_client::Response> response =
      client_.Send({.method = "POST",
                    .url = std::move(url),
                    .headers = {{"Content-Type", "application/json"}},
                    .body = GraphRequestBody(m),
                    .timeout = options_.timeout,
                    .max_response_bytes = 1 << 20});
  if (!response.ok()) return ClassifyTransportFailure(response.status());
  return ClassifyGraphReply({.http_status = response->status,
                             .body = response->body,
                             .retry_after = response->Header("Retry-After")},
                            absl::Now());
}

}  // namespace parley::ingress
