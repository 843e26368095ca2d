#include "services/session/reply_window.h"

namespace parley::session {

ReplyDeadlines ComputeReplyDeadlines(common::v1::Channel channel, bool human_agent_tag_enabled,
                                     absl::Time last_customer_message) {
  const bool tag = human_agent_tag_enabled && channel == common::v1::CHANNEL_MESSENGER;
  ReplyDeadlines d;
  d.standard = last_customer_message + kStandardReplyWindow;
  d.deadline = last_customer_message + (tag ? kHumanAgentReplyWindow : kStandardReplyWindow);
  return d;
}

v1::ReplyWindow WindowAt(const ReplyDeadlines& deadlines, absl::Time now) {
  if (now < deadlines.standard) return v1::REPLY_WINDOW_OPEN;
  if (now < deadlines.deadline) return v1::REPLY_WINDOW_HUMAN_AGENT_ONLY;
  return v1::REPLY_WINDOW_CLOSED;
}

}  // namespace parley::session
