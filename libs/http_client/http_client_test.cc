// parley::http_client::Client against a real parley::http::Server on 127.0.0.1 (port 0).
#include "libs/http_client/http_client.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "libs/http/server.h"

namespace parley::http_client {
namespace {

class HttpClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    http::Router router;
    router.Get("/hello", [](const http::Request&) {
      http::Response r = http::Text(200, "hello");
      r.headers.Add("X-Answer", "42");
      return r;
    });
    router.Post("/echo", [this](const http::Request& req) {
      std::lock_guard<std::mutex> lock(mu_);
      last_ = req;
      peers_.push_back(req.peer);
      return http::Text(201, req.body);
    });
    router.Get("/missing", [](const http::Request&) { return http::Text(404, "nope"); });
    router.Get("/slow", [this](const http::Request&) {
      release_.WaitForNotificationWithTimeout(absl::Seconds(10));
      return http::Text(200, "late");
    });
    router.Get("/big",
               [](const http::Request&) { return http::Text(200, std::string(4096, 'x')); });
    server_ =
        std::make_unique<http::Server>(http::Options{.address = "127.0.0.1:0"}, std::move(router));
    ASSERT_TRUE(server_->Start().ok());
    base_ = absl::StrCat("http://127.0.0.1:", server_->port());
  }
  void TearDown() override {
    release_.Notify();
    server_->Shutdown(absl::Seconds(5));
  }

  std::unique_ptr<http::Server> server_;
  std::string base_;
  std::mutex mu_;
  http::Request last_;
  std::vector<std::string> peers_;
  absl::Notification release_;
};

TEST_F(HttpClientTest, GetReturnsStatusHeadersAndBody) {
  Client client;
  absl::StatusOr<Response> r = client.Send({.url = base_ + "/hello"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello");
  EXPECT_EQ(r->Header("x-answer"), "42");
  EXPECT_EQ(r->Header("content-type"), "text/plain; charset=utf-8");
}

TEST_F(HttpClientTest, PostSendsBodyHeadersAndBasicAuth) {
  Client client;
  std::string form = FormEncode({{"To", "whatsapp:+31612345678"}, {"Body", "a b&c=ä"}});
  absl::StatusOr<Response> r =
      client.Send({.method = "POST",
                   .url = base_ + "/echo",
                   .headers = {{"Content-Type", "application/x-www-form-urlencoded"}},
                   .body = form,
                   .basic_auth = BasicAuth{"ACxyz", "secret"}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->body, form);
  std::lock_guard<std::mutex> lock(mu_);
  EXPECT_EQ(last_.headers.Get("Content-Type"), "application/x-www-form-urlencoded");
  EXPECT_EQ(last_.headers.Get("Authorization"), "Basic QUN4eXo6c2VjcmV0");  // ACxyz:secret
  EXPECT_FALSE(last_.headers.Has("Expect"));
  EXPECT_EQ(last_.body, "To=whatsapp%3A%2B31612345678&Body=a%20b%26c%3D%C3%A4");
}

TEST_F(HttpClientTest, ReusesTheConnectionBetweenCalls) {
  Client client;
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<Response> r =
        client.Send({.method = "POST", .url = base_ + "/echo", .body = absl::StrCat(i)});
    ASSERT_TRUE(r.ok()) << r.status();
  }
  std::lock_guard<std::mutex> lock(mu_);
  ASSERT_EQ(peers_.size(), 3u);
  EXPECT_EQ(peers_[0], peers_[1]);  // same client address:port: one kept-alive connection
  EXPECT_EQ(peers_[1], peers_[2]);
}

TEST_F(HttpClientTest, HttpErrorsAreResponsesNotStatuses) {
  Client client;
  absl::StatusOr<Response> r = client.Send({.url = base_ + "/missing"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->body, "nope");
}

TEST_F(HttpClientTest, NoAnswerInTimeIsDeadlineExceeded) {
  Client client;
  absl::StatusOr<Response> r =
      client.Send({.url = base_ + "/slow", .timeout = absl::Milliseconds(300)});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded) << r.status();
}

TEST_F(HttpClientTest, RefusedConnectionIsUnavailable) {
  // A port that is bound but not listening refuses connections.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  Client client;
  absl::StatusOr<Response> r =
      client.Send({.url = absl::StrCat("http://127.0.0.1:", ntohs(addr.sin_port), "/x")});
  close(fd);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
}

TEST_F(HttpClientTest, OversizedAnswerIsResourceExhausted) {
  Client client;
  absl::StatusOr<Response> r = client.Send({.url = base_ + "/big", .max_response_bytes = 1000});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted) << r.status();
  absl::StatusOr<Response> ok = client.Send({.url = base_ + "/big"});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->body.size(), 4096u);
}

TEST_F(HttpClientTest, RejectsUrlsThatAreNotHttp) {
  Client client;
  EXPECT_EQ(client.Send({.url = "file:///etc/passwd"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client.Send({.url = "ftp://example.com/"}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(FormEncodeTest, EscapesEverythingButUnreserved) {
  EXPECT_EQ(FormEncode({{"a", "1"}, {"MediaUrl", "https://x/y?z=1"}, {"MediaUrl", "~._-"}}),
            "a=1&MediaUrl=https%3A%2F%2Fx%2Fy%3Fz%3D1&MediaUrl=~._-");
  EXPECT_EQ(UrlEscape(""), "");
}

}  // namespace
}  // namespace parley::http_client

namespace parley::http_client {
namespace {

TEST(UrlTest, ParsesAndResolves) {
  absl::StatusOr<UrlParts> p = ParseUrl("https://API.Twilio.com/2010-04-01/x?y=1");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->scheme, "https");
  EXPECT_EQ(p->host, "api.twilio.com");
  EXPECT_EQ(p->port, 443);
  EXPECT_EQ(ParseUrl("http://127.0.0.1:8090/a")->port, 8090);
  EXPECT_FALSE(ParseUrl("not a url").ok());
  EXPECT_EQ(*ResolveUrl("https://a.example/x/y", "/z?q=1"), "https://a.example/z?q=1");
  EXPECT_EQ(*ResolveUrl("https://a.example/x/y", "https://b.example/w"), "https://b.example/w");
}

}  // namespace
}  // namespace parley::http_client
