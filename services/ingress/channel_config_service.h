// ChannelConfigService (proto/parley/ingress/v1/ingress.proto) on gRPC's callback API: each
// handler hands its PostgreSQL work to an Executor (docs/adr/0007), calls the PgChannelStore
// (which validates, seals secrets and builds the Callback URIs) and converts the Status. No SQL
// here, and no logging of requests: they carry secrets.
#pragma once

#include "libs/common/executor.h"
#include "parley/ingress/v1/ingress.grpc.pb.h"
#include "services/ingress/pg_channel_store.h"

namespace parley::ingress {

class ChannelConfigServiceImpl : public v1::ChannelConfigService::CallbackService {
 public:
  // `store` and `executor` must outlive the service.
  ChannelConfigServiceImpl(PgChannelStore& store, Executor& executor)
      : store_(store), executor_(executor) {}

  using Ctx = grpc::CallbackServerContext;
  using Reactor = grpc::ServerUnaryReactor;

  Reactor* CreateFacebookApp(Ctx* ctx, const v1::CreateFacebookAppRequest* req,
                             v1::CreateFacebookAppResponse* resp) override;
  Reactor* GetFacebookApp(Ctx* ctx, const v1::GetFacebookAppRequest* req,
                          v1::GetFacebookAppResponse* resp) override;
  Reactor* ListFacebookApps(Ctx* ctx, const v1::ListFacebookAppsRequest* req,
                            v1::ListFacebookAppsResponse* resp) override;
  Reactor* UpdateFacebookApp(Ctx* ctx, const v1::UpdateFacebookAppRequest* req,
                             v1::UpdateFacebookAppResponse* resp) override;
  Reactor* DeleteFacebookApp(Ctx* ctx, const v1::DeleteFacebookAppRequest* req,
                             v1::DeleteFacebookAppResponse* resp) override;

  Reactor* CreateFacebookPage(Ctx* ctx, const v1::CreateFacebookPageRequest* req,
                              v1::CreateFacebookPageResponse* resp) override;
  Reactor* GetFacebookPage(Ctx* ctx, const v1::GetFacebookPageRequest* req,
                           v1::GetFacebookPageResponse* resp) override;
  Reactor* ListFacebookPages(Ctx* ctx, const v1::ListFacebookPagesRequest* req,
                             v1::ListFacebookPagesResponse* resp) override;
  Reactor* UpdateFacebookPage(Ctx* ctx, const v1::UpdateFacebookPageRequest* req,
                              v1::UpdateFacebookPageResponse* resp) override;
  Reactor* DeleteFacebookPage(Ctx* ctx, const v1::DeleteFacebookPageRequest* req,
                              v1::DeleteFacebookPageResponse* resp) override;

  Reactor* CreateWhatsAppSender(Ctx* ctx, const v1::CreateWhatsAppSenderRequest* req,
                                v1::CreateWhatsAppSenderResponse* resp) override;
  Reactor* GetWhatsAppSender(Ctx* ctx, const v1::GetWhatsAppSenderRequest* req,
                             v1::GetWhatsAppSenderResponse* resp) override;
  Reactor* ListWhatsAppSenders(Ctx* ctx, const v1::ListWhatsAppSendersRequest* req,
                               v1::ListWhatsAppSendersResponse* resp) override;
  Reactor* UpdateWhatsAppSender(Ctx* ctx, const v1::UpdateWhatsAppSenderRequest* req,
                                v1::UpdateWhatsAppSenderResponse* resp) override;
  Reactor* DeleteWhatsAppSender(Ctx* ctx, const v1::DeleteWhatsAppSenderRequest* req,
                                v1::DeleteWhatsAppSenderResponse* resp) override;

  Reactor* GetEndpointSettings(Ctx* ctx, const v1::GetEndpointSettingsRequest* req,
                               v1::GetEndpointSettingsResponse* resp) override;

 private:
  PgChannelStore& store_;
  Executor& executor_;
};

}  // namespace parley::ingress
