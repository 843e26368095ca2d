// session_ingest_bench: concurrent gRPC clients, each sending single-message Ingest batches
// (one new message per call, like one Messenger webhook) to a running parley-session, for a
// fixed time. Prints one line: "ingest msgs_per_sec=<n> p50_ms=<x> p99_ms=<y> calls=<n>
// errors=<n>". Run by bench/run_session_ingest.sh beside pgbench.
//   session_ingest_bench <host:port> [clients=16] [seconds=10] [users_per_client=50] [threads=2]
// Like pgbench's clients, each client has its own connection and one call in flight at a time
// (the next starts when the answer arrives), and a few threads drive all of them (pgbench -j 2:
// 2 threads): the asynchronous API, so that the load generator does not spend a thread and its
// context switches per client on the cores it shares with the server.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "parley/session/v1/session.grpc.pb.h"

namespace {

using parley::session::v1::IngestRequest;
using parley::session::v1::IngestResponse;
using parley::session::v1::IngestService;
using Clock = std::chrono::steady_clock;

IngestRequest Message(int client, int64_t n, int users, const std::string& run) {
  IngestRequest r;
  r.set_channel(parley::common::v1::CHANNEL_MESSENGER);
  auto* e = r.add_endpoints();
  e->mutable_endpoint()->set_channel(parley::common::v1::CHANNEL_MESSENGER);
  e->mutable_endpoint()->set_id("100200300400");
  e->mutable_settings()->set_language("en");
  auto* ev = r.add_events();
  const std::string mid = absl::StrCat("m.", run, ".", client, ".", n);
  ev->set_dedup_key("msg:" + mid);
  *ev->mutable_endpoint() = e->endpoint();
  ev->mutable_customer()->set_user_id(absl::StrCat(run, client, "0", n % users));
  ev->mutable_provider_time()->set_seconds(1700000000 + n);
  ev->mutable_message()->set_provider_message_id(mid);
  ev->mutable_message()->mutable_content()->add_parts()->set_text(
      "Hello, my order has not arrived yet, can you check the shipping status?");
  return r;
}

// Waits until the server answers an Ingest (it may still be migrating).
bool WaitReady(IngestService::Stub& stub, const std::string& run) {
  for (int i = 0; i < 300; ++i) {
    grpc::ClientContext ctx;
    IngestResponse resp;
    if (stub.Ingest(&ctx, Message(-1, i, 1, run), &resp).ok()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

// One client: its connection and its call in flight.
struct Client {
  int id = 0;
  std::unique_ptr<IngestService::Stub> stub;
  int64_t n = 0;
  std::unique_ptr<grpc::ClientContext> ctx;
  IngestRequest request;
  IngestResponse response;
  grpc::Status status;
  std::unique_ptr<grpc::ClientAsyncResponseReader<IngestResponse>> call;
  Clock::time_point sent;
  std::vector<double> latencies;
  int64_t errors = 0;

  void Start(grpc::CompletionQueue& cq, int users, const std::string& run) {
    request = Message(id, n++, users, run);
    response.Clear();
    ctx = std::make_unique<grpc::ClientContext>();
    sent = Clock::now();
    call = stub->AsyncIngest(ctx.get(), request, &cq);
    call->Finish(&response, &status, this);
  }

  void Done(bool ok) {
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - sent).count();
    if (!ok || !status.ok()) {
      ++errors;
      return;
    }
    latencies.push_back(ms);
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s host:port [clients] [seconds] [users_per_client] [threads]\n",
                 argv[0]);
    return 2;
  }
  const std::string target = argv[1];
  const int clients = argc > 2 ? std::atoi(argv[2]) : 16;
  const int seconds = argc > 3 ? std::atoi(argv[3]) : 10;
  const int users = argc > 4 ? std::atoi(argv[4]) : 50;
  const std::string run = absl::StrCat(
      std::chrono::duration_cast<std::chrono::seconds>(Clock::now().time_since_epoch()).count());
  {
    auto stub =
        IngestService::NewStub(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
    if (!WaitReady(*stub, run)) {
      std::fprintf(stderr, "session at %s does not answer Ingest\n", target.c_str());
      return 1;
    }
  }
  const int threads = std::max(1, std::min(clients, argc > 5 ? std::atoi(argv[5]) : 2));
  std::vector<Client> all_clients(clients);
  const auto end = Clock::now() + std::chrono::seconds(seconds);
  const auto start = Clock::now();
  std::vector<std::thread> drivers;
  for (int t = 0; t < threads; ++t) {
    drivers.emplace_back([&, t] {
      grpc::CompletionQueue cq;
      int in_flight = 0;
      for (int c = t; c < clients; c += threads) {
        Client& client = all_clients[c];
        client.id = c;
        // One connection per client, as separate ingress replicas would have.
        grpc::ChannelArguments args;
        args.SetInt("parley.bench.client", c);
        client.stub = IngestService::NewStub(
            grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args));
        client.Start(cq, users, run);
        ++in_flight;
      }
      void* tag = nullptr;
      bool ok = false;
      while (in_flight > 0 && cq.Next(&tag, &ok)) {
        Client& client = *static_cast<Client*>(tag);
        client.Done(ok);
        if (Clock::now() < end) {
          client.Start(cq, users, run);
        } else {
          --in_flight;
        }
      }
      cq.Shutdown();
      while (cq.Next(&tag, &ok)) {
      }
    });
  }
  for (auto& d : drivers) d.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  int64_t errors = 0;
  for (const Client& c : all_clients) {
    all.insert(all.end(), c.latencies.begin(), c.latencies.end());
    errors += c.errors;
  }
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) {
    return all.empty() ? 0.0 : all[std::min(all.size() - 1, static_cast<size_t>(p * all.size()))];
  };
  std::printf("ingest msgs_per_sec=%.0f p50_ms=%.2f p99_ms=%.2f calls=%zu errors=%lld\n",
              all.size() / elapsed, pct(0.50), pct(0.99), all.size(),
              static_cast<long long>(errors));
  return errors > 0 ? 1 : 0;
}
