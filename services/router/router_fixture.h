// Test helpers for router: a gtest fixture with a fresh, migrated database per test binary and
// a PgRoutingStore on it, quick builders of definitions (each aborts the test binary with the
// status if the store refuses, so they can be used in any test body or fixture), and builders
// of rule conditions. Test-only (CMake target router_testing).
#pragma once

#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "libs/pg/pool.h"
#include "libs/testing/servers.h"
#include "parley/router/v1/router.pb.h"
#include "services/router/pg_routing_store.h"

namespace parley::router {

class RouterPgTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite() {}

  // A string no other test uses, e.g. "q17-123456".
  static std::string Unique(const std::string& prefix);
  static pg::Pool& pool() { return *pool_; }
  static PgRoutingStore& store() { return *store_; }
  static const std::string& uri() { return db_->uri(); }

 private:
  static testing::TestDatabase* db_;
  static pg::Pool* pool_;
  static PgRoutingStore* store_;
};

v1::Queue MakeQueue(PgRoutingStore& store, const std::string& name, int priority = 0,
                    const std::vector<std::string>& agent_ids = {});
v1::Agent MakeAgent(PgRoutingStore& store, const std::string& name, int capacity,
                    const std::vector<std::string>& queue_ids = {},
                    const std::vector<std::string>& skills = {}, bool enabled = true);
v1::WorkStream MakeWorkStream(
    PgRoutingStore& store, const std::string& name, const std::string& default_queue_id,
    v1::RoutingMode mode = v1::ROUTING_MODE_PUSH, int capacity_cost = 1,
    v1::AssignmentStrategy strategy = v1::ASSIGNMENT_STRATEGY_LEAST_ACTIVE,
    common::v1::Channel channel = common::v1::CHANNEL_MESSENGER);
// Appended at the end of the work stream's rules, enabled.
v1::RoutingRule MakeRule(PgRoutingStore& store, const std::string& work_stream_id,
                         const std::string& queue_id, const v1::RuleExpression& condition,
                         const std::vector<std::string>& required_skills = {},
                         const std::string& name = "rule");

v1::RuleExpression TextCondition(v1::EngagementAttribute attribute, v1::ConditionOperator op,
                                 const std::string& value);
v1::RuleExpression NumberCondition(v1::ConditionOperator op, double value);  // TIMEZONE
v1::RuleExpression BoolCondition(v1::ConditionOperator op, bool value);      // AUTHENTICATED
v1::RuleExpression InCondition(v1::EngagementAttribute attribute,
                               const std::vector<std::string>& values);
v1::RuleExpression Group(v1::LogicalOperator op, std::initializer_list<v1::RuleExpression> items);

}  // namespace parley::router
