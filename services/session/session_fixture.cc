#include "services/session/session_fixture.h"

#include <atomic>

#include "absl/strings/str_cat.h"
#include "libs/pg/migrations.h"
#include "services/session/rows.h"
#include "session_migrations.h"

namespace parley::session {

testing::TestDatabase* SessionPgTest::db_ = nullptr;
pg::Pool* SessionPgTest::pool_ = nullptr;

void SessionPgTest::SetUpTestSuite() {
  if (pool_ != nullptr) return;
  absl::StatusOr<std::unique_ptr<testing::TestDatabase>> db = testing::TestDatabase::Create();
  ASSERT_TRUE(db.ok()) << db.status();
  db_ = db->release();
  pool_ = new pg::Pool(pg::PoolOptions{.uri = db_->uri(), .size = 24});
  absl::StatusOr<pg::MigrationReport> report = pg::Migrate(*pool_, Migrations());
  ASSERT_TRUE(report.ok()) << report.status();
}

void SessionPgTest::TearDownTestSuite() {}

std::string SessionPgTest::Unique(const std::string& prefix) {
  static std::atomic<int> next{0};
  return absl::StrCat(prefix, ++next, "-", absl::ToUnixMicros(absl::Now()) % 1000000);
}

v1::InboundEvent* SessionPgTest::AddText(v1::IngestRequest* batch, const std::string& user,
                                         const std::string& mid, const std::string& text,
                                         absl::Time provider_time) {
  v1::InboundEvent* ev = batch->add_events();
  ev->set_dedup_key(absl::StrCat("msg:", mid));
  *ev->mutable_endpoint() = batch->endpoints(0).endpoint();
  *ev->mutable_customer()->mutable_endpoint() = batch->endpoints(0).endpoint();
  ev->mutable_customer()->set_user_id(user);
  ev->mutable_profile()->set_display_name("Ada Lovelace");
  SetTimestamp(provider_time, ev->mutable_provider_time());
  ev->set_raw_event(absl::StrCat("{\"mid\":\"", mid, "\"}"));
  ev->mutable_message()->set_provider_message_id(mid);
  ev->mutable_message()->mutable_content()->add_parts()->set_text(text);
  return ev;
}

v1::IngestRequest SessionPgTest::TextBatch(const std::string& page, const std::string& user,
                                           const std::string& mid, const std::string& text,
                                           absl::Time provider_time) {
  v1::IngestRequest batch;
  batch.set_batch_id(Unique("batch"));
  batch.set_channel(common::v1::CHANNEL_MESSENGER);
  SetTimestamp(provider_time, batch.mutable_receive_time());
  v1::EndpointSnapshot* e = batch.add_endpoints();
  e->mutable_endpoint()->set_channel(common::v1::CHANNEL_MESSENGER);
  e->mutable_endpoint()->set_id(page);
  e->mutable_settings()->set_language("en-US");
  e->mutable_settings()->set_work_stream_id("8a1f0b9e-3f2a-4d1b-8c7e-0123456789ab");
  AddText(&batch, user, mid, text, provider_time);
  return batch;
}

std::string SessionPgTest::Query(const std::string& sql) {
  std::string out;
  absl::Status s = pool_->Transact([&](pqxx::work& tx) {
    const pqxx::row r = tx.exec1(sql);
    out = r[0].is_null() ? "" : r[0].as<std::string>();
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s << " in " << sql;
  return out;
}

}  // namespace parley::session
