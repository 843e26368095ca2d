#include "services/router/router_fixture.h"

#include <atomic>
#include <cstdlib>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "libs/pg/migrations.h"
#include "router_migrations.h"

namespace parley::router {

testing::TestDatabase* RouterPgTest::db_ = nullptr;
pg::Pool* RouterPgTest::pool_ = nullptr;
PgRoutingStore* RouterPgTest::store_ = nullptr;

void RouterPgTest::SetUpTestSuite() {
  if (pool_ != nullptr) return;
  absl::StatusOr<std::unique_ptr<testing::TestDatabase>> db = testing::TestDatabase::Create();
  ASSERT_TRUE(db.ok()) << db.status();
  db_ = db->release();
  pool_ = new pg::Pool(pg::PoolOptions{.uri = db_->uri(), .size = 8});
  absl::StatusOr<pg::MigrationReport> report = pg::Migrate(*pool_, Migrations());
  ASSERT_TRUE(report.ok()) << report.status();
  store_ = new PgRoutingStore(*pool_);
}

std::string RouterPgTest::Unique(const std::string& prefix) {
  static std::atomic<int> next{0};
  return absl::StrCat(prefix, ++next, "-", absl::ToUnixMicros(absl::Now()) % 1000000);
}

namespace {

template <typename T>
T OrDie(absl::StatusOr<T> v, const char* what) {
  if (!v.ok()) {
    std::cerr << what << " failed: " << v.status() << std::endl;
    std::abort();
  }
  return *std::move(v);
}

}  // namespace

v1::Queue MakeQueue(PgRoutingStore& store, const std::string& name, int priority,
                    const std::vector<std::string>& agent_ids) {
  v1::CreateQueueRequest req;
  req.mutable_queue()->set_name(name);
  req.mutable_queue()->set_priority(priority);
  for (const std::string& a : agent_ids) req.mutable_queue()->add_agent_ids(a);
  return OrDie(store.CreateQueue(req), "MakeQueue");
}

v1::Agent MakeAgent(PgRoutingStore& store, const std::string& name, int capacity,
                    const std::vector<std::string>& queue_ids,
                    const std::vector<std::string>& skills, bool enabled) {
  v1::CreateAgentRequest req;
  v1::Agent* a = req.mutable_agent();
  a->set_display_name(name);
  a->set_capacity(capacity);
  a->set_enabled(enabled);
  for (const std::string& q : queue_ids) a->add_queue_ids(q);
  for (const std::string& s : skills) a->add_skills(s);
  return OrDie(store.CreateAgent(req), "MakeAgent");
}

v1::WorkStream MakeWorkStream(PgRoutingStore& store, const std::string& name,
                              const std::string& default_queue_id, v1::RoutingMode mode,
                              int capacity_cost, v1::AssignmentStrategy strategy,
                              common::v1::Channel channel) {
  v1::CreateWorkStreamRequest req;
  v1::WorkStream* w = req.mutable_work_stream();
  w->set_name(name);
  w->set_channel(channel);
  w->set_mode(mode);
  w->set_capacity_cost(capacity_cost);
  w->set_strategy(strategy);
  w->set_default_queue_id(default_queue_id);
  return OrDie(store.CreateWorkStream(req), "MakeWorkStream");
}

v1::RoutingRule MakeRule(PgRoutingStore& store, const std::string& work_stream_id,
                         const std::string& queue_id, const v1::RuleExpression& condition,
                         const std::vector<std::string>& required_skills, const std::string& name) {
  v1::CreateRoutingRuleRequest req;
  v1::RoutingRule* r = req.mutable_rule();
  r->set_work_stream_id(work_stream_id);
  r->set_queue_id(queue_id);
  r->set_name(name);
  r->set_enabled(true);
  *r->mutable_condition() = condition;
  for (const std::string& s : required_skills) r->add_required_skills(s);
  return OrDie(store.CreateRoutingRule(req), "MakeRule");
}

v1::RuleExpression TextCondition(v1::EngagementAttribute attribute, v1::ConditionOperator op,
                                 const std::string& value) {
  v1::RuleExpression e;
  e.mutable_condition()->set_attribute(attribute);
  e.mutable_condition()->set_condition_operator(op);
  e.mutable_condition()->set_text_value(value);
  return e;
}

v1::RuleExpression NumberCondition(v1::ConditionOperator op, double value) {
  v1::RuleExpression e;
  e.mutable_condition()->set_attribute(v1::ENGAGEMENT_ATTRIBUTE_TIMEZONE);
  e.mutable_condition()->set_condition_operator(op);
  e.mutable_condition()->set_number_value(value);
  return e;
}

v1::RuleExpression BoolCondition(v1::ConditionOperator op, bool value) {
  v1::RuleExpression e;
  e.mutable_condition()->set_attribute(v1::ENGAGEMENT_ATTRIBUTE_AUTHENTICATED);
  e.mutable_condition()->set_condition_operator(op);
  e.mutable_condition()->set_bool_value(value);
  return e;
}

v1::RuleExpression InCondition(v1::EngagementAttribute attribute,
                               const std::vector<std::string>& values) {
  v1::RuleExpression e;
  e.mutable_condition()->set_attribute(attribute);
  e.mutable_condition()->set_condition_operator(v1::CONDITION_OPERATOR_IN);
  e.mutable_condition()->mutable_list_value();  // set even when empty
  for (const std::string& v : values) e.mutable_condition()->mutable_list_value()->add_values(v);
  return e;
}

v1::RuleExpression Group(v1::LogicalOperator op, std::initializer_list<v1::RuleExpression> items) {
  v1::RuleExpression e;
  e.mutable_group()->set_logical_operator(op);
  for (const v1::RuleExpression& item : items) *e.mutable_group()->add_expressions() = item;
  return e;
}

}  // namespace parley::router
