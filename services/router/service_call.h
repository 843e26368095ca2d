// The shape every router handler of the presence and routing services shares: check the
// request on gRPC's thread (cheap, no I/O), run the work on the Executor, finish the call with
// the converted status.
#pragma once

#include <functional>

#include "absl/status/status.h"
#include "grpcpp/grpcpp.h"
#include "libs/common/executor.h"
#include "libs/grpc/status.h"

namespace parley::router {

inline grpc::ServerUnaryReactor* RunCall(grpc::CallbackServerContext* ctx, Executor& executor,
                                         absl::Status check, std::function<absl::Status()> work) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  if (!check.ok()) {
    reactor->Finish(ToGrpcStatus(check));
    return reactor;
  }
  executor.Post([reactor, work = std::move(work)] { reactor->Finish(ToGrpcStatus(work())); });
  return reactor;
}

}  // namespace parley::router
