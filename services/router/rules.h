// Routing rule conditions: validation of a RuleExpression tree as CreateRoutingRule states it
// (router.proto), and its evaluation against an EngagementContext. Route()
// (routing_definitions.h) is defined in rules.cc on top of these. Pure functions.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/repeated_field.h"
#include "parley/common/v1/common.pb.h"
#include "parley/router/v1/router.pb.h"

namespace parley::router {

inline constexpr int kMaxNesting = 5;          // group levels
inline constexpr int kMaxExpressions = 50;     // per group, and conditions per rule
inline constexpr int kMaxListValues = 100;     // IN operand
inline constexpr int kMaxOperandLength = 200;  // characters of a text operand or list value

// InvalidArgument naming the offending path below `path` (e.g. "rule.condition"), such as
// "rule.condition.group.expressions[2].condition.condition_operator: CONTAINS does not apply
// to TIMEZONE".
absl::Status ValidateExpression(const v1::RuleExpression& expression, absl::string_view path);

// Whether the (valid) expression holds for `context`. A condition on an attribute the context
// lacks (empty text, unknown timezone, unspecified channel) is false whatever the operator.
bool Matches(const v1::RuleExpression& expression, const common::v1::EngagementContext& context);

// Unicode case folding of UTF-8 text (ICU), for the case-insensitive attributes.
std::string FoldCase(absl::string_view text);

// Skills: each 1..32 characters [a-z0-9_-], no repeats, at most `max_count`. InvalidArgument
// naming `field`[i].
absl::Status ValidateSkills(absl::string_view field,
                            const google::protobuf::RepeatedPtrField<std::string>& skills,
                            int max_count);

// Number of Unicode code points of UTF-8 text.
int CodePoints(absl::string_view text);

}  // namespace parley::router
