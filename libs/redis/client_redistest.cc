// libs/redis's client against a real Redis: replies, errors, and reconnection after the server
// restarts.
#include "gtest/gtest.h"
#include "libs/redis/client.h"
#include "libs/testing/servers.h"

namespace parley::redis {
namespace {

class ClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto server = testing::RedisServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server).release();
  }
  static void TearDownTestSuite() { delete server_; }

  void SetUp() override {
    client_ = std::make_unique<Client>(*ParseAddress(server_->address()));
    ASSERT_TRUE(client_->Command({"FLUSHALL"}).ok());
  }

  static testing::RedisServer* server_;
  std::unique_ptr<Client> client_;
};

testing::RedisServer* ClientTest::server_ = nullptr;

TEST_F(ClientTest, ConvertsEachReplyType) {
  absl::StatusOr<Reply> set = client_->Command({"SET", "k", "v"});
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->type, Reply::Type::kStatus);
  EXPECT_EQ(set->str, "OK");

  absl::StatusOr<Reply> get = client_->Command({"GET", "k"});
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->type, Reply::Type::kString);
  EXPECT_EQ(get->str, "v");

  absl::StatusOr<Reply> missing = client_->Command({"GET", "nothing"});
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->type, Reply::Type::kNil);

  absl::StatusOr<Reply> incr = client_->Command({"INCRBY", "n", "41"});
  ASSERT_TRUE(incr.ok());
  EXPECT_EQ(incr->type, Reply::Type::kInteger);
  EXPECT_EQ(incr->integer, 41);

  ASSERT_TRUE(client_->Command({"RPUSH", "l", "a", "b"}).ok());
  absl::StatusOr<Reply> range = client_->Command({"LRANGE", "l", "0", "-1"});
  ASSERT_TRUE(range.ok());
  ASSERT_EQ(range->type, Reply::Type::kArray);
  ASSERT_EQ(range->elements.size(), 2u);
  EXPECT_EQ(range->elements[1].str, "b");
}

TEST_F(ClientTest, ValuesAreBinarySafe) {
  const std::string value("a\0b\r\n$3\r\n", 10);
  ASSERT_TRUE(client_->Command({"SET", "bin", value}).ok());
  absl::StatusOr<Reply> get = client_->Command({"GET", "bin"});
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->str, value);
}

TEST_F(ClientTest, ErrorRepliesBecomeSpecificCodes) {
  ASSERT_TRUE(client_->Command({"SET", "s", "x"}).ok());
  EXPECT_EQ(client_->Command({"LPUSH", "s", "y"}).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(client_->Command({"EVALSHA", std::string(40, 'a'), "0"}).status().code(),
            absl::StatusCode::kNotFound);
  absl::Status unknown = client_->Command({"NOSUCHCOMMAND"}).status();
  EXPECT_EQ(unknown.code(), absl::StatusCode::kInternal);
  EXPECT_NE(unknown.message().find("unknown command"), absl::string_view::npos) << unknown;
  // The connection is still usable after error replies.
  EXPECT_TRUE(client_->Ping().ok());
}

TEST_F(ClientTest, ReconnectsAfterTheServerRestarts) {
  ASSERT_TRUE(client_->Ping().ok());
  ASSERT_TRUE(server_->Stop().ok());
  absl::Status down = client_->Command({"SET", "k", "v"}).status();
  EXPECT_EQ(down.code(), absl::StatusCode::kUnavailable) << down;
  EXPECT_EQ(client_->Ping().code(), absl::StatusCode::kUnavailable);

  ASSERT_TRUE(server_->Resume().ok());
  EXPECT_TRUE(client_->Ping().ok());
  absl::StatusOr<Reply> set = client_->Command({"SET", "k", "after"});
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(client_->Command({"GET", "k"})->str, "after");
}

TEST(ClientUnreachableTest, NamesTheAddress) {
  Client client({.host = "127.0.0.1", .port = testing::PickFreePort()});
  absl::Status status = client.Ping();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(status.message().find("127.0.0.1:"), absl::string_view::npos) << status;
}

TEST(ParseAddressTest, AcceptsHostPortAndRejectsTheRest) {
  absl::StatusOr<ClientOptions> ok = ParseAddress("redis.parley.svc:6380");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->host, "redis.parley.svc");
  EXPECT_EQ(ok->port, 6380);
  for (const char* bad : {"redis", ":6379", "host:", "host:0", "host:70000", "host:abc"}) {
    EXPECT_EQ(ParseAddress(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace parley::redis
