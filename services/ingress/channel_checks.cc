#include "services/ingress/channel_checks.h"

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace parley::ingress {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::FieldMask;
using google::protobuf::Message;

absl::Status Invalid(absl::string_view field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", problem));
}

bool AllOf(absl::string_view s, bool (*pred)(unsigned char)) {
  return std::all_of(s.begin(), s.end(), [pred](char c) { return pred(c); });
}
bool IsDigit(unsigned char c) { return absl::ascii_isdigit(c); }
bool IsHex(unsigned char c) { return absl::ascii_isxdigit(c); }
bool IsLowerHex(unsigned char c) { return absl::ascii_isdigit(c) || (c >= 'a' && c <= 'f'); }
bool IsAlpha(unsigned char c) { return absl::ascii_isalpha(c); }
bool IsAlnum(unsigned char c) { return absl::ascii_isalnum(c); }

bool HasControl(absl::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

// A display name: 1..200 code points, no control characters.
absl::Status CheckName(absl::string_view field, absl::string_view name) {
  if (absl::StripAsciiWhitespace(name).empty()) return Invalid(field, "empty");
  const int n = CodePoints(name);
  if (n > 200) return Invalid(field, absl::StrCat(n, " characters, at most 200 allowed"));
  if (HasControl(name)) return Invalid(field, "contains a control character");
  return absl::OkStatus();
}

absl::Status CheckDigits(absl::string_view field, absl::string_view value, absl::string_view what) {
  if (value.empty() || value.size() > 32 || !AllOf(value, IsDigit)) {
    return Invalid(field,
                   absl::StrCat("\"", ShowValue(value), "\" is not ", what, " (1..32 digits)"));
  }
  return absl::OkStatus();
}

// Secrets: the message says what is wrong with the value, never the value.
absl::Status CheckHexSecret(absl::string_view field, absl::string_view value, size_t min,
                            size_t max) {
  if (value.empty()) return Invalid(field, "required");
  const std::string range = min == max ? absl::StrCat(min) : absl::StrCat(min, "..", max);
  if (value.size() < min || value.size() > max) {
    return Invalid(field, absl::StrCat(value.size(), " characters, expected ", range,
                                       " hexadecimal characters"));
  }
  if (!AllOf(value, IsHex)) {
    return Invalid(field,
                   absl::StrCat("not hexadecimal (expected ", range, " hexadecimal characters)"));
  }
  return absl::OkStatus();
}

absl::Status CheckPageToken(absl::string_view field, absl::string_view token) {
  if (token.empty()) return Invalid(field, "required");
  const int n = CodePoints(token);
  if (n > 1024) return Invalid(field, absl::StrCat(n, " characters, at most 1024 allowed"));
  if (HasControl(token)) return Invalid(field, "contains a control character");
  return absl::OkStatus();
}

// Twilio writes SIDs in lower case, in its console and in every webhook's AccountSid, which
// must match this one exactly.
absl::Status CheckAccountSid(absl::string_view field, absl::string_view sid) {
  if (sid.size() != 34 || !absl::StartsWith(sid, "AC") || !AllOf(sid.substr(2), IsLowerHex)) {
    return Invalid(
        field, absl::StrCat("\"", ShowValue(sid),
                            "\" is not \"AC\" followed by 32 lower-case hexadecimal characters"));
  }
  return absl::OkStatus();
}

absl::Status CheckPhone(absl::string_view field, absl::string_view phone) {
  const absl::string_view digits = absl::StripPrefix(phone, "+");
  if (digits.size() == phone.size() || digits.size() < 8 || digits.size() > 15 ||
      !AllOf(digits, IsDigit)) {
    return Invalid(
        field, absl::StrCat("\"", ShowValue(phone), "\" is not E.164 (\"+\" and 8..15 digits)"));
  }
  return absl::OkStatus();
}

// BCP 47 in the shape Parley needs: a 2..8 letter primary subtag, then subtags of 1..8
// letters or digits, separated by "-"; 2..35 characters in all.
bool IsLanguageTag(absl::string_view tag) {
  if (tag.size() < 2 || tag.size() > 35) return false;
  const std::vector<absl::string_view> parts = absl::StrSplit(tag, '-');
  if (parts[0].size() < 2 || parts[0].size() > 8 || !AllOf(parts[0], IsAlpha)) return false;
  for (size_t i = 1; i < parts.size(); ++i) {
    if (parts[i].empty() || parts[i].size() > 8 || !AllOf(parts[i], IsAlnum)) return false;
  }
  return true;
}

enum class ChannelKind { kMessenger, kWhatsApp };

absl::Status CheckSettings(absl::string_view prefix, const common::v1::EndpointSettings& s,
                           ChannelKind channel) {
  const std::string field = absl::StrCat(prefix, ".settings.");
  if (!s.language().empty() && !IsLanguageTag(s.language())) {
    return Invalid(absl::StrCat(field, "language"),
                   absl::StrCat("\"", ShowValue(s.language()),
                                "\" is not a BCP 47 language tag (e.g. \"en-US\")"));
  }
  if (absl::Status st = CheckUuid(absl::StrCat(field, "work_stream_id"), s.work_stream_id(), true);
      !st.ok()) {
    return st;
  }
  if (channel == ChannelKind::kWhatsApp && s.human_agent_tag_enabled()) {
    return Invalid(absl::StrCat(field, "human_agent_tag_enabled"),
                   "the Human Agent tag is Messenger only; must be false on WhatsApp");
  }
  return absl::OkStatus();
}

absl::Status OutputOnly(absl::string_view field) {
  return Invalid(field, "output only; leave it empty");
}

// What an update mask may name on one resource.
struct MaskRules {
  const google::protobuf::Descriptor* descriptor;
  std::vector<absl::string_view> mutable_paths;
  std::vector<std::pair<absl::string_view, absl::string_view>> immutable;  // path, advice
  bool has_settings;
};

absl::Status CheckMask(const FieldMask& mask, const MaskRules& rules) {
  if (mask.paths().empty()) return Invalid("update_mask", "empty; name the fields to change");
  for (const std::string& path : mask.paths()) {
    const std::string shown = ShowValue(path);
    if (std::find(rules.mutable_paths.begin(), rules.mutable_paths.end(), path) !=
        rules.mutable_paths.end()) {
      continue;
    }
    if (rules.has_settings && path == "settings") continue;
    absl::string_view sub = path;
    if (rules.has_settings && absl::ConsumePrefix(&sub, "settings.")) {
      if (common::v1::EndpointSettings::descriptor()->FindFieldByName(std::string(sub)) !=
          nullptr) {
        continue;
      }
      return Invalid("update_mask", absl::StrCat("unknown path \"", shown, "\""));
    }
    for (const auto& [immutable, advice] : rules.immutable) {
      if (path == immutable) {
        return Invalid("update_mask", absl::StrCat("\"", shown, "\" cannot change (", advice, ")"));
      }
    }
    if (rules.descriptor->FindFieldByName(path) != nullptr) {
      return Invalid("update_mask", absl::StrCat("\"", shown, "\" is output only"));
    }
    return Invalid("update_mask", absl::StrCat("unknown path \"", shown, "\""));
  }
  return absl::OkStatus();
}

bool InMask(const FieldMask& mask, absl::string_view path) {
  return std::find(mask.paths().begin(), mask.paths().end(), path) != mask.paths().end();
}

void CopyField(const Message& from, const FieldDescriptor* field, Message* to) {
  const auto* r = from.GetReflection();
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      to->GetReflection()->SetString(to, field, r->GetString(from, field));
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      to->GetReflection()->SetBool(to, field, r->GetBool(from, field));
      break;
    case FieldDescriptor::CPPTYPE_MESSAGE:
      to->GetReflection()->MutableMessage(to, field)->CopyFrom(r->GetMessage(from, field));
      break;
    default:  // the resources have no other kinds of mutable fields
      break;
  }
}

}  // namespace

std::string ShowValue(absl::string_view value) {
  size_t end = std::min<size_t>(value.size(), 40);
  while (end < value.size() && (static_cast<unsigned char>(value[end]) & 0xC0) == 0x80) --end;
  std::string out;
  for (char c : value.substr(0, end)) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      out += absl::StrCat("\\x", absl::Hex(u, absl::kZeroPad2));
    } else {
      out += c;
    }
  }
  if (end < value.size()) out += "...";
  return out;
}

int CodePoints(absl::string_view text) {
  return static_cast<int>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

absl::Status CheckUuid(absl::string_view field, absl::string_view value, bool required) {
  if (value.empty()) return required ? Invalid(field, "required") : absl::OkStatus();
  static constexpr int kGroups[] = {8, 4, 4, 4, 12};
  const std::vector<absl::string_view> groups = absl::StrSplit(value, '-');
  bool ok = groups.size() == 5;
  for (size_t i = 0; ok && i < groups.size(); ++i) {
    ok = static_cast<int>(groups[i].size()) == kGroups[i] &&
         std::all_of(groups[i].begin(), groups[i].end(),
                     [](char c) { return absl::ascii_isdigit(c) || (c >= 'a' && c <= 'f'); });
  }
  if (!ok) {
    return Invalid(field, absl::StrCat("\"", ShowValue(value), "\" is not a UUID (lower case)"));
  }
  return absl::OkStatus();
}

absl::Status CheckNewApp(const v1::FacebookApp& app) {
  if (!app.id().empty()) return OutputOnly("app.id");
  if (app.app_secret_set()) return OutputOnly("app.app_secret_set");
  if (app.page_count() != 0) return OutputOnly("app.page_count");
  if (app.has_create_time()) return OutputOnly("app.create_time");
  if (app.has_update_time()) return OutputOnly("app.update_time");
  if (absl::Status s = CheckName("app.name", app.name()); !s.ok()) return s;
  if (absl::Status s = CheckDigits("app.meta_app_id", app.meta_app_id(), "a Meta App ID");
      !s.ok()) {
    return s;
  }
  return CheckHexSecret("app.app_secret", app.app_secret(), 32, 128);
}

absl::Status CheckNewPage(const v1::FacebookPage& page) {
  if (!page.id().empty()) return OutputOnly("page.id");
  if (page.page_access_token_set()) return OutputOnly("page.page_access_token_set");
  if (!page.callback_uri().empty()) return OutputOnly("page.callback_uri");
  if (!page.verify_token().empty()) return OutputOnly("page.verify_token");
  if (page.has_create_time()) return OutputOnly("page.create_time");
  if (page.has_update_time()) return OutputOnly("page.update_time");
  if (absl::Status s = CheckDigits("page.page_id", page.page_id(), "a Facebook Page ID"); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckName("page.name", page.name()); !s.ok()) return s;
  if (absl::Status s = CheckUuid("page.parent_app_id", page.parent_app_id(), true); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckPageToken("page.page_access_token", page.page_access_token());
      !s.ok()) {
    return s;
  }
  if (!page.has_settings()) return Invalid("page.settings", "required (at least work_stream_id)");
  return CheckSettings("page", page.settings(), ChannelKind::kMessenger);
}

absl::Status CheckNewSender(const v1::WhatsAppSender& sender) {
  if (!sender.id().empty()) return OutputOnly("sender.id");
  if (sender.auth_token_set()) return OutputOnly("sender.auth_token_set");
  if (!sender.callback_uri().empty()) return OutputOnly("sender.callback_uri");
  if (!sender.status_callback_uri().empty()) return OutputOnly("sender.status_callback_uri");
  if (sender.has_create_time()) return OutputOnly("sender.create_time");
  if (sender.has_update_time()) return OutputOnly("sender.update_time");
  if (absl::Status s = CheckName("sender.name", sender.name()); !s.ok()) return s;
  if (absl::Status s = CheckAccountSid("sender.account_sid", sender.account_sid()); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckHexSecret("sender.auth_token", sender.auth_token(), 32, 32); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckPhone("sender.phone_number", sender.phone_number()); !s.ok()) return s;
  if (!sender.has_settings()) {
    return Invalid("sender.settings", "required (at least work_stream_id)");
  }
  return CheckSettings("sender", sender.settings(), ChannelKind::kWhatsApp);
}

absl::Status CheckUpdatedApp(const v1::FacebookApp& app, const FieldMask& mask) {
  if (absl::Status s = CheckName("app.name", app.name()); !s.ok()) return s;
  if (!InMask(mask, "app_secret")) return absl::OkStatus();
  return CheckHexSecret("app.app_secret", app.app_secret(), 32, 128);
}

absl::Status CheckUpdatedPage(const v1::FacebookPage& page, const FieldMask& mask) {
  if (absl::Status s = CheckName("page.name", page.name()); !s.ok()) return s;
  if (InMask(mask, "page_access_token")) {
    if (absl::Status s = CheckPageToken("page.page_access_token", page.page_access_token());
        !s.ok()) {
      return s;
    }
  }
  return CheckSettings("page", page.settings(), ChannelKind::kMessenger);
}

absl::Status CheckUpdatedSender(const v1::WhatsAppSender& sender, const FieldMask& mask) {
  if (absl::Status s = CheckName("sender.name", sender.name()); !s.ok()) return s;
  if (absl::Status s = CheckAccountSid("sender.account_sid", sender.account_sid()); !s.ok()) {
    return s;
  }
  if (InMask(mask, "auth_token")) {
    if (absl::Status s = CheckHexSecret("sender.auth_token", sender.auth_token(), 32, 32);
        !s.ok()) {
      return s;
    }
  }
  return CheckSettings("sender", sender.settings(), ChannelKind::kWhatsApp);
}

absl::Status CheckAppMask(const FieldMask& mask) {
  return CheckMask(mask, {v1::FacebookApp::descriptor(),
                          {"name", "app_secret"},
                          {{"meta_app_id", "register a new application instead"}},
                          false});
}

absl::Status CheckPageMask(const FieldMask& mask) {
  return CheckMask(mask, {v1::FacebookPage::descriptor(),
                          {"name", "page_access_token"},
                          {{"page_id", "add a new page instead"},
                           {"parent_app_id", "a page stays with its application"}},
                          true});
}

absl::Status CheckSenderMask(const FieldMask& mask) {
  return CheckMask(mask, {v1::WhatsAppSender::descriptor(),
                          {"name", "account_sid", "auth_token"},
                          {{"phone_number", "register a new sender instead"}},
                          true});
}

void ApplyMask(const Message& from, const FieldMask& mask, Message* to) {
  const auto* descriptor = from.GetDescriptor();
  for (const std::string& path : mask.paths()) {
    absl::string_view sub = path;
    if (absl::ConsumePrefix(&sub, "settings.")) {
      const FieldDescriptor* settings = descriptor->FindFieldByName("settings");
      const Message& src = from.GetReflection()->GetMessage(from, settings);
      Message* dst = to->GetReflection()->MutableMessage(to, settings);
      CopyField(src, src.GetDescriptor()->FindFieldByName(std::string(sub)), dst);
      continue;
    }
    CopyField(from, descriptor->FindFieldByName(path), to);
  }
}

void DefaultSettings(common::v1::EndpointSettings* settings) {
  if (settings->language().empty()) settings->set_language("en");
}

absl::Status CheckEndpointRef(const common::v1::EndpointRef& endpoint) {
  if (endpoint.channel() != common::v1::CHANNEL_MESSENGER &&
      endpoint.channel() != common::v1::CHANNEL_WHATSAPP) {
    return Invalid("endpoint.channel", "unspecified (CHANNEL_MESSENGER or CHANNEL_WHATSAPP)");
  }
  if (endpoint.id().empty()) return Invalid("endpoint.id", "empty");
  if (endpoint.id().size() > 32) {
    return Invalid("endpoint.id", absl::StrCat(endpoint.id().size(), " characters, at most 32"));
  }
  return absl::OkStatus();
}

}  // namespace parley::ingress
