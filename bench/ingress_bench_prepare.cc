// Set-up of bench/run_ingress.sh: registers a Facebook application and one page on a running
// parley-ingress through its ChannelConfigService (as an operator would), then writes the
// signed webhook bodies the wrk script sends, one request per line:
//   <X-Hub-Signature-256 value> TAB <X-Hub-Signature value> TAB <body>
// Each body is a single-event Messenger text message with its own mid (so session stores every
// one), from one of `customers` PSIDs; both signatures are over the exact body bytes with the
// App Secret (Meta sends both headers; bottender checks only the SHA-1 one). wrk's LuaJIT has
// no HMAC, hence the pre-computed file.
//
//   ingress_bench_prepare <ingress grpc host:port> <app secret> <page id> <bodies> <customers>
//                         <out file>
// Prints the page's Callback URI path ("/webhooks/messenger/<key>") on stdout.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "parley/ingress/v1/ingress.grpc.pb.h"

namespace {

namespace iv1 = parley::ingress::v1;

constexpr char kMetaAppId[] = "1821152484774199";
constexpr char kWorkStream[] = "8a1f0b9e-3f2a-4d1b-8c7e-0123456789ab";
constexpr char kText[] = "Hello, my order has not arrived yet, can you check the shipping status?";

std::string HexHmac(const EVP_MD* md, absl::string_view key, absl::string_view message) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &length);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), length));
}

int Fail(absl::string_view what, const grpc::Status& status) {
  std::cerr << what << ": " << status.error_message() << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  int bodies = 0;
  int customers = 0;
  if (argc != 7 || !absl::SimpleAtoi(argv[4], &bodies) || !absl::SimpleAtoi(argv[5], &customers) ||
      bodies < 1 || customers < 1) {
    std::cerr << "usage: ingress_bench_prepare <ingress grpc host:port> <app secret> <page id> "
                 "<bodies> <customers> <out file>\n";
    return 2;
  }
  const std::string secret = argv[2];
  const std::string page_id = argv[3];
  auto stub = iv1::ChannelConfigService::NewStub(
      grpc::CreateChannel(argv[1], grpc::InsecureChannelCredentials()));

  iv1::CreateFacebookAppRequest app_request;
  app_request.mutable_app()->set_name("Bench");
  app_request.mutable_app()->set_meta_app_id(kMetaAppId);
  app_request.mutable_app()->set_app_secret(secret);
  app_request.set_request_id("00000000-0000-4000-8000-00000000be01");
  iv1::CreateFacebookAppResponse app;
  {
    grpc::ClientContext context;
    const grpc::Status s = stub->CreateFacebookApp(&context, app_request, &app);
    if (!s.ok()) return Fail("CreateFacebookApp", s);
  }
  iv1::CreateFacebookPageRequest page_request;
  iv1::FacebookPage* page = page_request.mutable_page();
  page->set_page_id(page_id);
  page->set_name("Bench page");
  page->set_parent_app_id(app.app().id());
  page->set_page_access_token("EAAbenchtoken");
  page->mutable_settings()->set_work_stream_id(kWorkStream);
  page->mutable_settings()->set_language("en-US");
  page_request.set_request_id("00000000-0000-4000-8000-00000000be02");
  iv1::CreateFacebookPageResponse created;
  {
    grpc::ClientContext context;
    const grpc::Status s = stub->CreateFacebookPage(&context, page_request, &created);
    if (!s.ok()) return Fail("CreateFacebookPage", s);
  }

  std::ofstream out(argv[6], std::ios::binary | std::ios::trunc);
  const int64_t now_ms = absl::ToUnixMillis(absl::Now());
  for (int i = 0; i < bodies; ++i) {
    const std::string psid = absl::StrCat(7100000000000000 + i % customers);
    const int64_t ts = now_ms + i;
    const std::string body =
        absl::StrCat(R"({"object":"page","entry":[{"id":")", page_id, R"(","time":)", ts,
                     R"(,"messaging":[{"sender":{"id":")", psid, R"("},"recipient":{"id":")",
                     page_id, R"("},"timestamp":)", ts, R"(,"message":{"mid":"m_bench)", now_ms,
                     "_", i, R"(","text":")", kText, R"("}}]}]})");
    out << "sha256=" << HexHmac(EVP_sha256(), secret, body) << '\t'
        << "sha1=" << HexHmac(EVP_sha1(), secret, body) << '\t' << body << '\n';
  }
  out.close();
  if (!out) {
    std::cerr << "cannot write " << argv[6] << "\n";
    return 1;
  }
  const std::string& uri = created.page().callback_uri();
  const size_t path = uri.find("/webhooks/");
  std::cout << (path == std::string::npos ? uri : uri.substr(path)) << "\n";
  return 0;
}
