#include "tests/tools/provider_sim/simulator.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "libs/http_client/http_client.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"
#include "simdjson.h"

namespace parley::provider_sim {
namespace {

using Params = std::vector<std::pair<std::string, std::string>>;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

// A 1x1 transparent PNG: what every simulated media URL serves.
const unsigned char kPng[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48,
    0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00,
    0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78,
    0x9c, 0x63, 0x00, 0x01, 0x00, 0x00, 0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00,
    0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};

void Str(Writer& w, absl::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

std::string Hmac(const EVP_MD* md, absl::string_view key, absl::string_view message) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &len);
  return std::string(reinterpret_cast<const char*>(digest), len);
}

// application/x-www-form-urlencoded or a query string, decoded ('+' is a space).
Params DecodeForm(absl::string_view text) {
  Params out;
  for (absl::string_view pair : absl::StrSplit(text, '&', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(pair, absl::MaxSplits('=', 1));
    auto decode = [](std::string s) {
      std::replace(s.begin(), s.end(), '+', ' ');
      int len = 0;
      char* d = curl_easy_unescape(nullptr, s.data(), static_cast<int>(s.size()), &len);
      std::string r(d, static_cast<size_t>(len));
      curl_free(d);
      return r;
    };
    out.emplace_back(decode(kv.first), decode(kv.second));
  }
  return out;
}

std::string Param(const Params& params, absl::string_view name) {
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return "";
}

http::Response Json(int status, std::string body) {
  http::Response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(body);
  return r;
}

std::string GraphError(int code, int subcode, absl::string_view message, absl::string_view type) {
  rapidjson::StringBuffer b;
  Writer w(b);
  w.StartObject();
  w.Key("error");
  w.StartObject();
  w.Key("message");
  Str(w, message);
  w.Key("type");
  Str(w, type);
  w.Key("code");
  w.Int(code);
  if (subcode != 0) {
    w.Key("error_subcode");
    w.Int(subcode);
  }
  w.Key("fbtrace_id");
  w.String("SimTrace0000000");
  w.EndObject();
  w.EndObject();
  return b.GetString();
}

std::string TwilioError(int code, absl::string_view message, int status) {
  rapidjson::StringBuffer b;
  Writer w(b);
  w.StartObject();
  w.Key("code");
  w.Int(code);
  w.Key("message");
  Str(w, message);
  w.Key("more_info");
  Str(w, absl::StrCat("https://www.twilio.com/docs/errors/", code));
  w.Key("status");
  w.Int(status);
  w.EndObject();
  return b.GetString();
}

// The JSON body of a control request; nullopt when it is not an object.
struct Doc {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  bool Parse(absl::string_view body) {
    return parser.parse(body.data(), body.size()).get(root) == simdjson::SUCCESS &&
           root.is_object();
  }
  std::string Get(const char* key, std::string fallback = "") const {
    std::string_view v;
    if (root[key].get_string().get(v) == simdjson::SUCCESS) return std::string(v);
    return fallback;
  }
  int64_t GetInt(const char* key, int64_t fallback) const {
    int64_t v;
    if (root[key].get_int64().get(v) == simdjson::SUCCESS) return v;
    return fallback;
  }
};

std::string Get(simdjson::dom::element e, const char* key, std::string fallback = "") {
  std::string_view v;
  if (e[key].get_string().get(v) == simdjson::SUCCESS) return std::string(v);
  int64_t i;
  if (e[key].get_int64().get(i) == simdjson::SUCCESS) return std::to_string(i);
  return fallback;
}

}  // namespace

struct Simulator::State {
  struct Recorded {
    int64_t seq;
    std::string api;
    http::Request request;
    int status;
  };
  struct Failure {
    std::string api;  // graph, twilio, media or any
    int status;
    std::string body;
    std::string content_type;
    std::string retry_after;
    int remaining;
    int pass = 0;  // matching requests answered normally before the failures start
  };
  struct Page {
    std::string access_token;
    std::string app_secret;
  };

  std::mutex mu;
  std::vector<Recorded> requests;
  std::deque<Failure> failures;
  std::map<std::string, Page> pages;                 // page id -> credentials
  std::map<std::string, std::string> twilio_tokens;  // account sid -> auth token
  int64_t seq = 0;
  std::atomic<int64_t> ids{1};
  http_client::Client client;

  std::string NextHex(size_t digits) {
    std::string hex = absl::StrCat(absl::Hex(ids.fetch_add(1), absl::kZeroPad16),
                                   absl::Hex(absl::ToUnixNanos(absl::Now()), absl::kZeroPad16));
    while (hex.size() < digits) hex += hex;
    return hex.substr(hex.size() - digits);
  }

  // Records the request and, when a scripted failure matches `api`, returns it.
  std::optional<http::Response> Record(absl::string_view api, const http::Request& req,
                                       int64_t* seq_out) {
    std::lock_guard<std::mutex> lock(mu);
    std::optional<http::Response> scripted;
    for (auto it = failures.begin(); it != failures.end(); ++it) {
      if (it->api != api && it->api != "any") continue;
      if (it->pass > 0) {
        --it->pass;
        break;
      }
      http::Response r;
      r.status = it->status;
      r.content_type = it->content_type;
      r.body = it->body;
      if (!it->retry_after.empty()) r.headers.Add("Retry-After", it->retry_after);
      scripted = std::move(r);
      if (--it->remaining <= 0) failures.erase(it);
      break;
    }
    requests.push_back({++seq, std::string(api), req, scripted ? scripted->status : 0});
    *seq_out = seq;
    return scripted;
  }

  // Records what the simulator answered to request `id`.
  http::Response Finish(int64_t id, http::Response r) {
    std::lock_guard<std::mutex> lock(mu);
    for (auto it = requests.rbegin(); it != requests.rend(); ++it) {
      if (it->seq == id) {
        it->status = r.status;
        break;
      }
    }
    return r;
  }

  http::Response Graph(const http::Request& req, const std::string& page_id) {
    int64_t id = 0;
    if (auto scripted = Record("graph", req, &id)) return *scripted;
    Params query = DecodeForm(req.query);
    std::string token = Param(query, "access_token");
    if (token.empty()) {
      return Finish(
          id, Json(400, GraphError(190, 0, "An access token is required to request this resource.",
                                   "OAuthException")));
    }
    std::optional<Page> page;
    {
      std::lock_guard<std::mutex> lock(mu);
      if (auto it = pages.find(page_id); it != pages.end()) page = it->second;
    }
    if (page.has_value()) {
      if (token != page->access_token) {
        return Finish(
            id, Json(400, GraphError(190, 0, "Invalid OAuth access token.", "OAuthException")));
      }
      std::string proof = absl::BytesToHexString(Hmac(EVP_sha256(), page->app_secret, token));
      if (Param(query, "appsecret_proof") != proof) {
        return Finish(
            id, Json(400, GraphError(100, 0, "Invalid appsecret_proof provided in the API argument",
                                     "GraphMethodException")));
      }
    }
    Doc doc;
    if (!absl::StartsWith(req.headers.Get("Content-Type"), "application/json") ||
        !doc.Parse(req.body)) {
      return Finish(id, Json(400, GraphError(100, 0, "(#100) The parameter recipient is required",
                                             "OAuthException")));
    }
    simdjson::dom::element recipient, message;
    if (doc.root["recipient"].get(recipient) != simdjson::SUCCESS || Get(recipient, "id").empty()) {
      return Finish(id, Json(400, GraphError(100, 0, "(#100) The parameter recipient is required",
                                             "OAuthException")));
    }
    if (doc.root["message"].get(message) != simdjson::SUCCESS) {
      return Finish(id, Json(400, GraphError(100, 0, "(#100) param message must be non-empty.",
                                             "OAuthException")));
    }
    std::string type = doc.Get("messaging_type");
    if (type != "RESPONSE" && type != "UPDATE" && type != "MESSAGE_TAG") {
      return Finish(
          id, Json(400,
                   GraphError(
                       100, 0,
                       "(#100) Param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG}",
                       "OAuthException")));
    }
    rapidjson::StringBuffer b;
    Writer w(b);
    w.StartObject();
    w.Key("recipient_id");
    Str(w, Get(recipient, "id"));
    w.Key("message_id");
    Str(w, absl::StrCat("m_", NextHex(40)));
    w.EndObject();
    return Finish(id, Json(200, b.GetString()));
  }

  // Basic auth of `req` against the registered token of `sid`; "" when accepted.
  std::string TwilioAuthError(const http::Request& req, const std::string& sid) {
    absl::string_view auth = req.headers.Get("Authorization");
    std::string decoded;
    if (!absl::ConsumePrefix(&auth, "Basic ") || !absl::Base64Unescape(auth, &decoded)) {
      return "no Basic credentials";
    }
    std::pair<std::string, std::string> up = absl::StrSplit(decoded, absl::MaxSplits(':', 1));
    if (up.first != sid) return "user is not the account in the URL";
    std::lock_guard<std::mutex> lock(mu);
    auto it = twilio_tokens.find(sid);
    if (it != twilio_tokens.end() && it->second != up.second) return "wrong auth token";
    if (up.second.empty()) return "empty auth token";
    return "";
  }

  http::Response TwilioSend(const http::Request& req, const std::string& sid) {
    int64_t id = 0;
    if (auto scripted = Record("twilio", req, &id)) return *scripted;
    if (!TwilioAuthError(req, sid).empty()) {
      return Finish(id, Json(401, TwilioError(20003, "Authenticate", 401)));
    }
    Params p = DecodeForm(req.body);
    std::string to = Param(p, "To"), from = Param(p, "From"), body = Param(p, "Body");
    int media = static_cast<int>(
        std::count_if(p.begin(), p.end(), [](const auto& kv) { return kv.first == "MediaUrl"; }));
    if (to.empty()) {
      return Finish(id, Json(400, TwilioError(21604, "A 'To' phone number is required.", 400)));
    }
    if (from.empty()) {
      return Finish(id, Json(400, TwilioError(21603, "A 'From' phone number is required.", 400)));
    }
    if (body.empty() && media == 0) {
      return Finish(
          id, Json(400, TwilioError(21619, "A text message body or media urls must be specified.",
                                    400)));
    }
    if (body.size() > 1600 * 4 || media > 10) {
      return Finish(
          id,
          Json(400,
               TwilioError(21617, "The concatenated message body exceeds the 1600 character limit.",
                           400)));
    }
    std::string msid = absl::StrCat(media > 0 ? "MM" : "SM", NextHex(32));
    rapidjson::StringBuffer b;
    Writer w(b);
    w.StartObject();
    w.Key("account_sid");
    Str(w, sid);
    w.Key("api_version");
    w.String("2010-04-01");
    w.Key("body");
    Str(w, body);
    w.Key("direction");
    w.String("outbound-api");
    w.Key("error_code");
    w.Null();
    w.Key("error_message");
    w.Null();
    w.Key("from");
    Str(w, from);
    w.Key("num_media");
    Str(w, std::to_string(media));
    w.Key("num_segments");
    w.String("1");
    w.Key("sid");
    Str(w, msid);
    w.Key("status");
    w.String("queued");
    w.Key("to");
    Str(w, to);
    w.Key("uri");
    Str(w, absl::StrCat("/2010-04-01/Accounts/", sid, "/Messages/", msid, ".json"));
    w.EndObject();
    return Finish(id, Json(201, b.GetString()));
  }

  http::Response Media(const http::Request& req, const std::string& twilio_sid) {
    int64_t id = 0;
    if (auto scripted = Record("media", req, &id)) return *scripted;
    if (!twilio_sid.empty()) {
      if (std::string why = TwilioAuthError(req, twilio_sid); !why.empty()) {
        http::Response r = Json(401, TwilioError(20003, "Authenticate", 401));
        r.headers.Add("WWW-Authenticate", "Basic realm=\"Twilio API\"");
        return Finish(id, r);
      }
    }
    absl::string_view rest = req.path;
    int code = 0;
    if (absl::ConsumePrefix(&rest, "/_sim/media/status/") && absl::SimpleAtoi(rest, &code) &&
        code >= 200 && code <= 599) {
      return Finish(id, http::Text(code, "simulated media status\n"));
    }
    http::Response r;
    r.content_type = "image/png";
    r.body.assign(reinterpret_cast<const char*>(kPng), sizeof(kPng));
    return Finish(id, r);
  }

  // Any path that is not a control endpoint.
  http::Response Dispatch(const http::Request& req) {
    std::vector<std::string> seg = absl::StrSplit(req.path, '/', absl::SkipEmpty());
    if (req.method == "POST" && seg.size() == 3 && absl::StartsWith(seg[0], "v") &&
        seg[2] == "messages") {
      return Graph(req, seg[1]);
    }
    bool twilio = seg.size() >= 4 && seg[0] == "2010-04-01" && seg[1] == "Accounts";
    if (req.method == "POST" && twilio && seg.size() == 4 && seg[3] == "Messages.json") {
      return TwilioSend(req, seg[2]);
    }
    if (req.method == "GET" && twilio && seg.size() == 7 && seg[3] == "Messages" &&
        seg[5] == "Media") {
      return Media(req, seg[2]);
    }
    if (req.method == "GET" && absl::StartsWith(req.path, "/_sim/media/")) return Media(req, "");
    int64_t id = 0;
    Record("unknown", req, &id);
    return Finish(id, Json(404, GraphError(803, 0, "Unknown path components", "OAuthException")));
  }

  http::Response Requests(const http::Request& req) {
    std::string api = Param(DecodeForm(req.query), "api");
    rapidjson::StringBuffer b;
    Writer w(b);
    std::lock_guard<std::mutex> lock(mu);
    w.StartObject();
    w.Key("requests");
    w.StartArray();
    for (const Recorded& r : requests) {
      if (!api.empty() && r.api != api) continue;
      w.StartObject();
      w.Key("seq");
      w.Int64(r.seq);
      w.Key("api");
      Str(w, r.api);
      w.Key("status");
      w.Int(r.status);
      w.Key("method");
      Str(w, r.request.method);
      w.Key("path");
      Str(w, r.request.path);
      w.Key("query");
      w.StartObject();
      for (const auto& [k, v] : DecodeForm(r.request.query)) {
        Str(w, k);
        Str(w, v);
      }
      w.EndObject();
      w.Key("headers");
      w.StartObject();
      for (const auto& [k, v] : r.request.headers.fields()) {
        std::string lower = absl::AsciiStrToLower(k);
        Str(w, lower);
        Str(w, v);
      }
      w.EndObject();
      w.Key("body");
      Str(w, r.request.body);
      if (absl::StartsWith(r.request.headers.Get("Content-Type"),
                           "application/x-www-form-urlencoded")) {
        w.Key("form");
        w.StartArray();
        for (const auto& [k, v] : DecodeForm(r.request.body)) {
          w.StartArray();
          Str(w, k);
          Str(w, v);
          w.EndArray();
        }
        w.EndArray();
      }
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    return Json(200, b.GetString());
  }

  http::Response Fail(const http::Request& req) {
    Doc doc;
    if (!doc.Parse(req.body)) return Json(400, R"({"error":"body must be a JSON object"})");
    Failure f{.api = doc.Get("api", "any"),
              .status = static_cast<int>(doc.GetInt("status", 500)),
              .body = doc.Get("body"),
              .content_type = doc.Get("content_type", "application/json"),
              .retry_after = doc.Get("retry_after"),
              .remaining = static_cast<int>(doc.GetInt("count", 1)),
              .pass = static_cast<int>(doc.GetInt("after", 0))};
    if (f.status < 100 || f.status > 599 || f.remaining < 1 || f.pass < 0) {
      return Json(400,
                  R"({"error":"status must be 100..599, count at least 1, after at least 0"})");
    }
    std::lock_guard<std::mutex> lock(mu);
    failures.push_back(std::move(f));
    return Json(200, "{}");
  }

  http::Response Reset() {
    std::lock_guard<std::mutex> lock(mu);
    requests.clear();
    failures.clear();
    pages.clear();
    twilio_tokens.clear();
    return Json(200, "{}");
  }

  http::Response RegisterPage(const http::Request& req) {
    Doc doc;
    if (!doc.Parse(req.body) || doc.Get("page_id").empty()) {
      return Json(400, R"({"error":"need page_id, access_token, app_secret"})");
    }
    std::lock_guard<std::mutex> lock(mu);
    pages[doc.Get("page_id")] = {doc.Get("access_token"), doc.Get("app_secret")};
    return Json(200, "{}");
  }

  http::Response RegisterAccount(const http::Request& req) {
    Doc doc;
    if (!doc.Parse(req.body) || doc.Get("account_sid").empty()) {
      return Json(400, R"({"error":"need account_sid, auth_token"})");
    }
    std::lock_guard<std::mutex> lock(mu);
    twilio_tokens[doc.Get("account_sid")] = doc.Get("auth_token");
    return Json(200, "{}");
  }

  // Posts `body` to `url` and reports what the receiver answered.
  http::Response Deliver(const std::string& url, http_client::HeaderList headers,
                         const std::string& body) {
    absl::StatusOr<http_client::Response> r = client.Send({.method = "POST",
                                                           .url = url,
                                                           .headers = std::move(headers),
                                                           .body = body,
                                                           .timeout = absl::Seconds(30)});
    rapidjson::StringBuffer b;
    Writer w(b);
    w.StartObject();
    w.Key("sent_body");
    Str(w, body);
    if (!r.ok()) {
      w.Key("error");
      Str(w, r.status().ToString());
    } else {
      w.Key("status");
      w.Int(r->status);
      w.Key("body");
      Str(w, r->body);
    }
    w.EndObject();
    return Json(r.ok() ? 200 : 502, b.GetString());
  }

  http::Response MessengerWebhook(const http::Request& req);
  http::Response TwilioWebhook(const http::Request& req);
};

namespace {

// A Messenger webhook body with one event of `kind`, built like Meta builds it.
std::string MessengerEvent(simdjson::dom::element e, const std::string& mid) {
  std::string kind = Get(e, "kind", "text");
  std::string page = Get(e, "page_id"), psid = Get(e, "psid");
  int64_t now = absl::ToUnixMillis(absl::Now());
  bool echo = kind == "echo";
  rapidjson::StringBuffer b;
  Writer w(b);
  w.StartObject();
  w.Key("object");
  w.String("page");
  w.Key("entry");
  w.StartArray();
  w.StartObject();
  w.Key("id");
  Str(w, page);
  w.Key("time");
  w.Int64(now);
  w.Key("messaging");
  w.StartArray();
  w.StartObject();
  w.Key("sender");
  w.StartObject();
  w.Key("id");
  Str(w, echo ? page : psid);
  w.EndObject();
  w.Key("recipient");
  w.StartObject();
  w.Key("id");
  Str(w, echo ? psid : page);
  w.EndObject();
  w.Key("timestamp");
  w.Int64(now);
  std::string text = Get(e, "text", "hello from the simulator");
  if (kind == "delivery" || kind == "read") {
    w.Key(kind == "read" ? "read" : "delivery");
    w.StartObject();
    if (kind == "delivery") {
      w.Key("mids");
      w.StartArray();
      Str(w, Get(e, "target_mid", mid));
      w.EndArray();
    }
    w.Key("watermark");
    w.Int64(now);
    w.EndObject();
  } else if (kind == "postback") {
    w.Key("postback");
    w.StartObject();
    w.Key("title");
    Str(w, Get(e, "title", "Get Started"));
    w.Key("payload");
    Str(w, Get(e, "payload", "GET_STARTED"));
    w.Key("mid");
    Str(w, mid);
    w.EndObject();
  } else if (kind == "optin") {
    w.Key("optin");
    w.StartObject();
    w.Key("ref");
    Str(w, Get(e, "ref", "SIM_REF"));
    w.EndObject();
  } else if (kind == "referral") {
    w.Key("referral");
    w.StartObject();
    w.Key("ref");
    Str(w, Get(e, "ref", "SIM_REF"));
    w.Key("source");
    w.String("SHORTLINK");
    w.Key("type");
    w.String("OPEN_THREAD");
    w.EndObject();
  } else if (kind == "reaction") {
    w.Key("reaction");
    w.StartObject();
    w.Key("reaction");
    Str(w, Get(e, "reaction", "love"));
    w.Key("emoji");
    Str(w, Get(e, "emoji", "\xe2\x9d\xa4\xef\xb8\x8f"));
    w.Key("action");
    Str(w, Get(e, "action", "react"));
    w.Key("mid");
    Str(w, Get(e, "target_mid"));
    w.EndObject();
  } else if (kind == "edit") {
    w.Key("message_edit");
    w.StartObject();
    w.Key("mid");
    Str(w, Get(e, "target_mid"));
    w.Key("text");
    Str(w, text);
    w.Key("num_edit");
    w.Int(1);
    w.EndObject();
  } else {
    w.Key("message");
    w.StartObject();
    w.Key("mid");
    Str(w, mid);
    if (echo) {
      w.Key("is_echo");
      w.Bool(true);
      w.Key("app_id");
      w.Int64(std::stoll(Get(e, "app_id", "1821152484774199")));
    }
    if (kind == "text" || kind == "echo" || kind == "quick_reply" || kind == "reply") {
      w.Key("text");
      Str(w, text);
    }
    if (kind == "quick_reply") {
      w.Key("quick_reply");
      w.StartObject();
      w.Key("payload");
      Str(w, Get(e, "payload", "SIM_PAYLOAD"));
      w.EndObject();
    }
    if (kind == "reply") {
      w.Key("reply_to");
      w.StartObject();
      w.Key("mid");
      Str(w, Get(e, "target_mid"));
      w.EndObject();
    }
    if (kind == "sticker") {
      w.Key("sticker_id");
      w.Int64(369239263222822);
    }
    if (kind == "attachments" || kind == "sticker") {
      w.Key("attachments");
      w.StartArray();
      simdjson::dom::array urls;
      std::vector<std::string> list;
      if (e["urls"].get(urls) == simdjson::SUCCESS) {
        for (simdjson::dom::element u : urls) {
          std::string_view s;
          if (u.get_string().get(s) == simdjson::SUCCESS) list.emplace_back(s);
        }
      }
      if (list.empty()) list.push_back("https://scontent.xx.fbcdn.net/v/sim/image.png");
      for (const std::string& url : list) {
        w.StartObject();
        w.Key("type");
        Str(w, Get(e, "attachment_type", "image"));
        w.Key("payload");
        w.StartObject();
        w.Key("url");
        Str(w, url);
        if (kind == "sticker") {
          w.Key("sticker_id");
          w.Int64(369239263222822);
        }
        w.EndObject();
        w.EndObject();
      }
      w.EndArray();
    }
    w.EndObject();
  }
  w.EndObject();
  w.EndArray();
  w.EndObject();
  w.EndArray();
  w.EndObject();
  return b.GetString();
}

// Twilio's X-Twilio-Signature: base64(HMAC-SHA1(token, url + sorted name+value pairs)).
std::string TwilioSignature(const std::string& token, const std::string& url, Params params) {
  std::sort(params.begin(), params.end());
  std::string data = url;
  for (const auto& [k, v] : params) absl::StrAppend(&data, k, v);
  return absl::Base64Escape(Hmac(EVP_sha1(), token, data));
}

}  // namespace

http::Response Simulator::State::MessengerWebhook(const http::Request& req) {
  Doc doc;
  if (!doc.Parse(req.body) || doc.Get("url").empty()) {
    return Json(400, R"({"error":"need url, app_secret and body or event"})");
  }
  std::string body = doc.Get("body");
  simdjson::dom::element event;
  if (body.empty() && doc.root["event"].get(event) == simdjson::SUCCESS) {
    body = MessengerEvent(event, Get(event, "mid", absl::StrCat("m_sim_", NextHex(24))));
  }
  if (body.empty()) return Json(400, R"({"error":"need body or event"})");
  std::string secret = doc.Get("app_secret");
  http_client::HeaderList headers = {
      {"Content-Type", "application/json"},
      {"X-Hub-Signature-256",
       absl::StrCat("sha256=", absl::BytesToHexString(Hmac(EVP_sha256(), secret, body)))},
      {"X-Hub-Signature",
       absl::StrCat("sha1=", absl::BytesToHexString(Hmac(EVP_sha1(), secret, body)))},
  };
  return Deliver(doc.Get("url"), std::move(headers), body);
}

http::Response Simulator::State::TwilioWebhook(const http::Request& req) {
  Doc doc;
  if (!doc.Parse(req.body) || doc.Get("url").empty()) {
    return Json(400, R"({"error":"need url, auth_token and params or event"})");
  }
  Params params;
  simdjson::dom::array list;
  simdjson::dom::element event;
  if (doc.root["params"].get(list) == simdjson::SUCCESS) {
    for (simdjson::dom::element pair : list) {
      simdjson::dom::array kv;
      std::string_view k, v;
      if (pair.get(kv) != simdjson::SUCCESS || kv.size() != 2 ||
          kv.at(0).get_string().get(k) != simdjson::SUCCESS ||
          kv.at(1).get_string().get(v) != simdjson::SUCCESS) {
        return Json(400, R"({"error":"params is a list of [name, value] strings"})");
      }
      params.emplace_back(k, v);
    }
  } else if (doc.root["event"].get(event) == simdjson::SUCCESS) {
    std::string sid = Get(event, "account_sid"), kind = Get(event, "kind", "inbound");
    std::string msid = Get(event, "message_sid", absl::StrCat("SM", NextHex(32)));
    if (kind == "status") {
      params = {{"AccountSid", sid},
                {"ApiVersion", "2010-04-01"},
                {"ChannelPrefix", "whatsapp"},
                {"From", Get(event, "from")},
                {"MessageSid", msid},
                {"MessageStatus", Get(event, "status", "delivered")},
                {"SmsSid", msid},
                {"SmsStatus", Get(event, "status", "delivered")},
                {"To", Get(event, "to")}};
      if (std::string code = Get(event, "error_code"); !code.empty()) {
        params.emplace_back("ErrorCode", code);
        params.emplace_back("ErrorMessage", Get(event, "error_message"));
      }
    } else {
      std::string from = Get(event, "from");
      params = {{"SmsMessageSid", msid},
                {"NumMedia", "0"},
                {"ProfileName", Get(event, "profile_name", "Sim Customer")},
                {"SmsSid", msid},
                {"WaId", from.substr(from.find('+') + 1)},
                {"SmsStatus", "received"},
                {"Body", Get(event, "body")},
                {"To", Get(event, "to")},
                {"NumSegments", "1"},
                {"MessageSid", msid},
                {"AccountSid", sid},
                {"From", from},
                {"ApiVersion", "2010-04-01"}};
      simdjson::dom::array media;
      int n = 0;
      if (event["media"].get(media) == simdjson::SUCCESS) {
        for (simdjson::dom::element m : media) {
          params.emplace_back(absl::StrCat("MediaContentType", n),
                              Get(m, "content_type", "image/png"));
          params.emplace_back(absl::StrCat("MediaUrl", n), Get(m, "url"));
          ++n;
        }
      }
      params[1].second = std::to_string(n);
    }
  } else {
    return Json(400, R"({"error":"need params or event"})");
  }
  std::string url = doc.Get("url");
  std::string signed_url = doc.Get("public_url", url);
  http_client::HeaderList headers = {
      {"Content-Type", "application/x-www-form-urlencoded"},
      {"X-Twilio-Signature", TwilioSignature(doc.Get("auth_token"), signed_url, params)},
      {"I-Twilio-Idempotency-Token", NextHex(32)},
  };
  return Deliver(url, std::move(headers), http_client::FormEncode(params));
}

Simulator::Simulator() : state_(std::make_unique<State>()) {}
Simulator::~Simulator() = default;

http::Router Simulator::Routes() {
  State* s = state_.get();
  http::Router router;
  router.Get("/_sim/health", [](const http::Request&) { return http::Text(200, "ok\n"); });
  router.Get("/_sim/requests", [s](const http::Request& r) { return s->Requests(r); });
  router.Post("/_sim/reset", [s](const http::Request&) { return s->Reset(); });
  router.Post("/_sim/fail", [s](const http::Request& r) { return s->Fail(r); });
  router.Post("/_sim/graph/pages", [s](const http::Request& r) { return s->RegisterPage(r); });
  router.Post("/_sim/twilio/accounts",
              [s](const http::Request& r) { return s->RegisterAccount(r); });
  router.Post("/_sim/webhooks/messenger",
              [s](const http::Request& r) { return s->MessengerWebhook(r); });
  router.Post("/_sim/webhooks/twilio", [s](const http::Request& r) { return s->TwilioWebhook(r); });
  router.Get("/*", [s](const http::Request& r) { return s->Dispatch(r); });
  router.Post("/*", [s](const http::Request& r) { return s->Dispatch(r); });
  return router;
}

}  // namespace parley::provider_sim
