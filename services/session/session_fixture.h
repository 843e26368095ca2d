// The fixture of the session PostgreSQL tests: one fresh database per test binary with the
// session schema migrated, a pool, the stores, and builders of inbound batches. Every test uses
// its own customers and pages (Unique()), so tests share the database without seeing each
// other's rows.
#pragma once

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "libs/pg/pool.h"
#include "libs/testing/servers.h"
#include "parley/session/v1/session.pb.h"

namespace parley::session {

class SessionPgTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();

  // A string no other test uses, e.g. "u17".
  static std::string Unique(const std::string& prefix);

  // A batch of one customer text message on Messenger page `page` from `user`.
  static v1::IngestRequest TextBatch(const std::string& page, const std::string& user,
                                     const std::string& mid, const std::string& text,
                                     absl::Time provider_time = absl::FromUnixSeconds(1700000000));
  // Appends a customer text message event to `batch`.
  static v1::InboundEvent* AddText(v1::IngestRequest* batch, const std::string& user,
                                   const std::string& mid, const std::string& text,
                                   absl::Time provider_time = absl::FromUnixSeconds(1700000000));

  // The first value of a one-row query, as text.
  static std::string Query(const std::string& sql);
  static int Count(const std::string& sql) { return std::stoi(Query(sql)); }

  static pg::Pool& pool() { return *pool_; }
  static const std::string& uri() { return db_->uri(); }

 private:
  static testing::TestDatabase* db_;
  static pg::Pool* pool_;
};

}  // namespace parley::session
