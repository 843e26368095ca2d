#include "services/ingress/ingest_batcher.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"

namespace parley::ingress {
namespace {

namespace sv1 = session::v1;
namespace common = parley::common::v1;

// Session's Ingest over real gRPC: records every call, holds calls while the gate is closed,
// answers DUPLICATE for dedup keys starting with "dup", and INVALID_ARGUMENT for a call that
// carries a key starting with "bad", or `next_error` when set.
class GatedIngest final : public sv1::IngestService::Service {
 public:
  grpc::Status Ingest(grpc::ServerContext*, const sv1::IngestRequest* request,
                      sv1::IngestResponse* response) override {
    std::unique_lock lock(mu_);
    calls_.push_back(*request);
    changed_.notify_all();
    changed_.wait(lock, [this] { return open_; });
    if (!next_error.ok()) return next_error;
    for (int i = 0; i < request->events_size(); ++i) {
      const std::string& key = request->events(i).dedup_key();
      if (absl::StartsWith(key, "bad")) {
        return {grpc::StatusCode::INVALID_ARGUMENT, absl::StrCat("events[", i, "]: bad")};
      }
      sv1::IngestEventResult* r = response->add_results();
      r->set_event_index(i);
      r->set_outcome(absl::StartsWith(key, "dup") ? sv1::INGEST_OUTCOME_DUPLICATE
                                                  : sv1::INGEST_OUTCOME_STORED);
      r->set_message_id(absl::StrCat("message-of-", key));
    }
    return grpc::Status::OK;
  }

  void Close() {
    std::lock_guard lock(mu_);
    open_ = false;
  }
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    changed_.notify_all();
  }
  void WaitForCalls(size_t n) {
    std::unique_lock lock(mu_);
    changed_.wait(lock, [&] { return calls_.size() >= n; });
  }
  std::vector<sv1::IngestRequest> Calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }

  grpc::Status next_error = grpc::Status::OK;

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  bool open_ = true;
  std::vector<sv1::IngestRequest> calls_;
};

sv1::IngestRequest Batch(common::Channel channel, const std::string& endpoint,
                         const std::vector<std::string>& keys) {
  sv1::IngestRequest b;
  b.set_batch_id(absl::StrCat("batch-", keys.front()));
  b.set_channel(channel);
  sv1::EndpointSnapshot* snap = b.add_endpoints();
  snap->mutable_endpoint()->set_channel(channel);
  snap->mutable_endpoint()->set_id(endpoint);
  for (const std::string& key : keys) {
    sv1::InboundEvent* e = b.add_events();
    e->set_dedup_key(key);
    *e->mutable_endpoint() = snap->endpoint();
  }
  return b;
}

struct Answer {
  grpc::Status status;
  sv1::IngestResponse response;
};

class IngestBatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&session_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = sv1::IngestService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
    batcher_ = std::make_unique<IngestBatcher>(
        stub_, IngestBatcherOptions{.max_calls_in_flight = 1, .max_events_per_call = 6});
  }
  void TearDown() override {
    session_.Open();
    for (std::thread& t : threads_) t.join();
    server_->Shutdown();
  }

  // Sends `batch` from a thread of its own; its answer lands in `*answer`.
  void SendAsync(const sv1::IngestRequest& batch, Answer* answer) {
    threads_.emplace_back(
        [this, batch, answer] { answer->status = batcher_->Ingest(batch, &answer->response); });
  }

  // Holds session on a first call, lets `batches` pile up behind it in order, then opens the gate
  // and waits for every answer. Returns the calls session saw after the first (whose answer is not
  // looked at).
  std::vector<sv1::IngestRequest> SendBehindAHeldCall(
      const std::vector<sv1::IngestRequest>& batches, std::vector<Answer>& answers) {
    session_.Close();
    Answer first;
    SendAsync(Batch(common::CHANNEL_MESSENGER, "page-0", {"first"}), &first);
    session_.WaitForCalls(1);
    answers.resize(batches.size());
    // One at a time, so that they wait in this order.
    for (size_t i = 0; i < batches.size(); ++i) {
      SendAsync(batches[i], &answers[i]);
      while (batcher_->Waiting() < static_cast<int>(i + 1)) std::this_thread::yield();
    }
    session_.Open();
    for (std::thread& t : threads_) t.join();
    threads_.clear();
    std::vector<sv1::IngestRequest> calls = session_.Calls();
    calls.erase(calls.begin());
    return calls;
  }

  GatedIngest session_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<sv1::IngestService::Stub> stub_;
  std::unique_ptr<IngestBatcher> batcher_;
  std::vector<std::thread> threads_;
};

TEST_F(IngestBatcherTest, ALoneBatchGoesAsItIs) {
  sv1::IngestResponse response;
  const sv1::IngestRequest batch = Batch(common::CHANNEL_MESSENGER, "page-1", {"a", "dup-b"});
  ASSERT_TRUE(batcher_->Ingest(batch, &response).ok());
  ASSERT_EQ(session_.Calls().size(), 1u);
  EXPECT_EQ(session_.Calls()[0].SerializeAsString(), batch.SerializeAsString());
  ASSERT_EQ(response.results_size(), 2);
  EXPECT_EQ(response.results(1).outcome(), sv1::INGEST_OUTCOME_DUPLICATE);
}

TEST_F(IngestBatcherTest, WaitingBatchesShareOneCallAndEachGetsItsOwnResults) {
  std::vector<Answer> answers;
  const std::vector<sv1::IngestRequest> calls =
      SendBehindAHeldCall({Batch(common::CHANNEL_MESSENGER, "page-1", {"a1", "dup-a2"}),
                           Batch(common::CHANNEL_MESSENGER, "page-2", {"b1"}),
                           Batch(common::CHANNEL_MESSENGER, "page-1", {"dup-c1", "c2", "c3"})},
                          answers);
  ASSERT_EQ(calls.size(), 1u) << "the three waiting batches go in one call";
  EXPECT_EQ(calls[0].events_size(), 6);
  EXPECT_EQ(calls[0].endpoints_size(), 2) << "each endpoint's settings once";
  // Each batch gets its results only, indexed within itself, whatever the order they went in.
  const std::vector<std::vector<std::pair<std::string, sv1::IngestOutcome>>> want = {
      {{"a1", sv1::INGEST_OUTCOME_STORED}, {"dup-a2", sv1::INGEST_OUTCOME_DUPLICATE}},
      {{"b1", sv1::INGEST_OUTCOME_STORED}},
      {{"dup-c1", sv1::INGEST_OUTCOME_DUPLICATE},
       {"c2", sv1::INGEST_OUTCOME_STORED},
       {"c3", sv1::INGEST_OUTCOME_STORED}}};
  for (size_t i = 0; i < answers.size(); ++i) {
    ASSERT_TRUE(answers[i].status.ok()) << i;
    ASSERT_EQ(answers[i].response.results_size(), static_cast<int>(want[i].size())) << i;
    for (size_t j = 0; j < want[i].size(); ++j) {
      const sv1::IngestEventResult& r = answers[i].response.results(static_cast<int>(j));
      EXPECT_EQ(r.event_index(), static_cast<int>(j));
      EXPECT_EQ(r.outcome(), want[i][j].second);
      EXPECT_EQ(r.message_id(), "message-of-" + want[i][j].first);
    }
  }
}

TEST_F(IngestBatcherTest, ACallCarriesOneChannelAndAtMostTheEventLimit) {
  std::vector<Answer> answers;
  const std::vector<sv1::IngestRequest> calls =
      SendBehindAHeldCall({Batch(common::CHANNEL_MESSENGER, "page-1", {"a1", "a2", "a3", "a4"}),
                           Batch(common::CHANNEL_WHATSAPP, "+14123456789", {"w1"}),
                           Batch(common::CHANNEL_MESSENGER, "page-1", {"b1", "b2", "b3"}),
                           Batch(common::CHANNEL_MESSENGER, "page-1", {"c1", "c2"})},
                          answers);
  for (const Answer& a : answers) EXPECT_TRUE(a.status.ok()) << a.status.error_message();
  // Limit 6: a (4) + c (2) go together; b (3) would exceed it; w is another channel.
  ASSERT_EQ(calls.size(), 3u);
  for (const sv1::IngestRequest& call : calls) {
    EXPECT_LE(call.events_size(), 6);
    for (const sv1::InboundEvent& e : call.events()) {
      EXPECT_EQ(e.endpoint().channel(), call.channel());
    }
  }
  EXPECT_EQ(calls[0].events_size(), 6);
  EXPECT_EQ(calls[1].channel(), common::CHANNEL_WHATSAPP);
  EXPECT_EQ(calls[2].events_size(), 3);
}

TEST_F(IngestBatcherTest, ABadBatchFailsAloneAfterItsSharedCallIsRejected) {
  std::vector<Answer> answers;
  const std::vector<sv1::IngestRequest> calls =
      SendBehindAHeldCall({Batch(common::CHANNEL_MESSENGER, "page-1", {"a1"}),
                           Batch(common::CHANNEL_MESSENGER, "page-1", {"bad-b1"}),
                           Batch(common::CHANNEL_MESSENGER, "page-1", {"c1"})},
                          answers);
  ASSERT_EQ(calls.size(), 4u) << "one shared call, rejected, then each batch alone";
  EXPECT_EQ(calls[0].events_size(), 3);
  EXPECT_TRUE(answers[0].status.ok());
  EXPECT_EQ(answers[1].status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(answers[2].status.ok());
  ASSERT_EQ(answers[2].response.results_size(), 1);
  EXPECT_EQ(answers[2].response.results(0).message_id(), "message-of-c1");
}

// A batch's deadline runs from when it is handed over, not from when its call leaves: one that
// waited behind a call that used its whole deadline fails at its own deadline, so the provider
// gets its 503 in time, rather than being sent with a fresh deadline of its own. (The gate
// opens after the second batch's deadline: a fresh deadline would have seen it answered OK.)
TEST_F(IngestBatcherTest, TimeSpentWaitingCountsAgainstTheDeadline) {
  batcher_ = std::make_unique<IngestBatcher>(
      stub_,
      IngestBatcherOptions{
          .max_calls_in_flight = 1, .max_events_per_call = 6, .deadline = absl::Milliseconds(300)});
  session_.Close();
  Answer first;
  Answer second;
  SendAsync(Batch(common::CHANNEL_MESSENGER, "page-0", {"first"}), &first);
  session_.WaitForCalls(1);
  SendAsync(Batch(common::CHANNEL_MESSENGER, "page-1", {"second"}), &second);
  while (batcher_->Waiting() < 1) std::this_thread::yield();
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // past the second's deadline
  session_.Open();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  EXPECT_EQ(first.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(second.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
      << second.status.error_message();
}

TEST_F(IngestBatcherTest, AnUnavailableSessionFailsEveryBatchOfTheCall) {
  session_.next_error = grpc::Status(grpc::StatusCode::UNAVAILABLE, "PostgreSQL is down");
  std::vector<Answer> answers;
  const std::vector<sv1::IngestRequest> calls =
      SendBehindAHeldCall({Batch(common::CHANNEL_MESSENGER, "page-1", {"a1"}),
                           Batch(common::CHANNEL_MESSENGER, "page-1", {"b1"})},
                          answers);
  EXPECT_EQ(calls.size(), 1u) << "not retried here: the providers retry the webhooks";
  for (const Answer& a : answers) {
    EXPECT_EQ(a.status.error_code(), grpc::StatusCode::UNAVAILABLE);
    EXPECT_EQ(a.response.results_size(), 0);
  }
}

}  // namespace
}  // namespace parley::ingress
