// gRPC C++ answers a request it cannot decode (most often a proto3 string field holding bytes
// that are not UTF-8) with UNIMPLEMENTED and no message, before any handler runs. That tells a
// caller nothing true. This interceptor turns exactly that case into INVALID_ARGUMENT with a
// message naming the request type and the likely cause. ServerRunner installs it first on every
// server. The field is named from what protobuf reports while decoding.
#pragma once

#include <memory>

namespace grpc::experimental {
class ServerInterceptorFactoryInterface;
}  // namespace grpc::experimental

namespace parley {

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
NewUndecodableRequestInterceptor();

}  // namespace parley
