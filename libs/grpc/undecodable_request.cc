#include "libs/grpc/undecodable_request.h"

#include <mutex>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/stubs/logging.h"
#include "grpcpp/support/server_interceptor.h"
#include "libs/common/log.h"

namespace parley {
namespace {

using grpc::experimental::InterceptionHookPoints;
using grpc::experimental::ServerRpcInfo;

// The field protobuf last refused on this thread for invalid UTF-8 ("pkg.Message.field").
// gRPC decodes a request and runs the interceptors' POST_RECV_MESSAGE hooks in one call stack,
// so the hook reads what the decode of its own request left here.
thread_local std::string last_invalid_utf8_field;

// Protobuf reports a string field with invalid UTF-8 only through its log, as
// "String field 'pkg.Message.field' contains invalid UTF-8 data when parsing ...". The handler
// keeps the field's name for the interceptor and sends every other protobuf message to our log.
void OnProtobufLog(google::protobuf::LogLevel level, const char* /*file*/, int /*line*/,
                   const std::string& message) {
  constexpr absl::string_view kPrefix = "String field '";
  if (absl::StartsWith(message, kPrefix) && absl::StrContains(message, "invalid UTF-8")) {
    const size_t end = message.find('\'', kPrefix.size());
    if (end != std::string::npos) {
      last_invalid_utf8_field = message.substr(kPrefix.size(), end - kPrefix.size());
      return;
    }
  }
  log::Write(level >= google::protobuf::LOGLEVEL_ERROR ? log::Level::kError : log::Level::kWarn,
             "protobuf", {{"detail", message}});
}

// "/pkg.Service/Method" → the full name of its request message, or "" when unknown.
std::string RequestTypeOf(const char* method) {
  if (method == nullptr || *method != '/') return "";
  const std::string dotted = absl::StrReplaceAll(method + 1, {{"/", "."}});
  const google::protobuf::MethodDescriptor* descriptor =
      google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(dotted);
  return descriptor == nullptr ? "" : descriptor->input_type()->full_name();
}

class UndecodableRequestInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit UndecodableRequestInterceptor(std::string request_type)
      : request_type_(std::move(request_type)) {
    last_invalid_utf8_field.clear();
  }

  // Interceptor:
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE) &&
        methods->GetRecvMessage() == nullptr) {
      undecodable_ = true;
      field_.swap(last_invalid_utf8_field);
    }
    if (undecodable_ &&
        methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      const grpc::Status sent = methods->GetSendStatus();
      if (sent.error_code() == grpc::StatusCode::UNIMPLEMENTED && sent.error_message().empty()) {
        methods->ModifySendStatus(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, Message()));
      }
    }
    methods->Proceed();
  }

 private:
  std::string Message() const {
    const std::string type = request_type_.empty() ? "the request message" : request_type_;
    if (!field_.empty()) {
      return absl::StrCat("the request could not be decoded as ", type, ": field ", field_,
                          " holds bytes that are not valid UTF-8 (string fields must be UTF-8)");
    }
    return absl::StrCat("the request could not be decoded as ", type,
                        ": a string field holds bytes that are not valid UTF-8 (every string "
                        "field must be UTF-8), or the bytes are not a valid ",
                        type, " message");
  }

  const std::string request_type_;
  bool undecodable_ = false;
  std::string field_;  // the field protobuf refused, when it said which
};

class Factory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  // ServerInterceptorFactoryInterface:
  grpc::experimental::Interceptor* CreateServerInterceptor(ServerRpcInfo* info) override {
    // Only RPCs whose single request is decoded before the handler runs.
    if (info->type() != ServerRpcInfo::Type::UNARY &&
        info->type() != ServerRpcInfo::Type::SERVER_STREAMING) {
      return nullptr;
    }
    return new UndecodableRequestInterceptor(RequestTypeOf(info->method()));
  }
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
NewUndecodableRequestInterceptor() {
  static std::once_flag once;
  std::call_once(once, [] { google::protobuf::SetLogHandler(&OnProtobufLog); });
  return std::make_unique<Factory>();
}

}  // namespace parley
