// Routing administration against a real PostgreSQL: CRUD of work streams, queues, rules and
// agents, every validation error with its code and message, rule order (create, delete,
// reorder), revisions, a second cache instance seeing a change (polled with a deadline), the
// live-usage checks of deletes, and a few calls through a real gRPC server.
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/message_differencer.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "libs/common/executor.h"
#include "parley/router/v1/router.grpc.pb.h"
#include "services/router/definitions_cache.h"
#include "services/router/router_fixture.h"
#include "services/router/routing_admin_service.h"

namespace parley::router {
namespace {

using absl::StatusCode;

constexpr char kMissing[] = "00000000-0000-4000-8000-00000000dead";

#define EXPECT_STATUS(expr, want_code, want_message)    \
  do {                                                  \
    const absl::Status s_ = (expr);                     \
    EXPECT_EQ(s_.code(), want_code) << s_;              \
    EXPECT_EQ(std::string(s_.message()), want_message); \
  } while (false)

google::protobuf::FieldMask Mask(std::initializer_list<const char*> paths) {
  google::protobuf::FieldMask m;
  for (const char* p : paths) m.add_paths(p);
  return m;
}

class RoutingAdminTest : public RouterPgTest {
 protected:
  // The ids of the work stream's rules in evaluation order (positions checked on the way).
  static std::vector<std::string> RuleIds(const std::string& ws) {
    v1::ListRoutingRulesRequest req;
    req.set_work_stream_id(ws);
    std::vector<std::string> ids;
    absl::StatusOr<v1::ListRoutingRulesResponse> r = store().ListRoutingRules(req);
    if (!r.ok()) return {r.status().ToString()};
    for (int i = 0; i < r->rules_size(); ++i) {
      EXPECT_EQ(r->rules(i).position(), i);
      ids.push_back(r->rules(i).id());
    }
    return ids;
  }
};

// ----- queues and agents -----------------------------------------------------------------

TEST_F(RoutingAdminTest, QueueAndAgentMembershipBothWays) {
  const v1::Queue q1 = MakeQueue(store(), Unique("billing"), 10);
  const v1::Queue q2 = MakeQueue(store(), Unique("sales"));
  const v1::Agent a = MakeAgent(store(), "Ada", 3, {q1.id(), q2.id()}, {"billing", "en"});
  EXPECT_EQ(a.capacity(), 3);
  EXPECT_TRUE(a.enabled());
  EXPECT_EQ(a.queue_ids_size(), 2);
  EXPECT_EQ(a.skills(0), "billing");
  EXPECT_TRUE(a.has_create_time());

  v1::GetQueueRequest get;
  get.set_id(q1.id());
  absl::StatusOr<v1::Queue> got = store().GetQueue(get);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->priority(), 10);
  ASSERT_EQ(got->agent_ids_size(), 1);
  EXPECT_EQ(got->agent_ids(0), a.id());

  // A queue created with members.
  const v1::Agent b = MakeAgent(store(), "Bob", 1);
  const v1::Queue q3 = MakeQueue(store(), Unique("vip"), 50, {a.id(), b.id()});
  EXPECT_EQ(q3.agent_ids_size(), 2);
  v1::GetAgentRequest get_b;
  get_b.set_id(b.id());
  ASSERT_EQ(store().GetAgent(get_b)->queue_ids_size(), 1);

  // Replacing the members of a queue.
  v1::UpdateQueueRequest uq;
  uq.mutable_queue()->set_id(q3.id());
  uq.mutable_queue()->add_agent_ids(b.id());
  *uq.mutable_update_mask() = Mask({"agent_ids"});
  absl::StatusOr<v1::Queue> updated = store().UpdateQueue(uq);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->agent_ids_size(), 1);
  EXPECT_EQ(updated->priority(), 50);  // not in the mask: kept
  v1::GetAgentRequest get_a;
  get_a.set_id(a.id());
  EXPECT_EQ(store().GetAgent(get_a)->queue_ids_size(), 2);  // q1, q2 only now

  // Replacing the queues of an agent.
  v1::UpdateAgentRequest ua;
  ua.mutable_agent()->set_id(a.id());
  ua.mutable_agent()->set_capacity(7);
  *ua.mutable_update_mask() = Mask({"queue_ids", "capacity"});
  absl::StatusOr<v1::Agent> ag = store().UpdateAgent(ua);
  ASSERT_TRUE(ag.ok()) << ag.status();
  EXPECT_EQ(ag->queue_ids_size(), 0);
  EXPECT_EQ(ag->capacity(), 7);
  EXPECT_EQ(ag->display_name(), "Ada");
  EXPECT_EQ(store().GetQueue(get)->agent_ids_size(), 0);
}

TEST_F(RoutingAdminTest, ListsPageByNameWithFilters) {
  const v1::Agent a = MakeAgent(store(), Unique("lister"), 2);
  for (const char* n : {"c", "a", "b"})
    MakeQueue(store(), Unique(absl::StrCat("zz-page-", n)), 0, {a.id()});
  MakeQueue(store(), Unique("zz-page-other"));  // not a's
  v1::ListQueuesRequest req;
  req.set_agent_id(a.id());
  req.set_page_size(2);
  absl::StatusOr<v1::ListQueuesResponse> p1 = store().ListQueues(req);
  ASSERT_TRUE(p1.ok()) << p1.status();
  ASSERT_EQ(p1->queues_size(), 2);
  EXPECT_LT(p1->queues(0).name(), p1->queues(1).name());
  ASSERT_FALSE(p1->next_page_token().empty());
  req.set_page_token(p1->next_page_token());
  absl::StatusOr<v1::ListQueuesResponse> p2 = store().ListQueues(req);
  ASSERT_TRUE(p2.ok()) << p2.status();
  ASSERT_EQ(p2->queues_size(), 1);
  EXPECT_TRUE(p2->next_page_token().empty());
  EXPECT_LT(p1->queues(1).name(), p2->queues(0).name());

  // A token of another list, and bad paging.
  v1::ListAgentsRequest agents;
  agents.set_page_token(p1->next_page_token());
  EXPECT_STATUS(store().ListAgents(agents).status(), StatusCode::kInvalidArgument,
                "page_token: not a token of this list");
  agents.set_page_token("");
  agents.set_page_size(-1);
  EXPECT_STATUS(store().ListAgents(agents).status(), StatusCode::kInvalidArgument,
                "page_size: -1 is negative");
  agents.set_page_size(0);
  agents.set_queue_id(p1->queues(0).id());
  absl::StatusOr<v1::ListAgentsResponse> members = store().ListAgents(agents);
  ASSERT_TRUE(members.ok());
  ASSERT_EQ(members->agents_size(), 1);
  EXPECT_EQ(members->agents(0).id(), a.id());
}

TEST_F(RoutingAdminTest, QueueAndAgentValidation) {
  const v1::Queue taken = MakeQueue(store(), Unique("taken"));
  v1::CreateQueueRequest cq;
  cq.mutable_queue()->set_name("");
  EXPECT_STATUS(store().CreateQueue(cq).status(), StatusCode::kInvalidArgument,
                "queue.name: empty");
  cq.mutable_queue()->set_name(std::string(201, 'q'));
  EXPECT_STATUS(store().CreateQueue(cq).status(), StatusCode::kInvalidArgument,
                "queue.name: 201 characters, at most 200");
  cq.mutable_queue()->set_name(taken.name());
  EXPECT_STATUS(store().CreateQueue(cq).status(), StatusCode::kAlreadyExists,
                absl::StrCat("queue name '", taken.name(), "': already exists"));
  cq.mutable_queue()->set_name(Unique("q"));
  cq.mutable_queue()->set_priority(101);
  EXPECT_STATUS(store().CreateQueue(cq).status(), StatusCode::kInvalidArgument,
                "queue.priority: 101 is not 0..100");
  cq.mutable_queue()->set_priority(-1);
  EXPECT_STATUS(store().CreateQueue(cq).status(), StatusCode::kInvalidArgument,
                "queue.priority: -1 is not 0..100");
  cq.mutable_queue()->set_priority(0);
  cq.mutable_queue()->add_agent_ids("not-a-uuid");
  EXPECT_STATUS(store().CreateQueue(cq).status(), StatusCode::kInvalidArgument,
                "queue.agent_ids[0]: 'not-a-uuid' is not a UUID");
  cq.mutable_queue()->set_agent_ids(0, kMissing);
  EXPECT_STATUS(store().CreateQueue(cq).status(), StatusCode::kNotFound,
                absl::StrCat("queue.agent_ids[0]: agent ", kMissing, " not found"));
  cq.mutable_queue()->clear_agent_ids();
  cq.mutable_queue()->set_id(kMissing);
  EXPECT_STATUS(store().CreateQueue(cq).status(), StatusCode::kInvalidArgument,
                "queue.id: output only; leave it empty");
  cq.mutable_queue()->clear_id();
  cq.mutable_queue()->set_depth(3);
  EXPECT_STATUS(store().CreateQueue(cq).status(), StatusCode::kInvalidArgument,
                "queue.depth: output only; leave it empty");

  v1::CreateAgentRequest ca;
  ca.mutable_agent()->set_display_name("Cleo");
  EXPECT_STATUS(store().CreateAgent(ca).status(), StatusCode::kInvalidArgument,
                "agent.capacity: 0 is not 1..1000");
  ca.mutable_agent()->set_capacity(-5);
  EXPECT_STATUS(store().CreateAgent(ca).status(), StatusCode::kInvalidArgument,
                "agent.capacity: -5 is not 1..1000");
  ca.mutable_agent()->set_capacity(1001);
  EXPECT_STATUS(store().CreateAgent(ca).status(), StatusCode::kInvalidArgument,
                "agent.capacity: 1001 is not 1..1000");
  ca.mutable_agent()->set_capacity(1000);
  ca.mutable_agent()->add_skills("Spanish");
  EXPECT_STATUS(store().CreateAgent(ca).status(), StatusCode::kInvalidArgument,
                "agent.skills[0]: 'Spanish' may only contain a-z, 0-9, _ and -");
  ca.mutable_agent()->clear_skills();
  for (int i = 0; i < 51; ++i) ca.mutable_agent()->add_skills(absl::StrCat("s", i));
  EXPECT_STATUS(store().CreateAgent(ca).status(), StatusCode::kInvalidArgument,
                "agent.skills: 51 skills, at most 50");
  ca.mutable_agent()->clear_skills();
  ca.mutable_agent()->add_queue_ids(taken.id());
  ca.mutable_agent()->add_queue_ids(taken.id());
  EXPECT_STATUS(store().CreateAgent(ca).status(), StatusCode::kInvalidArgument,
                absl::StrCat("agent.queue_ids[1]: ", taken.id(), " is repeated"));
  ca.mutable_agent()->set_queue_ids(1, kMissing);
  EXPECT_STATUS(store().CreateAgent(ca).status(), StatusCode::kNotFound,
                absl::StrCat("agent.queue_ids[1]: queue ", kMissing, " not found"));
  ca.mutable_agent()->clear_queue_ids();
  ca.mutable_agent()->set_display_name("");
  EXPECT_STATUS(store().CreateAgent(ca).status(), StatusCode::kInvalidArgument,
                "agent.display_name: empty");

  v1::GetAgentRequest ga;
  ga.set_id("x");
  EXPECT_STATUS(store().GetAgent(ga).status(), StatusCode::kInvalidArgument,
                "id: 'x' is not a UUID");
  ga.set_id(kMissing);
  EXPECT_STATUS(store().GetAgent(ga).status(), StatusCode::kNotFound,
                absl::StrCat("agent ", kMissing, ": not found"));

  // Update masks.
  const v1::Agent a = MakeAgent(store(), "Dora", 2);
  v1::UpdateAgentRequest ua;
  ua.mutable_agent()->set_id(a.id());
  EXPECT_STATUS(store().UpdateAgent(ua).status(), StatusCode::kInvalidArgument,
                "update_mask: empty");
  *ua.mutable_update_mask() = Mask({"nickname"});
  EXPECT_STATUS(store().UpdateAgent(ua).status(), StatusCode::kInvalidArgument,
                "update_mask: unknown path 'nickname'");
  *ua.mutable_update_mask() = Mask({"create_time"});
  EXPECT_STATUS(store().UpdateAgent(ua).status(), StatusCode::kInvalidArgument,
                "update_mask: 'create_time' is output only");
  *ua.mutable_update_mask() = Mask({"capacity"});  // capacity 0 in the request
  EXPECT_STATUS(store().UpdateAgent(ua).status(), StatusCode::kInvalidArgument,
                "agent.capacity: 0 is not 1..1000");
  EXPECT_EQ(store()
                .GetAgent([&] {
                  v1::GetAgentRequest r;
                  r.set_id(a.id());
                  return r;
                }())
                ->capacity(),
            2);  // nothing half-written
  v1::UpdateQueueRequest uq;
  uq.mutable_queue()->set_id(MakeQueue(store(), Unique("rename")).id());
  uq.mutable_queue()->set_name(taken.name());
  *uq.mutable_update_mask() = Mask({"name"});
  EXPECT_STATUS(store().UpdateQueue(uq).status(), StatusCode::kAlreadyExists,
                absl::StrCat("queue name '", taken.name(), "': already exists"));
}

// ----- work streams --------------------------------------------------------------------------

TEST_F(RoutingAdminTest, WorkStreamDefaultsAndValidation) {
  const v1::Queue q = MakeQueue(store(), Unique("ws-default"));
  v1::CreateWorkStreamRequest req;
  v1::WorkStream* w = req.mutable_work_stream();
  w->set_name(Unique("Messenger support"));
  w->set_channel(common::v1::CHANNEL_MESSENGER);
  w->set_mode(v1::ROUTING_MODE_PUSH);
  w->set_strategy(v1::ASSIGNMENT_STRATEGY_ROUND_ROBIN);
  w->set_default_queue_id(q.id());
  w->mutable_auto_close_after()->set_seconds(86400);
  absl::StatusOr<v1::WorkStream> made = store().CreateWorkStream(req);
  ASSERT_TRUE(made.ok()) << made.status();
  EXPECT_EQ(made->capacity_cost(), 1);
  EXPECT_EQ(made->offer_timeout().seconds(), 60);
  EXPECT_EQ(made->auto_close_after().seconds(), 86400);
  EXPECT_EQ(made->urgent_before_deadline().seconds(), 0);

  struct Bad {
    std::function<void(v1::WorkStream*)> change;
    StatusCode code;
    std::string message;
  };
  const std::vector<Bad> bad = {
      {[](v1::WorkStream* x) { x->set_name(""); }, StatusCode::kInvalidArgument,
       "work_stream.name: empty"},
      {[](v1::WorkStream* x) { x->set_channel(common::v1::CHANNEL_UNSPECIFIED); },
       StatusCode::kInvalidArgument, "work_stream.channel: unspecified"},
      {[](v1::WorkStream* x) { x->set_mode(v1::ROUTING_MODE_UNSPECIFIED); },
       StatusCode::kInvalidArgument, "work_stream.mode: unspecified"},
      {[](v1::WorkStream* x) { x->set_strategy(v1::ASSIGNMENT_STRATEGY_UNSPECIFIED); },
       StatusCode::kInvalidArgument, "work_stream.strategy: unspecified"},
      {[](v1::WorkStream* x) { x->set_capacity_cost(1001); }, StatusCode::kInvalidArgument,
       "work_stream.capacity_cost: 1001 is not 1..1000"},
      {[](v1::WorkStream* x) { x->set_capacity_cost(-1); }, StatusCode::kInvalidArgument,
       "work_stream.capacity_cost: -1 is not 1..1000"},
      {[](v1::WorkStream* x) { x->mutable_offer_timeout()->set_seconds(4); },
       StatusCode::kInvalidArgument,
       "work_stream.offer_timeout: 4.000000000s is outside 5 seconds..10 minutes"},
      {[](v1::WorkStream* x) { x->mutable_offer_timeout()->set_seconds(601); },
       StatusCode::kInvalidArgument,
       "work_stream.offer_timeout: 601.000000000s is outside 5 seconds..10 minutes"},
      {[](v1::WorkStream* x) { x->mutable_auto_close_after()->set_seconds(-1); },
       StatusCode::kInvalidArgument,
       "work_stream.auto_close_after: -1.000000000s is outside 0..30 days"},
      {[](v1::WorkStream* x) { x->mutable_auto_close_after()->set_seconds(30 * 86400 + 1); },
       StatusCode::kInvalidArgument,
       "work_stream.auto_close_after: 2592001.000000000s is outside 0..30 days"},
      {[](v1::WorkStream* x) { x->mutable_urgent_before_deadline()->set_seconds(7 * 86400 + 1); },
       StatusCode::kInvalidArgument,
       "work_stream.urgent_before_deadline: 604801.000000000s is outside 0..7 days"},
      {[](v1::WorkStream* x) {
         x->mutable_offer_timeout()->set_seconds(10);
         x->mutable_offer_timeout()->set_nanos(-5);
       },
       StatusCode::kInvalidArgument, "work_stream.offer_timeout: not a valid duration"},
      {[](v1::WorkStream* x) { x->clear_default_queue_id(); }, StatusCode::kInvalidArgument,
       "work_stream.default_queue_id: missing"},
      {[](v1::WorkStream* x) { x->set_default_queue_id(kMissing); }, StatusCode::kNotFound,
       absl::StrCat("work_stream.default_queue_id: queue ", kMissing, " not found")},
      {[&](v1::WorkStream* x) { x->set_name(made->name()); }, StatusCode::kAlreadyExists,
       absl::StrCat("work stream name '", made->name(), "': already exists")},
      {[](v1::WorkStream* x) { x->mutable_create_time()->set_seconds(1); },
       StatusCode::kInvalidArgument, "work_stream.create_time: output only; leave it empty"},
  };
  for (const Bad& b : bad) {
    SCOPED_TRACE(b.message);
    v1::CreateWorkStreamRequest r = req;
    r.mutable_work_stream()->set_name(Unique("ws"));
    b.change(r.mutable_work_stream());
    EXPECT_STATUS(store().CreateWorkStream(r).status(), b.code, b.message);
  }

  // Updates: channel is immutable; a missing default queue is NOT_FOUND; values change.
  v1::UpdateWorkStreamRequest up;
  up.mutable_work_stream()->set_id(made->id());
  up.mutable_work_stream()->set_channel(common::v1::CHANNEL_WHATSAPP);
  *up.mutable_update_mask() = Mask({"channel"});
  EXPECT_STATUS(store().UpdateWorkStream(up).status(), StatusCode::kInvalidArgument,
                "update_mask: 'channel' cannot be changed");
  up.mutable_work_stream()->set_default_queue_id(kMissing);
  *up.mutable_update_mask() = Mask({"default_queue_id"});
  EXPECT_STATUS(store().UpdateWorkStream(up).status(), StatusCode::kNotFound,
                absl::StrCat("work_stream.default_queue_id: queue ", kMissing, " not found"));
  up.mutable_work_stream()->set_mode(v1::ROUTING_MODE_PICK);
  up.mutable_work_stream()->set_capacity_cost(5);
  up.mutable_work_stream()->mutable_offer_timeout()->set_seconds(30);
  *up.mutable_update_mask() = Mask({"mode", "capacity_cost", "offer_timeout"});
  absl::StatusOr<v1::WorkStream> changed = store().UpdateWorkStream(up);
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_EQ(changed->mode(), v1::ROUTING_MODE_PICK);
  EXPECT_EQ(changed->capacity_cost(), 5);
  EXPECT_EQ(changed->offer_timeout().seconds(), 30);
  EXPECT_EQ(changed->channel(), common::v1::CHANNEL_MESSENGER);
  EXPECT_EQ(changed->default_queue_id(), q.id());
  up.mutable_work_stream()->set_id(kMissing);
  EXPECT_STATUS(store().UpdateWorkStream(up).status(), StatusCode::kNotFound,
                absl::StrCat("work stream ", kMissing, ": not found"));

  // Listing by channel.
  v1::ListWorkStreamsRequest list;
  list.set_channel(common::v1::CHANNEL_WHATSAPP);
  list.set_page_size(500);
  absl::StatusOr<v1::ListWorkStreamsResponse> wa = store().ListWorkStreams(list);
  ASSERT_TRUE(wa.ok());
  for (const v1::WorkStream& x : wa->work_streams()) EXPECT_NE(x.id(), made->id());
  list.set_channel(common::v1::CHANNEL_MESSENGER);
  absl::StatusOr<v1::ListWorkStreamsResponse> fb = store().ListWorkStreams(list);
  ASSERT_TRUE(fb.ok());
  EXPECT_TRUE(std::any_of(fb->work_streams().begin(), fb->work_streams().end(),
                          [&](const v1::WorkStream& x) { return x.id() == made->id(); }));
}

// ----- routing rules -------------------------------------------------------------------------

TEST_F(RoutingAdminTest, RulesKeepTheirOrderThroughCreateDeleteAndReorder) {
  const v1::Queue dq = MakeQueue(store(), Unique("rules-default"));
  const v1::Queue vip = MakeQueue(store(), Unique("rules-vip"));
  const v1::WorkStream ws = MakeWorkStream(store(), Unique("rules-ws"), dq.id());
  const v1::RuleExpression gilda = TextCondition(v1::ENGAGEMENT_ATTRIBUTE_CUSTOMER_NAME,
                                                 v1::CONDITION_OPERATOR_BEGINS_WITH, "Gilda");
  const v1::RoutingRule r0 = MakeRule(store(), ws.id(), vip.id(), gilda, {"vip"}, "Gilda to VIP");
  const v1::RoutingRule r1 =
      MakeRule(store(), ws.id(), vip.id(),
               Group(v1::LOGICAL_OPERATOR_OR,
                     {NumberCondition(v1::CONDITION_OPERATOR_EQUALS, 5.5),
                      InCondition(v1::ENGAGEMENT_ATTRIBUTE_LOCALE, {"hi_IN", "en_IN"})}));
  const v1::RoutingRule r2 =
      MakeRule(store(), ws.id(), dq.id(), BoolCondition(v1::CONDITION_OPERATOR_EQUALS, true));
  EXPECT_EQ(r0.position(), 0);
  EXPECT_EQ(r1.position(), 1);
  EXPECT_EQ(r2.position(), 2);
  EXPECT_EQ(r0.name(), "Gilda to VIP");
  EXPECT_EQ(r0.required_skills(0), "vip");
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(r0.condition(), gilda));

  // Reorder, with every error first.
  v1::ReorderRoutingRulesRequest re;
  re.set_work_stream_id(ws.id());
  for (const auto& id : {r2.id(), r0.id()}) re.add_rule_ids(id);
  EXPECT_STATUS(store().ReorderRoutingRules(re).status(), StatusCode::kInvalidArgument,
                absl::StrCat("rule_ids: rule ", r1.id(), " ('rule') of work stream ", ws.id(),
                             " is missing (every rule must be listed once)"));
  re.add_rule_ids(r0.id());
  EXPECT_STATUS(store().ReorderRoutingRules(re).status(), StatusCode::kInvalidArgument,
                absl::StrCat("rule_ids[2]: rule ", r0.id(), " is repeated"));
  const v1::WorkStream other = MakeWorkStream(store(), Unique("rules-other"), dq.id());
  const v1::RoutingRule foreign = MakeRule(store(), other.id(), dq.id(), gilda);
  re.set_rule_ids(2, foreign.id());
  EXPECT_STATUS(
      store().ReorderRoutingRules(re).status(), StatusCode::kInvalidArgument,
      absl::StrCat("rule_ids[2]: rule ", foreign.id(), " belongs to another work stream"));
  re.set_rule_ids(2, kMissing);
  EXPECT_STATUS(
      store().ReorderRoutingRules(re).status(), StatusCode::kAborted,
      absl::StrCat("rule_ids[2]: rule ", kMissing, " no longer exists; read the list again"));
  re.set_rule_ids(2, r1.id());
  absl::StatusOr<v1::ReorderRoutingRulesResponse> done = store().ReorderRoutingRules(re);
  ASSERT_TRUE(done.ok()) << done.status();
  ASSERT_EQ(done->rules_size(), 3);
  EXPECT_EQ(done->rules(0).id(), r2.id());
  EXPECT_EQ(RuleIds(ws.id()), (std::vector<std::string>{r2.id(), r0.id(), r1.id()}));
  re.set_work_stream_id(kMissing);
  EXPECT_STATUS(store().ReorderRoutingRules(re).status(), StatusCode::kNotFound,
                absl::StrCat("work stream ", kMissing, ": not found"));

  // Deleting the middle rule closes the gap; a new rule goes last.
  v1::DeleteRoutingRuleRequest del;
  del.set_id(r0.id());
  ASSERT_TRUE(store().DeleteRoutingRule(del).ok());
  EXPECT_STATUS(store().DeleteRoutingRule(del), StatusCode::kNotFound,
                absl::StrCat("rule ", r0.id(), ": not found"));
  const v1::RoutingRule r3 = MakeRule(store(), ws.id(), vip.id(), gilda);
  EXPECT_EQ(r3.position(), 2);
  EXPECT_EQ(RuleIds(ws.id()), (std::vector<std::string>{r2.id(), r1.id(), r3.id()}));

  // Paging of rules.
  v1::ListRoutingRulesRequest lr;
  lr.set_work_stream_id(ws.id());
  lr.set_page_size(2);
  absl::StatusOr<v1::ListRoutingRulesResponse> page = store().ListRoutingRules(lr);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->rules_size(), 2);
  lr.set_page_token(page->next_page_token());
  page = store().ListRoutingRules(lr);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->rules_size(), 1);
  EXPECT_EQ(page->rules(0).id(), r3.id());
  lr.set_work_stream_id(other.id());  // the token belongs to the first work stream's list
  EXPECT_STATUS(store().ListRoutingRules(lr).status(), StatusCode::kInvalidArgument,
                "page_token: not a token of this list");
  lr.set_work_stream_id(kMissing);
  lr.clear_page_token();
  EXPECT_STATUS(store().ListRoutingRules(lr).status(), StatusCode::kNotFound,
                absl::StrCat("work stream ", kMissing, ": not found"));

  // Updating: the mask decides; work_stream_id and position are refused.
  v1::UpdateRoutingRuleRequest up;
  up.mutable_rule()->set_id(r3.id());
  up.mutable_rule()->set_enabled(false);
  up.mutable_rule()->set_queue_id(dq.id());
  *up.mutable_update_mask() = Mask({"enabled", "queue_id"});
  absl::StatusOr<v1::RoutingRule> changed = store().UpdateRoutingRule(up);
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_FALSE(changed->enabled());
  EXPECT_EQ(changed->queue_id(), dq.id());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(changed->condition(), gilda));
  *up.mutable_update_mask() = Mask({"position"});
  EXPECT_STATUS(store().UpdateRoutingRule(up).status(), StatusCode::kInvalidArgument,
                "update_mask: 'position' cannot be changed");
  *up.mutable_update_mask() = Mask({"work_stream_id"});
  EXPECT_STATUS(store().UpdateRoutingRule(up).status(), StatusCode::kInvalidArgument,
                "update_mask: 'work_stream_id' cannot be changed");
  up.mutable_rule()->set_queue_id(kMissing);
  *up.mutable_update_mask() = Mask({"queue_id"});
  EXPECT_STATUS(store().UpdateRoutingRule(up).status(), StatusCode::kNotFound,
                absl::StrCat("rule.queue_id: queue ", kMissing, " not found"));
  *up.mutable_rule()->mutable_condition() = NumberCondition(v1::CONDITION_OPERATOR_CONTAINS, 1);
  *up.mutable_update_mask() = Mask({"condition"});
  EXPECT_STATUS(store().UpdateRoutingRule(up).status(), StatusCode::kInvalidArgument,
                "rule.condition.condition.condition_operator: CONTAINS does not apply to TIMEZONE");

  // Deleting the work stream removes its rules.
  v1::DeleteWorkStreamRequest dw;
  dw.set_id(other.id());
  ASSERT_TRUE(store().DeleteWorkStream(dw).ok());
  v1::GetRoutingRuleRequest gr;
  gr.set_id(foreign.id());
  EXPECT_EQ(store().GetRoutingRule(gr).status().code(), StatusCode::kNotFound);
}

TEST_F(RoutingAdminTest, RuleValidation) {
  const v1::Queue q = MakeQueue(store(), Unique("rv"));
  const v1::WorkStream ws = MakeWorkStream(store(), Unique("rv-ws"), q.id());
  v1::CreateRoutingRuleRequest req;
  v1::RoutingRule* r = req.mutable_rule();
  r->set_work_stream_id(ws.id());
  r->set_queue_id(q.id());
  r->set_name("r");
  r->set_enabled(true);
  EXPECT_STATUS(store().CreateRoutingRule(req).status(), StatusCode::kInvalidArgument,
                "rule.condition: missing");
  *r->mutable_condition() =
      Group(v1::LOGICAL_OPERATOR_AND,
            {TextCondition(v1::ENGAGEMENT_ATTRIBUTE_LOCALE, v1::CONDITION_OPERATOR_EQUALS, "en_US"),
             TextCondition(v1::ENGAGEMENT_ATTRIBUTE_CUSTOMER_NAME, v1::CONDITION_OPERATOR_LESS_THAN,
                           "M")});
  EXPECT_STATUS(store().CreateRoutingRule(req).status(), StatusCode::kInvalidArgument,
                "rule.condition.group.expressions[1].condition.condition_operator: LESS_THAN "
                "does not apply to CUSTOMER_NAME (numeric comparisons are for TIMEZONE only)");
  *r->mutable_condition() =
      TextCondition(static_cast<v1::EngagementAttribute>(99), v1::CONDITION_OPERATOR_EQUALS, "x");
  EXPECT_STATUS(store().CreateRoutingRule(req).status(), StatusCode::kInvalidArgument,
                "rule.condition.condition.attribute: unknown attribute 99");
  *r->mutable_condition() = BoolCondition(v1::CONDITION_OPERATOR_EQUALS, true);
  r->set_queue_id(kMissing);
  EXPECT_STATUS(store().CreateRoutingRule(req).status(), StatusCode::kNotFound,
                absl::StrCat("rule.queue_id: queue ", kMissing, " not found"));
  r->set_queue_id(q.id());
  r->set_work_stream_id(kMissing);
  EXPECT_STATUS(store().CreateRoutingRule(req).status(), StatusCode::kNotFound,
                absl::StrCat("rule.work_stream_id: work stream ", kMissing, " not found"));
  r->set_work_stream_id("");
  EXPECT_STATUS(store().CreateRoutingRule(req).status(), StatusCode::kInvalidArgument,
                "rule.work_stream_id: missing");
  r->set_work_stream_id(ws.id());
  r->add_required_skills("Bad Skill");
  EXPECT_STATUS(store().CreateRoutingRule(req).status(), StatusCode::kInvalidArgument,
                "rule.required_skills[0]: 'Bad Skill' may only contain a-z, 0-9, _ and -");
  r->clear_required_skills();
  r->set_position(3);
  EXPECT_STATUS(store().CreateRoutingRule(req).status(), StatusCode::kInvalidArgument,
                "rule.position: output only; leave it empty");
  r->set_position(0);
  r->set_name("");
  EXPECT_STATUS(store().CreateRoutingRule(req).status(), StatusCode::kInvalidArgument,
                "rule.name: empty");
  EXPECT_EQ(RuleIds(ws.id()).size(), 0u);  // nothing was written by any of these
}

TEST_F(RoutingAdminTest, QueueInUseCannotBeDeleted) {
  const v1::Queue dq = MakeQueue(store(), Unique("del-default"));
  const v1::Queue target = MakeQueue(store(), Unique("del-target"));
  const std::string ws_name = Unique("del-ws");
  const v1::WorkStream ws = MakeWorkStream(store(), ws_name, dq.id());
  const v1::RoutingRule rule =
      MakeRule(store(), ws.id(), target.id(), BoolCondition(v1::CONDITION_OPERATOR_EQUALS, true),
               {}, "to target");
  v1::DeleteQueueRequest del;
  del.set_id(target.id());
  EXPECT_STATUS(
      store().DeleteQueue(del), StatusCode::kFailedPrecondition,
      absl::StrCat("queue ", target.id(), " ('", target.name(),
                   "'): still used by routing rule 'to target' of work stream '", ws_name, "'"));
  del.set_id(dq.id());
  EXPECT_STATUS(store().DeleteQueue(del), StatusCode::kFailedPrecondition,
                absl::StrCat("queue ", dq.id(), " ('", dq.name(), "'): still used by work stream '",
                             ws_name, "' (default queue)"));
  v1::DeleteRoutingRuleRequest dr;
  dr.set_id(rule.id());
  ASSERT_TRUE(store().DeleteRoutingRule(dr).ok());
  del.set_id(target.id());
  EXPECT_TRUE(store().DeleteQueue(del).ok());
  EXPECT_STATUS(store().DeleteQueue(del), StatusCode::kNotFound,
                absl::StrCat("queue ", target.id(), ": not found"));
  del.set_id("nope");
  EXPECT_STATUS(store().DeleteQueue(del), StatusCode::kInvalidArgument, "id: 'nope' is not a UUID");
}

TEST_F(RoutingAdminTest, LiveUsageGuardsDeletesAndFillsDepth) {
  PgRoutingStore live(
      pool(), LiveUsage{
                  .queue_depth = [](const std::string&) -> absl::StatusOr<int64_t> { return 4; },
                  .work_stream_conversations = [](const std::string&) -> absl::StatusOr<int64_t> {
                    return 2;
                  },
                  .agent_conversations = [](const std::string&) -> absl::StatusOr<int64_t> {
                    return absl::UnavailableError("redis down");
                  },
              });
  const v1::Queue q = MakeQueue(live, Unique("live"));
  EXPECT_EQ(q.depth(), 0);  // created empty
  v1::GetQueueRequest get;
  get.set_id(q.id());
  EXPECT_EQ(live.GetQueue(get)->depth(), 4);
  v1::DeleteQueueRequest dq;
  dq.set_id(q.id());
  EXPECT_STATUS(
      live.DeleteQueue(dq), StatusCode::kFailedPrecondition,
      absl::StrCat("queue ", q.id(), " ('", q.name(), "'): 4 conversations are waiting in it"));
  const v1::WorkStream ws =
      MakeWorkStream(live, Unique("live-ws"), MakeQueue(live, Unique("l")).id());
  v1::DeleteWorkStreamRequest dw;
  dw.set_id(ws.id());
  EXPECT_STATUS(live.DeleteWorkStream(dw), StatusCode::kFailedPrecondition,
                absl::StrCat("work stream ", ws.id(), " ('", ws.name(),
                             "'): 2 conversations still queued, offered or assigned"));
  const v1::Agent a = MakeAgent(live, "Eve", 1);
  v1::DeleteAgentRequest da;
  da.set_id(a.id());
  EXPECT_STATUS(live.DeleteAgent(da), StatusCode::kUnavailable, "redis down");
  // Without an engine the same deletes go through.
  EXPECT_TRUE(store().DeleteAgent(da).ok());
  EXPECT_TRUE(store().DeleteWorkStream(dw).ok());
  EXPECT_TRUE(store().DeleteQueue(dq).ok());
}

TEST_F(RoutingAdminTest, EveryChangeMovesTheRevisionAndReadsDoNot) {
  absl::StatusOr<int64_t> before = store().Revision();
  ASSERT_TRUE(before.ok());
  const v1::Queue q = MakeQueue(store(), Unique("rev"));
  EXPECT_EQ(*store().Revision(), *before + 1);
  v1::GetQueueRequest get;
  get.set_id(q.id());
  ASSERT_TRUE(store().GetQueue(get).ok());
  ASSERT_TRUE(store().ListQueues(v1::ListQueuesRequest()).ok());
  EXPECT_EQ(*store().Revision(), *before + 1);
  v1::CreateAgentRequest bad;
  bad.mutable_agent()->set_display_name("x");
  bad.mutable_agent()->set_capacity(1);
  bad.mutable_agent()->add_queue_ids(kMissing);
  ASSERT_FALSE(store().CreateAgent(bad).ok());
  EXPECT_EQ(*store().Revision(), *before + 1);  // a refused change is rolled back whole
}

// A change made through one replica's store is seen by another replica's cache.
TEST_F(RoutingAdminTest, SecondCacheSeesChanges) {
  PgRoutingStore other_store(pool());
  DefinitionsCache mine(store(), absl::Milliseconds(100));
  DefinitionsCache theirs(other_store, absl::Milliseconds(100));
  int notified = 0;
  std::mutex mu;
  theirs.AddListener([&](std::shared_ptr<const RoutingSnapshot>) {
    std::lock_guard<std::mutex> lock(mu);
    ++notified;
  });
  ASSERT_TRUE(mine.Start().ok());
  ASSERT_TRUE(theirs.Start().ok());
  ASSERT_TRUE(theirs.loaded());

  const v1::Queue dq = MakeQueue(store(), Unique("cache-default"));
  const v1::Queue india = MakeQueue(store(), Unique("cache-india"));
  const v1::WorkStream ws = MakeWorkStream(store(), Unique("cache-ws"), dq.id());
  const v1::Agent agent = MakeAgent(store(), "Farah", 4, {india.id()}, {"hindi"});
  const v1::RoutingRule rule = MakeRule(
      store(), ws.id(), india.id(), NumberCondition(v1::CONDITION_OPERATOR_EQUALS, 5.5), {"hindi"});
  mine.RequestReload();
  const absl::StatusOr<int64_t> revision = store().Revision();
  ASSERT_TRUE(revision.ok());

  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  std::shared_ptr<const RoutingSnapshot> seen = theirs.Current();
  while (seen->revision < *revision && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
    seen = theirs.Current();
  }
  ASSERT_GE(seen->revision, *revision);
  ASSERT_TRUE(seen->work_streams.contains(ws.id()));
  ASSERT_TRUE(seen->queues.contains(india.id()));
  EXPECT_EQ(seen->queues.at(india.id()).agent_ids_size(), 1);
  EXPECT_EQ(seen->agents.at(agent.id()).queue_ids(0), india.id());
  EXPECT_EQ(seen->agents.at(agent.id()).capacity(), 4);
  ASSERT_EQ(seen->rules.at(ws.id()).size(), 1u);
  EXPECT_EQ(seen->rules.at(ws.id())[0].id(), rule.id());
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_GE(notified, 2);  // the first load and at least one reload
  }

  common::v1::EngagementContext ctx;
  ctx.set_timezone_offset_hours(5.5);
  absl::StatusOr<RouteDecision> d = Route(*seen, ws.id(), ctx);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->queue_id, india.id());
  EXPECT_EQ(d->required_skills, std::vector<std::string>{"hindi"});

  // The snapshot a reader holds does not change under it.
  const std::shared_ptr<const RoutingSnapshot> held = seen;
  v1::DeleteRoutingRuleRequest del;
  del.set_id(rule.id());
  ASSERT_TRUE(store().DeleteRoutingRule(del).ok());
  const absl::Time deadline2 = absl::Now() + absl::Seconds(30);
  while (theirs.Current()->revision == held->revision && absl::Now() < deadline2) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_TRUE(theirs.Current()->rules.at(ws.id()).empty());
  EXPECT_EQ(held->rules.at(ws.id()).size(), 1u);
  mine.Shutdown(absl::ZeroDuration());
  theirs.Shutdown(absl::ZeroDuration());
}

// ----- through gRPC --------------------------------------------------------------------------

TEST_F(RoutingAdminTest, GrpcReportsCodesAndMessages) {
  Executor executor(2);
  DefinitionsCache cache(store(), absl::Seconds(1));
  RoutingAdminServiceImpl service(store(), &cache, executor);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  ASSERT_GT(port, 0);
  auto stub = v1::RoutingAdminService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));

  {
    grpc::ClientContext ctx;
    v1::CreateAgentRequest req;
    req.mutable_agent()->set_display_name("Gia");
    req.mutable_agent()->set_capacity(0);
    v1::CreateAgentResponse resp;
    const grpc::Status s = stub->CreateAgent(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(s.error_message(), "agent.capacity: 0 is not 1..1000");
  }
  std::string queue_id;
  {
    grpc::ClientContext ctx;
    v1::CreateQueueRequest req;
    req.mutable_queue()->set_name(Unique("grpc-q"));
    v1::CreateQueueResponse resp;
    const grpc::Status s = stub->CreateQueue(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    queue_id = resp.queue().id();
    EXPECT_EQ(queue_id.size(), 36u);
  }
  {
    grpc::ClientContext ctx;
    v1::CreateRoutingRuleRequest req;
    req.mutable_rule()->set_work_stream_id(kMissing);
    req.mutable_rule()->set_queue_id(queue_id);
    req.mutable_rule()->set_name("r");
    *req.mutable_rule()->mutable_condition() = TextCondition(
        v1::ENGAGEMENT_ATTRIBUTE_CUSTOMER_NAME, v1::CONDITION_OPERATOR_EQUALS, "Gilda");
    v1::CreateRoutingRuleResponse resp;
    const grpc::Status s = stub->CreateRoutingRule(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_EQ(s.error_message(),
              absl::StrCat("rule.work_stream_id: work stream ", kMissing, " not found"));
  }
  {
    grpc::ClientContext ctx;
    v1::DeleteQueueRequest req;
    req.set_id("'; DROP TABLE router.queues; --");
    v1::DeleteQueueResponse resp;
    const grpc::Status s = stub->DeleteQueue(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(s.error_message(), "id: ''; DROP TABLE router.queues; --' is not a UUID");
  }
  server->Shutdown();
}
}  // namespace
}  // namespace parley::router
