#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "services/session/ingest_store.h"
#include "services/session/text_rules.h"

namespace parley::session {
namespace {

constexpr int kMaxEvents = 1000;

absl::Status CheckId(absl::string_view field, absl::string_view value, size_t max) {
  if (value.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": contains a NUL character"));
  }
  return CheckText(field, value, 1, max);
}

absl::Status CheckEvent(const v1::IngestRequest& request, const std::set<std::string>& endpoints,
                        int i) {
  const v1::InboundEvent& ev = request.events(i);
  const std::string at = absl::StrCat("events[", i, "]");
  if (absl::Status s = CheckId(absl::StrCat(at, ".dedup_key"), ev.dedup_key(), 512); !s.ok()) {
    return s;
  }
  if (ev.endpoint().channel() != request.channel()) {
    return absl::InvalidArgumentError(
        absl::StrCat(at, ".endpoint.channel: ", common::v1::Channel_Name(ev.endpoint().channel()),
                     " in a batch of ", common::v1::Channel_Name(request.channel())));
  }
  if (absl::Status s = CheckId(absl::StrCat(at, ".endpoint.id"), ev.endpoint().id(), 32); !s.ok()) {
    return s;
  }
  if (endpoints.count(ev.endpoint().id()) == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(at, ".endpoint.id: '", ev.endpoint().id(), "' has no entry in endpoints"));
  }
  if (ev.kind_case() == v1::InboundEvent::KIND_NOT_SET) {
    return absl::InvalidArgumentError(absl::StrCat(at, ": no event kind set"));
  }
  const bool anonymous_opt_in = ev.kind_case() == v1::InboundEvent::kOptIn &&
                                ev.customer().user_id().empty() && !ev.opt_in().user_ref().empty();
  if (!anonymous_opt_in) {
    if (absl::Status s =
            CheckId(absl::StrCat(at, ".customer.user_id"), ev.customer().user_id(), 64);
        !s.ok()) {
      return s;
    }
  }
  if (ev.raw_event().size() > 65536) {
    return absl::InvalidArgumentError(
        absl::StrCat(at, ".raw_event: ", ev.raw_event().size(), " bytes, at most 65536 allowed"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateIngestRequest(const v1::IngestRequest& request) {
  if (request.channel() == common::v1::CHANNEL_UNSPECIFIED) {
    return absl::InvalidArgumentError("channel: is required");
  }
  if (request.events_size() == 0) return absl::InvalidArgumentError("events: none given");
  if (request.events_size() > kMaxEvents) {
    return absl::InvalidArgumentError(
        absl::StrCat("events: ", request.events_size(), " given, at most ", kMaxEvents));
  }
  std::set<std::string> endpoints;
  for (int i = 0; i < request.endpoints_size(); ++i) {
    const common::v1::EndpointRef& e = request.endpoints(i).endpoint();
    if (absl::Status s = CheckId(absl::StrCat("endpoints[", i, "].endpoint.id"), e.id(), 32);
        !s.ok()) {
      return s;
    }
    endpoints.insert(e.id());
  }
  for (int i = 0; i < request.events_size(); ++i) {
    if (absl::Status s = CheckEvent(request, endpoints, i); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace parley::session
