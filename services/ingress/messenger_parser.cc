#include "services/ingress/messenger_parser.h"

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "simdjson.h"

namespace parley::ingress {
namespace {

namespace common = parley::common::v1;
namespace sv1 = parley::session::v1;
using simdjson::dom::element;

constexpr size_t kMaxRawEvent = 65536;

// Keys of a `messaging[]` event that say who and when, not what.
bool IsEnvelopeKey(std::string_view key) {
  return key == "sender" || key == "recipient" || key == "timestamp";
}

std::optional<element> Field(const element& e, std::string_view key) {
  element out;
  if (!e.is_object() || e[key].get(out) != simdjson::SUCCESS) return std::nullopt;
  return out;
}

// A provider id: a string as sent, or an integer JSON number in decimal.
std::optional<std::string> IdOf(const std::optional<element>& e) {
  if (!e) return std::nullopt;
  std::string_view s;
  if (e->get(s) == simdjson::SUCCESS) return std::string(s);
  uint64_t u = 0;
  if (e->get(u) == simdjson::SUCCESS) return absl::StrCat(u);
  int64_t i = 0;
  if (e->get(i) == simdjson::SUCCESS) return absl::StrCat(i);
  return std::nullopt;
}

std::string StringOr(const std::optional<element>& e, std::string_view fallback = "") {
  std::string_view s;
  if (e && e->get(s) == simdjson::SUCCESS) return std::string(s);
  return std::string(fallback);
}

// Epoch milliseconds: an integer, an integral double, or a string of digits.
std::optional<int64_t> MillisOf(const std::optional<element>& e) {
  if (!e) return std::nullopt;
  int64_t i = 0;
  if (e->get(i) == simdjson::SUCCESS) return i;
  double d = 0;
  if (e->get(d) == simdjson::SUCCESS && d >= 0 && d < 9.2e18 &&
      static_cast<double>(static_cast<int64_t>(d)) == d) {
    return static_cast<int64_t>(d);
  }
  std::string_view s;
  if (e->get(s) == simdjson::SUCCESS && !s.empty() &&
      absl::SimpleAtoi(absl::string_view(s.data(), s.size()), &i) && i >= 0)
    return i;
  return std::nullopt;
}

bool BoolOf(const std::optional<element>& e) {
  bool b = false;
  if (!e || e->get(b) != simdjson::SUCCESS) return false;
  return b;
}

std::optional<double> NumberOf(const std::optional<element>& e) {
  if (!e) return std::nullopt;
  double d = 0;
  if (e->get(d) == simdjson::SUCCESS) return d;
  return std::nullopt;
}

google::protobuf::Timestamp FromMillis(int64_t ms) {
  return google::protobuf::util::TimeUtil::MillisecondsToTimestamp(ms);
}

common::ContentPart Unsupported(absl::string_view provider_type) {
  common::ContentPart part;
  part.mutable_unsupported()->set_provider_type(std::string(provider_type.substr(0, 200)));
  part.mutable_unsupported()->set_display_text(std::string(kUnsupportedDisplayText));
  return part;
}

std::optional<common::AttachmentKind> FileKind(std::string_view type) {
  if (type == "image") return common::ATTACHMENT_KIND_IMAGE;
  if (type == "audio") return common::ATTACHMENT_KIND_AUDIO;
  if (type == "video") return common::ATTACHMENT_KIND_VIDEO;
  if (type == "file") return common::ATTACHMENT_KIND_FILE;
  return std::nullopt;
}

bool HasSticker(const common::MessageContent& content, absl::string_view sticker_id) {
  for (const common::ContentPart& part : content.parts()) {
    if (part.has_sticker() && part.sticker().sticker_id() == sticker_id) return true;
  }
  return false;
}

// A `fallback` or `template` attachment: not a file, kept for display.
common::ContentPart RichAttachment(common::AttachmentKind kind, const element& att,
                                   const std::optional<element>& payload) {
  common::ContentPart part;
  common::Attachment* a = part.mutable_attachment();
  a->set_kind(kind);
  a->set_state(common::ATTACHMENT_STATE_NOT_APPLICABLE);
  a->set_title(
      StringOr(Field(att, "title"), StringOr(payload ? Field(*payload, "title") : std::nullopt)));
  std::string url = payload ? StringOr(Field(*payload, "url")) : "";
  if (url.empty()) url = StringOr(Field(att, "url"), StringOr(Field(att, "URL")));
  a->set_provider_url(url);
  if (payload && payload->is_object()) {
    std::string json = simdjson::minify(*payload);
    if (json.size() <= 65536) a->set_provider_payload_json(std::move(json));
  }
  return part;
}

// Appends the part(s) one `attachments[]` item stands for.
void AddAttachment(const element& att, common::MessageContent* content) {
  const std::string type = StringOr(Field(att, "type"));
  const std::optional<element> payload = Field(att, "payload");
  const std::optional<element> usable =
      payload && payload->is_object() ? payload : std::optional<element>();
  const std::optional<std::string> sticker_id =
      usable ? IdOf(Field(*usable, "sticker_id")) : std::nullopt;
  const std::string url = usable ? StringOr(Field(*usable, "url")) : "";
  if (sticker_id || type == "sticker") {
    const std::string id = sticker_id.value_or("");
    if (!id.empty() && HasSticker(*content, id)) return;  // the 2026 image+sticker pair
    common::Sticker* s = content->add_parts()->mutable_sticker();
    s->set_sticker_id(id);
    s->set_provider_url(url);
    return;
  }
  if (const std::optional<common::AttachmentKind> kind = FileKind(type)) {
    if (url.empty()) {
      *content->add_parts() = Unsupported(absl::StrCat("attachment:", type, " without url"));
      return;
    }
    common::Attachment* a = content->add_parts()->mutable_attachment();
    a->set_kind(*kind);
    a->set_provider_url(url);
    a->set_state(common::ATTACHMENT_STATE_PENDING);
    return;
  }
  if (type == "fallback") {
    *content->add_parts() = RichAttachment(common::ATTACHMENT_KIND_FALLBACK, att, usable);
    return;
  }
  if (type == "template") {
    *content->add_parts() = RichAttachment(common::ATTACHMENT_KIND_TEMPLATE, att, usable);
    return;
  }
  if (type == "location" && usable) {
    const std::optional<element> coordinates = Field(*usable, "coordinates");
    const std::optional<double> lat =
        coordinates ? NumberOf(Field(*coordinates, "lat")) : std::nullopt;
    const std::optional<double> lng =
        coordinates ? NumberOf(Field(*coordinates, "long")) : std::nullopt;
    if (lat && lng) {
      common::Location* loc = content->add_parts()->mutable_location();
      loc->set_latitude(*lat);
      loc->set_longitude(*lng);
      loc->set_label(StringOr(Field(att, "title")));
      return;
    }
  }
  *content->add_parts() = Unsupported(absl::StrCat("attachment:", type.empty() ? "?" : type));
}

common::MessageContent ContentOf(const element& message) {
  common::MessageContent content;
  const std::string text = StringOr(Field(message, "text"));
  if (!text.empty()) content.add_parts()->set_text(text);
  if (const std::optional<element> qr = Field(message, "quick_reply")) {
    const std::string payload = StringOr(Field(*qr, "payload"));
    if (!payload.empty()) content.add_parts()->mutable_quick_reply()->set_payload(payload);
  }
  if (const std::optional<element> atts = Field(message, "attachments"); atts && atts->is_array()) {
    for (element att : atts->get_array()) AddAttachment(att, &content);
  }
  if (const std::optional<std::string> sticker = IdOf(Field(message, "sticker_id"))) {
    if (!HasSticker(content, *sticker))
      content.add_parts()->mutable_sticker()->set_sticker_id(*sticker);
  }
  if (const std::optional<element> reply = Field(message, "reply_to")) {
    const std::string mid = StringOr(Field(*reply, "mid"));
    if (!mid.empty()) {
      content.mutable_reply_to()->set_provider_message_id(mid);
      content.mutable_reply_to()->set_is_self_reply(BoolOf(Field(*reply, "is_self_reply")));
    }
  }
  return content;
}

sv1::Referral ReferralOf(const element& r) {
  sv1::Referral out;
  out.set_source(StringOr(Field(r, "source")));
  out.set_type(StringOr(Field(r, "type")));
  out.set_ref(StringOr(Field(r, "ref")));
  out.set_ad_id(IdOf(Field(r, "ad_id")).value_or(""));
  return out;
}

// The first key of the event that is not its envelope: what kind of event it is.
std::string KindKey(const element& ev) {
  for (auto field : ev.get_object()) {
    if (!IsEnvelopeKey(field.key)) return std::string(field.key);
  }
  return "";
}

struct EventContext {
  std::string entry_page;             // entry.id; "" when absent
  std::optional<int64_t> entry_time;  // entry.time
  bool standby = false;
  std::string where;     // "entry[0].messaging[1]"
  std::string_view raw;  // the event's bytes as received; empty: not known
};

class EventParser {
 public:
  EventParser(const element& ev, const EventContext& ctx, MessengerBatch* out)
      : ev_(ev), ctx_(ctx), out_(out) {}

  void Run() {
    if (!ev_.is_object()) return Skip("", SkipReason::kMalformedEvent, "not an object");
    sender_ = IdOf(Field(ev_, "sender") ? Field(*Field(ev_, "sender"), "id") : std::nullopt);
    recipient_ =
        IdOf(Field(ev_, "recipient") ? Field(*Field(ev_, "recipient"), "id") : std::nullopt);
    time_ = MillisOf(Field(ev_, "timestamp"));
    if (!time_) time_ = ctx_.entry_time;
    if (const std::optional<element> m = Field(ev_, "message")) return Message(*m);
    if (const std::optional<element> d = Field(ev_, "delivery")) return Delivery(*d);
    if (const std::optional<element> r = Field(ev_, "read")) return Read(*r);
    if (const std::optional<element> p = Field(ev_, "postback")) return Postback(*p);
    if (const std::optional<element> o = Field(ev_, "optin")) return OptIn(*o);
    if (const std::optional<element> r = Field(ev_, "reaction")) return Reaction(*r);
    if (const std::optional<element> e = Field(ev_, "message_edit")) return Edit(*e);
    if (const std::optional<element> r = Field(ev_, "referral")) return ReferralEvent(*r);
    Skip(UserPage(), SkipReason::kUnknownKind, absl::StrCat("kind '", KindKey(ev_), "'"));
  }

 private:
  std::string UserPage() const {
    return !ctx_.entry_page.empty() ? ctx_.entry_page : recipient_.value_or("");
  }

  void Skip(const std::string& page, SkipReason reason, absl::string_view detail) {
    out_->skipped.push_back({page, reason, absl::StrCat(ctx_.where, ": ", detail)});
  }

  // A new event for `page` and customer `user`; false (and a skip) when either is missing.
  sv1::InboundEvent* Begin(const std::string& page, const std::string& user) {
    if (page.empty()) {
      Skip(page, SkipReason::kMalformedEvent, "no page id (entry.id or recipient.id)");
      return nullptr;
    }
    if (user.empty()) {
      Skip(page, SkipReason::kMalformedEvent, "no customer id (sender.id)");
      return nullptr;
    }
    sv1::InboundEvent& e = out_->events.emplace_back();
    e.mutable_endpoint()->set_channel(common::CHANNEL_MESSENGER);
    e.mutable_endpoint()->set_id(page);
    *e.mutable_customer()->mutable_endpoint() = e.endpoint();
    e.mutable_customer()->set_user_id(user);
    if (time_) *e.mutable_provider_time() = FromMillis(*time_);
    e.set_standby(ctx_.standby);
    std::string raw = ctx_.raw.empty() ? simdjson::minify(ev_) : std::string(ctx_.raw);
    if (raw.size() > kMaxRawEvent) raw.resize(kMaxRawEvent);
    e.set_raw_event(std::move(raw));
    return &e;
  }

  // The "<kind>:<psid>:<timestamp ms>" key of events without a mid.
  bool TimedKey(sv1::InboundEvent* e, absl::string_view kind, absl::string_view who) {
    if (time_) {
      e->set_dedup_key(absl::StrCat(kind, ":", who, ":", *time_));
      return true;
    }
    out_->events.pop_back();
    Skip(UserPage(), SkipReason::kMalformedEvent, absl::StrCat(kind, " without timestamp"));
    return false;
  }

  void Message(const element& m) {
    const bool echo = BoolOf(Field(m, "is_echo"));
    const std::string mid = StringOr(Field(m, "mid"));
    if (echo) {
      const std::string page = !ctx_.entry_page.empty() ? ctx_.entry_page : sender_.value_or("");
      sv1::InboundEvent* e = Begin(page, recipient_.value_or(""));
      if (e == nullptr) return;
      if (mid.empty()) return Drop("echo without mid");
      e->set_dedup_key(absl::StrCat("echo:", mid));
      sv1::EchoEvent* out = e->mutable_echo();
      out->set_provider_message_id(mid);
      out->set_meta_app_id(IdOf(Field(m, "app_id")).value_or(""));
      out->set_metadata(StringOr(Field(m, "metadata")));
      *out->mutable_content() = ContentOf(m);
      return;
    }
    sv1::InboundEvent* e = Begin(UserPage(), sender_.value_or(""));
    if (e == nullptr) return;
    if (mid.empty()) return Drop("message without mid");
    e->set_dedup_key(absl::StrCat("msg:", mid));
    sv1::InboundMessage* out = e->mutable_message();
    out->set_provider_message_id(mid);
    *out->mutable_content() = ContentOf(m);
    if (out->content().parts_size() == 0)
      *out->mutable_content()->add_parts() = Unsupported("message:empty");
    if (const std::optional<element> r = Field(ev_, "referral"))
      *out->mutable_referral() = ReferralOf(*r);
  }

  void Drop(absl::string_view why) {
    out_->events.pop_back();
    Skip(UserPage(), SkipReason::kMalformedEvent, why);
  }

  void Delivery(const element& d) {
    sv1::InboundEvent* e = Begin(UserPage(), sender_.value_or(""));
    if (e == nullptr) return;
    const std::optional<int64_t> watermark = MillisOf(Field(d, "watermark"));
    if (!watermark) return Drop("delivery without a numeric watermark");
    e->set_dedup_key(absl::StrCat("delivery:", *sender_, ":", *watermark));
    sv1::DeliveryReceipt* out = e->mutable_delivery();
    *out->mutable_watermark() = FromMillis(*watermark);
    if (const std::optional<element> mids = Field(d, "mids"); mids && mids->is_array()) {
      for (element mid : mids->get_array()) {
        std::string_view s;
        if (mid.get(s) == simdjson::SUCCESS) out->add_provider_message_ids(std::string(s));
      }
    }
  }

  void Read(const element& r) {
    sv1::InboundEvent* e = Begin(UserPage(), sender_.value_or(""));
    if (e == nullptr) return;
    const std::optional<int64_t> watermark = MillisOf(Field(r, "watermark"));
    if (!watermark) return Drop("read without a numeric watermark");
    e->set_dedup_key(absl::StrCat("read:", *sender_, ":", *watermark));
    *e->mutable_read()->mutable_watermark() = FromMillis(*watermark);
  }

  void Postback(const element& p) {
    sv1::InboundEvent* e = Begin(UserPage(), sender_.value_or(""));
    if (e == nullptr) return;
    const std::string mid = StringOr(Field(p, "mid"));
    if (!mid.empty()) {
      e->set_dedup_key(absl::StrCat("postback:", mid));
    } else if (!TimedKey(e, "postback", *sender_)) {
      return;
    }
    sv1::PostbackEvent* out = e->mutable_postback();
    out->set_provider_message_id(mid);
    out->mutable_postback()->set_payload(StringOr(Field(p, "payload")));
    out->mutable_postback()->set_title(StringOr(Field(p, "title")));
    if (const std::optional<element> r = Field(p, "referral"))
      *out->mutable_referral() = ReferralOf(*r);
  }

  void OptIn(const element& o) {
    const std::string user_ref = StringOr(Field(o, "user_ref"));
    const std::string psid = sender_.value_or("");
    if (psid.empty() && user_ref.empty()) {
      return Skip(UserPage(), SkipReason::kMalformedEvent, "optin without sender or user_ref");
    }
    // An anonymous checkbox opt-in has no PSID: Begin needs a customer, so it is set after.
    sv1::InboundEvent* e = Begin(UserPage(), psid.empty() ? user_ref : psid);
    if (e == nullptr) return;
    if (psid.empty()) e->mutable_customer()->clear_user_id();
    if (!TimedKey(e, "optin", psid.empty() ? user_ref : psid)) return;
    sv1::OptInEvent* out = e->mutable_opt_in();
    out->set_ref(StringOr(Field(o, "ref")));
    out->set_user_ref(user_ref);
    out->set_optin_type(StringOr(Field(o, "type")));
  }

  void Reaction(const element& r) {
    sv1::InboundEvent* e = Begin(UserPage(), sender_.value_or(""));
    if (e == nullptr) return;
    const std::string mid = StringOr(Field(r, "mid"));
    const std::string action = StringOr(Field(r, "action"));
    const std::string name = StringOr(Field(r, "reaction"));
    if (mid.empty() || (action != "react" && action != "unreact")) {
      return Drop("reaction without mid or with an unknown action");
    }
    if (!TimedKey(e, "reaction", absl::StrCat(*sender_, ":", mid, ":", action, ":", name))) return;
    common::Reaction* out = e->mutable_reaction();
    out->set_target_provider_message_id(mid);
    out->set_reaction(name);
    out->set_emoji(StringOr(Field(r, "emoji")));
    out->set_action(action == "react" ? common::REACTION_ACTION_REACT
                                      : common::REACTION_ACTION_UNREACT);
  }

  void Edit(const element& m) {
    sv1::InboundEvent* e = Begin(UserPage(), sender_.value_or(""));
    if (e == nullptr) return;
    const std::string mid = StringOr(Field(m, "mid"));
    const std::optional<int64_t> count = MillisOf(Field(m, "num_edit"));
    if (mid.empty() || !count) return Drop("message_edit without mid or num_edit");
    e->set_dedup_key(absl::StrCat("edit:", mid, ":", *count));
    common::Edit* out = e->mutable_edit();
    out->set_target_provider_message_id(mid);
    out->set_text(StringOr(Field(m, "text")));
    out->set_edit_count(static_cast<int32_t>(*count));
  }

  void ReferralEvent(const element& r) {
    sv1::InboundEvent* e = Begin(UserPage(), sender_.value_or(""));
    if (e == nullptr) return;
    if (!TimedKey(e, "referral", *sender_)) return;
    *e->mutable_referral() = ReferralOf(r);
  }

  const element& ev_;
  const EventContext& ctx_;
  MessengerBatch* out_;
  std::optional<std::string> sender_;
  std::optional<std::string> recipient_;
  std::optional<int64_t> time_;
};

// The bytes of every `messaging[]` and `standby[]` element, in the order ParseEntry visits
// them (non-objects as ""), read with simdjson's On-Demand API, which points into the body.
// Empty when the body cannot be walked that way; the events then carry their minified JSON.
std::vector<std::string_view> RawEvents(const simdjson::padded_string& body) {
  namespace od = simdjson::ondemand;
  std::vector<std::string_view> out;
  // Kept per thread: its buffers are reused by the next body instead of allocated per call.
  thread_local od::parser parser;
  od::document doc;
  od::array entries;
  if (parser.iterate(body).get(doc) || doc.find_field_unordered("entry").get_array().get(entries)) {
    return {};
  }
  for (auto entry_result : entries) {
    od::object entry;
    if (entry_result.get_object().get(entry)) continue;
    for (const char* list : {"messaging", "standby"}) {
      od::array events;
      if (entry.find_field_unordered(list).get_array().get(events)) continue;
      for (auto ev : events) {
        od::object object;
        std::string_view raw;
        if (ev.get_object().get(object) || object.raw_json().get(raw)) raw = std::string_view();
        // raw_json runs up to the next token: drop the whitespace after the closing brace.
        while (!raw.empty() && raw.back() != '}') raw.remove_suffix(1);
        out.push_back(raw);
      }
    }
  }
  return out;
}

// How many events ParseEntry visits in `entries`.
size_t CountEvents(const element& entries) {
  size_t n = 0;
  for (element entry : entries.get_array()) {
    for (const char* list : {"messaging", "standby"}) {
      const std::optional<element> events = Field(entry, list);
      if (events && events->is_array()) n += events->get_array().size();
    }
  }
  return n;
}

void ParseEntry(const element& entry, size_t index, const std::vector<std::string_view>& raws,
                size_t* ordinal, MessengerBatch* out) {
  EventContext ctx;
  ctx.entry_page = IdOf(Field(entry, "id")).value_or("");
  ctx.entry_time = MillisOf(Field(entry, "time"));
  bool any = false;
  for (const char* list : {"messaging", "standby"}) {
    const std::optional<element> events = Field(entry, list);
    if (!events || !events->is_array()) continue;
    any = true;
    ctx.standby = std::string_view(list) == "standby";
    size_t i = 0;
    for (element ev : events->get_array()) {
      ctx.where = absl::StrCat("entry[", index, "].", list, "[", i++, "]");
      ctx.raw = *ordinal < raws.size() ? raws[*ordinal] : std::string_view();
      ++*ordinal;
      EventParser(ev, ctx, out).Run();
    }
  }
  if (!any && Field(entry, "changes")) {
    out->skipped.push_back({ctx.entry_page, SkipReason::kUnknownKind,
                            absl::StrCat("entry[", index, "]: changes (not a messaging event)")});
  }
}

}  // namespace

absl::string_view SkipReasonName(SkipReason reason) {
  switch (reason) {
    case SkipReason::kUnknownKind:
      return "unknown_kind";
    case SkipReason::kMalformedEvent:
      return "malformed_event";
  }
  return "unknown_kind";
}

absl::StatusOr<MessengerBatch> ParseMessengerWebhook(absl::string_view body) {
  const simdjson::padded_string padded(body.data(), body.size());
  // Kept per thread (its buffers are reused); `root` and the elements below point into it, and
  // nothing returned does.
  thread_local simdjson::dom::parser parser;
  element root;
  if (const auto error = parser.parse(padded).get(root); error) {
    return absl::InvalidArgumentError(
        absl::StrCat("body: not valid JSON (", simdjson::error_message(error), ")"));
  }
  if (!root.is_object()) return absl::InvalidArgumentError("body: not a JSON object");
  MessengerBatch batch;
  const std::optional<element> object = Field(root, "object");
  if (object && StringOr(object) != "page") {
    batch.skipped.push_back(
        {"", SkipReason::kUnknownKind, absl::StrCat("object '", simdjson::minify(*object), "'")});
    return batch;
  }
  const std::optional<element> entries = Field(root, "entry");
  if (!entries || !entries->is_array())
    return absl::InvalidArgumentError("entry: missing or not an array");
  std::vector<std::string_view> raws = RawEvents(padded);
  if (raws.size() != CountEvents(*entries)) raws.clear();  // walks disagree: never misattribute
  size_t index = 0;
  size_t ordinal = 0;
  for (element entry : entries->get_array()) ParseEntry(entry, index++, raws, &ordinal, &batch);
  return batch;
}

}  // namespace parley::ingress
