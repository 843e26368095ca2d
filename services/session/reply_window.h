// Reply windows (MISSION capability 19) as pure functions of the customer's last message time:
// anyone may reply within 24 hours; on Messenger with the Human Agent tag (as it stood when the
// conversation opened) human agents may reply up to 7 days. Time comes from the caller, so
// tests never wait for a window to pass.
#pragma once

#include "absl/time/time.h"
#include "parley/common/v1/common.pb.h"
#include "parley/session/v1/session.pb.h"

namespace parley::session {

inline constexpr absl::Duration kStandardReplyWindow = absl::Hours(24);
inline constexpr absl::Duration kHumanAgentReplyWindow = absl::Hours(24 * 7);

struct ReplyDeadlines {
  absl::Time standard;  // 24 hours after the customer's last message
  absl::Time deadline;  // the latest any human agent may reply
};

// The deadlines after a customer message at `last_customer_message`. The tag only counts on
// Messenger.
ReplyDeadlines ComputeReplyDeadlines(common::v1::Channel channel, bool human_agent_tag_enabled,
                                     absl::Time last_customer_message);

// Where the window stands at `now`.
v1::ReplyWindow WindowAt(const ReplyDeadlines& deadlines, absl::Time now);

}  // namespace parley::session
