// parley::http::Server over real sockets on 127.0.0.1, driven by a raw client so that tests
// control every byte (half headers, chunked bodies, malformed lines).
#include "libs/http/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace parley::http {
namespace {

struct RawResponse {
  int status = 0;
  Headers headers;
  std::string body;
};

// A blocking client on one TCP connection; every read gives up after 10 s so that a broken
// server fails the test instead of hanging it.
class Client {
 public:
  explicit Client(int port) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    timeval tv{.tv_sec = 10, .tv_usec = 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~Client() { close(fd_); }

  bool connected() const { return connected_; }

  void Send(absl::string_view bytes) {
    ASSERT_EQ(send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  }

  // Reads one response whose body has a Content-Length; status 0 when the connection closed.
  RawResponse Read() {
    RawResponse r;
    size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return r;
    }
    std::vector<std::string> lines = absl::StrSplit(buffer_.substr(0, end), "\r\n");
    buffer_.erase(0, end + 4);
    std::vector<std::string> status_line = absl::StrSplit(lines[0], ' ');
    if (status_line.size() < 2 || !absl::SimpleAtoi(status_line[1], &r.status)) return r;
    for (size_t i = 1; i < lines.size(); ++i) {
      const size_t colon = lines[i].find(':');
      r.headers.Add(lines[i].substr(0, colon),
                    std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1))));
    }
    size_t length = 0;
    if (!absl::SimpleAtoi(r.headers.Get("Content-Length"), &length)) return r;
    while (buffer_.size() < length) {
      if (!Fill()) return RawResponse{};
    }
    r.body = buffer_.substr(0, length);
    buffer_.erase(0, length);
    return r;
  }

  // Whether the server closed the connection without sending anything more.
  bool ClosedByServer() { return buffer_.empty() && !Fill(); }

 private:
  bool Fill() {
    char chunk[4096];
    const ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  int fd_;
  bool connected_ = false;
  std::string buffer_;
};

std::string Get(absl::string_view path, absl::string_view extra_headers = "") {
  return absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: test\r\n", extra_headers, "\r\n");
}

std::string Post(absl::string_view path, absl::string_view body) {
  return absl::StrCat("POST ", path, " HTTP/1.1\r\nHost: test\r\nContent-Length: ", body.size(),
                      "\r\n\r\n", body);
}

struct Observed {
  std::string method;
  std::string route;
  int status;
};

class ServerTest : public ::testing::Test {
 protected:
  // A server with /hello (GET), /echo (POST; answers the body and records the request),
  // /boom (GET; throws), on port 0.
  void StartServer(Options options = {}) {
    Router router;
    router.Get("/hello", [](const Request&) { return Text(200, "hi\n"); });
    router.Post("/echo", [this](const Request& request) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        last_request_ = request;
      }
      Response r{.status = 201, .content_type = "application/octet-stream", .body = request.body};
      r.headers.Add("X-Echo", "yes");
      return r;
    });
    router.Get("/boom", [](const Request&) -> Response { throw std::runtime_error("kaboom"); });
    for (auto& [path, handler] : extra_routes_) router.Get(path, std::move(handler));
    for (auto& [path, handler] : blocking_routes_) {
      router.Get(path, std::move(handler), Runs::kBlocking);
    }
    options.address = "127.0.0.1:0";
    options.observer = [this](absl::string_view method, absl::string_view route, int status,
                              double) {
      std::lock_guard<std::mutex> lock(mu_);
      observed_.push_back({std::string(method), std::string(route), status});
    };
    server_ = std::make_unique<Server>(std::move(options), std::move(router));
    ASSERT_TRUE(server_->Start().ok());
    ASSERT_GT(server_->port(), 0);
  }

  int port() const { return server_->port(); }

  std::vector<std::pair<std::string, Handler>> extra_routes_;
  std::vector<std::pair<std::string, Handler>> blocking_routes_;  // Runs::kBlocking
  std::mutex mu_;
  Request last_request_;
  std::vector<Observed> observed_;
  std::unique_ptr<Server> server_;  // last: stopped before what its handlers use
};

TEST_F(ServerTest, RoutesGetAndPost) {
  StartServer();
  Client c(port());
  ASSERT_TRUE(c.connected());
  c.Send(Get("/hello"));
  RawResponse r = c.Read();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hi\n");
  EXPECT_EQ(r.headers.Get("content-type"), "text/plain; charset=utf-8");

  c.Send(Post("/echo?a=1&b=%20x", "payload"));
  r = c.Read();
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body, "payload");
  EXPECT_EQ(r.headers.Get("Content-Type"), "application/octet-stream");
  EXPECT_EQ(r.headers.Get("X-Echo"), "yes");
  std::lock_guard<std::mutex> lock(mu_);
  EXPECT_EQ(last_request_.method, "POST");
  EXPECT_EQ(last_request_.path, "/echo");
  EXPECT_EQ(last_request_.query, "a=1&b=%20x");
  EXPECT_EQ(last_request_.headers.Get("HOST"), "test");
  EXPECT_TRUE(absl::StartsWith(last_request_.peer, "127.0.0.1:")) << last_request_.peer;
}

TEST_F(ServerTest, UnknownPathIs404AndWrongMethodIs405WithAllow) {
  StartServer();
  Client c(port());
  c.Send(Get("/nope"));
  EXPECT_EQ(c.Read().status, 404);
  c.Send(Get("/echo"));
  const RawResponse r = c.Read();
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers.Get("Allow"), "POST");
}

TEST_F(ServerTest, KeepsRawBodyBytesExactly) {
  StartServer();
  std::string body;
  for (int i = 0; i < 256; ++i) body.push_back(static_cast<char>(i));  // NUL, invalid UTF-8
  body += std::string("\xc3\x28\xed\xa0\x80\0\0end", 10);
  Client c(port());
  c.Send(Post("/echo", body));
  const RawResponse r = c.Read();
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body, body);
  std::lock_guard<std::mutex> lock(mu_);
  EXPECT_EQ(last_request_.body, body);
}

TEST_F(ServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  StartServer();
  Client c(port());
  for (int i = 0; i < 3; ++i) {
    c.Send(Get("/hello"));
    const RawResponse r = c.Read();
    EXPECT_EQ(r.status, 200);
    EXPECT_NE(r.headers.Get("Connection"), "close");
  }
  // Pipelined: both requests in one write, answered in order.
  c.Send(Get("/hello") + Post("/echo", "second"));
  EXPECT_EQ(c.Read().body, "hi\n");
  EXPECT_EQ(c.Read().body, "second");
}

TEST_F(ServerTest, Http10ClosesAfterTheAnswer) {
  StartServer();
  Client c(port());
  c.Send("GET /hello HTTP/1.0\r\n\r\n");
  EXPECT_EQ(c.Read().status, 200);
  EXPECT_TRUE(c.ClosedByServer());
}

TEST_F(ServerTest, ContentLengthOverTheLimitIs413) {
  StartServer({.max_body_bytes = 1024});
  Client c(port());
  c.Send("POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 1025\r\n\r\n");
  const RawResponse r = c.Read();
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.headers.Get("Connection"), "close");
  EXPECT_TRUE(c.ClosedByServer());

  Client ok(port());
  ok.Send(Post("/echo", std::string(1024, 'x')));
  EXPECT_EQ(ok.Read().status, 201);
}

TEST_F(ServerTest, ChunkedBodyOverTheLimitIs413) {
  StartServer({.max_body_bytes = 1024});
  Client c(port());
  const std::string chunk(800, 'x');
  c.Send(absl::StrCat("POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n",
                      "320\r\n", chunk, "\r\n", "320\r\n", chunk, "\r\n0\r\n\r\n"));
  EXPECT_EQ(c.Read().status, 413);
  EXPECT_TRUE(c.ClosedByServer());

  Client ok(port());
  ok.Send(absl::StrCat("POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n",
                       "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"));
  const RawResponse r = ok.Read();
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body, "abcde");
}

TEST_F(ServerTest, ExpectContinueGetsAnInterimResponse) {
  StartServer();
  Client c(port());
  c.Send("POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_EQ(c.Read().status, 100);
  c.Send("data");
  const RawResponse r = c.Read();
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body, "data");
}

TEST_F(ServerTest, MalformedRequestsAre400) {
  StartServer();
  for (const char* request : {
           "NOT HTTP AT ALL\r\n\r\n",
           "GET /hello HTTP/1.1\r\nHost test\r\n\r\n",
           "POST /echo HTTP/1.1\r\nContent-Length: twelve\r\n\r\n",
           "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
       }) {
    SCOPED_TRACE(request);
    Client c(port());
    c.Send(request);
    EXPECT_EQ(c.Read().status, 400);
    EXPECT_TRUE(c.ClosedByServer());
  }
}

TEST_F(ServerTest, HeaderOverTheLimitIs431) {
  StartServer();
  Client c(port());
  c.Send(Get("/hello", absl::StrCat("X-Big: ", std::string(20000, 'a'), "\r\n")));
  EXPECT_EQ(c.Read().status, 431);
}

TEST_F(ServerTest, ClientThatSendsHalfAHeaderIsDisconnected) {
  StartServer({.header_timeout = absl::Milliseconds(200)});
  Client c(port());
  c.Send("GET /hello HTTP/1.1\r\nHost: te");
  EXPECT_TRUE(c.ClosedByServer());
}

TEST_F(ServerTest, SlowClientsDoNotHoldTheThreads) {
  StartServer({.threads = 1, .header_timeout = absl::Minutes(5)});
  std::vector<std::unique_ptr<Client>> slow;
  for (int i = 0; i < 8; ++i) {
    slow.push_back(std::make_unique<Client>(port()));
    slow.back()->Send("POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 10\r\n\r\nabc");
  }
  Client c(port());
  c.Send(Get("/hello"));
  EXPECT_EQ(c.Read().status, 200);
}

// Webhooks wait for their commit on the handler threads; a probe on the one connection thread
// is answered while every handler thread is taken and more blocking requests queue behind them.
TEST_F(ServerTest, BlockingHandlersDoNotHoldTheConnectionThreads) {
  std::atomic<int> entered{0};
  absl::Notification release;
  blocking_routes_.emplace_back("/wait", [&](const Request&) {
    ++entered;
    release.WaitForNotification();
    return Text(200, "done\n");
  });
  StartServer({.threads = 1, .handler_threads = 2});
  std::vector<std::unique_ptr<Client>> waiting;
  for (int i = 0; i < 3; ++i) {
    waiting.push_back(std::make_unique<Client>(port()));
    waiting.back()->Send(Get("/wait"));
  }
  // (A server that ran them on the connection thread would never start the second one.)
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  while (entered.load() < 2 && absl::Now() < give_up) std::this_thread::yield();
  ASSERT_EQ(entered.load(), 2);
  Client probe(port());
  probe.Send(Get("/hello"));
  EXPECT_EQ(probe.Read().status, 200);
  EXPECT_EQ(entered.load(), 2);  // the third still waits for a handler thread
  release.Notify();
  for (auto& c : waiting) EXPECT_EQ(c->Read().body, "done\n");
  EXPECT_EQ(entered.load(), 3);
}

TEST_F(ServerTest, HandlerExceptionIs500AndTheServerGoesOn) {
  StartServer();
  Client c(port());
  c.Send(Get("/boom"));
  const RawResponse r = c.Read();
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body, "internal error\n");
  c.Send(Get("/hello"));
  EXPECT_EQ(c.Read().status, 200);
}

TEST_F(ServerTest, ObserverSeesMethodRouteAndStatus) {
  StartServer();
  Client c(port());
  c.Send(Get("/hello"));
  c.Read();
  c.Send(Get("/secret/123"));
  c.Read();
  c.Send(Get("/echo"));
  c.Read();
  server_->Shutdown(absl::Seconds(10));  // the observer runs after the write: wait for it
  std::lock_guard<std::mutex> lock(mu_);
  ASSERT_EQ(observed_.size(), 3u);
  EXPECT_EQ(observed_[0].method, "GET");
  EXPECT_EQ(observed_[0].route, "/hello");
  EXPECT_EQ(observed_[0].status, 200);
  EXPECT_EQ(observed_[1].route, "unmatched");  // unknown paths never become labels
  EXPECT_EQ(observed_[1].status, 404);
  EXPECT_EQ(observed_[2].route, "/echo");
  EXPECT_EQ(observed_[2].status, 405);
}

TEST_F(ServerTest, ShutdownLetsAnInFlightRequestFinish) {
  absl::Notification entered;
  absl::Notification release;
  extra_routes_.emplace_back("/slow", [&](const Request&) {
    entered.Notify();
    release.WaitForNotification();
    return Text(200, "finished\n");
  });
  StartServer();
  Client c(port());
  c.Send(Get("/slow"));
  entered.WaitForNotification();

  std::thread stopper([this] { server_->Shutdown(absl::Seconds(30)); });
  // Shutdown stops accepting first: wait for that before letting the handler finish.
  while (Client(port()).connected()) std::this_thread::yield();
  release.Notify();
  const RawResponse r = c.Read();
  stopper.join();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "finished\n");
  EXPECT_EQ(r.headers.Get("Connection"), "close");
}

TEST_F(ServerTest, ShutdownClosesIdleAndHalfReadConnections) {
  StartServer();
  Client idle(port());
  idle.Send(Get("/hello"));
  EXPECT_EQ(idle.Read().status, 200);
  Client half(port());
  half.Send("POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 10\r\n\r\nabc");
  server_->Shutdown(absl::Milliseconds(100));
  EXPECT_TRUE(idle.ClosedByServer());
  EXPECT_TRUE(half.ClosedByServer());
  EXPECT_FALSE(Client(port()).connected());
}

TEST_F(ServerTest, StartFailsWhenThePortIsTaken) {
  StartServer();
  Server second({.address = absl::StrCat("127.0.0.1:", port())}, Router());
  const absl::Status s = second.Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "cannot listen on 127.0.0.1:")) << s;
}

TEST_F(ServerTest, StartRejectsAnAddressWithoutPort) {
  Server server({.address = "127.0.0.1"}, Router());
  EXPECT_EQ(server.Start().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace parley::http
