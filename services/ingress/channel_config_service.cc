#include "services/ingress/channel_config_service.h"

#include <utility>

#include "libs/grpc/status.h"

namespace parley::ingress {
namespace {

using Reactor = grpc::ServerUnaryReactor;

// Runs `call` (returning absl::StatusOr<T>) on the executor, hands its value to `set` and
// finishes the call from there.
template <typename Call, typename Set>
Reactor* Run(Executor& executor, grpc::CallbackServerContext* ctx, Call call, Set set) {
  Reactor* reactor = ctx->DefaultReactor();
  executor.Post([reactor, call = std::move(call), set = std::move(set)]() mutable {
    auto result = call();
    if (result.ok()) set(*std::move(result));
    reactor->Finish(ToGrpcStatus(result.status()));
  });
  return reactor;
}

// For rpcs whose store call returns a plain absl::Status (deletes).
template <typename Call>
Reactor* RunStatus(Executor& executor, grpc::CallbackServerContext* ctx, Call call) {
  Reactor* reactor = ctx->DefaultReactor();
  executor.Post(
      [reactor, call = std::move(call)]() mutable { reactor->Finish(ToGrpcStatus(call())); });
  return reactor;
}

}  // namespace

// --- Facebook applications -------------------------------------------------------------------

Reactor* ChannelConfigServiceImpl::CreateFacebookApp(Ctx* ctx,
                                                     const v1::CreateFacebookAppRequest* req,
                                                     v1::CreateFacebookAppResponse* resp) {
  return Run(
      executor_, ctx, [this, req] { return store_.CreateApp(*req); },
      [resp](v1::FacebookApp a) { *resp->mutable_app() = std::move(a); });
}

Reactor* ChannelConfigServiceImpl::GetFacebookApp(Ctx* ctx, const v1::GetFacebookAppRequest* req,
                                                  v1::GetFacebookAppResponse* resp) {
  return Run(
      executor_, ctx, [this, req] { return store_.GetApp(req->id()); },
      [resp](v1::FacebookApp a) { *resp->mutable_app() = std::move(a); });
}

Reactor* ChannelConfigServiceImpl::ListFacebookApps(Ctx* ctx,
                                                    const v1::ListFacebookAppsRequest* req,
                                                    v1::ListFacebookAppsResponse* resp) {
  return Run(
      executor_, ctx, [this, req] { return store_.ListApps(*req); },
      [resp](v1::ListFacebookAppsResponse r) { *resp = std::move(r); });
}

Reactor* ChannelConfigServiceImpl::UpdateFacebookApp(Ctx* ctx,
                                                     const v1::UpdateFacebookAppRequest* req,
                                                     v1::UpdateFacebookAppResponse* resp) {
  return Run(
      executor_, ctx, [this, req] { return store_.UpdateApp(*req); },
      [resp](v1::FacebookApp a) { *resp->mutable_app() = std::move(a); });
}

Reactor* ChannelConfigServiceImpl::DeleteFacebookApp(Ctx* ctx,
                                                     const v1::DeleteFacebookAppRequest* req,
                                                     v1::DeleteFacebookAppResponse*) {
  return RunStatus(executor_, ctx, [this, req] { return store_.DeleteApp(req->id()); });
}

// --- Facebook pages --------------------------------------------------------------------------

Reactor* ChannelConfigServiceImpl::CreateFacebookPage(Ctx* ctx,
                                                      const v1::CreateFacebookPageRequest* req,
                                                      v1::CreateFacebookPageResponse* resp) {
  return Run(
      executor_, ctx, [this, req] { return store_.CreatePage(*req); },
      [resp](v1::FacebookPage p) { *resp->mutable_page() = std::move(p); });
}

Reactor* ChannelConfigServiceImpl::GetFacebookPage(Ctx* ctx, const v1::GetFacebookPageRequest* req,
                                                   v1::GetFacebookPageResponse* resp) {
  return Run(
      executor_, ctx, [this, req] { return store_.GetPage(req->id()); },
      [resp](v1::FacebookPage p) { *resp->mutable_page() = std::move(p); });
}

Reactor* ChannelConfigServiceImpl::ListFacebookPages(Ctx* ctx,
                                                     const v1::ListFacebookPagesRequest* req,
                                                     v1::ListFacebookPagesResponse* resp) {
  return Run(
      executor_, ctx, [this, req] { return store_.ListPages(*req); },
      [resp](v1::ListFacebookPagesResponse r) { *resp = std::move(r); });
}

Reactor* ChannelConfigServiceImpl::UpdateFacebookPage(Ctx* ctx,
                                                      const v1::UpdateFacebookPageRequest* req,
                                                      v1::UpdateFacebookPageResponse* resp) {
  return Run(
      executor_, ctx, [this, req] { return store_.UpdatePage(*req); },
      [resp](v1::FacebookPage p) { *resp->mutable_page() = std::move(p); });
}

Reactor* ChannelConfigServiceImpl::DeleteFacebookPage(Ctx* ctx,
                                                      const v1::DeleteFacebookPageRequest* req,
                                                      v1::DeleteFacebookPageResponse*) {
  return RunStatus(executor_, ctx, [this, req] { return store_.DeletePage(req->id()); });
}

// --- WhatsApp senders ------------------------------------------------------------------------

Reactor* ChannelConfigServiceImpl::CreateWhatsAppSender(Ctx* ctx,
                                                        const v1::CreateWhatsAppSenderRequest* req,
                                                        v1::CreateWhatsAppSenderResponse* resp) {
  return Run(
      executor_, ctx, [this, req] { return store_.CreateSender(*req); },
      [resp](v1::WhatsAppSender s) { *resp->mutable_sender() = std::move(s); });
}

Reactor* ChannelConfigServiceImpl::GetWhatsAppSender(Ctx* ctx,
                                                     const v1::GetWhatsAppSenderRequest* req,
                                                     v1::GetWhatsAppSenderResponse* resp) {
  return Run(
      executor_, ctx, [this, req] { return store_.GetSender(req->id()); },
      [resp](v1::WhatsAppSender s) { *resp->mutable_sender() = std::move(s); });
}

Reactor* ChannelConfigServiceImpl::ListWhatsAppSenders(Ctx* ctx,
                                                       const v1::ListWhatsAppSendersRequest* req,
                                                       v1::ListWhatsAppSendersResponse* resp) {
  return Run(
      executor_, ctx, [this, req] { return store_.ListSenders(*req); },
      [resp](v1::ListWhatsAppSendersResponse r) { *resp = std::move(r); });
}

Reactor* ChannelConfigServiceImpl::UpdateWhatsAppSender(Ctx* ctx,
                                                        const v1::UpdateWhatsAppSenderRequest* req,
                                                        v1::UpdateWhatsAppSenderResponse* resp) {
  return Run(
      executor_, ctx, [this, req] { return store_.UpdateSender(*req); },
      [resp](v1::WhatsAppSender s) { *resp->mutable_sender() = std::move(s); });
}

Reactor* ChannelConfigServiceImpl::DeleteWhatsAppSender(Ctx* ctx,
                                                        const v1::DeleteWhatsAppSenderRequest* req,
                                                        v1::DeleteWhatsAppSenderResponse*) {
  return RunStatus(executor_, ctx, [this, req] { return store_.DeleteSender(req->id()); });
}

// --- Endpoints -------------------------------------------------------------------------------

Reactor* ChannelConfigServiceImpl::GetEndpointSettings(Ctx* ctx,
                                                       const v1::GetEndpointSettingsRequest* req,
                                                       v1::GetEndpointSettingsResponse* resp) {
  return Run(
      executor_, ctx, [this, req] { return store_.GetEndpointSettings(req->endpoint()); },
      [resp](v1::GetEndpointSettingsResponse r) { *resp = std::move(r); });
}

}  // namespace parley::ingress
