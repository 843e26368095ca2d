// One message to a Messenger user through the Graph Send API:
//   POST {base}/{version}/{page-id}/messages?access_token=...&appsecret_proof=...
//   {"recipient":{"id":PSID},"messaging_type":"RESPONSE"|"MESSAGE_TAG","tag":"HUMAN_AGENT",
//    "message":{"text":...,"quick_replies":[...],"metadata":...} or
//              {"attachment":{"type":"image","payload":{"url":...,"is_reusable":false}}},
//    "reply_to":{"mid":...}}
// appsecret_proof is hex HMAC-SHA256(key = App Secret, message = Page Access Token), so a
// stolen token is useless without the secret. One call is one attempt; the answer is classified
// by provider_errors.h. Neither the token nor the proof ever reaches a log or an outcome.
#pragma once

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "libs/http_client/http_client.h"
#include "services/ingress/provider_errors.h"

namespace parley::ingress {

struct GraphQuickReply {
  std::string title;
  std::string payload;
};

struct GraphMessage {
  std::string page_id;
  std::string page_access_token;
  std::string app_secret;
  std::string recipient_psid;
  bool human_agent_tag = false;  // MESSAGE_TAG + HUMAN_AGENT instead of RESPONSE
  // Either text (with optional quick replies) or one attachment by URL.
  std::string text;
  std::vector<GraphQuickReply> quick_replies;
  std::string attachment_type;  // "image", "audio", "video" or "file"
  std::string attachment_url;
  std::string reply_to_mid;  // empty: not a quoted reply
  std::string metadata;      // echoed back in the message_echoes webhook
};

struct GraphOptions {
  std::string base_url = "https://graph.facebook.com";
  std::string version = "v21.0";
  absl::Duration timeout = absl::Seconds(20);
};

// hex(HMAC-SHA256(app_secret, access_token)).
std::string AppSecretProof(absl::string_view app_secret, absl::string_view access_token);

// The JSON body of the Send API request for `message`.
std::string GraphRequestBody(const GraphMessage& message);

class GraphSender {
 public:
  GraphSender(http_client::Client& client, GraphOptions options)
      : client_(client), options_(std::move(options)) {}

  ProviderOutcome Send(const GraphMessage& message) const;

 private:
  http_client::Client& client_;
  GraphOptions options_;
};

}  // namespace parley::ingress
