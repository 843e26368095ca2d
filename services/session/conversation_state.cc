#include "services/session/conversation_state.h"

#include "absl/strings/str_cat.h"

namespace parley::session {

using common::v1::CONVERSATION_STATE_ACTIVE;
using common::v1::CONVERSATION_STATE_CLOSED;
using common::v1::CONVERSATION_STATE_OPEN;
using common::v1::CONVERSATION_STATE_WAITING;
using common::v1::CONVERSATION_STATE_WRAP_UP;

absl::string_view StateName(State state) {
  switch (state) {
    case CONVERSATION_STATE_OPEN:
      return "OPEN";
    case CONVERSATION_STATE_ACTIVE:
      return "ACTIVE";
    case CONVERSATION_STATE_WAITING:
      return "WAITING";
    case CONVERSATION_STATE_WRAP_UP:
      return "WRAP_UP";
    case CONVERSATION_STATE_CLOSED:
      return "CLOSED";
    default:
      return "UNSPECIFIED";
  }
}

bool TransitionAllowed(State from, State to) {
  struct Edge {
    State from;
    State to;
  };
  static constexpr Edge kEdges[] = {
      {CONVERSATION_STATE_OPEN, CONVERSATION_STATE_ACTIVE},
      {CONVERSATION_STATE_ACTIVE, CONVERSATION_STATE_OPEN},
      {CONVERSATION_STATE_WAITING, CONVERSATION_STATE_OPEN},
      {CONVERSATION_STATE_ACTIVE, CONVERSATION_STATE_WAITING},
      {CONVERSATION_STATE_WAITING, CONVERSATION_STATE_ACTIVE},
      {CONVERSATION_STATE_ACTIVE, CONVERSATION_STATE_WRAP_UP},
      {CONVERSATION_STATE_WAITING, CONVERSATION_STATE_WRAP_UP},
      {CONVERSATION_STATE_OPEN, CONVERSATION_STATE_CLOSED},
      {CONVERSATION_STATE_ACTIVE, CONVERSATION_STATE_CLOSED},
      {CONVERSATION_STATE_WAITING, CONVERSATION_STATE_CLOSED},
      {CONVERSATION_STATE_WRAP_UP, CONVERSATION_STATE_CLOSED},
  };
  for (const Edge& e : kEdges) {
    if (e.from == from && e.to == to) return true;
  }
  return false;
}

absl::Status CheckTransition(absl::string_view conversation_id, State from, State to) {
  if (TransitionAllowed(from, to)) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat("conversation ", conversation_id,
                                                    ": cannot move from ", StateName(from), " to ",
                                                    StateName(to)));
}

}  // namespace parley::session
