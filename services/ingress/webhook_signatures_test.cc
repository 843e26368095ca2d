// Every vector of tests/fixtures/providers/signatures/ (published, computed and negative),
// checked against the functions the webhook handlers use.
#include "services/ingress/webhook_signatures.h"

#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "services/ingress/form_encoding.h"
#include "simdjson.h"

namespace parley::ingress {
namespace {

using simdjson::dom::element;

std::string ReadFixture(const std::string& relative) {
  std::ifstream in(absl::StrCat(PARLEY_PROVIDER_FIXTURES, "/", relative), std::ios::binary);
  EXPECT_TRUE(in.good()) << relative;
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string Str(element e, const char* key) {
  std::string_view s;
  if (e[key].get(s) != simdjson::SUCCESS) return "";
  return std::string(s);
}

bool Bool(element e, const char* key) {
  bool b = false;
  return e[key].get(b) == simdjson::SUCCESS && b;
}

class VectorFile {
 public:
  explicit VectorFile(const std::string& relative) : text_(ReadFixture(relative)) {
    EXPECT_EQ(parser_.parse(text_).get(root_), simdjson::SUCCESS) << relative;
  }
  simdjson::dom::array List(const char* key) {
    simdjson::dom::array a;
    EXPECT_EQ(root_[key].get(a), simdjson::SUCCESS) << key;
    return a;
  }

 private:
  std::string text_;
  simdjson::dom::parser parser_;
  element root_;
};

// The body a Facebook vector signs: inline `body`, or the bytes of `body_file`.
std::string BodyOf(element v) {
  const std::string file = Str(v, "body_file");
  return file.empty() ? Str(v, "body") : ReadFixture(file);
}

HubAlgorithm AlgorithmOfHeader(const std::string& header) {
  return header == "X-Hub-Signature" ? HubAlgorithm::kSha1 : HubAlgorithm::kSha256;
}

TEST(FacebookVectors, PublishedVerify) {
  VectorFile f("signatures/facebook_vectors.json");
  int checked = 0;
  for (element v : f.List("published")) {
    const std::string body = BodyOf(v);
    EXPECT_EQ(VerifyHubSignature(AlgorithmOfHeader(Str(v, "header")), Str(v, "app_secret"), body,
                                 Str(v, "expected")),
              Bool(v, "expect_valid"))
        << Str(v, "id");
    const std::string also = Str(v, "also_computed_sha256");
    if (!also.empty()) {
      EXPECT_TRUE(VerifyHubSignature(HubAlgorithm::kSha256, Str(v, "app_secret"), body, also));
      EXPECT_EQ(HubSignature256(Str(v, "app_secret"), body), also);
    }
    ++checked;
  }
  EXPECT_EQ(checked, 2);
}

TEST(FacebookVectors, ComputedVerifyForEveryMessengerFixture) {
  VectorFile f("signatures/facebook_vectors.json");
  int checked = 0;
  for (element v : f.List("computed")) {
    const std::string body = BodyOf(v);
    const std::string secret = Str(v, "app_secret");
    const std::string sig256 = Str(v, "x_hub_signature_256");
    EXPECT_TRUE(VerifyHubSignature(HubAlgorithm::kSha256, secret, body, sig256)) << Str(v, "id");
    EXPECT_TRUE(VerifyHubSignature(HubAlgorithm::kSha1, secret, body, Str(v, "x_hub_signature")))
        << Str(v, "id");
    EXPECT_EQ(HubSignature256(secret, body), sig256) << Str(v, "id");
    EXPECT_EQ(Sha256Hex(body), Str(v, "body_sha256")) << Str(v, "id");
    uint64_t length = 0;
    ASSERT_EQ(v["body_length"].get(length), simdjson::SUCCESS);
    EXPECT_EQ(body.size(), length) << Str(v, "id") << ": fixture bytes changed";
    // The same body with one byte more must fail: the HMAC covers the exact bytes.
    EXPECT_FALSE(VerifyHubSignature(HubAlgorithm::kSha256, secret, body + "\n", sig256));
    ++checked;
  }
  EXPECT_EQ(checked, 20);
}

TEST(FacebookVectors, NegativesFail) {
  VectorFile f("signatures/facebook_vectors.json");
  int checked = 0;
  for (element v : f.List("negative")) {
    const std::string body = BodyOf(v);
    EXPECT_FALSE(Bool(v, "expect_valid"));
    EXPECT_FALSE(VerifyHubSignature(AlgorithmOfHeader(Str(v, "header")), Str(v, "app_secret"), body,
                                    Str(v, "presented")))
        << Str(v, "id");
    const std::string correct = Str(v, "correct");
    if (!correct.empty()) {
      EXPECT_TRUE(VerifyHubSignature(HubAlgorithm::kSha256, Str(v, "app_secret"), body, correct));
    }
    ++checked;
  }
  EXPECT_EQ(checked, 6);
}

TEST(FacebookVectors, AppSecretProof) {
  VectorFile f("signatures/facebook_appsecret_proof_vectors.json");
  int checked = 0;
  for (element v : f.List("vectors")) {
    EXPECT_EQ(HubSignature256(Str(v, "app_secret"), Str(v, "access_token")),
              absl::StrCat("sha256=", Str(v, "expected_appsecret_proof")));
    ++checked;
  }
  EXPECT_EQ(checked, 4);
}

TEST(HubSignature, RejectsMissingEmptyAndOddInput) {
  const std::string body = ReadFixture("messenger/text.json");
  const std::string good = HubSignature256("APP_SECRET", body);
  EXPECT_TRUE(VerifyHubSignature(HubAlgorithm::kSha256, "APP_SECRET", body, good));
  EXPECT_FALSE(VerifyHubSignature(HubAlgorithm::kSha256, "APP_SECRET", body, ""));
  EXPECT_FALSE(VerifyHubSignature(HubAlgorithm::kSha256, "", body, HubSignature256("", body)));
  EXPECT_FALSE(VerifyHubSignature(HubAlgorithm::kSha256, "APP_SECRET", body, "sha256="));
  EXPECT_FALSE(VerifyHubSignature(HubAlgorithm::kSha256, "APP_SECRET", body, good + "0"));
  EXPECT_FALSE(VerifyHubSignature(HubAlgorithm::kSha256, "APP_SECRET", body, good.substr(0, 70)));
  std::string not_hex = good;
  not_hex.back() = 'g';
  EXPECT_FALSE(VerifyHubSignature(HubAlgorithm::kSha256, "APP_SECRET", body, not_hex));
  EXPECT_FALSE(VerifyHubSignature(HubAlgorithm::kSha256, "APP_SECRET", body,
                                  absl::StrCat("SHA256=", good.substr(7))));
}

// The params of a Twilio vector: the JSON object's members, arrays as repeated names.
std::vector<FormParam> ParamsOf(element v) {
  std::vector<FormParam> params;
  simdjson::dom::object obj;
  if (v["params"].get(obj) != simdjson::SUCCESS) {
    auto decoded = DecodeForm(ReadFixture(Str(v, "body_file")));
    EXPECT_TRUE(decoded.ok()) << decoded.status();
    return decoded.ok() ? *decoded : params;
  }
  for (auto field : obj) {
    std::string_view s;
    if (field.value.get(s) == simdjson::SUCCESS) {
      params.emplace_back(std::string(field.key), std::string(s));
      continue;
    }
    for (element item : field.value.get_array()) {
      params.emplace_back(std::string(field.key), std::string(item.get_string().value()));
    }
  }
  return params;
}

TEST(TwilioVectors, PublishedVerify) {
  VectorFile f("signatures/twilio_vectors.json");
  int checked = 0;
  for (element v : f.List("published")) {
    const std::vector<FormParam> params = ParamsOf(v);
    const bool valid = VerifyTwilioSignature(Str(v, "auth_token"), Str(v, "request_url"), params,
                                             Str(v, "raw_body"), Str(v, "x_twilio_signature"));
    EXPECT_EQ(valid, Bool(v, "expect_valid")) << Str(v, "id");
    // The signed string recorded is one of the URL forms we try.
    const std::string signed_string = Str(v, "signed_string");
    bool form_found = false;
    for (const std::string& url : TwilioUrlVariants(Str(v, "request_url"))) {
      const bool json = url.find("bodySHA256=") != std::string::npos;
      form_found |=
          TwilioSignedString(url, json ? std::vector<FormParam>{} : params) == signed_string;
    }
    EXPECT_TRUE(form_found) << Str(v, "id");
    ++checked;
  }
  EXPECT_EQ(checked, 20);
}

TEST(TwilioVectors, ComputedVerifyForEveryWhatsAppFixture) {
  VectorFile f("signatures/twilio_vectors.json");
  int checked = 0;
  for (element v : f.List("computed")) {
    const std::vector<FormParam> params = ParamsOf(v);
    EXPECT_EQ(TwilioSignedString(Str(v, "request_url"), params), Str(v, "signed_string"))
        << Str(v, "id");
    EXPECT_TRUE(VerifyTwilioSignature(Str(v, "auth_token"), Str(v, "request_url"), params, "",
                                      Str(v, "x_twilio_signature")))
        << Str(v, "id");
    // Another URL, token or a changed parameter does not verify.
    EXPECT_FALSE(VerifyTwilioSignature(Str(v, "auth_token"), "https://example.com/other", params,
                                       "", Str(v, "x_twilio_signature")));
    EXPECT_FALSE(VerifyTwilioSignature("0123456789abcdef0123456789abcdef", Str(v, "request_url"),
                                       params, "", Str(v, "x_twilio_signature")));
    std::vector<FormParam> changed = params;
    changed.back().second += "x";
    EXPECT_FALSE(VerifyTwilioSignature(Str(v, "auth_token"), Str(v, "request_url"), changed, "",
                                       Str(v, "x_twilio_signature")));
    ++checked;
  }
  EXPECT_EQ(checked, 16);
}

TEST(TwilioVectors, BodySha256Checks) {
  VectorFile f("signatures/twilio_vectors.json");
  int checked = 0;
  for (element v : f.List("body_sha256_checks")) {
    EXPECT_EQ(Sha256Hex(Str(v, "body")), Str(v, "expected_sha256_hex"));
    ++checked;
  }
  EXPECT_EQ(checked, 2);
}

TEST(TwilioSignature, JsonBodyMustMatchItsHash) {
  const std::string url =
      "https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256="
      "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
  const std::string sig = "a9nBmqA0ju/hNViExpshrM61xv4=";
  EXPECT_TRUE(
      VerifyTwilioSignature("12345", url, {}, R"({"property": "value", "boolean": true})", sig));
  EXPECT_FALSE(
      VerifyTwilioSignature("12345", url, {}, R"({"property": "value", "boolean": false})", sig));
}

TEST(TwilioSignature, MissingSignatureOrTokenFails) {
  const std::vector<FormParam> params = {{"Body", "hi"}};
  const std::string sig = TwilioSignature("tok", "https://a.example/x", params);
  EXPECT_TRUE(VerifyTwilioSignature("tok", "https://a.example/x", params, "", sig));
  EXPECT_FALSE(VerifyTwilioSignature("tok", "https://a.example/x", params, "", ""));
  EXPECT_FALSE(VerifyTwilioSignature("", "https://a.example/x", params, "",
                                     TwilioSignature("", "https://a.example/x", params)));
}

TEST(TwilioSignature, UrlWithAndWithoutDefaultPort) {
  const std::vector<FormParam> params = {{"Body", "hi"}};
  // Twilio signed with :443 while we know the URL without, and the reverse.
  const std::string with_port = TwilioSignature("tok", "https://a.example:443/x?y=1", params);
  EXPECT_TRUE(VerifyTwilioSignature("tok", "https://a.example/x?y=1", params, "", with_port));
  const std::string without = TwilioSignature("tok", "https://a.example/x?y=1", params);
  EXPECT_TRUE(VerifyTwilioSignature("tok", "https://a.example:443/x?y=1", params, "", without));
  const std::string http80 = TwilioSignature("tok", "http://a.example:80/x", params);
  EXPECT_TRUE(VerifyTwilioSignature("tok", "http://a.example/x", params, "", http80));
  // Another port is not a default port: it is not added.
  const std::string other = TwilioSignature("tok", "https://a.example:8443/x", params);
  EXPECT_FALSE(VerifyTwilioSignature("tok", "https://a.example/x", params, "", other));
}

TEST(FormEncoding, DecodesPlusPercentAndUtf8) {
  auto params = DecodeForm("ProfileName=Jo%C3%A3o+Silva&Body=a%2Bb&Empty=&NoValue&&x=1");
  ASSERT_TRUE(params.ok()) << params.status();
  EXPECT_EQ(FormValue(*params, "ProfileName"), "João Silva");
  EXPECT_EQ(FormValue(*params, "Body"), "a+b");
  EXPECT_TRUE(FormHas(*params, "Empty"));
  EXPECT_TRUE(FormHas(*params, "NoValue"));
  EXPECT_EQ(params->size(), 5u);
}

TEST(FormEncoding, RejectsBadEscapesAndInvalidUtf8) {
  EXPECT_FALSE(DecodeForm("Body=%zz").ok());
  EXPECT_FALSE(DecodeForm("Body=%4").ok());
  EXPECT_FALSE(DecodeForm("Body=%ff%fe").ok());
}

}  // namespace
}  // namespace parley::ingress
