// What ingress knows about its configured channels, read on every webhook and every send.
// The PostgreSQL-backed implementation (channel_cache.h) keeps an in-memory snapshot that is
// refreshed from the database within seconds of a change made by any replica; webhooks and
// outbound sends never query PostgreSQL themselves. Secrets in these records are decrypted:
// never log them.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "parley/common/v1/common.pb.h"

namespace parley::ingress {

// A Facebook application with its decrypted App Secret.
struct MessengerApp {
  std::string record_id;    // Parley id (FacebookApp.id)
  std::string meta_app_id;  // Meta's App ID, matches `app_id` of echoes
  std::string app_secret;   // keys X-Hub-Signature-256 and appsecret_proof; empty when unset
};

// A Facebook page with its decrypted Page Access Token.
struct MessengerPage {
  std::string record_id;          // Parley id (FacebookPage.id)
  std::string page_id;            // Facebook Page ID, the EndpointRef id
  std::string app_record_id;      // owning MessengerApp.record_id
  std::string page_access_token;  // empty when unset
  std::string verify_token;       // answered in the hub.verify_token handshake
  std::string callback_key;       // last path segment of the page's Callback URI
  parley::common::v1::EndpointSettings settings;
};

// A Twilio WhatsApp sender with its decrypted Auth Token.
struct WhatsAppSender {
  std::string record_id;     // Parley id (WhatsAppSender.id)
  std::string phone_number;  // E.164 with "+", no "whatsapp:" prefix; the EndpointRef id
  std::string account_sid;   // "AC" + 32 hex
  std::string auth_token;    // keys X-Twilio-Signature and Basic auth; empty when unset
  std::string callback_key;  // last path segment of the inbound and status callback URIs
  parley::common::v1::EndpointSettings settings;
};

// A Messenger Callback URI resolved: the application whose secret checks the signature, and the
// page whose URI it is (its verify token answers the handshake).
struct MessengerCallback {
  MessengerApp app;
  MessengerPage page;
};

class ChannelDirectory {
 public:
  virtual ~ChannelDirectory() = default;

  // By the last path segment of a Messenger Callback URI (/webhooks/messenger/<key>).
  virtual std::shared_ptr<const MessengerCallback> FindMessengerCallback(
      absl::string_view callback_key) const = 0;
  // By Facebook Page ID; null when no application has that page.
  virtual std::shared_ptr<const MessengerPage> FindPage(absl::string_view page_id) const = 0;
  // By Parley id of an application; null when unknown.
  virtual std::shared_ptr<const MessengerApp> FindApp(absl::string_view app_record_id) const = 0;
  // By the last path segment of a sender's callback URIs (/webhooks/twilio/<key>[/status]).
  virtual std::shared_ptr<const WhatsAppSender> FindWhatsAppCallback(
      absl::string_view callback_key) const = 0;
  // By the sender's number in E.164 ("+14155238886"); null when unknown.
  virtual std::shared_ptr<const WhatsAppSender> FindSender(
      absl::string_view phone_number) const = 0;
  // By the Twilio account and the number a webhook body names (AccountSid, and To or From):
  // null unless a sender has that number under that account.
  std::shared_ptr<const WhatsAppSender> FindSenderOfAccount(absl::string_view account_sid,
                                                            absl::string_view phone_number) const {
    std::shared_ptr<const WhatsAppSender> sender = FindSender(phone_number);
    return sender != nullptr && sender->account_sid == account_sid ? sender : nullptr;
  }
};

}  // namespace parley::ingress
