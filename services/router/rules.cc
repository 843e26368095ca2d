#include "services/router/rules.h"

#include <cmath>
#include <memory>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "services/router/routing_definitions.h"
#include "unicode/ucasemap.h"

namespace parley::router {
namespace {

using common::v1::EngagementContext;
using v1::ConditionOperator;
using v1::EngagementAttribute;
using v1::RuleCondition;
using v1::RuleExpression;

enum class AttributeType { kText, kNumber, kBool };

AttributeType TypeOf(EngagementAttribute a) {
  switch (a) {
    case v1::ENGAGEMENT_ATTRIBUTE_TIMEZONE:
      return AttributeType::kNumber;
    case v1::ENGAGEMENT_ATTRIBUTE_AUTHENTICATED:
      return AttributeType::kBool;
    default:
      return AttributeType::kText;
  }
}

bool CaseInsensitive(EngagementAttribute a) {
  return a == v1::ENGAGEMENT_ATTRIBUTE_CUSTOMER_NAME || a == v1::ENGAGEMENT_ATTRIBUTE_LOCALE ||
         a == v1::ENGAGEMENT_ATTRIBUTE_FIRST_MESSAGE_TEXT;
}

std::string Short(EngagementAttribute a) {
  return std::string(absl::StripPrefix(v1::EngagementAttribute_Name(a), "ENGAGEMENT_ATTRIBUTE_"));
}

std::string Short(ConditionOperator o) {
  return std::string(absl::StripPrefix(v1::ConditionOperator_Name(o), "CONDITION_OPERATOR_"));
}

bool IsNumericComparison(ConditionOperator o) {
  return o == v1::CONDITION_OPERATOR_GREATER_THAN ||
         o == v1::CONDITION_OPERATOR_GREATER_THAN_OR_EQUAL ||
         o == v1::CONDITION_OPERATOR_LESS_THAN || o == v1::CONDITION_OPERATOR_LESS_THAN_OR_EQUAL;
}

std::optional<double> ParseNumber(absl::string_view text) {
  double v = 0;
  if (!absl::SimpleAtod(text, &v) || !std::isfinite(v)) return std::nullopt;
  return v;
}

absl::Status Invalid(absl::string_view path, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", problem));
}

absl::Status CheckText(absl::string_view path, absl::string_view text) {
  if (const int n = CodePoints(text); n > kMaxOperandLength) {
    return Invalid(path, absl::StrCat(n, " characters, at most ", kMaxOperandLength));
  }
  return absl::OkStatus();
}

bool IsChannelName(absl::string_view text) {
  common::v1::Channel c;
  return common::v1::Channel_Parse(std::string(text), &c) && c != common::v1::CHANNEL_UNSPECIFIED;
}

// The operand a text attribute's EQUALS/NOT_EQUALS/IN value must be for CHANNEL.
absl::Status CheckChannelValue(absl::string_view path, EngagementAttribute a,
                               absl::string_view value) {
  if (a != v1::ENGAGEMENT_ATTRIBUTE_CHANNEL || IsChannelName(value)) return absl::OkStatus();
  return Invalid(
      path, absl::StrCat("'", value, "' is not a channel (CHANNEL_MESSENGER or CHANNEL_WHATSAPP)"));
}

absl::Status CheckList(const std::string& path, const RuleCondition& c) {
  if (c.operand_case() != RuleCondition::kListValue) {
    return Invalid(absl::StrCat(path, ".list_value"), "IN takes list_value");
  }
  const auto& values = c.list_value().values();
  if (values.empty() || values.size() > kMaxListValues) {
    return Invalid(absl::StrCat(path, ".list_value.values"),
                   absl::StrCat(values.size(), " values, IN takes 1..", kMaxListValues));
  }
  for (int i = 0; i < values.size(); ++i) {
    const std::string item = absl::StrCat(path, ".list_value.values[", i, "]");
    if (absl::Status s = CheckText(item, values[i]); !s.ok()) return s;
    if (TypeOf(c.attribute()) == AttributeType::kNumber && !ParseNumber(values[i])) {
      return Invalid(item, absl::StrCat("'", values[i], "' is not a number (e.g. 5.5)"));
    }
    if (absl::Status s = CheckChannelValue(item, c.attribute(), values[i]); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status CheckCondition(const std::string& path, const RuleCondition& c) {
  const EngagementAttribute a = c.attribute();
  const ConditionOperator op = c.condition_operator();
  if (a == v1::ENGAGEMENT_ATTRIBUTE_UNSPECIFIED) {
    return Invalid(absl::StrCat(path, ".attribute"), "unspecified");
  }
  if (!v1::EngagementAttribute_IsValid(a)) {
    return Invalid(absl::StrCat(path, ".attribute"), absl::StrCat("unknown attribute ", a));
  }
  const std::string op_path = absl::StrCat(path, ".condition_operator");
  if (op == v1::CONDITION_OPERATOR_UNSPECIFIED) return Invalid(op_path, "unspecified");
  if (!v1::ConditionOperator_IsValid(op)) {
    return Invalid(op_path, absl::StrCat("unknown operator ", op));
  }
  if (op == v1::CONDITION_OPERATOR_IN) {
    if (TypeOf(a) == AttributeType::kBool) {
      return Invalid(op_path, "AUTHENTICATED takes EQUALS or NOT_EQUALS");
    }
    return CheckList(path, c);
  }
  const bool equality =
      op == v1::CONDITION_OPERATOR_EQUALS || op == v1::CONDITION_OPERATOR_NOT_EQUALS;
  switch (TypeOf(a)) {
    case AttributeType::kBool:
      if (!equality) return Invalid(op_path, "AUTHENTICATED takes EQUALS or NOT_EQUALS");
      if (c.operand_case() != RuleCondition::kBoolValue) {
        return Invalid(absl::StrCat(path, ".bool_value"), "AUTHENTICATED takes bool_value");
      }
      return absl::OkStatus();
    case AttributeType::kNumber:
      if (!equality && !IsNumericComparison(op)) {
        return Invalid(op_path, absl::StrCat(Short(op), " does not apply to TIMEZONE"));
      }
      if (c.operand_case() != RuleCondition::kNumberValue) {
        return Invalid(absl::StrCat(path, ".number_value"), "TIMEZONE takes number_value");
      }
      if (!std::isfinite(c.number_value())) {
        return Invalid(absl::StrCat(path, ".number_value"), "not a finite number");
      }
      return absl::OkStatus();
    case AttributeType::kText:
      if (IsNumericComparison(op)) {
        return Invalid(op_path, absl::StrCat(Short(op), " does not apply to ", Short(a),
                                             " (numeric comparisons are for TIMEZONE only)"));
      }
      if (c.operand_case() != RuleCondition::kTextValue) {
        return Invalid(absl::StrCat(path, ".text_value"),
                       absl::StrCat(Short(a), " takes text_value"));
      }
      if (absl::Status s = CheckText(absl::StrCat(path, ".text_value"), c.text_value()); !s.ok()) {
        return s;
      }
      if (equality) {
        return CheckChannelValue(absl::StrCat(path, ".text_value"), a, c.text_value());
      }
      return absl::OkStatus();
  }
  return absl::OkStatus();
}

absl::Status CheckExpression(const std::string& path, const RuleExpression& e, int level,
                             int* conditions) {
  switch (e.node_case()) {
    case RuleExpression::kCondition:
      if (++*conditions > kMaxExpressions) {
        return Invalid(path,
                       absl::StrCat("more than ", kMaxExpressions, " conditions in the rule"));
      }
      return CheckCondition(absl::StrCat(path, ".condition"), e.condition());
    case RuleExpression::kGroup: {
      const std::string group = absl::StrCat(path, ".group");
      if (level > kMaxNesting) {
        return Invalid(group, absl::StrCat("nested deeper than ", kMaxNesting, " levels"));
      }
      const v1::LogicalOperator lop = e.group().logical_operator();
      if (lop != v1::LOGICAL_OPERATOR_AND && lop != v1::LOGICAL_OPERATOR_OR) {
        return Invalid(absl::StrCat(group, ".logical_operator"),
                       lop == v1::LOGICAL_OPERATOR_UNSPECIFIED
                           ? "unspecified"
                           : absl::StrCat("unknown operator ", lop));
      }
      const auto& items = e.group().expressions();
      if (items.empty()) return Invalid(absl::StrCat(group, ".expressions"), "empty group");
      if (items.size() > kMaxExpressions) {
        return Invalid(absl::StrCat(group, ".expressions"),
                       absl::StrCat(items.size(), " expressions, at most ", kMaxExpressions));
      }
      for (int i = 0; i < items.size(); ++i) {
        if (absl::Status s = CheckExpression(absl::StrCat(group, ".expressions[", i, "]"), items[i],
                                             level + 1, conditions);
            !s.ok()) {
          return s;
        }
      }
      return absl::OkStatus();
    }
    case RuleExpression::NODE_NOT_SET:
      return Invalid(path, "missing (set condition or group)");
  }
  return absl::OkStatus();
}

// The attribute's value as text, or nullopt when the context lacks it.
std::optional<std::string> TextOf(EngagementAttribute a, const EngagementContext& ctx) {
  std::string v;
  switch (a) {
    case v1::ENGAGEMENT_ATTRIBUTE_CUSTOMER_NAME:
      v = ctx.customer_name();
      break;
    case v1::ENGAGEMENT_ATTRIBUTE_LOCALE:
      v = ctx.locale();
      break;
    case v1::ENGAGEMENT_ATTRIBUTE_USER_ID:
      v = ctx.user_id();
      break;
    case v1::ENGAGEMENT_ATTRIBUTE_CHANNEL:
      if (ctx.channel() == common::v1::CHANNEL_UNSPECIFIED) return std::nullopt;
      v = common::v1::Channel_Name(ctx.channel());
      break;
    case v1::ENGAGEMENT_ATTRIBUTE_ENDPOINT:
      v = ctx.endpoint().id();
      break;
    case v1::ENGAGEMENT_ATTRIBUTE_FIRST_MESSAGE_TEXT:
      v = ctx.first_message_text();
      break;
    default:
      return std::nullopt;
  }
  if (v.empty()) return std::nullopt;
  return CaseInsensitive(a) ? FoldCase(v) : v;
}

bool MatchText(const RuleCondition& c, const std::string& value) {
  auto norm = [&](const std::string& s) {
    return CaseInsensitive(c.attribute()) ? FoldCase(s) : s;
  };
  switch (c.condition_operator()) {
    case v1::CONDITION_OPERATOR_EQUALS:
      return value == norm(c.text_value());
    case v1::CONDITION_OPERATOR_NOT_EQUALS:
      return value != norm(c.text_value());
    case v1::CONDITION_OPERATOR_CONTAINS:
      return absl::StrContains(value, norm(c.text_value()));
    case v1::CONDITION_OPERATOR_BEGINS_WITH:
      return absl::StartsWith(value, norm(c.text_value()));
    case v1::CONDITION_OPERATOR_IN:
      for (const std::string& item : c.list_value().values()) {
        if (value == norm(item)) return true;
      }
      return false;
    default:
      return false;
  }
}

bool MatchNumber(const RuleCondition& c, double value) {
  const double operand = c.number_value();
  switch (c.condition_operator()) {
    case v1::CONDITION_OPERATOR_EQUALS:
      return value == operand;
    case v1::CONDITION_OPERATOR_NOT_EQUALS:
      return value != operand;
    case v1::CONDITION_OPERATOR_GREATER_THAN:
      return value > operand;
    case v1::CONDITION_OPERATOR_GREATER_THAN_OR_EQUAL:
      return value >= operand;
    case v1::CONDITION_OPERATOR_LESS_THAN:
      return value < operand;
    case v1::CONDITION_OPERATOR_LESS_THAN_OR_EQUAL:
      return value <= operand;
    case v1::CONDITION_OPERATOR_IN:
      for (const std::string& item : c.list_value().values()) {
        if (std::optional<double> n = ParseNumber(item); n && *n == value) return true;
      }
      return false;
    default:
      return false;
  }
}

bool MatchCondition(const RuleCondition& c, const EngagementContext& ctx) {
  switch (TypeOf(c.attribute())) {
    case AttributeType::kBool:
      if (c.condition_operator() == v1::CONDITION_OPERATOR_EQUALS) {
        return ctx.authenticated() == c.bool_value();
      }
      return c.condition_operator() == v1::CONDITION_OPERATOR_NOT_EQUALS &&
             ctx.authenticated() != c.bool_value();
    case AttributeType::kNumber:
      return ctx.has_timezone_offset_hours() && MatchNumber(c, ctx.timezone_offset_hours());
    case AttributeType::kText: {
      std::optional<std::string> value = TextOf(c.attribute(), ctx);
      return value.has_value() && MatchText(c, *value);
    }
  }
  return false;
}

}  // namespace

int CodePoints(absl::string_view text) {
  int n = 0;
  for (const char ch : text) n += (static_cast<unsigned char>(ch) & 0xC0) != 0x80;
  return n;
}

std::string FoldCase(absl::string_view text) {
  UErrorCode error = U_ZERO_ERROR;
  std::unique_ptr<UCaseMap, decltype(&ucasemap_close)> map(
      ucasemap_open(nullptr, U_FOLD_CASE_DEFAULT, &error), &ucasemap_close);
  if (U_FAILURE(error)) return std::string(text);
  std::string out(text.size() * 3 + 4, '\0');
  int32_t n = ucasemap_utf8FoldCase(map.get(), out.data(), static_cast<int32_t>(out.size()),
                                    text.data(), static_cast<int32_t>(text.size()), &error);
  if (error == U_BUFFER_OVERFLOW_ERROR) {
    error = U_ZERO_ERROR;
    out.resize(static_cast<size_t>(n));
    n = ucasemap_utf8FoldCase(map.get(), out.data(), n, text.data(),
                              static_cast<int32_t>(text.size()), &error);
  }
  if (U_FAILURE(error)) return std::string(text);
  out.resize(static_cast<size_t>(n));
  return out;
}

absl::Status ValidateExpression(const RuleExpression& expression, absl::string_view path) {
  int conditions = 0;
  return CheckExpression(std::string(path), expression, 1, &conditions);
}

bool Matches(const RuleExpression& e, const EngagementContext& ctx) {
  switch (e.node_case()) {
    case RuleExpression::kCondition:
      return MatchCondition(e.condition(), ctx);
    case RuleExpression::kGroup: {
      const bool any = e.group().logical_operator() == v1::LOGICAL_OPERATOR_OR;
      for (const RuleExpression& item : e.group().expressions()) {
        if (Matches(item, ctx) == any) return any;
      }
      return !any && !e.group().expressions().empty();
    }
    case RuleExpression::NODE_NOT_SET:
      return false;
  }
  return false;
}

absl::Status ValidateSkills(absl::string_view field,
                            const google::protobuf::RepeatedPtrField<std::string>& skills,
                            int max_count) {
  if (skills.size() > max_count) {
    return Invalid(field, absl::StrCat(skills.size(), " skills, at most ", max_count));
  }
  for (int i = 0; i < skills.size(); ++i) {
    const std::string& s = skills[i];
    const std::string item = absl::StrCat(field, "[", i, "]");
    if (s.empty() || s.size() > 32) {
      return Invalid(item, absl::StrCat("'", s, "' must be 1..32 characters"));
    }
    for (const char ch : s) {
      if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-')) {
        return Invalid(item, absl::StrCat("'", s, "' may only contain a-z, 0-9, _ and -"));
      }
    }
    for (int j = 0; j < i; ++j) {
      if (skills[j] == s) return Invalid(item, absl::StrCat("'", s, "' is repeated"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<RouteDecision> Route(const RoutingSnapshot& snapshot,
                                    absl::string_view work_stream_id,
                                    const EngagementContext& context) {
  const auto ws = snapshot.work_streams.find(work_stream_id);
  if (ws == snapshot.work_streams.end()) {
    return absl::NotFoundError(absl::StrCat("work stream ", work_stream_id, ": not found"));
  }
  if (const auto rules = snapshot.rules.find(work_stream_id); rules != snapshot.rules.end()) {
    for (const v1::RoutingRule& rule : rules->second) {
      if (!rule.enabled() || !Matches(rule.condition(), context)) continue;
      return RouteDecision{
          .queue_id = rule.queue_id(),
          .required_skills = {rule.required_skills().begin(), rule.required_skills().end()},
          .rule_id = rule.id()};
    }
  }
  return RouteDecision{
      .queue_id = ws->second.default_queue_id(), .required_skills = {}, .rule_id = ""};
}

}  // namespace parley::router
