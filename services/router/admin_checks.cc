#include "services/router/admin_checks.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "services/router/rules.h"

namespace parley::router {
namespace {

constexpr int64_t kSecond = 1000000000;

absl::Status Invalid(absl::string_view field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", problem));
}

absl::Status CheckName(absl::string_view field, absl::string_view name) {
  const int n = CodePoints(name);
  if (n == 0) return Invalid(field, "empty");
  if (n > 200) return Invalid(field, absl::StrCat(n, " characters, at most 200"));
  return absl::OkStatus();
}

bool ValidDuration(const google::protobuf::Duration& d) {
  if (d.nanos() <= -kSecond || d.nanos() >= kSecond) return false;
  if ((d.seconds() > 0 && d.nanos() < 0) || (d.seconds() < 0 && d.nanos() > 0)) return false;
  return d.seconds() >= -315576000000 && d.seconds() <= 315576000000;
}

absl::Status CheckDuration(absl::string_view field, const google::protobuf::Duration& d,
                           int64_t min_s, int64_t max_s, absl::string_view range) {
  if (!ValidDuration(d)) return Invalid(field, "not a valid duration");
  const int64_t ns = ToNanos(d);
  if (ns < min_s * kSecond || ns > max_s * kSecond) {
    return Invalid(field,
                   absl::StrCat(d.seconds(), ".", absl::StrFormat("%09d", std::abs(d.nanos())),
                                "s is outside ", range));
  }
  return absl::OkStatus();
}

template <typename T>
absl::Status NoOutputOnly(absl::string_view resource, const T& r) {
  if (!r.id().empty()) return Invalid(absl::StrCat(resource, ".id"), "output only; leave it empty");
  if (r.has_create_time()) {
    return Invalid(absl::StrCat(resource, ".create_time"), "output only; leave it empty");
  }
  if (r.has_update_time()) {
    return Invalid(absl::StrCat(resource, ".update_time"), "output only; leave it empty");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckUuid(absl::string_view field, absl::string_view v) {
  bool ok = v.size() == 36;
  for (size_t i = 0; ok && i < v.size(); ++i) {
    const char c = v[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      ok = c == '-';
    } else {
      ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    }
  }
  if (ok) return absl::OkStatus();
  if (v.empty()) return Invalid(field, "missing");
  return Invalid(field, absl::StrCat("'", v.substr(0, 64), "' is not a UUID"));
}

absl::Status CheckUuidList(absl::string_view field,
                           const google::protobuf::RepeatedPtrField<std::string>& ids) {
  for (int i = 0; i < ids.size(); ++i) {
    const std::string item = absl::StrCat(field, "[", i, "]");
    if (absl::Status s = CheckUuid(item, ids[i]); !s.ok()) return s;
    for (int j = 0; j < i; ++j) {
      if (ids[j] == ids[i]) return Invalid(item, absl::StrCat(ids[i], " is repeated"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Page> ParsePage(absl::string_view list, int page_size, absl::string_view token) {
  Page page;
  if (page_size < 0) return Invalid("page_size", absl::StrCat(page_size, " is negative"));
  if (page_size > 0) page.size = std::min(page_size, 500);
  if (token.empty()) return page;
  std::string raw;
  absl::string_view rest;
  const std::string tag = absl::StrCat(list, ":");
  if (!absl::WebSafeBase64Unescape(token, &raw) || !absl::StartsWith(rest = raw, tag) ||
      !absl::SimpleAtoi(rest.substr(tag.size()), &page.offset) || page.offset < 0) {
    return Invalid("page_token", "not a token of this list");
  }
  return page;
}

std::string NextPageToken(absl::string_view list, const Page& page) {
  return absl::WebSafeBase64Escape(absl::StrCat(list, ":", page.offset + page.size));
}

int64_t ToNanos(const google::protobuf::Duration& d) { return d.seconds() * kSecond + d.nanos(); }

google::protobuf::Duration FromNanos(int64_t nanos) {
  google::protobuf::Duration d;
  d.set_seconds(nanos / kSecond);
  d.set_nanos(static_cast<int32_t>(nanos % kSecond));
  return d;
}

void ApplyDefaults(v1::WorkStream* ws) {
  if (ws->capacity_cost() == 0) ws->set_capacity_cost(1);
  if (!ws->has_offer_timeout()) ws->mutable_offer_timeout()->set_seconds(60);
}

absl::Status CheckWorkStream(const v1::WorkStream& ws, bool create) {
  if (create) {
    if (absl::Status s = NoOutputOnly("work_stream", ws); !s.ok()) return s;
  }
  if (absl::Status s = CheckName("work_stream.name", ws.name()); !s.ok()) return s;
  if (ws.channel() == common::v1::CHANNEL_UNSPECIFIED ||
      !common::v1::Channel_IsValid(ws.channel())) {
    return Invalid("work_stream.channel", ws.channel() == 0
                                              ? "unspecified"
                                              : absl::StrCat("unknown channel ", ws.channel()));
  }
  if (ws.mode() == v1::ROUTING_MODE_UNSPECIFIED || !v1::RoutingMode_IsValid(ws.mode())) {
    return Invalid("work_stream.mode",
                   ws.mode() == 0 ? "unspecified" : absl::StrCat("unknown mode ", ws.mode()));
  }
  if (ws.strategy() == v1::ASSIGNMENT_STRATEGY_UNSPECIFIED ||
      !v1::AssignmentStrategy_IsValid(ws.strategy())) {
    return Invalid("work_stream.strategy", ws.strategy() == 0
                                               ? "unspecified"
                                               : absl::StrCat("unknown strategy ", ws.strategy()));
  }
  if (ws.capacity_cost() < 1 || ws.capacity_cost() > 1000) {
    return Invalid("work_stream.capacity_cost",
                   absl::StrCat(ws.capacity_cost(), " is not 1..1000"));
  }
  if (absl::Status s = CheckDuration("work_stream.offer_timeout", ws.offer_timeout(), 5, 600,
                                     "5 seconds..10 minutes");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckDuration("work_stream.auto_close_after", ws.auto_close_after(), 0,
                                     30 * 86400, "0..30 days");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckDuration("work_stream.urgent_before_deadline",
                                     ws.urgent_before_deadline(), 0, 7 * 86400, "0..7 days");
      !s.ok()) {
    return s;
  }
  return CheckUuid("work_stream.default_queue_id", ws.default_queue_id());
}

absl::Status CheckQueue(const v1::Queue& q, bool create) {
  if (create) {
    if (absl::Status s = NoOutputOnly("queue", q); !s.ok()) return s;
    if (q.depth() != 0) return Invalid("queue.depth", "output only; leave it empty");
  }
  if (absl::Status s = CheckName("queue.name", q.name()); !s.ok()) return s;
  if (q.priority() < 0 || q.priority() > 100) {
    return Invalid("queue.priority", absl::StrCat(q.priority(), " is not 0..100"));
  }
  return CheckUuidList("queue.agent_ids", q.agent_ids());
}

absl::Status CheckRule(const v1::RoutingRule& r, bool create) {
  if (create) {
    if (absl::Status s = NoOutputOnly("rule", r); !s.ok()) return s;
    if (r.position() != 0) return Invalid("rule.position", "output only; leave it empty");
  }
  if (absl::Status s = CheckUuid("rule.work_stream_id", r.work_stream_id()); !s.ok()) return s;
  if (absl::Status s = CheckName("rule.name", r.name()); !s.ok()) return s;
  if (!r.has_condition()) return Invalid("rule.condition", "missing");
  if (absl::Status s = ValidateExpression(r.condition(), "rule.condition"); !s.ok()) return s;
  if (absl::Status s = CheckUuid("rule.queue_id", r.queue_id()); !s.ok()) return s;
  return ValidateSkills("rule.required_skills", r.required_skills(), 50);
}

absl::Status CheckAgent(const v1::Agent& a, bool create) {
  if (create) {
    if (absl::Status s = NoOutputOnly("agent", a); !s.ok()) return s;
  }
  if (absl::Status s = CheckName("agent.display_name", a.display_name()); !s.ok()) return s;
  if (a.capacity() < 1 || a.capacity() > 1000) {
    return Invalid("agent.capacity", absl::StrCat(a.capacity(), " is not 1..1000"));
  }
  if (absl::Status s = CheckUuidList("agent.queue_ids", a.queue_ids()); !s.ok()) return s;
  return ValidateSkills("agent.skills", a.skills(), 50);
}

absl::StatusOr<std::vector<std::string>> CheckMask(
    const google::protobuf::FieldMask& mask, const std::vector<absl::string_view>& mutable_paths,
    const std::vector<absl::string_view>& immutable_paths) {
  if (mask.paths().empty()) return Invalid("update_mask", "empty");
  std::vector<std::string> out;
  for (const std::string& p : mask.paths()) {
    auto in = [&p](const std::vector<absl::string_view>& v) {
      return std::find(v.begin(), v.end(), p) != v.end();
    };
    if (in(immutable_paths)) {
      return Invalid("update_mask", absl::StrCat("'", p, "' cannot be changed"));
    }
    if (p == "id" || p == "create_time" || p == "update_time" || p == "depth") {
      return Invalid("update_mask", absl::StrCat("'", p, "' is output only"));
    }
    if (!in(mutable_paths)) return Invalid("update_mask", absl::StrCat("unknown path '", p, "'"));
    if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
  }
  return out;
}

}  // namespace parley::router
