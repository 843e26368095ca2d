// parley-provider-sim: Facebook's and Twilio's servers, as far as Parley talks to them, over
// real HTTP (libs/http). What it does:
//   - answers the Graph Send API (POST /{version}/{page-id}/messages) and the Twilio Messages
//     API (POST /2010-04-01/Accounts/{sid}/Messages.json) with the providers' success bodies,
//     checking what the providers check (access_token and appsecret_proof of registered pages,
//     Basic auth of registered accounts, required fields) with the providers' error bodies;
//   - records every request for tests (GET /_sim/requests[?api=graph|twilio|media]);
//   - answers scripted errors for the next N requests (POST /_sim/fail, any fixture body);
//   - serves media: GET /_sim/media/<name> (public, like fbcdn) and Twilio media at
//     GET /2010-04-01/Accounts/{sid}/Messages/{sid}/Media/{sid} (Basic auth), and
//     /_sim/media/status/<code> which answers that status (expired URLs: 403/404/410);
//   - sends signed webhooks to ingress exactly as Meta and Twilio do: POST /_sim/webhooks/messenger
//     (X-Hub-Signature-256 over the raw bytes) and POST /_sim/webhooks/twilio
//     (X-Twilio-Signature over the public URL and the sorted parameters), from a raw body or
//     from a generated event of any kind.
// The control endpoints take and return JSON; tests/tools/provider_sim/README.md lists them.
#pragma once

#include <memory>
#include <string>

#include "libs/http/router.h"

namespace parley::provider_sim {

class Simulator {
 public:
  Simulator();
  ~Simulator();

  // Every route above, bound to this simulator's state (which must outlive the server).
  http::Router Routes();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace parley::provider_sim
