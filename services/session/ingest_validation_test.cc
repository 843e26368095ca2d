#include "gtest/gtest.h"
#include "services/session/ingest_store.h"

namespace parley::session {
namespace {

v1::IngestRequest ValidBatch() {
  v1::IngestRequest r;
  r.set_channel(common::v1::CHANNEL_MESSENGER);
  v1::EndpointSnapshot* e = r.add_endpoints();
  e->mutable_endpoint()->set_channel(common::v1::CHANNEL_MESSENGER);
  e->mutable_endpoint()->set_id("1895382890692545");
  v1::InboundEvent* ev = r.add_events();
  ev->set_dedup_key("msg:m1");
  *ev->mutable_endpoint() = e->endpoint();
  ev->mutable_customer()->set_user_id("1412611362105802");
  ev->mutable_message()->set_provider_message_id("m1");
  ev->mutable_message()->mutable_content()->add_parts()->set_text("hello");
  return r;
}

TEST(IngestValidationTest, AcceptsAWellFormedBatch) {
  EXPECT_TRUE(ValidateIngestRequest(ValidBatch()).ok());
}

TEST(IngestValidationTest, NamesTheFieldOfEveryMalformation) {
  struct Case {
    const char* name;
    void (*mutate)(v1::IngestRequest*);
    const char* message;
  };
  const Case cases[] = {
      {"no channel", [](v1::IngestRequest* r) { r->set_channel(common::v1::CHANNEL_UNSPECIFIED); },
       "channel: is required"},
      {"no events", [](v1::IngestRequest* r) { r->clear_events(); }, "events: none given"},
      {"empty dedup key", [](v1::IngestRequest* r) { r->mutable_events(0)->clear_dedup_key(); },
       "events[0].dedup_key: must not be empty"},
      {"long dedup key",
       [](v1::IngestRequest* r) { r->mutable_events(0)->set_dedup_key(std::string(513, 'k')); },
       "events[0].dedup_key: 513 characters, at most 512 allowed"},
      {"unknown endpoint",
       [](v1::IngestRequest* r) { r->mutable_events(0)->mutable_endpoint()->set_id("42"); },
       "events[0].endpoint.id: '42' has no entry in endpoints"},
      {"other channel",
       [](v1::IngestRequest* r) {
         r->mutable_events(0)->mutable_endpoint()->set_channel(common::v1::CHANNEL_WHATSAPP);
       },
       "events[0].endpoint.channel: CHANNEL_WHATSAPP in a batch of CHANNEL_MESSENGER"},
      {"no kind", [](v1::IngestRequest* r) { r->mutable_events(0)->clear_message(); },
       "events[0]: no event kind set"},
      {"no user",
       [](v1::IngestRequest* r) { r->mutable_events(0)->mutable_customer()->clear_user_id(); },
       "events[0].customer.user_id: must not be empty"},
      {"NUL in user",
       [](v1::IngestRequest* r) {
         r->mutable_events(0)->mutable_customer()->set_user_id(std::string("a\0b", 3));
       },
       "events[0].customer.user_id: contains a NUL character"},
  };
  for (const Case& c : cases) {
    v1::IngestRequest r = ValidBatch();
    c.mutate(&r);
    const absl::Status s = ValidateIngestRequest(r);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_EQ(s.message(), c.message) << c.name;
  }
  v1::IngestRequest many = ValidBatch();
  for (int i = 0; i < 1000; ++i) *many.add_events() = many.events(0);
  EXPECT_EQ(ValidateIngestRequest(many).message(), "events: 1001 given, at most 1000");
}

}  // namespace
}  // namespace parley::session
