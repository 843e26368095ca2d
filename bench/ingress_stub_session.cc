// A stand-in for session's IngestService that stores nothing and answers STORED at once. Two
// uses, never a measure of durability:
// - `FAKE_SESSION=1 bench/run_ingress.sh`: ingress's own ceiling (HTTP, signature, parsing,
//   normalisation, the gRPC call) when session costs nothing;
// - bench/run_session_ingest.sh's "gRPC floor": the same Ingest calls as against session,
//   answered by a server with nothing to do (the machine's own limit for those calls).
//   ingress_stub_session <host:port>     (runs until SIGTERM/SIGINT)
#include <csignal>
#include <iostream>
#include <memory>

#include "grpcpp/grpcpp.h"
#include "parley/session/v1/session.grpc.pb.h"

namespace {

namespace sv1 = parley::session::v1;

class StubIngest final : public sv1::IngestService::CallbackService {
  grpc::ServerUnaryReactor* Ingest(grpc::CallbackServerContext* context,
                                   const sv1::IngestRequest* request,
                                   sv1::IngestResponse* response) override {
    for (int i = 0; i < request->events_size(); ++i) {
      sv1::IngestEventResult* r = response->add_results();
      r->set_event_index(i);
      r->set_outcome(sv1::INGEST_OUTCOME_STORED);
    }
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: ingress_stub_session <host:port>\n";
    return 2;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  StubIngest service;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(argv[1], grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr) return 1;
  int signal = 0;
  sigwait(&signals, &signal);
  server->Shutdown();
  return 0;
}
