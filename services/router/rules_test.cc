// Rule conditions: evaluation of every operator on every attribute (table-driven), missing
// attributes, AND/OR nesting, validation errors with their paths, and Route() (first match
// wins, disabled rules skipped, default queue), including the examples of Dynamics 365's
// Facebook channel documentation (customer named Gilda, timezone 5.5, page-scoped user id).
#include "services/router/rules.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "services/router/router_fixture.h"
#include "services/router/routing_definitions.h"

namespace parley::router {
namespace {

using common::v1::EngagementContext;
using v1::RuleExpression;

constexpr auto kName = v1::ENGAGEMENT_ATTRIBUTE_CUSTOMER_NAME;
constexpr auto kLocale = v1::ENGAGEMENT_ATTRIBUTE_LOCALE;
constexpr auto kUser = v1::ENGAGEMENT_ATTRIBUTE_USER_ID;
constexpr auto kChannel = v1::ENGAGEMENT_ATTRIBUTE_CHANNEL;
constexpr auto kEndpoint = v1::ENGAGEMENT_ATTRIBUTE_ENDPOINT;
constexpr auto kText = v1::ENGAGEMENT_ATTRIBUTE_FIRST_MESSAGE_TEXT;
constexpr auto kEq = v1::CONDITION_OPERATOR_EQUALS;
constexpr auto kNe = v1::CONDITION_OPERATOR_NOT_EQUALS;
constexpr auto kContains = v1::CONDITION_OPERATOR_CONTAINS;
constexpr auto kBegins = v1::CONDITION_OPERATOR_BEGINS_WITH;
constexpr auto kGt = v1::CONDITION_OPERATOR_GREATER_THAN;
constexpr auto kGe = v1::CONDITION_OPERATOR_GREATER_THAN_OR_EQUAL;
constexpr auto kLt = v1::CONDITION_OPERATOR_LESS_THAN;
constexpr auto kLe = v1::CONDITION_OPERATOR_LESS_THAN_OR_EQUAL;
constexpr auto kAnd = v1::LOGICAL_OPERATOR_AND;
constexpr auto kOr = v1::LOGICAL_OPERATOR_OR;

// A Messenger customer as Dynamics 365's Facebook engagement context describes one.
EngagementContext Gilda() {
  EngagementContext c;
  c.set_channel(common::v1::CHANNEL_MESSENGER);
  c.mutable_endpoint()->set_channel(common::v1::CHANNEL_MESSENGER);
  c.mutable_endpoint()->set_id("1895382890692545");
  c.set_customer_name("Gilda Smith");
  c.set_locale("en_US");
  c.set_timezone_offset_hours(5.5);
  c.set_user_id("1412611362105802");
  c.set_authenticated(true);
  c.set_first_message_text("Hello, I have a question about my Invoice");
  return c;
}

// A WhatsApp customer with nothing but the required identity.
EngagementContext Bare() {
  EngagementContext c;
  c.set_channel(common::v1::CHANNEL_WHATSAPP);
  c.mutable_endpoint()->set_channel(common::v1::CHANNEL_WHATSAPP);
  c.mutable_endpoint()->set_id("+14155238886");
  c.set_user_id("IN.2081978709342942");
  return c;
}

// A context where only `field` is emptied (to test missing attributes one at a time).
EngagementContext Without(v1::EngagementAttribute a) {
  EngagementContext c = Gilda();
  switch (a) {
    case v1::ENGAGEMENT_ATTRIBUTE_CUSTOMER_NAME:
      c.clear_customer_name();
      break;
    case v1::ENGAGEMENT_ATTRIBUTE_LOCALE:
      c.clear_locale();
      break;
    case v1::ENGAGEMENT_ATTRIBUTE_TIMEZONE:
      c.clear_timezone_offset_hours();
      break;
    case v1::ENGAGEMENT_ATTRIBUTE_USER_ID:
      c.clear_user_id();
      break;
    case v1::ENGAGEMENT_ATTRIBUTE_CHANNEL:
      c.clear_channel();
      break;
    case v1::ENGAGEMENT_ATTRIBUTE_ENDPOINT:
      c.clear_endpoint();
      break;
    case v1::ENGAGEMENT_ATTRIBUTE_FIRST_MESSAGE_TEXT:
      c.clear_first_message_text();
      break;
    default:
      break;
  }
  return c;
}

struct MatchCase {
  std::string name;
  RuleExpression expression;
  EngagementContext context;
  bool want;
};

std::vector<MatchCase> MatchCases() {
  const EngagementContext g = Gilda();
  return {
      // CUSTOMER_NAME: text, case-insensitive.
      {"name equals", TextCondition(kName, kEq, "Gilda Smith"), g, true},
      {"name equals other case", TextCondition(kName, kEq, "GILDA smith"), g, true},
      {"name equals other", TextCondition(kName, kEq, "Gilda"), g, false},
      {"name not equals", TextCondition(kName, kNe, "Ada Lovelace"), g, true},
      {"name not equals same (case)", TextCondition(kName, kNe, "gilda SMITH"), g, false},
      {"name contains", TextCondition(kName, kContains, "smi"), g, true},
      {"name contains no", TextCondition(kName, kContains, "jones"), g, false},
      {"name begins with", TextCondition(kName, kBegins, "gilda"), g, true},
      {"name begins with no", TextCondition(kName, kBegins, "Smith"), g, false},
      {"name in", InCondition(kName, {"Ada", "gilda smith"}), g, true},
      {"name in no", InCondition(kName, {"Ada", "Gilda"}), g, false},
      // LOCALE: text, case-insensitive.
      {"locale equals", TextCondition(kLocale, kEq, "EN_us"), g, true},
      {"locale not equals", TextCondition(kLocale, kNe, "fr_FR"), g, true},
      {"locale not equals same", TextCondition(kLocale, kNe, "en_US"), g, false},
      {"locale contains", TextCondition(kLocale, kContains, "_us"), g, true},
      {"locale begins with", TextCondition(kLocale, kBegins, "en"), g, true},
      {"locale begins with no", TextCondition(kLocale, kBegins, "fr"), g, false},
      {"locale in", InCondition(kLocale, {"fr_FR", "en_us"}), g, true},
      {"locale in no", InCondition(kLocale, {"fr_FR", "de_DE"}), g, false},
      // TIMEZONE: number.
      {"timezone equals 5.5", NumberCondition(kEq, 5.5), g, true},
      {"timezone equals 5", NumberCondition(kEq, 5), g, false},
      {"timezone not equals", NumberCondition(kNe, -3), g, true},
      {"timezone not equals same", NumberCondition(kNe, 5.5), g, false},
      {"timezone greater", NumberCondition(kGt, 5), g, true},
      {"timezone greater equal is not greater", NumberCondition(kGt, 5.5), g, false},
      {"timezone greater or equal", NumberCondition(kGe, 5.5), g, true},
      {"timezone greater or equal no", NumberCondition(kGe, 6), g, false},
      {"timezone less", NumberCondition(kLt, 6), g, true},
      {"timezone less no", NumberCondition(kLt, 5.5), g, false},
      {"timezone less or equal", NumberCondition(kLe, 5.5), g, true},
      {"timezone less or equal no", NumberCondition(kLe, -12), g, false},
      {"timezone in", InCondition(v1::ENGAGEMENT_ATTRIBUTE_TIMEZONE, {"-3", "5.50"}), g, true},
      {"timezone in no", InCondition(v1::ENGAGEMENT_ATTRIBUTE_TIMEZONE, {"5", "6"}), g, false},
      // USER_ID: text, exact.
      {"user equals", TextCondition(kUser, kEq, "1412611362105802"), g, true},
      {"user equals no", TextCondition(kUser, kEq, "1412611362105803"), g, false},
      {"user exact case", TextCondition(kUser, kEq, "in.2081978709342942"), Bare(), false},
      {"user exact case ok", TextCondition(kUser, kEq, "IN.2081978709342942"), Bare(), true},
      {"user not equals", TextCondition(kUser, kNe, "1"), g, true},
      {"user contains", TextCondition(kUser, kContains, "6113"), g, true},
      {"user begins with", TextCondition(kUser, kBegins, "1412"), g, true},
      {"user begins with no", TextCondition(kUser, kBegins, "2081"), g, false},
      {"user in", InCondition(kUser, {"1", "1412611362105802"}), g, true},
      // CHANNEL: enum value name, exact.
      {"channel equals", TextCondition(kChannel, kEq, "CHANNEL_MESSENGER"), g, true},
      {"channel equals whatsapp", TextCondition(kChannel, kEq, "CHANNEL_WHATSAPP"), g, false},
      {"channel exact case", TextCondition(kChannel, kContains, "messenger"), g, false},
      {"channel not equals", TextCondition(kChannel, kNe, "CHANNEL_MESSENGER"), Bare(), true},
      {"channel contains", TextCondition(kChannel, kContains, "WHATS"), Bare(), true},
      {"channel begins with", TextCondition(kChannel, kBegins, "CHANNEL_M"), g, true},
      {"channel in", InCondition(kChannel, {"CHANNEL_WHATSAPP"}), Bare(), true},
      {"channel in no", InCondition(kChannel, {"CHANNEL_WHATSAPP"}), g, false},
      // ENDPOINT: page id or sender number, exact.
      {"endpoint equals page", TextCondition(kEndpoint, kEq, "1895382890692545"), g, true},
      {"endpoint equals sender", TextCondition(kEndpoint, kEq, "+14155238886"), Bare(), true},
      {"endpoint not equals", TextCondition(kEndpoint, kNe, "+14155238886"), g, true},
      {"endpoint contains", TextCondition(kEndpoint, kContains, "4155"), Bare(), true},
      {"endpoint begins with", TextCondition(kEndpoint, kBegins, "+1"), Bare(), true},
      {"endpoint begins with no", TextCondition(kEndpoint, kBegins, "+31"), Bare(), false},
      {"endpoint in", InCondition(kEndpoint, {"+31612345678", "+14155238886"}), Bare(), true},
      // AUTHENTICATED: boolean (never missing).
      {"authenticated equals true", BoolCondition(kEq, true), g, true},
      {"authenticated equals false", BoolCondition(kEq, false), g, false},
      {"unauthenticated equals false", BoolCondition(kEq, false), Bare(), true},
      {"authenticated not equals false", BoolCondition(kNe, false), g, true},
      {"authenticated not equals true", BoolCondition(kNe, true), g, false},
      // FIRST_MESSAGE_TEXT: text, case-insensitive.
      {"text contains", TextCondition(kText, kContains, "INVOICE"), g, true},
      {"text contains no", TextCondition(kText, kContains, "refund"), g, false},
      {"text begins with", TextCondition(kText, kBegins, "hello,"), g, true},
      {"text equals", TextCondition(kText, kEq, "hello, i have a question about my invoice"), g,
       true},
      {"text not equals", TextCondition(kText, kNe, "hi"), g, true},
      {"text in", InCondition(kText, {"hi", "HELLO, I HAVE A QUESTION ABOUT MY INVOICE"}), g, true},
      // Case folding beyond ASCII (ICU full folding).
      {"unicode case", TextCondition(kName, kEq, "ÉMILE ZOLA"),
       [] {
         EngagementContext c = Gilda();
         c.set_customer_name("Émile Zola");
         return c;
       }(),
       true},
      {"unicode full folding", TextCondition(kText, kContains, "STRASSE"),
       [] {
         EngagementContext c = Gilda();
         c.set_first_message_text("Hauptstraße 5");
         return c;
       }(),
       true},
      // Groups.
      {"and all true",
       Group(kAnd, {TextCondition(kName, kBegins, "Gilda"), NumberCondition(kEq, 5.5)}), g, true},
      {"and one false",
       Group(kAnd, {TextCondition(kName, kBegins, "Gilda"), NumberCondition(kEq, 1)}), g, false},
      {"or one true", Group(kOr, {TextCondition(kName, kBegins, "Ada"), NumberCondition(kEq, 5.5)}),
       g, true},
      {"or none true", Group(kOr, {TextCondition(kName, kBegins, "Ada"), NumberCondition(kEq, 1)}),
       g, false},
      {"nested (a or b) and c",
       Group(kAnd, {Group(kOr, {TextCondition(kLocale, kEq, "fr_FR"),
                                TextCondition(kLocale, kEq, "en_US")}),
                    BoolCondition(kEq, true)}),
       g, true},
      {"nested (a and b) or c false",
       Group(kOr, {Group(kAnd, {TextCondition(kLocale, kEq, "en_US"), BoolCondition(kEq, false)}),
                   TextCondition(kChannel, kEq, "CHANNEL_WHATSAPP")}),
       g, false},
      {"five levels",
       Group(kAnd,
             {Group(kOr, {Group(kAnd, {Group(kOr, {Group(kAnd, {NumberCondition(kGt, 0)})})})})}),
       g, true},
  };
}

TEST(RulesTest, EveryOperatorOnEveryAttribute) {
  for (const MatchCase& c : MatchCases()) {
    SCOPED_TRACE(c.name);
    ASSERT_TRUE(ValidateExpression(c.expression, "rule.condition").ok())
        << ValidateExpression(c.expression, "rule.condition");
    EXPECT_EQ(Matches(c.expression, c.context), c.want);
  }
}

// A condition on an attribute the conversation lacks is false, whatever the operator; NOT_EQUALS
// included, so "name is not Gilda" does not catch customers without a name.
TEST(RulesTest, MissingAttributeIsFalseForEveryOperator) {
  struct Missing {
    v1::EngagementAttribute attribute;
    std::string value;
  };
  for (const Missing& m : std::vector<Missing>{{kName, "Gilda Smith"},
                                               {kLocale, "en_US"},
                                               {kUser, "1412611362105802"},
                                               {kChannel, "CHANNEL_MESSENGER"},
                                               {kEndpoint, "1895382890692545"},
                                               {kText, "hello"}}) {
    const EngagementContext without = Without(m.attribute);
    for (const auto op : {kEq, kNe, kContains, kBegins}) {
      SCOPED_TRACE(v1::EngagementAttribute_Name(m.attribute) + " " +
                   v1::ConditionOperator_Name(op));
      EXPECT_FALSE(Matches(TextCondition(m.attribute, op, m.value), without));
      EXPECT_FALSE(Matches(TextCondition(m.attribute, op, "something else"), without));
    }
    EXPECT_FALSE(Matches(InCondition(m.attribute, {m.value, "x"}), without));
  }
  const EngagementContext no_tz = Without(v1::ENGAGEMENT_ATTRIBUTE_TIMEZONE);
  for (const auto op : {kEq, kNe, kGt, kGe, kLt, kLe}) {
    SCOPED_TRACE(v1::ConditionOperator_Name(op));
    EXPECT_FALSE(Matches(NumberCondition(op, 0), no_tz));
    EXPECT_FALSE(Matches(NumberCondition(op, 5.5), no_tz));
  }
  EXPECT_FALSE(Matches(InCondition(v1::ENGAGEMENT_ATTRIBUTE_TIMEZONE, {"0", "5.5"}), no_tz));
  // A zero timezone is present (GMT), not missing.
  EngagementContext gmt = Gilda();
  gmt.set_timezone_offset_hours(0);
  EXPECT_TRUE(Matches(NumberCondition(kEq, 0), gmt));
}

struct InvalidCase {
  std::string name;
  RuleExpression expression;
  std::string want;  // the whole status message
};

RuleExpression Raw(v1::EngagementAttribute a, v1::ConditionOperator op) {
  RuleExpression e;
  e.mutable_condition()->set_attribute(a);
  e.mutable_condition()->set_condition_operator(op);
  return e;
}

RuleExpression Nested(int levels) {
  RuleExpression e = NumberCondition(kGt, 0);
  for (int i = 0; i < levels; ++i) e = Group(kAnd, {e});
  return e;
}

std::vector<InvalidCase> InvalidCases() {
  std::vector<InvalidCase> cases = {
      {"empty expression", RuleExpression(), "rule.condition: missing (set condition or group)"},
      {"unspecified attribute", Raw(v1::ENGAGEMENT_ATTRIBUTE_UNSPECIFIED, kEq),
       "rule.condition.condition.attribute: unspecified"},
      {"unknown attribute", Raw(static_cast<v1::EngagementAttribute>(42), kEq),
       "rule.condition.condition.attribute: unknown attribute 42"},
      {"unspecified operator", Raw(kName, v1::CONDITION_OPERATOR_UNSPECIFIED),
       "rule.condition.condition.condition_operator: unspecified"},
      {"unknown operator", Raw(kName, static_cast<v1::ConditionOperator>(77)),
       "rule.condition.condition.condition_operator: unknown operator 77"},
      {"numeric comparison on text", TextCondition(kName, kGt, "a"),
       "rule.condition.condition.condition_operator: GREATER_THAN does not apply to "
       "CUSTOMER_NAME (numeric comparisons are for TIMEZONE only)"},
      {"contains on timezone", Raw(v1::ENGAGEMENT_ATTRIBUTE_TIMEZONE, kContains),
       "rule.condition.condition.condition_operator: CONTAINS does not apply to TIMEZONE"},
      {"begins with on timezone", Raw(v1::ENGAGEMENT_ATTRIBUTE_TIMEZONE, kBegins),
       "rule.condition.condition.condition_operator: BEGINS_WITH does not apply to TIMEZONE"},
      {"timezone with text operand", TextCondition(v1::ENGAGEMENT_ATTRIBUTE_TIMEZONE, kEq, "5.5"),
       "rule.condition.condition.number_value: TIMEZONE takes number_value"},
      {"timezone nan", NumberCondition(kEq, std::nan("")),
       "rule.condition.condition.number_value: not a finite number"},
      {"authenticated contains", Raw(v1::ENGAGEMENT_ATTRIBUTE_AUTHENTICATED, kContains),
       "rule.condition.condition.condition_operator: AUTHENTICATED takes EQUALS or NOT_EQUALS"},
      {"authenticated in", InCondition(v1::ENGAGEMENT_ATTRIBUTE_AUTHENTICATED, {"true"}),
       "rule.condition.condition.condition_operator: AUTHENTICATED takes EQUALS or NOT_EQUALS"},
      {"authenticated text operand",
       TextCondition(v1::ENGAGEMENT_ATTRIBUTE_AUTHENTICATED, kEq, "true"),
       "rule.condition.condition.bool_value: AUTHENTICATED takes bool_value"},
      {"text with number operand",
       [] {
         RuleExpression e = Raw(kLocale, kEq);
         e.mutable_condition()->set_number_value(1);
         return e;
       }(),
       "rule.condition.condition.text_value: LOCALE takes text_value"},
      {"text operand too long", TextCondition(kText, kContains, std::string(201, 'x')),
       "rule.condition.condition.text_value: 201 characters, at most 200"},
      {"in without list", TextCondition(kName, v1::CONDITION_OPERATOR_IN, "Gilda"),
       "rule.condition.condition.list_value: IN takes list_value"},
      {"in empty list", InCondition(kName, {}),
       "rule.condition.condition.list_value.values: 0 values, IN takes 1..100"},
      {"in 101 values", InCondition(kName, std::vector<std::string>(101, "x")),
       "rule.condition.condition.list_value.values: 101 values, IN takes 1..100"},
      {"in value too long", InCondition(kName, {"ok", std::string(201, 'y')}),
       "rule.condition.condition.list_value.values[1]: 201 characters, at most 200"},
      {"in timezone not a number", InCondition(v1::ENGAGEMENT_ATTRIBUTE_TIMEZONE, {"5.5", "IST"}),
       "rule.condition.condition.list_value.values[1]: 'IST' is not a number (e.g. 5.5)"},
      {"channel not a channel", TextCondition(kChannel, kEq, "MESSENGER"),
       "rule.condition.condition.text_value: 'MESSENGER' is not a channel (CHANNEL_MESSENGER or "
       "CHANNEL_WHATSAPP)"},
      {"channel in not a channel", InCondition(kChannel, {"CHANNEL_UNSPECIFIED"}),
       "rule.condition.condition.list_value.values[0]: 'CHANNEL_UNSPECIFIED' is not a channel "
       "(CHANNEL_MESSENGER or CHANNEL_WHATSAPP)"},
      {"group operator unspecified",
       Group(v1::LOGICAL_OPERATOR_UNSPECIFIED, {NumberCondition(kEq, 1)}),
       "rule.condition.group.logical_operator: unspecified"},
      {"empty group", Group(kAnd, {}), "rule.condition.group.expressions: empty group"},
      {"path names the element",
       Group(kOr, {NumberCondition(kEq, 1), NumberCondition(kEq, 2),
                   Raw(v1::ENGAGEMENT_ATTRIBUTE_TIMEZONE, kContains)}),
       "rule.condition.group.expressions[2].condition.condition_operator: CONTAINS does not "
       "apply to TIMEZONE"},
      {"six levels", Nested(6),
       "rule.condition.group.expressions[0].group.expressions[0].group.expressions[0].group."
       "expressions[0].group.expressions[0].group: nested deeper than 5 levels"},
  };
  RuleExpression wide = Group(kOr, {});
  for (int i = 0; i < 51; ++i) *wide.mutable_group()->add_expressions() = NumberCondition(kEq, i);
  cases.push_back({"51 expressions in a group", wide,
                   "rule.condition.group.expressions: 51 expressions, at most 50"});
  RuleExpression many = Group(kOr, {});
  for (int i = 0; i < 3; ++i) {
    RuleExpression sub = Group(kAnd, {});
    for (int j = 0; j < 20; ++j) *sub.mutable_group()->add_expressions() = NumberCondition(kEq, j);
    *many.mutable_group()->add_expressions() = sub;
  }
  cases.push_back({"51 conditions in the rule", many,
                   "rule.condition.group.expressions[2].group.expressions[10]: more than 50 "
                   "conditions in the rule"});
  return cases;
}

TEST(RulesTest, InvalidExpressionsNameThePath) {
  for (const InvalidCase& c : InvalidCases()) {
    SCOPED_TRACE(c.name);
    const absl::Status s = ValidateExpression(c.expression, "rule.condition");
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    EXPECT_EQ(s.message(), c.want);
  }
  EXPECT_TRUE(ValidateExpression(Nested(5), "rule.condition").ok());
  RuleExpression fifty = Group(kOr, {});
  for (int i = 0; i < 50; ++i) *fifty.mutable_group()->add_expressions() = NumberCondition(kEq, i);
  EXPECT_TRUE(ValidateExpression(fifty, "rule.condition").ok());
  EXPECT_TRUE(ValidateExpression(InCondition(kName, std::vector<std::string>(100, "x")), "c").ok());
  EXPECT_TRUE(ValidateExpression(TextCondition(kName, kEq, std::string(200, 'x')), "c").ok());
  // 200 characters, not bytes.
  std::string accents;
  for (int i = 0; i < 200; ++i) accents += "é";
  EXPECT_TRUE(ValidateExpression(TextCondition(kName, kEq, accents), "c").ok());
}

TEST(RulesTest, Skills) {
  google::protobuf::RepeatedPtrField<std::string> skills;
  skills.Add("billing");
  skills.Add("es");
  skills.Add("tier-2_x");
  EXPECT_TRUE(ValidateSkills("agent.skills", skills, 50).ok());
  skills.Add("Billing");
  EXPECT_EQ(ValidateSkills("agent.skills", skills, 50).message(),
            "agent.skills[3]: 'Billing' may only contain a-z, 0-9, _ and -");
  skills.Mutable(3)->assign(std::string(33, 'a'));
  EXPECT_EQ(ValidateSkills("agent.skills", skills, 50).message(),
            "agent.skills[3]: '" + std::string(33, 'a') + "' must be 1..32 characters");
  skills.Mutable(3)->assign("es");
  EXPECT_EQ(ValidateSkills("agent.skills", skills, 50).message(),
            "agent.skills[3]: 'es' is repeated");
  EXPECT_EQ(ValidateSkills("agent.skills", skills, 3).message(),
            "agent.skills: 4 skills, at most 3");
}

// ----- Route ---------------------------------------------------------------------------------

constexpr char kWs[] = "00000000-0000-4000-8000-000000000001";
constexpr char kDefault[] = "00000000-0000-4000-8000-0000000000d0";

v1::RoutingRule Rule(const std::string& id, const std::string& queue, RuleExpression condition,
                     bool enabled = true, std::vector<std::string> skills = {}) {
  v1::RoutingRule r;
  r.set_id(id);
  r.set_work_stream_id(kWs);
  r.set_queue_id(queue);
  r.set_enabled(enabled);
  *r.mutable_condition() = std::move(condition);
  for (const std::string& s : skills) r.add_required_skills(s);
  return r;
}

RoutingSnapshot Snapshot(std::vector<v1::RoutingRule> rules) {
  RoutingSnapshot s;
  v1::WorkStream ws;
  ws.set_id(kWs);
  ws.set_default_queue_id(kDefault);
  s.work_streams[kWs] = ws;
  for (int i = 0; i < static_cast<int>(rules.size()); ++i) rules[i].set_position(i);
  s.rules[kWs] = std::move(rules);
  return s;
}

// The Dynamics 365 Facebook channel examples: a customer named Gilda to a queue; timezone 5.5;
// a user page-scoped id.
TEST(RouteTest, DynamicsExamples) {
  const RoutingSnapshot snap = Snapshot({
      Rule("r-gilda", "q-gilda", TextCondition(kName, kBegins, "Gilda")),
      Rule("r-india", "q-india", NumberCondition(kEq, 5.5)),
      Rule("r-psid", "q-psid", TextCondition(kUser, kEq, "1412611362105802")),
  });
  absl::StatusOr<RouteDecision> d = Route(snap, kWs, Gilda());
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->queue_id, "q-gilda");
  EXPECT_EQ(d->rule_id, "r-gilda");

  EngagementContext ravi = Gilda();
  ravi.set_customer_name("Ravi Kumar");
  d = Route(snap, kWs, ravi);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->queue_id, "q-india");

  EngagementContext other = ravi;
  other.set_timezone_offset_hours(-3);
  d = Route(snap, kWs, other);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->queue_id, "q-psid");

  other.set_user_id("999");
  d = Route(snap, kWs, other);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->queue_id, kDefault);
  EXPECT_EQ(d->rule_id, "");
  EXPECT_TRUE(d->required_skills.empty());
}

TEST(RouteTest, FirstEnabledMatchWinsAndCarriesSkills) {
  RoutingSnapshot snap = Snapshot({
      Rule("r1", "q1", BoolCondition(kEq, true), /*enabled=*/false),
      Rule("r2", "q2", TextCondition(kLocale, kBegins, "en"), true, {"english", "billing"}),
      Rule("r3", "q3", TextCondition(kLocale, kEq, "en_US")),
  });
  absl::StatusOr<RouteDecision> d = Route(snap, kWs, Gilda());
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->rule_id, "r2");
  EXPECT_EQ(d->queue_id, "q2");
  EXPECT_EQ(d->required_skills, (std::vector<std::string>{"english", "billing"}));

  snap.rules[kWs][0].set_enabled(true);
  d = Route(snap, kWs, Gilda());
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->rule_id, "r1");
}

TEST(RouteTest, NoRulesUsesDefaultAndUnknownWorkStreamIsNotFound) {
  RoutingSnapshot snap = Snapshot({});
  absl::StatusOr<RouteDecision> d = Route(snap, kWs, Bare());
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->queue_id, kDefault);
  snap.rules.clear();
  d = Route(snap, kWs, Bare());
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->queue_id, kDefault);

  d = Route(snap, "00000000-0000-4000-8000-00000000ffff", Bare());
  EXPECT_EQ(d.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(d.status().message(), "work stream 00000000-0000-4000-8000-00000000ffff: not found");
}

}  // namespace
}  // namespace parley::router
