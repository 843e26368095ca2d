// The conversation lifecycle as a pure transition table (MISSION capability 17):
//   OPEN → ACTIVE (router assigned it)        ACTIVE → OPEN, WAITING → OPEN (transfer to a queue)
//   ACTIVE ⇄ WAITING                          ACTIVE, WAITING → WRAP_UP
//   any state but CLOSED → CLOSED             CLOSED is final.
// No storage and no clock: the stores ask it before every state change.
#pragma once

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "parley/common/v1/common.pb.h"

namespace parley::session {

using State = common::v1::ConversationState;

// "OPEN", "ACTIVE", "WAITING", "WRAP_UP", "CLOSED" ("UNSPECIFIED" otherwise).
absl::string_view StateName(State state);

// Whether the lifecycle allows moving from `from` to `to`.
bool TransitionAllowed(State from, State to);

// OK when allowed; FailedPrecondition "conversation <id>: cannot move from X to Y" otherwise.
absl::Status CheckTransition(absl::string_view conversation_id, State from, State to);

}  // namespace parley::session
