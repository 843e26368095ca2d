// One WhatsApp message through the Twilio Messages API:
//   POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json   (Basic auth AccountSid:AuthToken)
//   To=whatsapp:<user>&From=whatsapp:<sender>&Body=...&MediaUrl=...&StatusCallback=...
// form-encoded. Twilio answers 201 with the message's `sid`; delivery progress then arrives at
// StatusCallback (the sender's status Callback URI). One call is one attempt; the answer is
// classified by provider_errors.h. The Auth Token never reaches a log or an outcome.
#pragma once

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "libs/http_client/http_client.h"
#include "services/ingress/provider_errors.h"

namespace parley::ingress {

struct TwilioMessage {
  std::string account_sid;
  std::string auth_token;
  std::string from_number;  // the sender, E.164 ("+14155238886")
  std::string to_user;      // the customer: E.164 or business-scoped id ("IN.2081978709342942")
  std::string body;         // may be empty when media_urls is not
  std::vector<std::string> media_urls;
  std::string status_callback;  // empty: none
};

struct TwilioOptions {
  std::string base_url = "https://api.twilio.com";
  absl::Duration timeout = absl::Seconds(20);
};

// The form parameters of the request for `message`, in the order sent.
std::vector<std::pair<std::string, std::string>> TwilioRequestParams(const TwilioMessage& message);

class TwilioSender {
 public:
  TwilioSender(http_client::Client& client, TwilioOptions options)
      : client_(client), options_(std::move(options)) {}

  ProviderOutcome Send(const TwilioMessage& message) const;

 private:
  http_client::Client& client_;
  TwilioOptions options_;
};

}  // namespace parley::ingress
