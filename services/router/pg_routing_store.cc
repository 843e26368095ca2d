#include "services/router/pg_routing_store.h"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/field_mask_util.h"
#include "google/protobuf/util/json_util.h"
#include "services/router/admin_checks.h"

namespace parley::router {
namespace {

using Tx = pqxx::transaction_base;
using google::protobuf::util::FieldMaskUtil;

// Serializes every change (the row lock is held to commit) and moves the revision.
constexpr char kBump[] = "UPDATE router.revision SET value = value + 1 RETURNING value";
constexpr char kRevision[] = "SELECT value FROM router.revision";

constexpr char kQueueColumns[] =
    "SELECT q.id::text, q.name, q.priority, router.us(q.created_at), router.us(q.updated_at) "
    "FROM router.queues q ";
constexpr char kQueueMembers[] =
    "SELECT agent_id::text FROM router.queue_members WHERE queue_id = $1::uuid ORDER BY agent_id";
constexpr char kAgentColumns[] =
    "SELECT a.id::text, a.display_name, a.capacity, array_to_string(a.skills, ','), a.enabled, "
    "router.us(a.created_at), router.us(a.updated_at) FROM router.agents a ";
constexpr char kAgentQueues[] = R"sql(
SELECT m.queue_id::text FROM router.queue_members m JOIN router.queues q ON q.id = m.queue_id
WHERE m.agent_id = $1::uuid ORDER BY q.name, q.id)sql";
constexpr char kWorkStreamColumns[] =
    "SELECT w.id::text, w.name, w.channel, w.mode, w.capacity_cost, w.offer_timeout_ns, "
    "w.strategy, w.auto_close_after_ns, w.urgent_before_deadline_ns, w.default_queue_id::text, "
    "router.us(w.created_at), router.us(w.updated_at) FROM router.work_streams w ";
constexpr char kRuleColumns[] =
    "SELECT r.id::text, r.work_stream_id::text, r.name, r.position, r.condition::text, "
    "r.queue_id::text, array_to_string(r.required_skills, ','), r.enabled, "
    "router.us(r.created_at), router.us(r.updated_at) FROM router.routing_rules r ";

constexpr char kInsertQueue[] =
    "INSERT INTO router.queues (name, priority) VALUES ($1, $2) RETURNING id::text";
constexpr char kUpdateQueue[] =
    "UPDATE router.queues SET name = $2, priority = $3, updated_at = now() WHERE id = $1::uuid";
constexpr char kClearQueueMembers[] = "DELETE FROM router.queue_members WHERE queue_id = $1::uuid";
constexpr char kAddQueueMembers[] = R"sql(
INSERT INTO router.queue_members (queue_id, agent_id)
SELECT $1::uuid, a::uuid FROM unnest(string_to_array($2, ',')) a)sql";
constexpr char kClearAgentQueues[] = "DELETE FROM router.queue_members WHERE agent_id = $1::uuid";
constexpr char kAddAgentQueues[] = R"sql(
INSERT INTO router.queue_members (queue_id, agent_id)
SELECT q::uuid, $1::uuid FROM unnest(string_to_array($2, ',')) q)sql";

constexpr char kInsertAgent[] = R"sql(
INSERT INTO router.agents (display_name, capacity, skills, enabled)
VALUES ($1, $2, string_to_array($3, ','), $4) RETURNING id::text)sql";
constexpr char kUpdateAgent[] = R"sql(
UPDATE router.agents SET display_name = $2, capacity = $3, skills = string_to_array($4, ','),
       enabled = $5, updated_at = now()
WHERE id = $1::uuid)sql";

constexpr char kInsertWorkStream[] = R"sql(
INSERT INTO router.work_streams (name, channel, mode, capacity_cost, offer_timeout_ns, strategy,
                                 auto_close_after_ns, urgent_before_deadline_ns, default_queue_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::uuid) RETURNING id::text)sql";
constexpr char kUpdateWorkStream[] = R"sql(
UPDATE router.work_streams SET name = $2, mode = $3, capacity_cost = $4, offer_timeout_ns = $5,
       strategy = $6, auto_close_after_ns = $7, urgent_before_deadline_ns = $8,
       default_queue_id = $9::uuid, updated_at = now()
WHERE id = $1::uuid)sql";

constexpr char kInsertRule[] = R"sql(
INSERT INTO router.routing_rules (work_stream_id, name, position, condition, queue_id,
                                  required_skills, enabled)
VALUES ($1::uuid, $2,
        (SELECT count(*) FROM router.routing_rules WHERE work_stream_id = $1::uuid),
        $3::jsonb, $4::uuid, string_to_array($5, ','), $6)
RETURNING id::text)sql";
constexpr char kUpdateRule[] = R"sql(
UPDATE router.routing_rules SET name = $2, condition = $3::jsonb, queue_id = $4::uuid,
       required_skills = string_to_array($5, ','), enabled = $6, updated_at = now()
WHERE id = $1::uuid)sql";
constexpr char kDeleteRule[] = R"sql(
WITH d AS (DELETE FROM router.routing_rules WHERE id = $1::uuid
           RETURNING work_stream_id, position)
UPDATE router.routing_rules r SET position = r.position - 1
FROM d WHERE r.work_stream_id = d.work_stream_id AND r.position > d.position)sql";
// $1 work stream, $2 the rule ids in their new order (comma-separated).
constexpr char kReorder[] = R"sql(
UPDATE router.routing_rules r SET position = v.ord - 1, updated_at = now()
FROM unnest(string_to_array($2, ',')::uuid[]) WITH ORDINALITY v(id, ord)
WHERE r.id = v.id AND r.work_stream_id = $1::uuid AND r.position <> v.ord - 1)sql";

constexpr char kQueueUsers[] = R"sql(
SELECT 'routing rule ''' || r.name || ''' of work stream ''' || w.name || ''''
FROM router.routing_rules r JOIN router.work_streams w ON w.id = r.work_stream_id
WHERE r.queue_id = $1::uuid
UNION ALL
SELECT 'work stream ''' || w.name || ''' (default queue)' FROM router.work_streams w
WHERE w.default_queue_id = $1::uuid
ORDER BY 1 LIMIT 10)sql";

template <typename T>
void SetSplit(const pqxx::field& f, T* out) {
  const std::string joined = f.as<std::string>();
  if (joined.empty()) return;
  for (absl::string_view s : absl::StrSplit(joined, ',')) out->Add(std::string(s));
}

void SetTimestamp(const pqxx::field& micros, google::protobuf::Timestamp* out) {
  const int64_t us = micros.as<int64_t>();
  out->set_seconds(us / 1000000);
  out->set_nanos(static_cast<int32_t>((us % 1000000) * 1000));
}

std::string Join(const google::protobuf::RepeatedPtrField<std::string>& v) {
  return absl::StrJoin(v, ",");
}

v1::Queue QueueFromRow(const pqxx::row& r) {
  v1::Queue q;
  q.set_id(r[0].as<std::string>());
  q.set_name(r[1].as<std::string>());
  q.set_priority(r[2].as<int>());
  SetTimestamp(r[3], q.mutable_create_time());
  SetTimestamp(r[4], q.mutable_update_time());
  return q;
}

v1::Agent AgentFromRow(const pqxx::row& r) {
  v1::Agent a;
  a.set_id(r[0].as<std::string>());
  a.set_display_name(r[1].as<std::string>());
  a.set_capacity(r[2].as<int>());
  SetSplit(r[3], a.mutable_skills());
  a.set_enabled(r[4].as<bool>());
  SetTimestamp(r[5], a.mutable_create_time());
  SetTimestamp(r[6], a.mutable_update_time());
  return a;
}

v1::WorkStream WorkStreamFromRow(const pqxx::row& r) {
  v1::WorkStream w;
  w.set_id(r[0].as<std::string>());
  w.set_name(r[1].as<std::string>());
  w.set_channel(static_cast<common::v1::Channel>(r[2].as<int>()));
  w.set_mode(static_cast<v1::RoutingMode>(r[3].as<int>()));
  w.set_capacity_cost(r[4].as<int>());
  *w.mutable_offer_timeout() = FromNanos(r[5].as<int64_t>());
  w.set_strategy(static_cast<v1::AssignmentStrategy>(r[6].as<int>()));
  *w.mutable_auto_close_after() = FromNanos(r[7].as<int64_t>());
  *w.mutable_urgent_before_deadline() = FromNanos(r[8].as<int64_t>());
  w.set_default_queue_id(r[9].as<std::string>());
  SetTimestamp(r[10], w.mutable_create_time());
  SetTimestamp(r[11], w.mutable_update_time());
  return w;
}

absl::StatusOr<v1::RoutingRule> RuleFromRow(const pqxx::row& r) {
  v1::RoutingRule rule;
  rule.set_id(r[0].as<std::string>());
  rule.set_work_stream_id(r[1].as<std::string>());
  rule.set_name(r[2].as<std::string>());
  rule.set_position(r[3].as<int>());
  const auto parsed =
      google::protobuf::util::JsonStringToMessage(r[4].as<std::string>(), rule.mutable_condition());
  if (!parsed.ok()) {
    return absl::InternalError(
        absl::StrCat("rule ", rule.id(), ": stored condition unreadable: ", parsed.ToString()));
  }
  rule.set_queue_id(r[5].as<std::string>());
  SetSplit(r[6], rule.mutable_required_skills());
  rule.set_enabled(r[7].as<bool>());
  SetTimestamp(r[8], rule.mutable_create_time());
  SetTimestamp(r[9], rule.mutable_update_time());
  return rule;
}

absl::StatusOr<std::string> ConditionJson(const v1::RuleExpression& e) {
  std::string json;
  const auto s = google::protobuf::util::MessageToJsonString(e, &json);
  if (!s.ok()) return absl::InternalError(absl::StrCat("rule.condition: ", s.ToString()));
  return json;
}

std::string ForUpdate(bool lock) { return lock ? " FOR UPDATE" : ""; }

absl::StatusOr<v1::Queue> LoadQueue(Tx& tx, const std::string& id, bool lock = false) {
  const pqxx::result rows =
      tx.exec_params(absl::StrCat(kQueueColumns, "WHERE q.id = $1::uuid", ForUpdate(lock)), id);
  if (rows.empty()) return absl::NotFoundError(absl::StrCat("queue ", id, ": not found"));
  v1::Queue q = QueueFromRow(rows[0]);
  for (const pqxx::row& m : tx.exec_params(kQueueMembers, id)) {
    q.add_agent_ids(m[0].as<std::string>());
  }
  return q;
}

absl::StatusOr<v1::Agent> LoadAgent(Tx& tx, const std::string& id, bool lock = false) {
  const pqxx::result rows =
      tx.exec_params(absl::StrCat(kAgentColumns, "WHERE a.id = $1::uuid", ForUpdate(lock)), id);
  if (rows.empty()) return absl::NotFoundError(absl::StrCat("agent ", id, ": not found"));
  v1::Agent a = AgentFromRow(rows[0]);
  for (const pqxx::row& m : tx.exec_params(kAgentQueues, id)) {
    a.add_queue_ids(m[0].as<std::string>());
  }
  return a;
}

absl::StatusOr<v1::WorkStream> LoadWorkStream(Tx& tx, const std::string& id, bool lock = false) {
  const pqxx::result rows = tx.exec_params(
      absl::StrCat(kWorkStreamColumns, "WHERE w.id = $1::uuid", ForUpdate(lock)), id);
  if (rows.empty()) return absl::NotFoundError(absl::StrCat("work stream ", id, ": not found"));
  return WorkStreamFromRow(rows[0]);
}

absl::StatusOr<v1::RoutingRule> LoadRule(Tx& tx, const std::string& id, bool lock = false) {
  const pqxx::result rows =
      tx.exec_params(absl::StrCat(kRuleColumns, "WHERE r.id = $1::uuid", ForUpdate(lock)), id);
  if (rows.empty()) return absl::NotFoundError(absl::StrCat("rule ", id, ": not found"));
  return RuleFromRow(rows[0]);
}

bool Exists(Tx& tx, const char* table, const std::string& id) {
  return !tx.exec_params(absl::StrCat("SELECT 1 FROM router.", table, " WHERE id = $1::uuid"), id)
              .empty();
}

// NotFound naming `field`[i] for the first id of `ids` with no row in `table`.
absl::Status AllExist(Tx& tx, const char* table, const char* noun, absl::string_view field,
                      const google::protobuf::RepeatedPtrField<std::string>& ids) {
  for (int i = 0; i < ids.size(); ++i) {
    if (!Exists(tx, table, ids[i])) {
      return absl::NotFoundError(
          absl::StrCat(field, "[", i, "]: ", noun, " ", ids[i], " not found"));
    }
  }
  return absl::OkStatus();
}

// AlreadyExists when another row of `table` (not `id`) has `column` = `name`.
absl::Status NameFree(Tx& tx, const char* table, const char* noun, const std::string& name,
                      const std::string& id) {
  const pqxx::result rows = tx.exec_params(
      absl::StrCat("SELECT 1 FROM router.", table, " WHERE name = $1 AND id::text <> $2"), name,
      id);
  if (rows.empty()) return absl::OkStatus();
  return absl::AlreadyExistsError(absl::StrCat(noun, " name '", name, "': already exists"));
}

// Replaces resource fields named by `paths` with those of `from`.
template <typename T>
void Merge(const T& from, const std::vector<std::string>& paths, T* to) {
  google::protobuf::FieldMask mask;
  for (const std::string& p : paths) mask.add_paths(p);
  FieldMaskUtil::MergeOptions options;
  options.set_replace_message_fields(true);
  options.set_replace_repeated_fields(true);
  FieldMaskUtil::MergeMessageTo(from, mask, options, to);
}

absl::Status CheckCount(const std::function<absl::StatusOr<int64_t>(const std::string&)>& count,
                        const std::string& id, absl::string_view what) {
  if (!count) return absl::OkStatus();
  absl::StatusOr<int64_t> n = count(id);
  if (!n.ok()) return n.status();
  if (*n == 0) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(what, ": ", *n, " conversation",
                                                    *n == 1 ? "" : "s", " still ",
                                                    "queued, offered or assigned"));
}

}  // namespace

// ----- queues --------------------------------------------------------------------------------

int32_t PgRoutingStore::Depth(const std::string& queue_id) const {
  if (!usage_.queue_depth) return 0;
  absl::StatusOr<int64_t> n = usage_.queue_depth(queue_id);
  return n.ok() ? static_cast<int32_t>(*n) : 0;
}

absl::StatusOr<v1::Queue> PgRoutingStore::CreateQueue(const v1::CreateQueueRequest& request) {
  if (absl::Status s = CheckQueue(request.queue(), true); !s.ok()) return s;
  const v1::Queue& in = request.queue();
  return pool_.Transact<v1::Queue>([&](pqxx::work& tx) -> absl::StatusOr<v1::Queue> {
    tx.exec(kBump);
    if (absl::Status s = NameFree(tx, "queues", "queue", in.name(), ""); !s.ok()) return s;
    if (absl::Status s = AllExist(tx, "agents", "agent", "queue.agent_ids", in.agent_ids());
        !s.ok()) {
      return s;
    }
    const std::string id =
        tx.exec_params1(kInsertQueue, in.name(), in.priority())[0].as<std::string>();
    tx.exec_params(kAddQueueMembers, id, Join(in.agent_ids()));
    return LoadQueue(tx, id);
  });
}

absl::StatusOr<v1::Queue> PgRoutingStore::GetQueue(const v1::GetQueueRequest& request) {
  if (absl::Status s = CheckUuid("id", request.id()); !s.ok()) return s;
  absl::StatusOr<v1::Queue> q =
      pool_.Transact<v1::Queue>([&](pqxx::work& tx) { return LoadQueue(tx, request.id()); });
  if (q.ok()) q->set_depth(Depth(q->id()));
  return q;
}

absl::StatusOr<v1::ListQueuesResponse> PgRoutingStore::ListQueues(
    const v1::ListQueuesRequest& request) {
  if (!request.agent_id().empty()) {
    if (absl::Status s = CheckUuid("agent_id", request.agent_id()); !s.ok()) return s;
  }
  const std::string tag = absl::StrCat("queues/", request.agent_id());
  absl::StatusOr<Page> page = ParsePage(tag, request.page_size(), request.page_token());
  if (!page.ok()) return page.status();
  absl::StatusOr<v1::ListQueuesResponse> out = pool_.Transact<v1::ListQueuesResponse>(
      [&](pqxx::work& tx) -> absl::StatusOr<v1::ListQueuesResponse> {
        v1::ListQueuesResponse resp;
        const pqxx::result rows = tx.exec_params(
            absl::StrCat(kQueueColumns,
                         "WHERE $1 = '' OR EXISTS (SELECT 1 FROM router.queue_members m "
                         "WHERE m.queue_id = q.id AND m.agent_id::text = $1) "
                         "ORDER BY q.name, q.id OFFSET $2 LIMIT $3"),
            request.agent_id(), page->offset, page->size + 1);
        for (int i = 0; i < std::min<int>(rows.size(), page->size); ++i) {
          absl::StatusOr<v1::Queue> q = LoadQueue(tx, rows[i][0].as<std::string>());
          if (!q.ok()) return q.status();
          *resp.add_queues() = *std::move(q);
        }
        if (static_cast<int>(rows.size()) > page->size) {
          resp.set_next_page_token(NextPageToken(tag, *page));
        }
        return resp;
      });
  if (out.ok()) {
    for (v1::Queue& q : *out->mutable_queues()) q.set_depth(Depth(q.id()));
  }
  return out;
}

absl::StatusOr<v1::Queue> PgRoutingStore::UpdateQueue(const v1::UpdateQueueRequest& request) {
  if (absl::Status s = CheckUuid("queue.id", request.queue().id()); !s.ok()) return s;
  absl::StatusOr<std::vector<std::string>> paths =
      CheckMask(request.update_mask(), {"name", "priority", "agent_ids"}, {});
  if (!paths.ok()) return paths.status();
  absl::StatusOr<v1::Queue> out =
      pool_.Transact<v1::Queue>([&](pqxx::work& tx) -> absl::StatusOr<v1::Queue> {
        tx.exec(kBump);
        absl::StatusOr<v1::Queue> q = LoadQueue(tx, request.queue().id(), true);
        if (!q.ok()) return q.status();
        Merge(request.queue(), *paths, &*q);
        if (absl::Status s = CheckQueue(*q, false); !s.ok()) return s;
        if (absl::Status s = NameFree(tx, "queues", "queue", q->name(), q->id()); !s.ok()) return s;
        if (absl::Status s = AllExist(tx, "agents", "agent", "queue.agent_ids", q->agent_ids());
            !s.ok()) {
          return s;
        }
        tx.exec_params(kUpdateQueue, q->id(), q->name(), q->priority());
        if (std::find(paths->begin(), paths->end(), "agent_ids") != paths->end()) {
          tx.exec_params(kClearQueueMembers, q->id());
          tx.exec_params(kAddQueueMembers, q->id(), Join(q->agent_ids()));
        }
        return LoadQueue(tx, q->id());
      });
  if (out.ok()) out->set_depth(Depth(out->id()));
  return out;
}

absl::Status PgRoutingStore::DeleteQueue(const v1::DeleteQueueRequest& request) {
  if (absl::Status s = CheckUuid("id", request.id()); !s.ok()) return s;
  return pool_.Transact([&](pqxx::work& tx) -> absl::Status {
    tx.exec(kBump);
    absl::StatusOr<v1::Queue> q = LoadQueue(tx, request.id(), true);
    if (!q.ok()) return q.status();
    std::vector<std::string> users;
    for (const pqxx::row& r : tx.exec_params(kQueueUsers, q->id())) {
      users.push_back(r[0].as<std::string>());
    }
    if (!users.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "queue ", q->id(), " ('", q->name(), "'): still used by ", absl::StrJoin(users, ", ")));
    }
    if (usage_.queue_depth) {
      absl::StatusOr<int64_t> depth = usage_.queue_depth(q->id());
      if (!depth.ok()) return depth.status();
      if (*depth > 0) {
        return absl::FailedPreconditionError(absl::StrCat("queue ", q->id(), " ('", q->name(),
                                                          "'): ", *depth,
                                                          " conversations are waiting in it"));
      }
    }
    tx.exec_params("DELETE FROM router.queues WHERE id = $1::uuid", q->id());
    return absl::OkStatus();
  });
}

// ----- agents --------------------------------------------------------------------------------

absl::StatusOr<v1::Agent> PgRoutingStore::CreateAgent(const v1::CreateAgentRequest& request) {
  if (absl::Status s = CheckAgent(request.agent(), true); !s.ok()) return s;
  const v1::Agent& in = request.agent();
  return pool_.Transact<v1::Agent>([&](pqxx::work& tx) -> absl::StatusOr<v1::Agent> {
    tx.exec(kBump);
    if (absl::Status s = AllExist(tx, "queues", "queue", "agent.queue_ids", in.queue_ids());
        !s.ok()) {
      return s;
    }
    const std::string id = tx.exec_params1(kInsertAgent, in.display_name(), in.capacity(),
                                           Join(in.skills()), in.enabled())[0]
                               .as<std::string>();
    tx.exec_params(kAddAgentQueues, id, Join(in.queue_ids()));
    return LoadAgent(tx, id);
  });
}

absl::StatusOr<v1::Agent> PgRoutingStore::GetAgent(const v1::GetAgentRequest& request) {
  if (absl::Status s = CheckUuid("id", request.id()); !s.ok()) return s;
  return pool_.Transact<v1::Agent>([&](pqxx::work& tx) { return LoadAgent(tx, request.id()); });
}

absl::StatusOr<v1::ListAgentsResponse> PgRoutingStore::ListAgents(
    const v1::ListAgentsRequest& request) {
  if (!request.queue_id().empty()) {
    if (absl::Status s = CheckUuid("queue_id", request.queue_id()); !s.ok()) return s;
  }
  const std::string tag = absl::StrCat("agents/", request.queue_id());
  absl::StatusOr<Page> page = ParsePage(tag, request.page_size(), request.page_token());
  if (!page.ok()) return page.status();
  return pool_.Transact<v1::ListAgentsResponse>(
      [&](pqxx::work& tx) -> absl::StatusOr<v1::ListAgentsResponse> {
        v1::ListAgentsResponse resp;
        const pqxx::result rows = tx.exec_params(
            absl::StrCat(kAgentColumns,
                         "WHERE $1 = '' OR EXISTS (SELECT 1 FROM router.queue_members m "
                         "WHERE m.agent_id = a.id AND m.queue_id::text = $1) "
                         "ORDER BY a.display_name, a.id OFFSET $2 LIMIT $3"),
            request.queue_id(), page->offset, page->size + 1);
        for (int i = 0; i < std::min<int>(rows.size(), page->size); ++i) {
          absl::StatusOr<v1::Agent> a = LoadAgent(tx, rows[i][0].as<std::string>());
          if (!a.ok()) return a.status();
          *resp.add_agents() = *std::move(a);
        }
        if (static_cast<int>(rows.size()) > page->size) {
          resp.set_next_page_token(NextPageToken(tag, *page));
        }
        return resp;
      });
}

absl::StatusOr<v1::Agent> PgRoutingStore::UpdateAgent(const v1::UpdateAgentRequest& request) {
  if (absl::Status s = CheckUuid("agent.id", request.agent().id()); !s.ok()) return s;
  absl::StatusOr<std::vector<std::string>> paths = CheckMask(
      request.update_mask(), {"display_name", "capacity", "queue_ids", "skills", "enabled"}, {});
  if (!paths.ok()) return paths.status();
  return pool_.Transact<v1::Agent>([&](pqxx::work& tx) -> absl::StatusOr<v1::Agent> {
    tx.exec(kBump);
    absl::StatusOr<v1::Agent> a = LoadAgent(tx, request.agent().id(), true);
    if (!a.ok()) return a.status();
    Merge(request.agent(), *paths, &*a);
    if (absl::Status s = CheckAgent(*a, false); !s.ok()) return s;
    if (absl::Status s = AllExist(tx, "queues", "queue", "agent.queue_ids", a->queue_ids());
        !s.ok()) {
      return s;
    }
    tx.exec_params(kUpdateAgent, a->id(), a->display_name(), a->capacity(), Join(a->skills()),
                   a->enabled());
    if (std::find(paths->begin(), paths->end(), "queue_ids") != paths->end()) {
      tx.exec_params(kClearAgentQueues, a->id());
      tx.exec_params(kAddAgentQueues, a->id(), Join(a->queue_ids()));
    }
    return LoadAgent(tx, a->id());
  });
}

absl::Status PgRoutingStore::DeleteAgent(const v1::DeleteAgentRequest& request) {
  if (absl::Status s = CheckUuid("id", request.id()); !s.ok()) return s;
  return pool_.Transact([&](pqxx::work& tx) -> absl::Status {
    tx.exec(kBump);
    absl::StatusOr<v1::Agent> a = LoadAgent(tx, request.id(), true);
    if (!a.ok()) return a.status();
    if (usage_.agent_conversations) {
      absl::StatusOr<int64_t> n = usage_.agent_conversations(a->id());
      if (!n.ok()) return n.status();
      if (*n > 0) {
        return absl::FailedPreconditionError(absl::StrCat(
            "agent ", a->id(), " ('", a->display_name(), "'): holds ", *n,
            " assigned conversations or pending offers; transfer them or disable the agent "
            "first"));
      }
    }
    tx.exec_params("DELETE FROM router.agents WHERE id = $1::uuid", a->id());
    return absl::OkStatus();
  });
}

// ----- work streams --------------------------------------------------------------------------

absl::StatusOr<v1::WorkStream> PgRoutingStore::CreateWorkStream(
    const v1::CreateWorkStreamRequest& request) {
  v1::WorkStream in = request.work_stream();
  ApplyDefaults(&in);
  if (absl::Status s = CheckWorkStream(in, true); !s.ok()) return s;
  return pool_.Transact<v1::WorkStream>([&](pqxx::work& tx) -> absl::StatusOr<v1::WorkStream> {
    tx.exec(kBump);
    if (absl::Status s = NameFree(tx, "work_streams", "work stream", in.name(), ""); !s.ok()) {
      return s;
    }
    if (!Exists(tx, "queues", in.default_queue_id())) {
      return absl::NotFoundError(absl::StrCat("work_stream.default_queue_id: queue ",
                                              in.default_queue_id(), " not found"));
    }
    const std::string id =
        tx.exec_params1(kInsertWorkStream, in.name(), static_cast<int>(in.channel()),
                        static_cast<int>(in.mode()), in.capacity_cost(),
                        ToNanos(in.offer_timeout()), static_cast<int>(in.strategy()),
                        ToNanos(in.auto_close_after()), ToNanos(in.urgent_before_deadline()),
                        in.default_queue_id())[0]
            .as<std::string>();
    return LoadWorkStream(tx, id);
  });
}

absl::StatusOr<v1::WorkStream> PgRoutingStore::GetWorkStream(
    const v1::GetWorkStreamRequest& request) {
  if (absl::Status s = CheckUuid("id", request.id()); !s.ok()) return s;
  return pool_.Transact<v1::WorkStream>(
      [&](pqxx::work& tx) { return LoadWorkStream(tx, request.id()); });
}

absl::StatusOr<v1::ListWorkStreamsResponse> PgRoutingStore::ListWorkStreams(
    const v1::ListWorkStreamsRequest& request) {
  if (!common::v1::Channel_IsValid(request.channel())) {
    return absl::InvalidArgumentError(absl::StrCat("channel: unknown channel ", request.channel()));
  }
  const std::string tag = absl::StrCat("work_streams/", request.channel());
  absl::StatusOr<Page> page = ParsePage(tag, request.page_size(), request.page_token());
  if (!page.ok()) return page.status();
  return pool_.Transact<v1::ListWorkStreamsResponse>(
      [&](pqxx::work& tx) -> absl::StatusOr<v1::ListWorkStreamsResponse> {
        v1::ListWorkStreamsResponse resp;
        const pqxx::result rows = tx.exec_params(
            absl::StrCat(kWorkStreamColumns,
                         "WHERE $1 = 0 OR w.channel = $1 ORDER BY w.name, w.id OFFSET $2 LIMIT $3"),
            static_cast<int>(request.channel()), page->offset, page->size + 1);
        for (int i = 0; i < std::min<int>(rows.size(), page->size); ++i) {
          *resp.add_work_streams() = WorkStreamFromRow(rows[i]);
        }
        if (static_cast<int>(rows.size()) > page->size) {
          resp.set_next_page_token(NextPageToken(tag, *page));
        }
        return resp;
      });
}

absl::StatusOr<v1::WorkStream> PgRoutingStore::UpdateWorkStream(
    const v1::UpdateWorkStreamRequest& request) {
  if (absl::Status s = CheckUuid("work_stream.id", request.work_stream().id()); !s.ok()) return s;
  absl::StatusOr<std::vector<std::string>> paths =
      CheckMask(request.update_mask(),
                {"name", "mode", "capacity_cost", "offer_timeout", "strategy", "auto_close_after",
                 "default_queue_id", "urgent_before_deadline"},
                {"channel"});
  if (!paths.ok()) return paths.status();
  return pool_.Transact<v1::WorkStream>([&](pqxx::work& tx) -> absl::StatusOr<v1::WorkStream> {
    tx.exec(kBump);
    absl::StatusOr<v1::WorkStream> w = LoadWorkStream(tx, request.work_stream().id(), true);
    if (!w.ok()) return w.status();
    Merge(request.work_stream(), *paths, &*w);
    ApplyDefaults(&*w);
    if (absl::Status s = CheckWorkStream(*w, false); !s.ok()) return s;
    if (absl::Status s = NameFree(tx, "work_streams", "work stream", w->name(), w->id()); !s.ok()) {
      return s;
    }
    if (!Exists(tx, "queues", w->default_queue_id())) {
      return absl::NotFoundError(absl::StrCat("work_stream.default_queue_id: queue ",
                                              w->default_queue_id(), " not found"));
    }
    tx.exec_params(kUpdateWorkStream, w->id(), w->name(), static_cast<int>(w->mode()),
                   w->capacity_cost(), ToNanos(w->offer_timeout()), static_cast<int>(w->strategy()),
                   ToNanos(w->auto_close_after()), ToNanos(w->urgent_before_deadline()),
                   w->default_queue_id());
    return LoadWorkStream(tx, w->id());
  });
}

absl::Status PgRoutingStore::DeleteWorkStream(const v1::DeleteWorkStreamRequest& request) {
  if (absl::Status s = CheckUuid("id", request.id()); !s.ok()) return s;
  return pool_.Transact([&](pqxx::work& tx) -> absl::Status {
    tx.exec(kBump);
    absl::StatusOr<v1::WorkStream> w = LoadWorkStream(tx, request.id(), true);
    if (!w.ok()) return w.status();
    if (absl::Status s = CheckCount(usage_.work_stream_conversations, w->id(),
                                    absl::StrCat("work stream ", w->id(), " ('", w->name(), "')"));
        !s.ok()) {
      return s;
    }
    tx.exec_params("DELETE FROM router.work_streams WHERE id = $1::uuid", w->id());
    return absl::OkStatus();
  });
}

// ----- routing rules -------------------------------------------------------------------------

absl::StatusOr<v1::RoutingRule> PgRoutingStore::CreateRoutingRule(
    const v1::CreateRoutingRuleRequest& request) {
  const v1::RoutingRule& in = request.rule();
  if (absl::Status s = CheckRule(in, true); !s.ok()) return s;
  absl::StatusOr<std::string> json = ConditionJson(in.condition());
  if (!json.ok()) return json.status();
  return pool_.Transact<v1::RoutingRule>([&](pqxx::work& tx) -> absl::StatusOr<v1::RoutingRule> {
    tx.exec(kBump);
    if (!Exists(tx, "work_streams", in.work_stream_id())) {
      return absl::NotFoundError(
          absl::StrCat("rule.work_stream_id: work stream ", in.work_stream_id(), " not found"));
    }
    if (!Exists(tx, "queues", in.queue_id())) {
      return absl::NotFoundError(
          absl::StrCat("rule.queue_id: queue ", in.queue_id(), " not found"));
    }
    const std::string id =
        tx.exec_params1(kInsertRule, in.work_stream_id(), in.name(), *json, in.queue_id(),
                        Join(in.required_skills()), in.enabled())[0]
            .as<std::string>();
    return LoadRule(tx, id);
  });
}

absl::StatusOr<v1::RoutingRule> PgRoutingStore::GetRoutingRule(
    const v1::GetRoutingRuleRequest& request) {
  if (absl::Status s = CheckUuid("id", request.id()); !s.ok()) return s;
  return pool_.Transact<v1::RoutingRule>(
      [&](pqxx::work& tx) { return LoadRule(tx, request.id()); });
}

absl::StatusOr<v1::ListRoutingRulesResponse> PgRoutingStore::ListRoutingRules(
    const v1::ListRoutingRulesRequest& request) {
  if (absl::Status s = CheckUuid("work_stream_id", request.work_stream_id()); !s.ok()) return s;
  const std::string tag = absl::StrCat("rules/", request.work_stream_id());
  absl::StatusOr<Page> page = ParsePage(tag, request.page_size(), request.page_token());
  if (!page.ok()) return page.status();
  return pool_.Transact<v1::ListRoutingRulesResponse>(
      [&](pqxx::work& tx) -> absl::StatusOr<v1::ListRoutingRulesResponse> {
        if (!Exists(tx, "work_streams", request.work_stream_id())) {
          return absl::NotFoundError(
              absl::StrCat("work stream ", request.work_stream_id(), ": not found"));
        }
        v1::ListRoutingRulesResponse resp;
        const pqxx::result rows = tx.exec_params(
            absl::StrCat(
                kRuleColumns,
                "WHERE r.work_stream_id = $1::uuid ORDER BY r.position OFFSET $2 LIMIT $3"),
            request.work_stream_id(), page->offset, page->size + 1);
        for (int i = 0; i < std::min<int>(rows.size(), page->size); ++i) {
          absl::StatusOr<v1::RoutingRule> r = RuleFromRow(rows[i]);
          if (!r.ok()) return r.status();
          *resp.add_rules() = *std::move(r);
        }
        if (static_cast<int>(rows.size()) > page->size) {
          resp.set_next_page_token(NextPageToken(tag, *page));
        }
        return resp;
      });
}

absl::StatusOr<v1::RoutingRule> PgRoutingStore::UpdateRoutingRule(
    const v1::UpdateRoutingRuleRequest& request) {
  if (absl::Status s = CheckUuid("rule.id", request.rule().id()); !s.ok()) return s;
  absl::StatusOr<std::vector<std::string>> paths = CheckMask(
      request.update_mask(), {"name", "condition", "queue_id", "required_skills", "enabled"},
      {"work_stream_id", "position"});
  if (!paths.ok()) return paths.status();
  return pool_.Transact<v1::RoutingRule>([&](pqxx::work& tx) -> absl::StatusOr<v1::RoutingRule> {
    tx.exec(kBump);
    absl::StatusOr<v1::RoutingRule> r = LoadRule(tx, request.rule().id(), true);
    if (!r.ok()) return r.status();
    Merge(request.rule(), *paths, &*r);
    if (absl::Status s = CheckRule(*r, false); !s.ok()) return s;
    if (!Exists(tx, "queues", r->queue_id())) {
      return absl::NotFoundError(
          absl::StrCat("rule.queue_id: queue ", r->queue_id(), " not found"));
    }
    absl::StatusOr<std::string> json = ConditionJson(r->condition());
    if (!json.ok()) return json.status();
    tx.exec_params(kUpdateRule, r->id(), r->name(), *json, r->queue_id(),
                   Join(r->required_skills()), r->enabled());
    return LoadRule(tx, r->id());
  });
}

absl::Status PgRoutingStore::DeleteRoutingRule(const v1::DeleteRoutingRuleRequest& request) {
  if (absl::Status s = CheckUuid("id", request.id()); !s.ok()) return s;
  return pool_.Transact([&](pqxx::work& tx) -> absl::Status {
    tx.exec(kBump);
    absl::StatusOr<v1::RoutingRule> r = LoadRule(tx, request.id(), true);
    if (!r.ok()) return r.status();
    tx.exec_params(kDeleteRule, r->id());
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::ReorderRoutingRulesResponse> PgRoutingStore::ReorderRoutingRules(
    const v1::ReorderRoutingRulesRequest& request) {
  if (absl::Status s = CheckUuid("work_stream_id", request.work_stream_id()); !s.ok()) return s;
  for (int i = 0; i < request.rule_ids().size(); ++i) {
    if (absl::Status s = CheckUuid(absl::StrCat("rule_ids[", i, "]"), request.rule_ids(i));
        !s.ok()) {
      return s;
    }
  }
  return pool_.Transact<v1::ReorderRoutingRulesResponse>(
      [&](pqxx::work& tx) -> absl::StatusOr<v1::ReorderRoutingRulesResponse> {
        tx.exec(kBump);
        const std::string& ws = request.work_stream_id();
        if (!Exists(tx, "work_streams", ws)) {
          return absl::NotFoundError(absl::StrCat("work stream ", ws, ": not found"));
        }
        std::vector<std::pair<std::string, std::string>> current;  // id, name
        for (const pqxx::row& row : tx.exec_params(
                 "SELECT id::text, name FROM router.routing_rules WHERE work_stream_id = $1::uuid "
                 "ORDER BY position",
                 ws)) {
          current.emplace_back(row[0].as<std::string>(), row[1].as<std::string>());
        }
        const auto& ids = request.rule_ids();
        for (int i = 0; i < ids.size(); ++i) {
          const std::string field = absl::StrCat("rule_ids[", i, "]");
          if (std::find(ids.begin(), ids.begin() + i, ids[i]) != ids.begin() + i) {
            return absl::InvalidArgumentError(
                absl::StrCat(field, ": rule ", ids[i], " is repeated"));
          }
          if (std::any_of(current.begin(), current.end(),
                          [&](const auto& c) { return c.first == ids[i]; })) {
            continue;
          }
          if (Exists(tx, "routing_rules", ids[i])) {
            return absl::InvalidArgumentError(
                absl::StrCat(field, ": rule ", ids[i], " belongs to another work stream"));
          }
          return absl::AbortedError(
              absl::StrCat(field, ": rule ", ids[i], " no longer exists; read the list again"));
        }
        for (const auto& [id, name] : current) {
          if (std::find(ids.begin(), ids.end(), id) == ids.end()) {
            return absl::InvalidArgumentError(
                absl::StrCat("rule_ids: rule ", id, " ('", name, "') of work stream ", ws,
                             " is missing (every rule must be listed once)"));
          }
        }
        tx.exec_params(kReorder, ws, Join(ids));
        v1::ReorderRoutingRulesResponse resp;
        for (const pqxx::row& row :
             tx.exec_params(absl::StrCat(kRuleColumns,
                                         "WHERE r.work_stream_id = $1::uuid ORDER BY r.position"),
                            ws)) {
          absl::StatusOr<v1::RoutingRule> r = RuleFromRow(row);
          if (!r.ok()) return r.status();
          *resp.add_rules() = *std::move(r);
        }
        return resp;
      });
}

// ----- snapshot ------------------------------------------------------------------------------

absl::StatusOr<int64_t> PgRoutingStore::Revision() {
  return pool_.Transact<int64_t>([](pqxx::work& tx) -> absl::StatusOr<int64_t> {
    return tx.exec1(kRevision)[0].as<int64_t>();
  });
}

absl::StatusOr<RoutingSnapshot> PgRoutingStore::LoadSnapshot() {
  return pool_.Transact<RoutingSnapshot>([](pqxx::work& tx) -> absl::StatusOr<RoutingSnapshot> {
    tx.exec("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
    RoutingSnapshot snap;
    snap.revision = tx.exec1(kRevision)[0].as<int64_t>();
    for (const pqxx::row& r : tx.exec(absl::StrCat(kQueueColumns, "ORDER BY q.id"))) {
      v1::Queue q = QueueFromRow(r);
      snap.queues.emplace(q.id(), std::move(q));
    }
    for (const pqxx::row& r : tx.exec(absl::StrCat(kAgentColumns, "ORDER BY a.id"))) {
      v1::Agent a = AgentFromRow(r);
      snap.agents.emplace(a.id(), std::move(a));
    }
    // Agents' queue ids by queue name; queues' agent ids by agent id (as Get returns them).
    for (const pqxx::row& r :
         tx.exec("SELECT m.queue_id::text, m.agent_id::text FROM router.queue_members m "
                 "JOIN router.queues q ON q.id = m.queue_id ORDER BY q.name, q.id, m.agent_id")) {
      snap.agents[r[1].as<std::string>()].add_queue_ids(r[0].as<std::string>());
    }
    for (const pqxx::row& r :
         tx.exec("SELECT queue_id::text, agent_id::text FROM router.queue_members "
                 "ORDER BY queue_id, agent_id")) {
      snap.queues[r[0].as<std::string>()].add_agent_ids(r[1].as<std::string>());
    }
    for (const pqxx::row& r : tx.exec(absl::StrCat(kWorkStreamColumns, "ORDER BY w.id"))) {
      v1::WorkStream w = WorkStreamFromRow(r);
      snap.rules[w.id()];  // present, possibly empty
      snap.work_streams.emplace(w.id(), std::move(w));
    }
    for (const pqxx::row& r :
         tx.exec(absl::StrCat(kRuleColumns, "ORDER BY r.work_stream_id, r.position"))) {
      absl::StatusOr<v1::RoutingRule> rule = RuleFromRow(r);
      if (!rule.ok()) return rule.status();
      snap.rules[rule->work_stream_id()].push_back(*std::move(rule));
    }
    return snap;
  });
}

}  // namespace parley::router
