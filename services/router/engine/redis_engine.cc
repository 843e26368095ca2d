#include "services/router/engine/redis_engine.h"

#include <algorithm>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "libs/common/log.h"
#include "parley/session/v1/session.pb.h"
#include "services/router/engine/scripts.h"
#include "services/router/engine/util.h"
#include "services/router/router_metrics.h"

namespace parley::router::engine {
namespace {

using redis::Reply;
using Hash = absl::flat_hash_map<std::string, std::string>;

constexpr int64_t kDefaultOfferTimeoutMs = 60000;
constexpr int kMaxDispatchRounds = 64;
constexpr int kMaxOptimisticRetries = 8;

struct Scripts {
  static LuaScript Make(const char* body) {
    return LuaScript(std::string(scripts::kPrelude) + body);
  }
  LuaScript enqueue = Make(scripts::kEnqueue);
  LuaScript peek = Make(scripts::kPeek);
  LuaScript offer = Make(scripts::kOffer);
  LuaScript read_conversation = Make(scripts::kReadConversation);
  LuaScript accept = Make(scripts::kAccept);
  LuaScript reject = Make(scripts::kReject);
  LuaScript expire = Make(scripts::kExpire);
  LuaScript set_presence = Make(scripts::kSetPresence);
  LuaScript heartbeat = Make(scripts::kHeartbeat);
  LuaScript status = Make(scripts::kStatus);
  LuaScript heartbeat_expiry = Make(scripts::kHeartbeatExpiry);
  LuaScript sync_agent = Make(scripts::kSyncAgent);
  LuaScript promote = Make(scripts::kPromote);
  LuaScript finish = Make(scripts::kFinish);
  LuaScript pick = Make(scripts::kPick);
  LuaScript transfer = Make(scripts::kTransfer);
  LuaScript restore_assigned = Make(scripts::kRestoreAssigned);
  LuaScript queue_page = Make(scripts::kQueuePage);
};

const Scripts& S() {
  static const Scripts* scripts = new Scripts();
  return *scripts;
}

std::string Str(const Reply& r) {
  if (r.type == Reply::Type::kInteger) return absl::StrCat(r.integer);
  return r.str;
}

int64_t Int(const Reply& r) {
  if (r.type == Reply::Type::kInteger) return r.integer;
  int64_t v = 0;
  if (!absl::SimpleAtoi(r.str, &v)) return 0;
  return v;
}

int64_t Int(const std::string& s) {
  int64_t v = 0;
  if (!absl::SimpleAtoi(s, &v)) return 0;
  return v;
}

const Reply& At(const Reply& r, size_t i) {
  static const Reply kNil;
  return i < r.elements.size() ? r.elements[i] : kNil;
}

Hash ToHash(const Reply& r) {
  Hash out;
  for (size_t i = 0; i + 1 < r.elements.size(); i += 2) {
    out[Str(r.elements[i])] = Str(r.elements[i + 1]);
  }
  return out;
}

std::string Get(const Hash& h, const std::string& key) {
  auto it = h.find(key);
  return it == h.end() ? std::string() : it->second;
}

v1::AgentEvent BaseEvent(const std::string& agent_id, const std::string& conversation_id,
                         int64_t now_ms) {
  v1::AgentEvent event;
  event.set_agent_id(agent_id);
  event.set_conversation_id(conversation_id);
  if (now_ms > 0) SetMs(now_ms, event.mutable_event_time());
  return event;
}

// An OfferEndedEvent without event_time: the script appends it when the offer ends.
std::string OfferEndedBytes(const std::string& agent_id, const std::string& conversation_id,
                            const std::string& offer_id, v1::OfferEndReason reason,
                            absl::string_view detail) {
  v1::AgentEvent event = BaseEvent(agent_id, conversation_id, 0);
  v1::OfferEndedEvent* ended = event.mutable_offer_ended();
  ended->set_offer_id(offer_id);
  ended->set_reason(reason);
  ended->set_detail(std::string(detail));
  return event.SerializeAsString();
}

std::string PresenceName(int presence) {
  if (!v1::Presence_IsValid(presence)) return "OFFLINE";
  std::string name = v1::Presence_Name(static_cast<v1::Presence>(presence));
  return name.substr(std::string("PRESENCE_").size());
}

std::string Units(int64_t n) { return absl::StrCat(n, n == 1 ? " free unit" : " free units"); }

bool HasSkills(const v1::Agent& agent, const std::vector<std::string>& skills) {
  for (const std::string& skill : skills) {
    if (std::find(agent.skills().begin(), agent.skills().end(), skill) == agent.skills().end()) {
      return false;
    }
  }
  return true;
}

std::vector<std::string> SplitSkills(const std::string& joined) {
  if (joined.empty()) return {};
  return absl::StrSplit(joined, ',');
}

// The queue's members in the order kPeek reads them.
std::vector<std::string> SortedMembers(const v1::Queue& queue) {
  std::vector<std::string> members(queue.agent_ids().begin(), queue.agent_ids().end());
  std::sort(members.begin(), members.end());
  return members;
}

const v1::Agent* FindAgent(const RoutingSnapshot& snapshot, const std::string& id) {
  auto it = snapshot.agents.find(id);
  return it == snapshot.agents.end() ? nullptr : &it->second;
}

const v1::WorkStream* FindWorkStream(const RoutingSnapshot& snapshot, const std::string& id) {
  auto it = snapshot.work_streams.find(id);
  return it == snapshot.work_streams.end() ? nullptr : &it->second;
}

int64_t OfferTimeoutMs(const v1::WorkStream& ws) {
  const int64_t ms = ToMs(ws.offer_timeout());
  return ms > 0 ? ms : kDefaultOfferTimeoutMs;
}

absl::Status AgentNotFound(const std::string& id) {
  return absl::NotFoundError(absl::StrCat("agent ", id, ": no such agent"));
}

// A serialized session.v1.ApplyRoutingUpdateRequest without routing_sequence (the script
// numbers it).
std::string SessionUpdate(const RoutingSnapshot& snapshot, const std::string& conversation_id,
                          const std::string& work_stream_id,
                          session::v1::ApplyRoutingUpdateRequest update) {
  update.set_conversation_id(conversation_id);
  update.set_routing_event_id(NewUuid());
  if (const v1::WorkStream* ws = FindWorkStream(snapshot, work_stream_id); ws != nullptr) {
    *update.mutable_auto_close_after() = ws->auto_close_after();
  }
  return update.SerializeAsString();
}

std::string QueuedUpdate(const RoutingSnapshot& snapshot, const std::string& conversation_id,
                         const std::string& work_stream_id, const std::string& queue_id,
                         const std::string& rule_id, int64_t enqueue_ms,
                         const std::string& transferred_by) {
  session::v1::ApplyRoutingUpdateRequest update;
  session::v1::RoutingQueued* queued = update.mutable_queued();
  queued->set_queue_id(queue_id);
  queued->set_matched_rule_id(rule_id);
  SetMs(enqueue_ms, queued->mutable_enqueue_time());
  queued->set_transferred_by_agent_id(transferred_by);
  return SessionUpdate(snapshot, conversation_id, work_stream_id, std::move(update));
}

std::string AssignedUpdate(const RoutingSnapshot& snapshot, const v1::Assignment& assignment) {
  session::v1::ApplyRoutingUpdateRequest update;
  session::v1::RoutingAssigned* assigned = update.mutable_assigned();
  assigned->set_agent_id(assignment.agent_id());
  if (const v1::Agent* agent = FindAgent(snapshot, assignment.agent_id()); agent != nullptr) {
    assigned->set_agent_display_name(agent->display_name());
  }
  assigned->set_queue_id(assignment.queue_id());
  assigned->set_kind(assignment.kind());
  assigned->set_from_agent_id(assignment.from_agent_id());
  *assigned->mutable_assign_time() = assignment.assign_time();
  return SessionUpdate(snapshot, assignment.conversation_id(), assignment.work_stream_id(),
                       std::move(update));
}

std::string AssignedEventBytes(const v1::Assignment& assignment, const std::string& context,
                               const std::string& transfer_reason, int64_t now_ms) {
  v1::AgentEvent event = BaseEvent(assignment.agent_id(), assignment.conversation_id(), now_ms);
  v1::AssignedEvent* assigned = event.mutable_assigned();
  *assigned->mutable_assignment() = assignment;
  assigned->mutable_context()->ParseFromString(context);
  assigned->set_transfer_reason(transfer_reason);
  return event.SerializeAsString();
}

v1::Assignment MakeAssignment(const Hash& conv, const std::string& conversation_id,
                              const std::string& agent_id, common::v1::AssignmentKind kind,
                              int64_t now_ms) {
  v1::Assignment a;
  a.set_conversation_id(conversation_id);
  a.set_agent_id(agent_id);
  a.set_queue_id(Get(conv, "q"));
  a.set_work_stream_id(Get(conv, "ws"));
  a.set_kind(kind);
  a.set_capacity_cost(static_cast<int32_t>(Int(Get(conv, "cost"))));
  SetMs(now_ms, a.mutable_assign_time());
  return a;
}

std::string EndedMessage(const std::string& offer_id, const std::string& how) {
  if (how == "accepted") {
    return absl::StrCat("offer ", offer_id, " already ended: already accepted");
  }
  return absl::StrCat("offer ", offer_id, " already ended: ", how);
}

absl::Status PresenceRefused(const std::string& agent_id, const std::string& presence,
                             absl::string_view action) {
  return absl::FailedPreconditionError(absl::StrCat("agent ", agent_id, " is ",
                                                    PresenceName(static_cast<int>(Int(presence))),
                                                    "; ", action, " needs AVAILABLE or BUSY"));
}

}  // namespace

struct RedisEngine::Head {
  std::string conv, ver, ctx, ws;
  int64_t enq = 0, dl = 0, cost = 1, noff = 0;
  std::vector<std::string> skills;
  absl::flat_hash_set<std::string> tried;
};

struct RedisEngine::Candidate {
  const v1::Agent* agent = nullptr;
  int64_t presence = 5, used = 0, cap = 0, active = 0, idle = 0, offers = 0;
  bool enabled = false;
};

RedisEngine::RedisEngine(RedisPool& redis, const RoutingDefinitions& definitions,
                         EngineOptions options, RouterMetrics* metrics)
    : redis_(redis),
      definitions_(definitions),
      options_(std::move(options)),
      keys_(options_.key_prefix),
      metrics_(metrics) {
  S();
}

void RedisEngine::NoteOffersEnded(OfferOutcome outcome, size_t n) {
  if (metrics_ == nullptr) return;
  for (size_t i = 0; i < n; ++i) metrics_->OfferEnded(outcome);
}

void RedisEngine::NoteAssigned(const std::string& queue_id, int64_t waited_ms) {
  if (metrics_ == nullptr) return;
  metrics_->Assigned(queue_id, absl::Milliseconds(std::max<int64_t>(0, waited_ms)));
}

absl::StatusOr<Reply> RedisEngine::Run(const LuaScript& script, std::vector<std::string> args) {
  std::vector<std::string> argv;
  argv.reserve(args.size() + 3);
  argv.push_back(keys_.prefix());
  argv.push_back(absl::StrCat(NowMs()));
  argv.push_back(absl::StrCat(options_.event_stream_max_len));
  for (std::string& a : args) argv.push_back(std::move(a));
  return script.Run(redis_.Get(), {}, argv);
}

// ---------------------------------------------------------------------------------------------
// Presence

v1::AgentStatus RedisEngine::StatusFrom(const RoutingSnapshot& snapshot,
                                        const std::string& agent_id, const Reply& reply) const {
  // reply: {{p, pt, used, cap, hb, idle, active}, convs, offers}
  const Reply& a = At(reply, 0);
  v1::AgentStatus status;
  status.set_agent_id(agent_id);
  const int64_t presence =
      Str(At(a, 0)).empty() ? static_cast<int64_t>(v1::PRESENCE_OFFLINE) : Int(At(a, 0));
  status.set_presence(v1::Presence_IsValid(static_cast<int>(presence))
                          ? static_cast<v1::Presence>(presence)
                          : v1::PRESENCE_OFFLINE);
  if (int64_t pt = Int(At(a, 1)); pt > 0) SetMs(pt, status.mutable_presence_time());
  const v1::Agent* agent = FindAgent(snapshot, agent_id);
  status.set_capacity(agent != nullptr ? agent->capacity() : static_cast<int32_t>(Int(At(a, 3))));
  status.set_capacity_used(static_cast<int32_t>(Int(At(a, 2))));
  if (int64_t hb = Int(At(a, 4)); hb > 0) SetMs(hb, status.mutable_last_heartbeat_time());
  if (int64_t idle = Int(At(a, 5)); idle > 0) SetMs(idle, status.mutable_idle_since());
  std::vector<std::string> convs, offers;
  for (const Reply& r : At(reply, 1).elements) convs.push_back(Str(r));
  for (const Reply& r : At(reply, 2).elements) offers.push_back(Str(r));
  std::sort(convs.begin(), convs.end());
  std::sort(offers.begin(), offers.end());
  for (std::string& c : convs) status.add_active_conversation_ids(std::move(c));
  for (std::string& o : offers) status.add_pending_offer_ids(std::move(o));
  return status;
}

absl::StatusOr<v1::AgentStatus> RedisEngine::SetPresence(const std::string& agent_id,
                                                         v1::Presence presence) {
  std::shared_ptr<const RoutingSnapshot> snapshot = definitions_.Current();
  const v1::Agent* agent = FindAgent(*snapshot, agent_id);
  if (agent == nullptr) return AgentNotFound(agent_id);
  if (!agent->enabled() && presence != v1::PRESENCE_OFFLINE) {
    return absl::FailedPreconditionError(
        absl::StrCat("agent ", agent_id, " is disabled: only OFFLINE is accepted"));
  }
  absl::StatusOr<Reply> reply =
      Run(S().set_presence, {agent_id, absl::StrCat(static_cast<int>(presence)),
                             absl::StrCat(agent->capacity()), agent->enabled() ? "1" : "0"});
  if (!reply.ok()) return reply.status();
  std::vector<std::string> queues;
  for (const Reply& q : At(*reply, 0).elements) queues.push_back(Str(q));
  NoteOffersEnded(OfferOutcome::kWithdrawn, queues.size());
  v1::AgentStatus status = StatusFrom(*snapshot, agent_id, At(*reply, 1));
  if (absl::Status s = DispatchQueues(queues); !s.ok()) {
    log::Warn("dispatch after presence change failed", {{"error", s.ToString()}});
  }
  if (presence == v1::PRESENCE_AVAILABLE) {
    if (absl::Status s = DispatchAgent(agent_id); !s.ok()) {
      log::Warn("dispatch after presence change failed", {{"error", s.ToString()}});
    }
  }
  return status;
}

absl::StatusOr<v1::AgentStatus> RedisEngine::Heartbeat(const std::string& agent_id) {
  std::shared_ptr<const RoutingSnapshot> snapshot = definitions_.Current();
  const v1::Agent* agent = FindAgent(*snapshot, agent_id);
  if (agent == nullptr) return AgentNotFound(agent_id);
  absl::StatusOr<Reply> reply =
      Run(S().heartbeat, {agent_id, absl::StrCat(agent->capacity()), agent->enabled() ? "1" : "0"});
  if (!reply.ok()) return reply.status();
  return StatusFrom(*snapshot, agent_id, At(*reply, 0));
}

absl::StatusOr<v1::AgentStatus> RedisEngine::GetAgentStatus(const std::string& agent_id) {
  std::shared_ptr<const RoutingSnapshot> snapshot = definitions_.Current();
  if (FindAgent(*snapshot, agent_id) == nullptr) return AgentNotFound(agent_id);
  absl::StatusOr<Reply> reply = Run(S().status, {agent_id});
  if (!reply.ok()) return reply.status();
  return StatusFrom(*snapshot, agent_id, At(*reply, 0));
}

// ---------------------------------------------------------------------------------------------
// Enqueue and dispatch

absl::StatusOr<v1::EnqueueConversationResponse> RedisEngine::Enqueue(
    const v1::EnqueueConversationRequest& request) {
  std::shared_ptr<const RoutingSnapshot> snapshot = definitions_.Current();
  const std::string& conv = request.conversation_id();
  const v1::WorkStream* ws = FindWorkStream(*snapshot, request.work_stream_id());
  if (ws == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("work_stream_id: no work stream ", request.work_stream_id()));
  }
  if (ws->channel() != request.context().channel()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "work stream ", ws->id(), " is for ", common::v1::Channel_Name(ws->channel()),
        ", the conversation is ", common::v1::Channel_Name(request.context().channel())));
  }
  absl::StatusOr<RouteDecision> decision = Route(*snapshot, ws->id(), request.context());
  if (!decision.ok()) return decision.status();
  const int64_t now = NowMs();
  const int64_t enq = ToMs(request.enqueue_time());
  const int64_t deadline = request.has_reply_deadline() ? ToMs(request.reply_deadline()) : 0;
  const int64_t urgent_before = ToMs(ws->urgent_before_deadline());
  const int64_t urgent_at =
      deadline > 0 && urgent_before > 0 ? std::max<int64_t>(1, deadline - urgent_before) : 0;
  const int cost = std::max(1, ws->capacity_cost());
  const std::string context = request.context().SerializeAsString();

  std::string preferred, assigned_event, assigned_update;
  if (const v1::Agent* agent = FindAgent(*snapshot, request.preferred_agent_id());
      agent != nullptr && agent->enabled()) {
    preferred = agent->id();
    Hash conv_hash = {{"ws", ws->id()}, {"cost", absl::StrCat(cost)}};
    v1::Assignment a =
        MakeAssignment(conv_hash, conv, preferred, common::v1::ASSIGNMENT_KIND_REOPENED, now);
    assigned_event = AssignedEventBytes(a, context, "", now);
    assigned_update = AssignedUpdate(*snapshot, a);
  }
  std::vector<std::string> args = {
      conv,
      ws->id(),
      decision->queue_id,
      decision->rule_id,
      context,
      absl::StrCat(enq),
      absl::StrCat(deadline),
      absl::StrCat(cost),
      absl::StrJoin(decision->required_skills, ","),
      absl::StrCat(urgent_at),
      QueuedUpdate(*snapshot, conv, ws->id(), decision->queue_id, decision->rule_id, enq, ""),
      preferred,
      assigned_event,
      assigned_update};
  // When no pass over the queue runs here, this call will run it, starting from a peek the
  // enqueue script makes in the same round trip.
  auto queue = snapshot->queues.find(decision->queue_id);
  const bool dispatching = queue != snapshot->queues.end() && queue->second.agent_ids_size() > 0 &&
                           ClaimDispatch(decision->queue_id);
  args.push_back(dispatching ? absl::StrCat(options_.dispatch_batch) : "0");
  if (dispatching) {
    for (std::string& m : SortedMembers(queue->second)) args.push_back(std::move(m));
  }
  absl::StatusOr<Reply> reply = Run(S().enqueue, std::move(args));
  const std::string outcome = reply.ok() ? Str(At(*reply, 0)) : "";
  if (outcome == "queued") {
    absl::StatusOr<int> made = 0;
    if (dispatching) {
      made = DispatchPass(*snapshot, decision->queue_id, &At(*reply, 4));
      if (ContinueDispatch(decision->queue_id, !made.ok())) {
        ContinueInBackground(decision->queue_id);
      }
    } else {
      made = DispatchQueue(decision->queue_id);
    }
    if (!made.ok()) {
      log::Warn("dispatch after enqueue failed", {{"error", made.status().ToString()}});
    }
  } else if (dispatching && ContinueDispatch(decision->queue_id, false)) {
    ContinueInBackground(decision->queue_id);
  }
  if (!reply.ok()) return reply.status();
  if (outcome == "finished") {
    return absl::FailedPreconditionError(
        absl::StrCat("conversation ", conv, " was already finished"));
  }
  v1::EnqueueConversationResponse response;
  const std::string state = Str(At(*reply, 1));
  response.set_queue_id(Str(At(*reply, 2)));
  response.set_position(static_cast<int32_t>(Int(At(*reply, 3))));
  response.set_status(state == "queued"    ? v1::ROUTING_STATUS_QUEUED
                      : state == "offered" ? v1::ROUTING_STATUS_OFFERED
                                           : v1::ROUTING_STATUS_ASSIGNED);
  if (outcome == "known") {
    response.set_already_routed(true);
    return response;
  }
  response.set_matched_rule_id(decision->rule_id);
  if (outcome == "assigned") NoteAssigned(decision->queue_id, now - enq);
  return response;
}

absl::StatusOr<int> RedisEngine::DispatchQueue(const std::string& queue_id) {
  {
    std::lock_guard<std::mutex> lock(dispatch_mu_);
    auto [it, idle] = dispatching_.try_emplace(queue_id);
    if (!idle) {
      it->second.again = true;
      return 0;
    }
  }
  absl::StatusOr<int> made = DispatchPass(*definitions_.Current(), queue_id, nullptr);
  if (ContinueDispatch(queue_id, !made.ok())) ContinueInBackground(queue_id);
  return made;
}

bool RedisEngine::ClaimDispatch(const std::string& queue_id) {
  std::lock_guard<std::mutex> lock(dispatch_mu_);
  return dispatching_.try_emplace(queue_id).second;
}

bool RedisEngine::ContinueDispatch(const std::string& queue_id, bool failed) {
  std::lock_guard<std::mutex> lock(dispatch_mu_);
  auto it = dispatching_.find(queue_id);
  if (failed || !it->second.again) {
    dispatching_.erase(it);  // a failed pass is retried by the next event or sweep
    return false;
  }
  it->second.again = false;
  return true;
}

void RedisEngine::ContinueInBackground(const std::string& queue_id) {
  dispatcher_.Post([this, queue_id] {
    absl::StatusOr<int> made = DispatchPass(*definitions_.Current(), queue_id, nullptr);
    if (!made.ok()) log::Warn("dispatch failed", {{"error", made.status().ToString()}});
    if (ContinueDispatch(queue_id, !made.ok())) ContinueInBackground(queue_id);
  });
}

absl::StatusOr<int> RedisEngine::DispatchPass(const RoutingSnapshot& snapshot,
                                              const std::string& queue_id, const Reply* peeked) {
  auto queue = snapshot.queues.find(queue_id);
  if (queue == snapshot.queues.end()) return 0;
  int total = 0;
  for (int round = 0; round < kMaxDispatchRounds; ++round) {
    bool more = false;
    absl::StatusOr<int> made =
        DispatchRound(snapshot, queue->second, round == 0 ? peeked : nullptr, &more);
    if (!made.ok()) return made.status();
    total += *made;
    if (!more) break;
  }
  return total;
}

absl::StatusOr<int> RedisEngine::DispatchRound(const RoutingSnapshot& snapshot,
                                               const v1::Queue& queue, const Reply* peeked,
                                               bool* more) {
  *more = false;
  const std::vector<std::string> members = SortedMembers(queue);
  if (members.empty()) return 0;
  absl::StatusOr<Reply> fetched;
  const Reply* peek = peeked;
  if (peek == nullptr) {
    std::vector<std::string> args = {queue.id(), absl::StrCat(options_.dispatch_batch)};
    args.insert(args.end(), members.begin(), members.end());
    fetched = Run(S().peek, std::move(args));
    if (!fetched.ok()) return fetched.status();
    peek = &*fetched;
  }

  std::vector<Candidate> candidates(members.size());
  const Reply& agents = At(*peek, 1);
  for (size_t i = 0; i < members.size(); ++i) {
    const Reply& a = At(agents, i);
    Candidate& c = candidates[i];
    c.agent = FindAgent(snapshot, members[i]);
    c.presence = Str(At(a, 0)).empty() ? 5 : Int(At(a, 0));
    c.used = Int(At(a, 1));
    c.cap = Int(At(a, 2));
    c.enabled = Str(At(a, 3)) == "1" && c.agent != nullptr && c.agent->enabled();
    c.active = Int(At(a, 4));
    c.idle = Int(At(a, 5));
    c.offers = Int(At(a, 6));
  }
  std::string rr_last = Str(At(*peek, 2));
  const std::vector<Reply>& head_replies = At(*peek, 0).elements;

  const int64_t now = NowMs();
  std::vector<std::string> batch;
  int offers = 0;
  for (const Reply& h : head_replies) {
    Head head;
    head.conv = Str(At(h, 0));
    head.ver = Str(At(h, 1));
    head.ctx = Str(At(h, 2));
    head.enq = Int(At(h, 3));
    head.dl = Int(At(h, 4));
    head.cost = std::max<int64_t>(1, Int(At(h, 5)));
    head.skills = SplitSkills(Str(At(h, 6)));
    head.noff = Int(At(h, 7));
    for (const Reply& t : At(h, 8).elements) head.tried.insert(Str(t));
    head.ws = Str(At(h, 9));
    const v1::WorkStream* ws = FindWorkStream(snapshot, head.ws);
    if (ws == nullptr || ws->mode() != v1::ROUTING_MODE_PUSH) continue;

    auto can_take = [&](const Candidate& c) {
      return c.agent != nullptr && c.enabled && c.presence == v1::PRESENCE_AVAILABLE &&
             c.cap - c.used >= head.cost && HasSkills(*c.agent, head.skills);
    };
    bool any_untried = false;
    for (const Candidate& c : candidates) {
      if (can_take(c) && !head.tried.contains(c.agent->id())) any_untried = true;
    }
    auto eligible = [&](const Candidate& c) {
      return can_take(c) && (!any_untried || !head.tried.contains(c.agent->id()));
    };
    int chosen = -1;
    if (ws->strategy() == v1::ASSIGNMENT_STRATEGY_ROUND_ROBIN) {
      const size_t n = members.size();
      size_t start = 0;
      auto it = std::find(members.begin(), members.end(), rr_last);
      if (it != members.end()) start = static_cast<size_t>(it - members.begin()) + 1;
      for (size_t k = 0; k < n && chosen < 0; ++k) {
        const size_t i = (start + k) % n;
        if (eligible(candidates[i])) chosen = static_cast<int>(i);
      }
    } else {
      const bool least_active = ws->strategy() != v1::ASSIGNMENT_STRATEGY_LONGEST_IDLE;
      for (size_t i = 0; i < candidates.size(); ++i) {
        if (!eligible(candidates[i])) continue;
        if (chosen < 0) {
          chosen = static_cast<int>(i);
          continue;
        }
        const Candidate& a = candidates[i];
        const Candidate& b = candidates[static_cast<size_t>(chosen)];
        const int64_t load_a = a.active + a.offers, load_b = b.active + b.offers;
        if (least_active && load_a != load_b) {
          if (load_a < load_b) chosen = static_cast<int>(i);
          continue;
        }
        if (a.idle < b.idle) chosen = static_cast<int>(i);
      }
    }
    if (chosen < 0) continue;
    Candidate& c = candidates[static_cast<size_t>(chosen)];
    const std::string& agent_id = c.agent->id();
    const std::string offer_id = NewUuid();
    const int64_t expire = now + OfferTimeoutMs(*ws);

    v1::AgentEvent event = BaseEvent(agent_id, head.conv, now);
    v1::Offer* offer = event.mutable_offer()->mutable_offer();
    offer->set_offer_id(offer_id);
    offer->set_conversation_id(head.conv);
    offer->set_agent_id(agent_id);
    offer->set_queue_id(queue.id());
    offer->set_work_stream_id(head.ws);
    offer->mutable_context()->ParseFromString(head.ctx);
    SetMs(head.enq, offer->mutable_enqueue_time());
    SetDurationMs(std::max<int64_t>(0, now - head.enq), offer->mutable_waited());
    SetMs(now, offer->mutable_offer_time());
    SetMs(expire, offer->mutable_expire_time());
    offer->set_capacity_cost(static_cast<int32_t>(head.cost));
    if (head.dl > 0) SetMs(head.dl, offer->mutable_reply_deadline());
    offer->set_previous_offers(static_cast<int32_t>(head.noff));
    // What accepting it will write (kAccept adds the times).
    v1::Assignment assignment;
    assignment.set_conversation_id(head.conv);
    assignment.set_agent_id(agent_id);
    assignment.set_queue_id(queue.id());
    assignment.set_work_stream_id(head.ws);
    assignment.set_kind(common::v1::ASSIGNMENT_KIND_OFFER_ACCEPTED);
    assignment.set_capacity_cost(static_cast<int32_t>(head.cost));
    v1::AgentEvent assigned = BaseEvent(agent_id, head.conv, 0);
    *assigned.mutable_assigned()->mutable_assignment() = assignment;
    *assigned.mutable_assigned()->mutable_context() = offer->context();

    batch.insert(batch.end(),
                 {head.conv, head.ver, agent_id, offer_id, head.ws, absl::StrCat(expire),
                  event.SerializeAsString(),
                  OfferEndedBytes(agent_id, head.conv, offer_id, v1::OFFER_END_REASON_EXPIRED,
                                  "not answered in time"),
                  OfferEndedBytes(agent_id, head.conv, offer_id, v1::OFFER_END_REASON_REJECTED,
                                  "rejected by the agent"),
                  OfferEndedBytes(agent_id, head.conv, offer_id, v1::OFFER_END_REASON_WITHDRAWN,
                                  "agent left AVAILABLE"),
                  OfferEndedBytes(agent_id, head.conv, offer_id, v1::OFFER_END_REASON_WITHDRAWN,
                                  "conversation closed"),
                  OfferEndedBytes(agent_id, head.conv, offer_id, v1::OFFER_END_REASON_WITHDRAWN,
                                  "agent is no longer a member of the queue"),
                  assigned.SerializeAsString(), AssignedUpdate(snapshot, assignment)});
    ++offers;
    c.used += head.cost;
    c.offers += 1;
    c.idle = now;
    rr_last = agent_id;
  }
  if (offers == 0) return 0;
  std::vector<std::string> offer_args = {queue.id(), absl::StrCat(offers)};
  offer_args.insert(offer_args.end(), std::make_move_iterator(batch.begin()),
                    std::make_move_iterator(batch.end()));
  absl::StatusOr<Reply> made = Run(S().offer, std::move(offer_args));
  if (!made.ok()) return made.status();
  const int n = static_cast<int>(Int(*made));
  *more = n < offers || static_cast<int>(head_replies.size()) >= options_.dispatch_batch;
  return n;
}

absl::Status RedisEngine::DispatchQueues(const std::vector<std::string>& queue_ids) {
  absl::flat_hash_set<std::string> seen;
  absl::Status first = absl::OkStatus();
  for (const std::string& q : queue_ids) {
    if (q.empty() || !seen.insert(q).second) continue;
    absl::StatusOr<int> made = DispatchQueue(q);
    if (!made.ok() && first.ok()) first = made.status();
  }
  return first;
}

absl::Status RedisEngine::DispatchAgent(const std::string& agent_id) {
  std::shared_ptr<const RoutingSnapshot> snapshot = definitions_.Current();
  const v1::Agent* agent = FindAgent(*snapshot, agent_id);
  if (agent == nullptr) return absl::OkStatus();
  std::vector<const v1::Queue*> queues;
  for (const std::string& id : agent->queue_ids()) {
    if (auto it = snapshot->queues.find(id); it != snapshot->queues.end()) {
      queues.push_back(&it->second);
    }
  }
  std::stable_sort(queues.begin(), queues.end(), [](const v1::Queue* a, const v1::Queue* b) {
    return a->priority() > b->priority();
  });
  std::vector<std::string> ids;
  for (const v1::Queue* q : queues) ids.push_back(q->id());
  return DispatchQueues(ids);
}

absl::StatusOr<int> RedisEngine::DispatchAll() {
  std::shared_ptr<const RoutingSnapshot> snapshot = definitions_.Current();
  std::vector<const v1::Queue*> queues;
  for (const auto& [id, q] : snapshot->queues) queues.push_back(&q);
  std::sort(queues.begin(), queues.end(), [](const v1::Queue* a, const v1::Queue* b) {
    return a->priority() != b->priority() ? a->priority() > b->priority() : a->id() < b->id();
  });
  int total = 0;
  for (const v1::Queue* q : queues) {
    absl::StatusOr<Reply> depth = redis_.Get().Command({"ZCARD", keys_.Queue(q->id())});
    if (!depth.ok()) return depth.status();
    if (Int(*depth) == 0) continue;
    absl::StatusOr<int> made = DispatchQueue(q->id());
    if (!made.ok()) return made.status();
    total += *made;
  }
  return total;
}

// ---------------------------------------------------------------------------------------------
// Offers

absl::StatusOr<Reply> RedisEngine::ReadConversation(const std::string& conversation_id) {
  return Run(S().read_conversation, {conversation_id});
}

absl::StatusOr<v1::Assignment> RedisEngine::AcceptOffer(const std::string& offer_id,
                                                        const std::string& agent_id) {
  absl::StatusOr<Reply> reply = Run(S().accept, {offer_id, agent_id});
  if (!reply.ok()) return reply.status();
  const std::string outcome = Str(At(*reply, 0));
  if (outcome == "notfound") {
    return absl::NotFoundError(absl::StrCat("offer ", offer_id, ": no such offer"));
  }
  if (outcome == "denied") {
    return absl::PermissionDeniedError(
        absl::StrCat("offer ", offer_id, " was made to another agent"));
  }
  if (outcome != "ok") {
    return absl::FailedPreconditionError(EndedMessage(offer_id, Str(At(*reply, 1))));
  }
  v1::Assignment assignment;
  assignment.set_conversation_id(Str(At(*reply, 1)));
  assignment.set_agent_id(agent_id);
  assignment.set_queue_id(Str(At(*reply, 2)));
  assignment.set_work_stream_id(Str(At(*reply, 3)));
  assignment.set_kind(common::v1::ASSIGNMENT_KIND_OFFER_ACCEPTED);
  assignment.set_capacity_cost(static_cast<int32_t>(Int(At(*reply, 4))));
  const int64_t assigned_ms = Int(At(*reply, 6));
  SetMs(assigned_ms, assignment.mutable_assign_time());
  NoteOffersEnded(OfferOutcome::kAccepted, 1);
  NoteAssigned(assignment.queue_id(), assigned_ms - Int(At(*reply, 5)));
  return assignment;
}

absl::Status RedisEngine::RejectOffer(const std::string& offer_id, const std::string& agent_id) {
  absl::StatusOr<Reply> reply = Run(S().reject, {offer_id, agent_id});
  if (!reply.ok()) return reply.status();
  const std::string outcome = Str(At(*reply, 0));
  if (outcome == "notfound") {
    return absl::NotFoundError(absl::StrCat("offer ", offer_id, ": no such offer"));
  }
  if (outcome == "denied") {
    return absl::PermissionDeniedError(
        absl::StrCat("offer ", offer_id, " was made to another agent"));
  }
  if (outcome == "ended") {
    return absl::FailedPreconditionError(EndedMessage(offer_id, Str(At(*reply, 1))));
  }
  NoteOffersEnded(OfferOutcome::kRejected, 1);
  std::vector<std::string> queues = {Str(At(*reply, 1))};
  if (absl::Status s = DispatchQueues(queues); !s.ok()) {
    log::Warn("dispatch after reject failed", {{"error", s.ToString()}});
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::GetQueuePositionResponse> RedisEngine::GetQueuePosition(
    const std::string& conversation_id) {
  absl::StatusOr<Reply> read = ReadConversation(conversation_id);
  if (!read.ok()) return read.status();
  const Hash conv = ToHash(At(*read, 0));
  if (conv.empty()) {
    return absl::NotFoundError(
        absl::StrCat("conversation ", conversation_id, ": router does not know it"));
  }
  v1::GetQueuePositionResponse response;
  response.set_queue_id(Get(conv, "q"));
  SetMs(Int(Get(conv, "enq")), response.mutable_enqueue_time());
  const std::string state = Get(conv, "st");
  if (state == "queued") {
    response.set_status(v1::ROUTING_STATUS_QUEUED);
    const int64_t position = Int(At(*read, 1)) + 1;
    response.set_position(static_cast<int32_t>(position));
    response.set_queue_length(static_cast<int32_t>(Int(At(*read, 2))));
    absl::StatusOr<Reply> rate =
        redis_.Get().Command({"LRANGE", keys_.QueueRate(Get(conv, "q")), "0", "19"});
    if (rate.ok() && rate->elements.size() >= 3) {
      const int64_t newest = Int(rate->elements.front());
      const int64_t oldest = Int(rate->elements.back());
      const int64_t interval = (newest - oldest) / static_cast<int64_t>(rate->elements.size() - 1);
      SetDurationMs(interval * position, response.mutable_estimated_wait());
    }
    return response;
  }
  if (state == "offered") {
    response.set_status(v1::ROUTING_STATUS_OFFERED);
    const Hash offer = ToHash(At(*read, 3));
    v1::Offer* o = response.mutable_offer();
    o->set_offer_id(Get(conv, "offer"));
    o->set_conversation_id(conversation_id);
    o->set_agent_id(Get(offer, "agent"));
    o->set_queue_id(Get(offer, "q"));
    o->set_work_stream_id(Get(offer, "ws"));
    o->mutable_context()->ParseFromString(Get(conv, "ctx"));
    SetMs(Int(Get(conv, "enq")), o->mutable_enqueue_time());
    SetDurationMs(std::max<int64_t>(0, Int(Get(offer, "t")) - Int(Get(conv, "enq"))),
                  o->mutable_waited());
    SetMs(Int(Get(offer, "t")), o->mutable_offer_time());
    SetMs(Int(Get(offer, "exp")), o->mutable_expire_time());
    o->set_capacity_cost(static_cast<int32_t>(Int(Get(offer, "cost"))));
    if (int64_t dl = Int(Get(conv, "dl")); dl > 0) SetMs(dl, o->mutable_reply_deadline());
    o->set_previous_offers(static_cast<int32_t>(Int(Get(conv, "noff"))));
    return response;
  }
  response.set_status(v1::ROUTING_STATUS_ASSIGNED);
  const int kind = static_cast<int>(Int(Get(conv, "kind")));
  v1::Assignment* a = response.mutable_assignment();
  *a = MakeAssignment(conv, conversation_id, Get(conv, "agent"),
                      common::v1::AssignmentKind_IsValid(kind)
                          ? static_cast<common::v1::AssignmentKind>(kind)
                          : common::v1::ASSIGNMENT_KIND_UNSPECIFIED,
                      Int(Get(conv, "at")));
  a->set_from_agent_id(Get(conv, "from"));
  return response;
}

// ---------------------------------------------------------------------------------------------
// Pick, transfer, finish

absl::StatusOr<std::string> RedisEngine::PriorResponse(const std::string& request_id) {
  if (request_id.empty()) return std::string();
  absl::StatusOr<Reply> prior = redis_.Get().Command({"GET", keys_.Request(request_id)});
  if (!prior.ok()) return prior.status();
  return prior->str;
}

absl::StatusOr<std::vector<v1::QueuedConversation>> RedisEngine::ListQueued(
    const std::string& agent_id, const std::string& queue_id, int offset, int limit) {
  std::shared_ptr<const RoutingSnapshot> snapshot = definitions_.Current();
  const v1::Agent* agent = FindAgent(*snapshot, agent_id);
  if (agent == nullptr) return AgentNotFound(agent_id);
  std::vector<const v1::Queue*> queues;
  for (const std::string& id : agent->queue_ids()) {
    if (!queue_id.empty() && id != queue_id) continue;
    if (auto it = snapshot->queues.find(id); it != snapshot->queues.end()) {
      queues.push_back(&it->second);
    }
  }
  if (!queue_id.empty() && queues.empty()) {
    if (!snapshot->queues.contains(queue_id)) {
      return absl::NotFoundError(absl::StrCat("queue ", queue_id, ": no such queue"));
    }
    return absl::PermissionDeniedError(
        absl::StrCat("queue ", queue_id, " is not one of agent ", agent_id, "'s queues"));
  }
  struct Entry {
    v1::QueuedConversation conv;
    bool urgent;
    int priority;
    int64_t score;
  };
  std::vector<Entry> entries;
  const int want = offset + limit;
  for (const v1::Queue* q : queues) {
    // Read enough of each queue to fill the page after filtering; pick-mode queues are short.
    for (int start = 0;; start += want + 1) {
      absl::StatusOr<Reply> page =
          Run(S().queue_page, {q->id(), absl::StrCat(start), absl::StrCat(want + 1)});
      if (!page.ok()) return page.status();
      const int64_t length = Int(At(*page, 0));
      int position = start;
      for (const Reply& r : At(*page, 1).elements) {
        ++position;
        const v1::WorkStream* ws = FindWorkStream(*snapshot, Str(At(r, 1)));
        if (ws == nullptr || ws->mode() != v1::ROUTING_MODE_PICK) continue;
        std::vector<std::string> skills = SplitSkills(Str(At(r, 6)));
        if (!HasSkills(*agent, skills)) continue;
        Entry e;
        e.conv.set_conversation_id(Str(At(r, 0)));
        e.conv.set_queue_id(q->id());
        e.conv.set_work_stream_id(ws->id());
        e.conv.set_position(position);
        e.conv.mutable_context()->ParseFromString(Str(At(r, 2)));
        SetMs(Int(At(r, 3)), e.conv.mutable_enqueue_time());
        if (int64_t dl = Int(At(r, 4)); dl > 0) SetMs(dl, e.conv.mutable_reply_deadline());
        e.conv.set_capacity_cost(static_cast<int32_t>(Int(At(r, 5))));
        for (std::string& s : skills) e.conv.add_required_skills(std::move(s));
        e.urgent = Str(At(r, 7)) == "1";
        e.conv.set_urgent(e.urgent);
        e.priority = q->priority();
        e.score = Int(At(r, 8));
        entries.push_back(std::move(e));
      }
      if (start + want + 1 >= length || static_cast<int>(entries.size()) > want) break;
    }
  }
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    if (a.urgent != b.urgent) return a.urgent;
    if (a.urgent) return a.score < b.score;
    if (a.priority != b.priority) return a.priority > b.priority;
    return a.score < b.score;
  });
  std::vector<v1::QueuedConversation> out;
  for (size_t i = static_cast<size_t>(offset);
       i < entries.size() && static_cast<int>(out.size()) < limit + 1; ++i) {
    out.push_back(std::move(entries[i].conv));
  }
  return out;  // limit + 1 entries when there is another page
}

absl::StatusOr<v1::Assignment> RedisEngine::Pick(const std::string& agent_id,
                                                 const std::string& conversation_id,
                                                 const std::string& request_id) {
  std::shared_ptr<const RoutingSnapshot> snapshot = definitions_.Current();
  const v1::Agent* agent = FindAgent(*snapshot, agent_id);
  if (agent == nullptr) return AgentNotFound(agent_id);
  absl::StatusOr<std::string> prior = PriorResponse(request_id);
  if (!prior.ok()) return prior.status();
  v1::PickConversationResponse previous;
  if (!prior->empty() && previous.ParseFromString(*prior)) return previous.assignment();

  for (int attempt = 0; attempt < kMaxOptimisticRetries; ++attempt) {
    absl::StatusOr<Reply> read = ReadConversation(conversation_id);
    if (!read.ok()) return read.status();
    const Hash conv = ToHash(At(*read, 0));
    if (conv.empty()) {
      return absl::NotFoundError(absl::StrCat("conversation ", conversation_id, " is not queued"));
    }
    if (Get(conv, "st") != "queued") {
      return absl::FailedPreconditionError(
          absl::StrCat("conversation ", conversation_id, " was taken by someone else"));
    }
    const std::string queue = Get(conv, "q");
    if (std::find(agent->queue_ids().begin(), agent->queue_ids().end(), queue) ==
        agent->queue_ids().end()) {
      return absl::PermissionDeniedError(absl::StrCat("conversation ", conversation_id,
                                                      " is in queue ", queue,
                                                      ", which is not one of the agent's queues"));
    }
    for (const std::string& skill : SplitSkills(Get(conv, "sk"))) {
      if (!HasSkills(*agent, {skill})) {
        return absl::PermissionDeniedError(
            absl::StrCat("agent ", agent_id, " lacks the required skill '", skill, "'"));
      }
    }
    const v1::WorkStream* ws = FindWorkStream(*snapshot, Get(conv, "ws"));
    if (ws != nullptr && ws->mode() == v1::ROUTING_MODE_PUSH) {
      return absl::FailedPreconditionError(
          absl::StrCat("work stream ", ws->id(), " is in push mode: conversations are offered"));
    }
    if (!agent->enabled()) {
      return absl::FailedPreconditionError(absl::StrCat("agent ", agent_id, " is disabled"));
    }
    const int64_t now = NowMs();
    v1::PickConversationResponse response;
    *response.mutable_assignment() =
        MakeAssignment(conv, conversation_id, agent_id, common::v1::ASSIGNMENT_KIND_PICKED, now);
    const v1::Assignment& a = response.assignment();
    absl::StatusOr<Reply> reply = Run(
        S().pick, {conversation_id, Get(conv, "ver"), agent_id,
                   AssignedEventBytes(a, Get(conv, "ctx"), "", now), AssignedUpdate(*snapshot, a),
                   request_id.empty() ? keys_.Request(NewUuid()) : keys_.Request(request_id),
                   response.SerializeAsString()});
    if (!reply.ok()) return reply.status();
    const std::string outcome = Str(At(*reply, 0));
    if (outcome == "ok") {
      NoteAssigned(queue, now - Int(Get(conv, "enq")));
      return a;
    }
    if (outcome == "retry") continue;
    if (outcome == "repeat") {
      v1::PickConversationResponse repeated;
      repeated.ParseFromString(Str(At(*reply, 1)));
      return repeated.assignment();
    }
    if (outcome == "gone") {
      return absl::NotFoundError(absl::StrCat("conversation ", conversation_id, " is not queued"));
    }
    if (outcome == "taken") {
      return absl::FailedPreconditionError(
          absl::StrCat("conversation ", conversation_id, " was taken by someone else"));
    }
    if (outcome == "disabled") {
      return absl::FailedPreconditionError(absl::StrCat("agent ", agent_id, " is disabled"));
    }
    if (outcome == "presence") return PresenceRefused(agent_id, Str(At(*reply, 1)), "picking");
    return absl::FailedPreconditionError(absl::StrCat(
        "agent has ", Units(Int(At(*reply, 1))), ", the conversation needs ", Int(At(*reply, 2))));
  }
  return absl::AbortedError(
      absl::StrCat("conversation ", conversation_id, " kept changing; try again"));
}

absl::StatusOr<v1::TransferConversationResponse> RedisEngine::Transfer(
    const v1::TransferConversationRequest& request) {
  std::shared_ptr<const RoutingSnapshot> snapshot = definitions_.Current();
  const std::string& conversation_id = request.conversation_id();
  const std::string& from = request.agent_id();
  const std::string to_agent = request.to_agent_id();
  const std::string to_queue = request.to_queue_id();
  absl::StatusOr<std::string> prior = PriorResponse(request.request_id());
  if (!prior.ok()) return prior.status();
  v1::TransferConversationResponse previous;
  if (!prior->empty() && previous.ParseFromString(*prior)) return previous;

  const v1::Agent* target = nullptr;
  if (!to_agent.empty()) {
    target = FindAgent(*snapshot, to_agent);
    if (target == nullptr) return AgentNotFound(to_agent);
    if (!target->enabled()) {
      return absl::FailedPreconditionError(absl::StrCat("agent ", to_agent, " is disabled"));
    }
  } else if (!snapshot->queues.contains(to_queue)) {
    return absl::NotFoundError(absl::StrCat("queue ", to_queue, ": no such queue"));
  }
  for (int attempt = 0; attempt < kMaxOptimisticRetries; ++attempt) {
    absl::StatusOr<Reply> read = ReadConversation(conversation_id);
    if (!read.ok()) return read.status();
    const Hash conv = ToHash(At(*read, 0));
    if (conv.empty()) {
      return absl::NotFoundError(
          absl::StrCat("conversation ", conversation_id, ": no such conversation"));
    }
    if (Get(conv, "st") != "assigned" || Get(conv, "agent") != from) {
      return absl::PermissionDeniedError(
          absl::StrCat("conversation ", conversation_id, " is not assigned to agent ", from));
    }
    const int64_t now = NowMs();
    v1::TransferConversationResponse response;
    v1::AgentEvent transferred = BaseEvent(from, conversation_id, now);
    transferred.mutable_transferred()->set_to_agent_id(to_agent);
    transferred.mutable_transferred()->set_to_queue_id(to_queue);
    transferred.mutable_transferred()->set_by_agent_id(from);
    transferred.mutable_transferred()->set_reason(request.reason());
    std::string assigned_event, update;
    if (target != nullptr) {
      response.set_status(v1::ROUTING_STATUS_ASSIGNED);
      v1::Assignment* a = response.mutable_assignment();
      *a = MakeAssignment(conv, conversation_id, to_agent, common::v1::ASSIGNMENT_KIND_TRANSFERRED,
                          now);
      a->set_queue_id("");
      a->set_from_agent_id(from);
      assigned_event = AssignedEventBytes(*a, Get(conv, "ctx"), request.reason(), now);
      update = AssignedUpdate(*snapshot, *a);
    } else {
      response.set_status(v1::ROUTING_STATUS_QUEUED);
      update = QueuedUpdate(*snapshot, conversation_id, Get(conv, "ws"), to_queue, "",
                            Int(Get(conv, "enq")), from);
    }
    absl::StatusOr<Reply> reply =
        Run(S().transfer,
            {conversation_id, Get(conv, "ver"), from, to_agent, to_queue,
             transferred.SerializeAsString(), assigned_event, update,
             keys_.Request(request.request_id().empty() ? NewUuid() : request.request_id()),
             response.SerializeAsString()});
    if (!reply.ok()) return reply.status();
    const std::string outcome = Str(At(*reply, 0));
    if (outcome == "retry") continue;
    if (outcome == "repeat") {
      v1::TransferConversationResponse repeated;
      repeated.ParseFromString(Str(At(*reply, 1)));
      return repeated;
    }
    if (outcome == "gone") {
      return absl::NotFoundError(
          absl::StrCat("conversation ", conversation_id, ": no such conversation"));
    }
    if (outcome == "denied") {
      return absl::PermissionDeniedError(
          absl::StrCat("conversation ", conversation_id, " is not assigned to agent ", from));
    }
    if (outcome == "disabled") {
      return absl::FailedPreconditionError(absl::StrCat("agent ", to_agent, " is disabled"));
    }
    if (outcome == "presence") return PresenceRefused(to_agent, Str(At(*reply, 1)), "a transfer");
    if (outcome == "capacity") {
      return absl::FailedPreconditionError(
          absl::StrCat("agent ", to_agent, " has ", Units(Int(At(*reply, 1))),
                       ", the conversation needs ", Int(At(*reply, 2))));
    }
    response.set_position(static_cast<int32_t>(Int(At(*reply, 1))));
    std::vector<std::string> queues;
    if (!to_queue.empty()) queues.push_back(to_queue);
    if (absl::Status s = DispatchQueues(queues); !s.ok()) {
      log::Warn("dispatch after transfer failed", {{"error", s.ToString()}});
    }
    if (absl::Status s = DispatchAgent(from); !s.ok()) {
      log::Warn("dispatch after transfer failed", {{"error", s.ToString()}});
    }
    return response;
  }
  return absl::AbortedError(
      absl::StrCat("conversation ", conversation_id, " kept changing; try again"));
}

absl::StatusOr<v1::FinishConversationResponse> RedisEngine::Finish(
    const v1::FinishConversationRequest& request) {
  const std::string& conversation_id = request.conversation_id();
  // The script adds the agent and the released capacity: one round trip, nothing to retry.
  v1::AgentEvent event = BaseEvent("", conversation_id, NowMs());
  v1::ConversationClosedEvent* closed = event.mutable_conversation_closed();
  closed->set_reason(request.reason());
  *closed->mutable_close_time() = request.close_time();
  absl::StatusOr<Reply> reply = Run(S().finish, {conversation_id, event.SerializeAsString()});
  if (!reply.ok()) return reply.status();
  v1::FinishConversationResponse response;
  if (Str(At(*reply, 0)) == "unknown") return response;
  response.set_released_agent_id(Str(At(*reply, 1)));
  response.set_released_capacity(static_cast<int32_t>(Int(At(*reply, 2))));
  if (Str(At(*reply, 3)) == "offered") NoteOffersEnded(OfferOutcome::kWithdrawn, 1);
  if (!response.released_agent_id().empty()) {
    if (absl::Status s = DispatchAgent(response.released_agent_id()); !s.ok()) {
      log::Warn("dispatch after finish failed", {{"error", s.ToString()}});
    }
  }
  return response;
}

// ---------------------------------------------------------------------------------------------
// Background

absl::StatusOr<SweepResult> RedisEngine::SweepOnce() {
  SweepResult result;
  const int64_t now = NowMs();
  const std::string limit = absl::StrCat(options_.sweep_batch);
  std::vector<std::string> queues;

  absl::StatusOr<Reply> due = redis_.Get().Command(
      {"ZRANGEBYSCORE", keys_.OfferDeadlines(), "-inf", absl::StrCat(now), "LIMIT", "0", limit});
  if (!due.ok()) return due.status();
  for (const Reply& offer : due->elements) {
    absl::StatusOr<Reply> q = Run(S().expire, {Str(offer)});
    if (!q.ok()) return q.status();
    if (!Str(*q).empty()) {
      ++result.offers_expired;
      queues.push_back(Str(*q));
    }
  }

  const int64_t cutoff = now - absl::ToInt64Milliseconds(options_.offline_after);
  NoteOffersEnded(OfferOutcome::kExpired, static_cast<size_t>(result.offers_expired));

  absl::StatusOr<Reply> stale = redis_.Get().Command(
      {"ZRANGEBYSCORE", keys_.Heartbeats(), "-inf", absl::StrCat(cutoff), "LIMIT", "0", limit});
  if (!stale.ok()) return stale.status();
  for (const Reply& agent : stale->elements) {
    absl::StatusOr<Reply> r = Run(S().heartbeat_expiry, {Str(agent), absl::StrCat(cutoff)});
    if (!r.ok()) return r.status();
    ++result.agents_offline;
    NoteOffersEnded(OfferOutcome::kWithdrawn, r->elements.size());
    for (const Reply& q : r->elements) queues.push_back(Str(q));
  }

  absl::StatusOr<Reply> urgent = redis_.Get().Command(
      {"ZRANGEBYSCORE", keys_.UrgentAt(), "-inf", absl::StrCat(now), "LIMIT", "0", limit});
  if (!urgent.ok()) return urgent.status();
  for (const Reply& conv : urgent->elements) {
    absl::StatusOr<Reply> r = Run(S().promote, {Str(conv)});
    if (!r.ok()) return r.status();
    result.promoted += static_cast<int>(Int(*r));
  }

  if (absl::Status s = DispatchQueues(queues); !s.ok()) return s;
  absl::StatusOr<int> made = DispatchAll();
  if (!made.ok()) return made.status();
  result.offers_made = *made;
  return result;
}

absl::Status RedisEngine::SyncAgents(const RoutingSnapshot& snapshot) {
  std::vector<std::string> queues;
  for (const auto& [id, agent] : snapshot.agents) {
    std::vector<std::string> args = {id, absl::StrCat(agent.capacity()),
                                     agent.enabled() ? "1" : "0"};
    args.insert(args.end(), agent.queue_ids().begin(), agent.queue_ids().end());
    absl::StatusOr<Reply> r = Run(S().sync_agent, std::move(args));
    if (!r.ok()) return r.status();
    NoteOffersEnded(OfferOutcome::kWithdrawn, r->elements.size());
    for (const Reply& q : r->elements) queues.push_back(Str(q));
  }
  if (absl::Status s = DispatchQueues(queues); !s.ok()) return s;
  absl::StatusOr<int> made = DispatchAll();
  return made.ok() ? absl::OkStatus() : made.status();
}

absl::StatusOr<bool> RedisEngine::RestoreAssigned(const std::string& conversation_id,
                                                  const std::string& work_stream_id,
                                                  const std::string& queue_id,
                                                  const common::v1::EngagementContext& context,
                                                  int64_t enqueue_ms, int64_t deadline_ms,
                                                  const std::string& agent_id) {
  std::shared_ptr<const RoutingSnapshot> snapshot = definitions_.Current();
  const v1::WorkStream* ws = FindWorkStream(*snapshot, work_stream_id);
  const int cost = ws != nullptr ? std::max(1, ws->capacity_cost()) : 1;
  absl::StatusOr<Reply> r =
      Run(S().restore_assigned,
          {conversation_id, work_stream_id, queue_id, context.SerializeAsString(),
           absl::StrCat(enqueue_ms), absl::StrCat(deadline_ms), absl::StrCat(cost), agent_id});
  if (!r.ok()) return r.status();
  return Int(*r) == 1;
}

}  // namespace parley::router::engine
