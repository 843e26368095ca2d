// ContactService's store on a real PostgreSQL: search, create, update, link, unlink, merge and
// the customer summary; later conversations from a linked identity attach to its contact.
#include "absl/strings/str_cat.h"
#include "google/protobuf/field_mask.pb.h"
#include "services/session/pg_contact_store.h"
#include "services/session/pg_ingest_store.h"
#include "services/session/rows.h"
#include "services/session/session_fixture.h"

namespace parley::session {
namespace {

class ContactPgTest : public SessionPgTest {
 protected:
  // A customer writes on a new page; returns (identity, conversation id, contact id).
  std::tuple<common::v1::ChannelIdentity, std::string, std::string> Customer(
      const std::string& text = "hi") {
    const std::string page = Unique("p"), user = Unique("u");
    auto r = ingest_.Ingest(TextBatch(page, user, Unique("m"), text));
    EXPECT_TRUE(r.ok()) << r.status();
    common::v1::ChannelIdentity id;
    id.mutable_endpoint()->set_channel(common::v1::CHANNEL_MESSENGER);
    id.mutable_endpoint()->set_id(page);
    id.set_user_id(user);
    const std::string conversation = r->results(0).conversation_id();
    return {id, conversation,
            Query(absl::StrCat("SELECT contact_id FROM session.conversations WHERE id = '",
                               conversation, "'"))};
  }
  v1::Contact Create(const std::string& name, const std::string& email = "") {
    v1::CreateContactRequest r;
    r.mutable_contact()->set_display_name(name);
    r.mutable_contact()->set_email(email);
    auto c = store_.Create(r);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *c : v1::Contact();
  }
  absl::StatusOr<v1::Contact> Link(const std::string& contact,
                                   const common::v1::ChannelIdentity& identity) {
    v1::LinkIdentityRequest r;
    r.set_contact_id(contact);
    *r.mutable_identity() = identity;
    return store_.Link(r);
  }

  PgIngestStore ingest_{pool()};
  PgContactStore store_{pool()};
};

TEST_F(ContactPgTest, FirstMessageMakesAnAutoCreatedContactFoundBySearch) {
  auto [identity, conversation, contact] = Customer();
  auto c = store_.Get(contact);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->auto_created());
  EXPECT_EQ(c->display_name(), "Ada Lovelace");
  ASSERT_EQ(c->identities_size(), 1);
  EXPECT_EQ(c->identities(0).identity().user_id(), identity.user_id());

  v1::SearchContactsRequest by_identity;
  *by_identity.mutable_identity() = identity;
  auto found = store_.Search(by_identity);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->contacts_size(), 1);
  EXPECT_EQ(found->contacts(0).id(), contact);

  v1::SearchContactsRequest by_name;
  by_name.set_query("LOVE");  // prefix of a word, any case
  found = store_.Search(by_name);
  ASSERT_TRUE(found.ok());
  EXPECT_GE(found->contacts_size(), 1);
  by_name.set_query("%");  // LIKE wildcards are plain characters
  EXPECT_EQ(store_.Search(by_name)->contacts_size(), 0);
}

TEST_F(ContactPgTest, LinkingMovesTheIdentityAndLaterConversationsFollowIt) {
  auto [identity, conversation, auto_contact] = Customer();
  const v1::Contact grace = Create("Grace Hopper", "grace@example.com");
  auto linked = Link(grace.id(), identity);
  ASSERT_TRUE(linked.ok()) << linked.status();
  ASSERT_EQ(linked->identities_size(), 1);
  EXPECT_EQ(store_.Get(auto_contact).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Query(absl::StrCat("SELECT contact_id FROM session.conversations WHERE id = '",
                               conversation, "'")),
            grace.id());
  // Linking again changes nothing; stealing it from a real contact is refused.
  EXPECT_TRUE(Link(grace.id(), identity).ok());
  const v1::Contact other = Create("Someone Else");
  const absl::Status steal = Link(other.id(), identity).status();
  EXPECT_EQ(steal.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(steal.message(),
            absl::StrCat("CHANNEL_MESSENGER identity ", identity.user_id(), " on ",
                         identity.endpoint().id(), " belongs to contact ", grace.id(),
                         " (Grace Hopper): unlink it there first, or merge the contacts"));
  common::v1::ChannelIdentity stranger = identity;
  stranger.set_user_id("nobody");
  EXPECT_EQ(Link(grace.id(), stranger).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ContactPgTest, UnlinkGivesTheIdentityANewContactAndKeepsThePast) {
  auto [identity, conversation, contact] = Customer();
  v1::UnlinkIdentityRequest r;
  r.set_contact_id(contact);
  *r.mutable_identity() = identity;
  auto out = store_.Unlink(r);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->contact().identities_size(), 0);
  EXPECT_NE(out->new_contact_id(), contact);
  EXPECT_EQ(Query(absl::StrCat("SELECT contact_id FROM session.conversations WHERE id = '",
                               conversation, "'")),
            contact);
  EXPECT_EQ(store_.Unlink(r).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ContactPgTest, MergeMovesEverythingAndLeavesATombstone) {
  auto [identity, conversation, source] = Customer();
  const v1::Contact target = Create("Ada L.");
  v1::MergeContactsRequest m;
  m.set_target_contact_id(target.id());
  m.set_source_contact_id(source);
  auto merged = store_.Merge(m);
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_EQ(merged->identities_size(), 1);
  EXPECT_EQ(merged->display_name(), "Ada L.");
  const absl::Status gone = store_.Get(source).status();
  EXPECT_EQ(gone.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(gone.message(),
            absl::StrCat("contact ", source, ": merged into contact ", target.id()));

  v1::GetCustomerSummaryRequest s;
  s.set_contact_id(target.id());
  auto summary = store_.Summary(s);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->total_conversations(), 1);
  ASSERT_EQ(summary->conversations_size(), 1);
  EXPECT_EQ(summary->conversations(0).conversation_id(), conversation);
  EXPECT_EQ(summary->conversations(0).last_message_preview(), "hi");
  s.set_conversation_id(conversation);
  summary = store_.Summary(s);
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(summary->conversations_size(), 0);  // the key conversation is left out
  EXPECT_EQ(summary->contact().id(), target.id());
}

TEST_F(ContactPgTest, ARepeatedRequestIdCreatesOrMergesOnlyOnce) {
  const std::string name = Unique("Repeat Customer ");
  v1::CreateContactRequest create;
  create.mutable_contact()->set_display_name(name);
  create.set_request_id(NewUuid());
  auto first = store_.Create(create);
  ASSERT_TRUE(first.ok()) << first.status();
  auto again = store_.Create(create);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->id(), first->id());
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM session.contacts WHERE display_name = '", name,
                               "'")),
            1);

  const v1::Contact source = Create(Unique("Source "));
  v1::MergeContactsRequest merge;
  merge.set_target_contact_id(first->id());
  merge.set_source_contact_id(source.id());
  merge.set_request_id(NewUuid());
  auto merged = store_.Merge(merge);
  ASSERT_TRUE(merged.ok()) << merged.status();
  auto merged_again = store_.Merge(merge);
  ASSERT_TRUE(merged_again.ok()) << merged_again.status();
  EXPECT_EQ(merged_again->id(), first->id());

  // The same key on another kind of request is refused and changes nothing.
  merge.set_request_id(create.request_id());
  const absl::Status reused = store_.Merge(merge).status();
  EXPECT_EQ(reused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(reused.message(),
            absl::StrCat("request_id ", create.request_id(), ": already used by a create request"));
}

TEST_F(ContactPgTest, UpdateReplacesOnlyTheMaskedFields) {
  const v1::Contact c = Create("Old Name", "old@example.com");
  v1::UpdateContactRequest r;
  r.mutable_contact()->set_id(c.id());
  r.mutable_contact()->set_display_name("New Name");
  r.mutable_contact()->set_email("ignored@example.com");
  r.mutable_contact()->set_timezone_offset_hours(5.5);
  r.mutable_update_mask()->add_paths("display_name");
  r.mutable_update_mask()->add_paths("timezone_offset_hours");
  auto updated = store_.Update(r);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->display_name(), "New Name");
  EXPECT_EQ(updated->email(), "old@example.com");
  EXPECT_EQ(updated->timezone_offset_hours(), 5.5);
}

}  // namespace
}  // namespace parley::session
