// The request checks of RoutingService: INVALID_ARGUMENT naming the field, as router.proto
// states (NOT_FOUND for a missing work stream, which names nothing).
#include "services/router/routing_service.h"

#include "gtest/gtest.h"

namespace parley::router {
namespace {

constexpr char kId[] = "5c1e7a52-8f3e-4b7a-9d61-0a1b2c3d4e5f";
constexpr char kOther[] = "6d2f8b63-9a4f-4c8b-8e72-1b2c3d4e5f60";

v1::EnqueueConversationRequest ValidEnqueue() {
  v1::EnqueueConversationRequest r;
  r.set_conversation_id(kId);
  r.set_request_id(kOther);
  r.set_work_stream_id(kOther);
  r.mutable_context()->set_channel(common::v1::CHANNEL_WHATSAPP);
  r.mutable_enqueue_time()->set_seconds(1700000000);
  return r;
}

TEST(RoutingServiceChecks, Enqueue) {
  EXPECT_TRUE(CheckEnqueue(ValidEnqueue()).ok());
  v1::EnqueueConversationRequest r = ValidEnqueue();
  r.set_conversation_id("nope");
  EXPECT_EQ(CheckEnqueue(r).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(CheckEnqueue(r).message().find("conversation_id"), std::string::npos);
  r = ValidEnqueue();
  r.clear_context();
  EXPECT_EQ(CheckEnqueue(r).message(), "context: missing");
  r = ValidEnqueue();
  r.mutable_context()->set_channel(common::v1::CHANNEL_UNSPECIFIED);
  EXPECT_EQ(CheckEnqueue(r).message(), "context.channel: unspecified");
  r = ValidEnqueue();
  r.clear_enqueue_time();
  EXPECT_EQ(CheckEnqueue(r).message(), "enqueue_time: unset");
}

TEST(RoutingServiceChecks, Transfer) {
  v1::TransferConversationRequest r;
  r.set_conversation_id(kId);
  r.set_agent_id(kOther);
  r.set_request_id(kId);
  EXPECT_EQ(CheckTransfer(r).message(), "target: set to_agent_id or to_queue_id");
  r.set_to_agent_id(kOther);
  EXPECT_EQ(CheckTransfer(r).message(), "to_agent_id: the conversation's current agent");
  r.set_to_queue_id(kId);
  EXPECT_TRUE(CheckTransfer(r).ok());
  r.set_reason(std::string(501, 'x'));
  EXPECT_EQ(CheckTransfer(r).code(), absl::StatusCode::kInvalidArgument);
  r.set_reason(std::string(500, 'x'));
  EXPECT_TRUE(CheckTransfer(r).ok());
}

}  // namespace
}  // namespace parley::router
