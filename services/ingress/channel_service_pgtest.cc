// ChannelConfigService through a real gRPC server on a free port and a real PostgreSQL: the
// status codes and messages clients see for bad input, and no secret in any response.
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "parley/ingress/v1/ingress.grpc.pb.h"
#include "services/ingress/channel_config_service.h"
#include "services/ingress/channel_rows.h"
#include "services/ingress/channel_test_support.h"

namespace parley::ingress {
namespace {

namespace it = testing;

class ChannelServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::unique_ptr<it::ChannelEnv>> env =
        it::NewChannelEnv("https://parley.example.com/");
    ASSERT_TRUE(env.ok()) << env.status();
    env_ = env->release();
    executor_ = new Executor(2);
    service_ = new ChannelConfigServiceImpl(*env_->store, *executor_);
    int port = 0;
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service_);
    server_ = builder.BuildAndStart().release();
    ASSERT_NE(port, 0);
    stub_ =
        v1::ChannelConfigService::NewStub(grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                                              grpc::InsecureChannelCredentials()))
            .release();
  }

  static void TearDownTestSuite() {
    delete stub_;
    server_->Shutdown();
    delete server_;
    delete service_;
    delete executor_;
  }

  template <typename Req, typename Resp, typename Method>
  static grpc::Status Call(Method method, const Req& req, Resp* resp) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return (stub_->*method)(&ctx, req, resp);
  }

  static void ExpectStatus(const grpc::Status& s, grpc::StatusCode code,
                           const std::string& message) {
    EXPECT_EQ(s.error_code(), code) << s.error_message();
    EXPECT_EQ(s.error_message(), message);
  }

  static v1::CreateFacebookAppRequest AppRequest() {
    v1::CreateFacebookAppRequest req;
    req.mutable_app()->set_name("Acme Support");
    req.mutable_app()->set_meta_app_id(it::UniqueDigits());
    req.mutable_app()->set_app_secret(kAppSecret);
    return req;
  }

  static constexpr char kAppSecret[] = "00112233445566778899aabbccddeeff00112233";

  static it::ChannelEnv* env_;
  static Executor* executor_;
  static ChannelConfigServiceImpl* service_;
  static grpc::Server* server_;
  static v1::ChannelConfigService::Stub* stub_;
};

it::ChannelEnv* ChannelServiceTest::env_ = nullptr;
Executor* ChannelServiceTest::executor_ = nullptr;
ChannelConfigServiceImpl* ChannelServiceTest::service_ = nullptr;
grpc::Server* ChannelServiceTest::server_ = nullptr;
v1::ChannelConfigService::Stub* ChannelServiceTest::stub_ = nullptr;

using Stub = v1::ChannelConfigService::Stub;

TEST_F(ChannelServiceTest, CreatesAnApplicationAndAPageAndNeverReturnsSecrets) {
  v1::CreateFacebookAppResponse app;
  ASSERT_TRUE(Call(&Stub::CreateFacebookApp, AppRequest(), &app).ok());
  EXPECT_TRUE(app.app().app_secret_set());
  EXPECT_FALSE(absl::StrContains(app.SerializeAsString(), kAppSecret));

  v1::CreateFacebookPageRequest page_req;
  v1::FacebookPage* p = page_req.mutable_page();
  p->set_page_id(it::UniqueDigits());
  p->set_name("Acme");
  p->set_parent_app_id(app.app().id());
  p->set_page_access_token("EAA-grpc-secret-token");
  p->mutable_settings()->set_work_stream_id(it::kTestWorkStreamId);
  page_req.set_request_id(NewUuid());
  v1::CreateFacebookPageResponse page;
  ASSERT_TRUE(Call(&Stub::CreateFacebookPage, page_req, &page).ok());
  // The configured base URL's trailing slash is not doubled.
  EXPECT_TRUE(absl::StartsWith(page.page().callback_uri(),
                               "https://parley.example.com/webhooks/messenger/"))
      << page.page().callback_uri();
  v1::CreateFacebookPageResponse repeat;
  ASSERT_TRUE(Call(&Stub::CreateFacebookPage, page_req, &repeat).ok());
  EXPECT_EQ(repeat.page().id(), page.page().id());

  v1::GetFacebookPageRequest get;
  get.set_id(page.page().id());
  v1::GetFacebookPageResponse got;
  ASSERT_TRUE(Call(&Stub::GetFacebookPage, get, &got).ok());
  v1::ListFacebookPagesResponse list;
  ASSERT_TRUE(Call(&Stub::ListFacebookPages, v1::ListFacebookPagesRequest(), &list).ok());
  v1::GetEndpointSettingsRequest es;
  es.mutable_endpoint()->set_channel(common::v1::CHANNEL_MESSENGER);
  es.mutable_endpoint()->set_id(p->page_id());
  v1::GetEndpointSettingsResponse settings;
  ASSERT_TRUE(Call(&Stub::GetEndpointSettings, es, &settings).ok());
  EXPECT_EQ(settings.settings().work_stream_id(), it::kTestWorkStreamId);
  for (const google::protobuf::Message* m : std::initializer_list<const google::protobuf::Message*>{
           &page, &repeat, &got, &list, &settings}) {
    EXPECT_FALSE(absl::StrContains(m->SerializeAsString(), "grpc-secret-token"));
  }
  EXPECT_TRUE(got.page().page_access_token_set());
}

TEST_F(ChannelServiceTest, BadInputGetsInvalidArgumentNamingTheField) {
  v1::CreateFacebookAppRequest req = AppRequest();
  req.mutable_app()->set_meta_app_id("12x");
  v1::CreateFacebookAppResponse resp;
  ExpectStatus(Call(&Stub::CreateFacebookApp, req, &resp), grpc::StatusCode::INVALID_ARGUMENT,
               "app.meta_app_id: \"12x\" is not a Meta App ID (1..32 digits)");

  req = AppRequest();
  req.mutable_app()->set_app_secret("this-is-the-secret-and-it-is-not-hex!");
  const grpc::Status secret = Call(&Stub::CreateFacebookApp, req, &resp);
  EXPECT_EQ(secret.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_FALSE(absl::StrContains(secret.error_message(), "this-is-the-secret"));

  v1::GetFacebookAppResponse got;
  v1::GetFacebookAppRequest get;
  get.set_id("'; DROP TABLE ingress.facebook_apps; --");
  ExpectStatus(Call(&Stub::GetFacebookApp, get, &got), grpc::StatusCode::INVALID_ARGUMENT,
               "id: \"'; DROP TABLE ingress.facebook_apps; --\" is not a UUID (lower case)");

  v1::UpdateFacebookAppRequest update;
  update.mutable_app()->set_id("0b5c1e7a-1111-4222-8333-444455556666");
  v1::UpdateFacebookAppResponse updated;
  ExpectStatus(Call(&Stub::UpdateFacebookApp, update, &updated), grpc::StatusCode::INVALID_ARGUMENT,
               "update_mask: empty; name the fields to change");
  update.mutable_update_mask()->add_paths("name");
  update.mutable_app()->set_name("x");
  ExpectStatus(Call(&Stub::UpdateFacebookApp, update, &updated), grpc::StatusCode::NOT_FOUND,
               "application 0b5c1e7a-1111-4222-8333-444455556666: not found");

  v1::ListFacebookAppsRequest list;
  list.set_page_size(-5);
  v1::ListFacebookAppsResponse apps;
  ExpectStatus(Call(&Stub::ListFacebookApps, list, &apps), grpc::StatusCode::INVALID_ARGUMENT,
               "page_size: -5 is negative");

  v1::GetEndpointSettingsRequest es;
  es.mutable_endpoint()->set_id("123");
  v1::GetEndpointSettingsResponse settings;
  ExpectStatus(Call(&Stub::GetEndpointSettings, es, &settings), grpc::StatusCode::INVALID_ARGUMENT,
               "endpoint.channel: unspecified (CHANNEL_MESSENGER or CHANNEL_WHATSAPP)");
  es.mutable_endpoint()->set_channel(common::v1::CHANNEL_WHATSAPP);
  es.mutable_endpoint()->set_id("+4915112345678");
  ExpectStatus(Call(&Stub::GetEndpointSettings, es, &settings), grpc::StatusCode::NOT_FOUND,
               "sender +4915112345678: not configured");

  v1::CreateWhatsAppSenderRequest sender;
  sender.mutable_sender()->set_name("NL");
  sender.mutable_sender()->set_account_sid("AC0123456789abcdef0123456789abcdef");
  sender.mutable_sender()->set_auth_token("0123456789abcdef0123456789abcdef");
  sender.mutable_sender()->set_phone_number("+31 6 1234 5678");
  sender.mutable_sender()->mutable_settings()->set_work_stream_id(it::kTestWorkStreamId);
  v1::CreateWhatsAppSenderResponse created;
  ExpectStatus(Call(&Stub::CreateWhatsAppSender, sender, &created),
               grpc::StatusCode::INVALID_ARGUMENT,
               "sender.phone_number: \"+31 6 1234 5678\" is not E.164 (\"+\" and 8..15 digits)");
}

TEST_F(ChannelServiceTest, ConflictsAndPreconditions) {
  v1::CreateFacebookAppRequest req = AppRequest();
  req.mutable_app()->set_name("Robert'); DROP TABLE ingress.facebook_apps;--");
  v1::CreateFacebookAppResponse app;
  ASSERT_TRUE(Call(&Stub::CreateFacebookApp, req, &app).ok());
  EXPECT_EQ(app.app().name(), req.app().name());  // stored as text, nothing else
  v1::CreateFacebookAppResponse dup;
  const grpc::Status again = Call(&Stub::CreateFacebookApp, req, &dup);
  EXPECT_EQ(again.error_code(), grpc::StatusCode::ALREADY_EXISTS);

  absl::StatusOr<v1::FacebookPage> page = it::CreatePage(*env_->store, app.app().id());
  ASSERT_TRUE(page.ok());
  v1::DeleteFacebookAppRequest del;
  del.set_id(app.app().id());
  v1::DeleteFacebookAppResponse deleted;
  ExpectStatus(Call(&Stub::DeleteFacebookApp, del, &deleted), grpc::StatusCode::FAILED_PRECONDITION,
               absl::StrCat("application ", app.app().meta_app_id(), " (\"", req.app().name(),
                            "\"): 1 page still linked; delete them first"));
  v1::DeleteFacebookPageRequest del_page;
  del_page.set_id(page->id());
  v1::DeleteFacebookPageResponse page_deleted;
  ASSERT_TRUE(Call(&Stub::DeleteFacebookPage, del_page, &page_deleted).ok());
  ASSERT_TRUE(Call(&Stub::DeleteFacebookApp, del, &deleted).ok());
  ExpectStatus(Call(&Stub::DeleteFacebookApp, del, &deleted), grpc::StatusCode::NOT_FOUND,
               absl::StrCat("application ", app.app().id(), ": not found"));
}

}  // namespace
}  // namespace parley::ingress
