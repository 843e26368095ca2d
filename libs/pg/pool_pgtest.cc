// libs/pg's pool against a real PostgreSQL: commits, rollbacks, the error mapping, and
// recovery after the server goes away and comes back.
#include <memory>

#include "gtest/gtest.h"
#include "libs/pg/pool.h"
#include "libs/testing/servers.h"

namespace parley::pg {
namespace {

class PoolTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto db = testing::TestDatabase::Create();
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db).release();
    Pool pool({.uri = db_->uri()});
    ASSERT_TRUE(pool.Transact([](pqxx::work& tx) {
                      tx.exec(
                          "CREATE TABLE item (id int PRIMARY KEY, name text NOT NULL "
                          "CHECK (name <> ''))");
                      return absl::OkStatus();
                    })
                    .ok());
  }
  static void TearDownTestSuite() { delete db_; }

  void SetUp() override {
    pool_ = std::make_unique<Pool>(PoolOptions{.uri = db_->uri(), .size = 2});
    ASSERT_TRUE(pool_
                    ->Transact([](pqxx::work& tx) {
                      tx.exec("TRUNCATE item");
                      return absl::OkStatus();
                    })
                    .ok());
  }

  int64_t Count() {
    absl::StatusOr<int64_t> n =
        pool_->Transact<int64_t>([](pqxx::work& tx) -> absl::StatusOr<int64_t> {
          return tx.exec1("SELECT count(*) FROM item")[0].as<int64_t>();
        });
    EXPECT_TRUE(n.ok()) << n.status();
    return n.value_or(-1);
  }

  absl::Status Insert(int id, const std::string& name) {
    return pool_->Transact([&](pqxx::work& tx) {
      tx.exec_params("INSERT INTO item (id, name) VALUES ($1, $2)", id, name);
      return absl::OkStatus();
    });
  }

  static testing::TestDatabase* db_;
  std::unique_ptr<Pool> pool_;
};

testing::TestDatabase* PoolTest::db_ = nullptr;

TEST_F(PoolTest, CommitsWhenTheFunctionSucceeds) {
  ASSERT_TRUE(Insert(1, "one").ok());
  EXPECT_EQ(Count(), 1);
}

TEST_F(PoolTest, RollsBackWhenTheFunctionReturnsAnError) {
  absl::Status status = pool_->Transact([](pqxx::work& tx) {
    tx.exec("INSERT INTO item VALUES (1, 'one')");
    return absl::InvalidArgumentError("field name: too long");
  });
  EXPECT_EQ(status, absl::InvalidArgumentError("field name: too long"));
  EXPECT_EQ(Count(), 0);
}

TEST_F(PoolTest, RollsBackEverythingWhenALaterStatementFails) {
  absl::Status status = pool_->Transact([](pqxx::work& tx) {
    tx.exec("INSERT INTO item VALUES (1, 'one')");
    tx.exec("INSERT INTO item VALUES (1, 'again')");
    return absl::OkStatus();
  });
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(Count(), 0);
}

TEST_F(PoolTest, MapsConstraintAndDataErrorsToSpecificCodes) {
  ASSERT_TRUE(Insert(1, "one").ok());
  EXPECT_EQ(Insert(1, "dup").code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(Insert(2, "").code(), absl::StatusCode::kFailedPrecondition);
  absl::Status bad_number = pool_->Transact([](pqxx::work& tx) {
    tx.exec("SELECT 'abc'::int");
    return absl::OkStatus();
  });
  EXPECT_EQ(bad_number.code(), absl::StatusCode::kInvalidArgument);
  absl::Status bug = pool_->Transact([](pqxx::work& tx) {
    tx.exec("SELEC 1");
    return absl::OkStatus();
  });
  EXPECT_EQ(bug.code(), absl::StatusCode::kInternal);
  EXPECT_NE(bug.message().find("42601"), absl::string_view::npos) << bug.message();
  EXPECT_EQ(Count(), 1);
}

TEST_F(PoolTest, SqlLookingTextIsStoredAsData) {
  const std::string text = "x'); DROP TABLE item; --";
  ASSERT_TRUE(Insert(1, text).ok());
  absl::StatusOr<std::string> back =
      pool_->Transact<std::string>([](pqxx::work& tx) -> absl::StatusOr<std::string> {
        return tx.exec1("SELECT name FROM item WHERE id = 1")[0].as<std::string>();
      });
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, text);
}

TEST_F(PoolTest, WaitsForAFreeConnectionThenGivesUpWithUnavailable) {
  Pool tiny({.uri = db_->uri(), .size = 1, .acquire_timeout = absl::Milliseconds(200)});
  absl::Status inner;
  absl::Status outer = tiny.Transact([&](pqxx::work&) {
    inner = tiny.Ping();  // needs a second connection while the only one is lent out
    return absl::OkStatus();
  });
  EXPECT_TRUE(outer.ok()) << outer;
  EXPECT_EQ(inner.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(inner.message().find("all 1 connections busy"), absl::string_view::npos) << inner;
}

TEST(PoolServerTest, UnreachableServerIsUnavailableAndRecoveryNeedsNoNewPool) {
  auto server = testing::PgServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  Pool pool({.uri = (*server)->uri(), .size = 2});
  ASSERT_TRUE(pool.Ping().ok());

  ASSERT_TRUE((*server)->Stop().ok());
  absl::Status down = pool.Ping();
  EXPECT_EQ(down.code(), absl::StatusCode::kUnavailable) << down;
  EXPECT_EQ(pool.Transact([](pqxx::work&) { return absl::OkStatus(); }).code(),
            absl::StatusCode::kUnavailable);

  ASSERT_TRUE((*server)->Resume().ok());
  EXPECT_TRUE(pool.Ping().ok());
  EXPECT_TRUE(pool.Transact([](pqxx::work& tx) {
                    tx.exec("SELECT 1");
                    return absl::OkStatus();
                  })
                  .ok());
}

}  // namespace
}  // namespace parley::pg
