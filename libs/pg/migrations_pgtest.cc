// Migrations against a real PostgreSQL: order, bookkeeping, atomicity, forward-only rules,
// and several runners at once.
#include <thread>

#include "gtest/gtest.h"
#include "libs/pg/migrations.h"
#include "libs/pg/pool.h"
#include "libs/testing/servers.h"

namespace parley::pg {
namespace {

class MigrationsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = testing::TestDatabase::Create();
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    pool_ = std::make_unique<Pool>(PoolOptions{.uri = db_->uri()});
  }

  std::vector<std::string> Recorded(const std::string& component) {
    std::vector<std::string> names;
    EXPECT_TRUE(pool_
                    ->Transact([&](pqxx::work& tx) {
                      for (const auto& row : tx.exec_params(
                               "SELECT name FROM parley_schema_migrations WHERE component = $1 "
                               "ORDER BY version",
                               component)) {
                        names.push_back(row[0].as<std::string>());
                      }
                      return absl::OkStatus();
                    })
                    .ok());
    return names;
  }

  bool TableExists(const std::string& name) {
    bool exists = false;
    EXPECT_TRUE(pool_
                    ->Transact([&](pqxx::work& tx) {
                      exists =
                          tx.exec_params1("SELECT to_regclass($1) IS NOT NULL", name)[0].as<bool>();
                      return absl::OkStatus();
                    })
                    .ok());
    return exists;
  }

  std::unique_ptr<testing::TestDatabase> db_;
  std::unique_ptr<Pool> pool_;
};

const MigrationSet& TwoFiles() {
  static const MigrationSet set("demo",
                                {{"0002_more.sql", "ALTER TABLE demo_a ADD COLUMN note text;"},
                                 {"0001_init.sql", "CREATE TABLE demo_a (id int PRIMARY KEY);"}});
  return set;
}

TEST_F(MigrationsTest, AppliesInVersionOrderAndRecordsEachFile) {
  absl::StatusOr<MigrationReport> report = Migrate(*pool_, TwoFiles());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->applied, (std::vector<int>{1, 2}));
  EXPECT_EQ(report->database_version, 2);
  EXPECT_EQ(Recorded("demo"), (std::vector<std::string>{"0001_init.sql", "0002_more.sql"}));
}

TEST_F(MigrationsTest, SecondRunAppliesNothing) {
  ASSERT_TRUE(Migrate(*pool_, TwoFiles()).ok());
  absl::StatusOr<MigrationReport> again = Migrate(*pool_, TwoFiles());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->applied.empty());
  EXPECT_EQ(again->database_version, 2);
}

TEST_F(MigrationsTest, AFailingFileLeavesNothingBehind) {
  const MigrationSet broken("broken", {{"0001_ok.sql", "CREATE TABLE broken_a (id int);"},
                                       {"0002_bad.sql", "CREATE TABLE broken_b (id nosuchtype);"}});
  absl::StatusOr<MigrationReport> report = Migrate(*pool_, broken);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kInternal);
  EXPECT_NE(report.status().message().find("migration broken/0002_bad.sql"), std::string::npos)
      << report.status();
  EXPECT_FALSE(TableExists("broken_a"));
  // Even the bookkeeping table, created by the same transaction, is gone.
  EXPECT_FALSE(TableExists("parley_schema_migrations"));
}

TEST_F(MigrationsTest, RefusesAFileChangedAfterItWasApplied) {
  ASSERT_TRUE(Migrate(*pool_, TwoFiles()).ok());
  const MigrationSet edited("demo", {{"0001_init.sql", "CREATE TABLE demo_a (id bigint);"}});
  absl::StatusOr<MigrationReport> report = Migrate(*pool_, edited);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(report.status().message().find("demo/0001_init.sql was changed"), std::string::npos)
      << report.status();
}

TEST_F(MigrationsTest, RefusesANewFileNumberedBelowAnAppliedOne) {
  const MigrationSet first("gap", {{"0002_b.sql", "CREATE TABLE gap_b (id int);"}});
  ASSERT_TRUE(Migrate(*pool_, first).ok());
  const MigrationSet late("gap", {{"0001_a.sql", "CREATE TABLE gap_a (id int);"},
                                  {"0002_b.sql", "CREATE TABLE gap_b (id int);"}});
  absl::StatusOr<MigrationReport> report = Migrate(*pool_, late);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(TableExists("gap_a"));
}

TEST_F(MigrationsTest, ReportsADatabaseAheadOfTheBinary) {
  ASSERT_TRUE(Migrate(*pool_, TwoFiles()).ok());
  const MigrationSet older("demo",
                           {{"0001_init.sql", "CREATE TABLE demo_a (id int PRIMARY KEY);"}});
  absl::StatusOr<MigrationReport> report = Migrate(*pool_, older);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->database_ahead);
}

TEST_F(MigrationsTest, ConcurrentRunnersApplyEachFileExactlyOnce) {
  // Each runner has its own pool, like replicas starting at the same moment. A file that is
  // not idempotent (plain CREATE TABLE) fails if it ever runs twice.
  const MigrationSet set("race", {{"0001_a.sql", "CREATE TABLE race_a (id int);"},
                                  {"0002_b.sql", "CREATE TABLE race_b (id int);"},
                                  {"0003_c.sql", "INSERT INTO race_a VALUES (1);"}});
  constexpr int kRunners = 8;
  std::vector<absl::StatusOr<MigrationReport>> reports(kRunners, absl::UnknownError("unset"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kRunners; ++i) {
    threads.emplace_back([&, i] {
      Pool pool({.uri = db_->uri(), .size = 1});
      reports[i] = Migrate(pool, set);
    });
  }
  for (auto& t : threads) t.join();
  int applied_total = 0;
  for (const auto& r : reports) {
    ASSERT_TRUE(r.ok()) << r.status();
    applied_total += static_cast<int>(r->applied.size());
  }
  EXPECT_EQ(applied_total, 3);
  EXPECT_EQ(Recorded("race").size(), 3u);
  absl::StatusOr<int64_t> rows =
      pool_->Transact<int64_t>([](pqxx::work& tx) -> absl::StatusOr<int64_t> {
        return tx.exec1("SELECT count(*) FROM race_a")[0].as<int64_t>();
      });
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(*rows, 1);
}

TEST(MigrationSetTest, SortsByVersionAndChecksumsContents) {
  const MigrationSet& set = TwoFiles();
  ASSERT_EQ(set.migrations().size(), 2u);
  EXPECT_EQ(set.migrations()[0].version, 1);
  EXPECT_EQ(set.migrations()[1].name, "0002_more.sql");
  EXPECT_EQ(set.migrations()[0].checksum, Fnv1aHex("CREATE TABLE demo_a (id int PRIMARY KEY);"));
  EXPECT_NE(Fnv1aHex("a"), Fnv1aHex("b"));
}

}  // namespace
}  // namespace parley::pg
