#include "tests/tools/provider_sim/sim_process.h"

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"
#include "simdjson.h"

namespace parley::provider_sim {
namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

std::string Lookup(const Pairs& pairs, const std::string& name) {
  for (const auto& [k, v] : pairs) {
    if (k == name) return v;
  }
  return "";
}

Pairs Object(simdjson::dom::element e) {
  Pairs out;
  simdjson::dom::object o;
  if (e.get(o) != simdjson::SUCCESS) return out;
  for (auto [k, v] : o) {
    std::string_view s;
    if (v.get_string().get(s) == simdjson::SUCCESS) out.emplace_back(std::string(k), s);
  }
  return out;
}

std::string JsonString(absl::string_view s) {
  rapidjson::StringBuffer b;
  rapidjson::Writer<rapidjson::StringBuffer> w(b);
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return b.GetString();
}

}  // namespace

std::string Recorded::Query(const std::string& name) const { return Lookup(query, name); }
std::string Recorded::Header(const std::string& name) const { return Lookup(headers, name); }
std::string Recorded::Form(const std::string& name) const { return Lookup(form, name); }
std::vector<std::string> Recorded::FormAll(const std::string& name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : form) {
    if (k == name) out.push_back(v);
  }
  return out;
}

SimProcess::SimProcess(std::unique_ptr<testing::Subprocess> process, int port)
    : process_(std::move(process)),
      port_(port),
      base_url_(absl::StrCat("http://127.0.0.1:", port)),
      client_(http_client::Options{.timeout = absl::Seconds(30)}) {}

absl::StatusOr<std::unique_ptr<SimProcess>> SimProcess::Start(const std::string& binary) {
  int port = testing::PickFreePort();
  absl::StatusOr<std::unique_ptr<testing::Subprocess>> p = testing::Subprocess::Spawn(
      {binary, absl::StrCat("--address=127.0.0.1:", port), "--threads=4"});
  if (!p.ok()) return p.status();
  std::unique_ptr<SimProcess> sim(new SimProcess(*std::move(p), port));
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    absl::StatusOr<http_client::Response> r =
        sim->client_.Send({.url = sim->base_url_ + "/_sim/health"});
    if (r.ok() && r->status == 200) return sim;
    if (!sim->process_->running()) return absl::InternalError("provider simulator exited");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return absl::DeadlineExceededError("provider simulator did not answer within 30 s");
}

absl::StatusOr<http_client::Response> SimProcess::Control(const std::string& path,
                                                          const std::string& json) {
  absl::StatusOr<http_client::Response> r =
      client_.Send({.method = "POST",
                    .url = base_url_ + path,
                    .headers = {{"Content-Type", "application/json"}},
                    .body = json});
  if (!r.ok()) return r.status();
  return r;
}

absl::StatusOr<std::vector<Recorded>> SimProcess::Requests(const std::string& api) {
  absl::StatusOr<http_client::Response> r =
      client_.Send({.url = absl::StrCat(base_url_, "/_sim/requests?api=", api)});
  if (!r.ok()) return r.status();
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(r->body).get(root) != simdjson::SUCCESS) {
    return absl::InternalError("simulator answered unreadable JSON");
  }
  std::vector<Recorded> out;
  simdjson::dom::array list;
  if (root["requests"].get(list) != simdjson::SUCCESS) return out;
  for (simdjson::dom::element e : list) {
    Recorded rec;
    std::string_view s;
    int64_t status = 0;
    if (e["api"].get_string().get(s) == simdjson::SUCCESS) rec.api = s;
    if (e["status"].get_int64().get(status) == simdjson::SUCCESS)
      rec.status = static_cast<int>(status);
    if (e["method"].get_string().get(s) == simdjson::SUCCESS) rec.method = s;
    if (e["path"].get_string().get(s) == simdjson::SUCCESS) rec.path = s;
    if (e["body"].get_string().get(s) == simdjson::SUCCESS) rec.body = s;
    rec.query = Object(e["query"].value_unsafe());
    rec.headers = Object(e["headers"].value_unsafe());
    simdjson::dom::array form;
    if (e["form"].get(form) == simdjson::SUCCESS) {
      for (simdjson::dom::element pair : form) {
        std::string_view k, v;
        simdjson::dom::array kv;
        if (pair.get(kv) == simdjson::SUCCESS &&
            kv.at(0).get_string().get(k) == simdjson::SUCCESS &&
            kv.at(1).get_string().get(v) == simdjson::SUCCESS) {
          rec.form.emplace_back(k, v);
        }
      }
    }
    out.push_back(std::move(rec));
  }
  return out;
}

absl::Status SimProcess::Reset() { return Control("/_sim/reset", "{}").status(); }

absl::Status SimProcess::Fail(const std::string& api, int status, const std::string& body,
                              int count, const std::string& retry_after, int after) {
  absl::StatusOr<http_client::Response> r =
      Control("/_sim/fail",
              absl::StrCat(R"({"api":)", JsonString(api), R"(,"status":)", status, R"(,"body":)",
                           JsonString(body), R"(,"count":)", count, R"(,"retry_after":)",
                           JsonString(retry_after), R"(,"after":)", after, "}"));
  if (!r.ok()) return r.status();
  if (r->status != 200) return absl::InternalError(r->body);
  return absl::OkStatus();
}

absl::Status SimProcess::RegisterPage(const std::string& page_id, const std::string& token,
                                      const std::string& app_secret) {
  return Control("/_sim/graph/pages",
                 absl::StrCat(R"({"page_id":)", JsonString(page_id), R"(,"access_token":)",
                              JsonString(token), R"(,"app_secret":)", JsonString(app_secret), "}"))
      .status();
}

absl::Status SimProcess::RegisterAccount(const std::string& account_sid,
                                         const std::string& auth_token) {
  return Control("/_sim/twilio/accounts",
                 absl::StrCat(R"({"account_sid":)", JsonString(account_sid), R"(,"auth_token":)",
                              JsonString(auth_token), "}"))
      .status();
}

}  // namespace parley::provider_sim
