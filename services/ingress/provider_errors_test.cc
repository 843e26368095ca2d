// Every error body in tests/fixtures/providers/graph_api/errors and twilio_api/errors (and the
// success bodies in */responses) maps to the right typed result. The test also fails when a
// fixture file is added without an expectation here.
#include "services/ingress/provider_errors.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "gtest/gtest.h"

namespace parley::ingress {
namespace {

namespace cv1 = common::v1;
const absl::Time kNow = absl::FromUnixSeconds(1700000000);

std::string ReadFixture(const std::string& rel) {
  std::ifstream in(std::string(PARLEY_PROVIDER_FIXTURES) + "/" + rel, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Expect {
  int http_status;  // the status the provider answers with this body
  OutcomeKind kind;
  v1::RetryReason retry = v1::RETRY_REASON_UNSPECIFIED;
  cv1::DeliveryFailureReason reason = cv1::DELIVERY_FAILURE_REASON_UNSPECIFIED;
  int code = 0;
  int subcode = 0;
};

Expect Fail(int status, cv1::DeliveryFailureReason reason, int code, int subcode = 0) {
  return {status, OutcomeKind::kFinal, v1::RETRY_REASON_UNSPECIFIED, reason, code, subcode};
}
Expect Retry(int status, v1::RetryReason retry, int code, int subcode = 0) {
  return {status, OutcomeKind::kRetryable, retry, cv1::DELIVERY_FAILURE_REASON_UNSPECIFIED, code,
          subcode};
}

const std::map<std::string, Expect>& GraphExpectations() {
  static const auto* m = new std::map<std::string, Expect>{
      {"10_2018278_outside_window.json",
       Fail(400, cv1::DELIVERY_FAILURE_REASON_WINDOW_CLOSED, 10, 2018278)},
      {"10_2018278_outside_window_localized_zh.json",
       Fail(400, cv1::DELIVERY_FAILURE_REASON_WINDOW_CLOSED, 10, 2018278)},
      {"10_2018065_outside_window_raw_issue.json",
       Fail(400, cv1::DELIVERY_FAILURE_REASON_WINDOW_CLOSED, 10, 2018065)},
      {"10_2018065_outside_window_permission.json",
       Fail(400, cv1::DELIVERY_FAILURE_REASON_WINDOW_CLOSED, 10, 2018065)},
      {"551_1545041_not_available.json",
       Fail(400, cv1::DELIVERY_FAILURE_REASON_WINDOW_CLOSED, 551, 1545041)},
      {"200_1545041_not_sent.json",
       Fail(400, cv1::DELIVERY_FAILURE_REASON_WINDOW_CLOSED, 200, 1545041)},
      {"10_2018108_cannot_receive.json",
       Fail(400, cv1::DELIVERY_FAILURE_REASON_RECIPIENT_UNAVAILABLE, 10, 2018108)},
      {"100_2018001_no_matching_user.json",
       Fail(400, cv1::DELIVERY_FAILURE_REASON_RECIPIENT_UNAVAILABLE, 100, 2018001)},
      // The old shape carries "No matching user found." only in error_data text: code 100
      // without a subcode is an invalid request (texts are never matched).
      {"100_error_data_no_matching_user.json",
       Fail(400, cv1::DELIVERY_FAILURE_REASON_INVALID_REQUEST, 100)},
      {"100_invalid_fbid.json", Fail(400, cv1::DELIVERY_FAILURE_REASON_INVALID_REQUEST, 100)},
      {"100_2018047_upload_attachment_failure.json",
       Fail(400, cv1::DELIVERY_FAILURE_REASON_MEDIA_REJECTED, 100, 2018047)},
      {"190_invalid_token_docs_example.json",
       Fail(400, cv1::DELIVERY_FAILURE_REASON_INVALID_CREDENTIALS, 190, 1234567)},
      {"190_invalid_token_jgorset.json",
       Fail(400, cv1::DELIVERY_FAILURE_REASON_INVALID_CREDENTIALS, 190)},
      {"200_2018028_app_not_live.json",
       Fail(400, cv1::DELIVERY_FAILURE_REASON_PERMISSION_DENIED, 200, 2018028)},
      {"230_requires_pages_messaging.json",
       Fail(400, cv1::DELIVERY_FAILURE_REASON_PERMISSION_DENIED, 230)},
      {"10303_invalid_account_linking_token.json",
       Fail(400, cv1::DELIVERY_FAILURE_REASON_PROVIDER_ERROR, 10303)},
      {"4_app_request_limit.json", Retry(400, v1::RETRY_REASON_RATE_LIMITED, 4)},
      {"613_rate_limit.json", Retry(400, v1::RETRY_REASON_RATE_LIMITED, 613)},
      {"1200_temporary_send_failure.json", Retry(400, v1::RETRY_REASON_PROVIDER_ERROR, 1200)},
  };
  return *m;
}

const std::map<std::string, Expect>& TwilioExpectations() {
  static const auto* m = new std::map<std::string, Expect>{
      {"20001_bad_request_with_details.json",
       Fail(400, cv1::DELIVERY_FAILURE_REASON_INVALID_REQUEST, 20001)},
      {"20003_authenticate.json",
       Fail(401, cv1::DELIVERY_FAILURE_REASON_INVALID_CREDENTIALS, 20003)},
      {"63007_channel_not_found.json",
       Fail(400, cv1::DELIVERY_FAILURE_REASON_PERMISSION_DENIED, 63007)},
      {"81022_minimal.json", Fail(400, cv1::DELIVERY_FAILURE_REASON_PROVIDER_ERROR, 81022)},
      {"malformed_body.txt", Fail(400, cv1::DELIVERY_FAILURE_REASON_PROVIDER_ERROR, 0)},
  };
  return *m;
}

void CheckOutcome(const std::string& name, const ProviderOutcome& got, const Expect& want) {
  SCOPED_TRACE(name + ": " + got.detail);
  ASSERT_EQ(static_cast<int>(got.kind), static_cast<int>(want.kind));
  EXPECT_EQ(got.http_status, want.http_status);
  EXPECT_EQ(got.provider_code, want.code);
  EXPECT_EQ(got.provider_subcode, want.subcode);
  EXPECT_FALSE(got.detail.empty());
  EXPECT_LE(got.detail.size(), 1000u);
  if (want.kind == OutcomeKind::kRetryable) {
    EXPECT_EQ(got.retry_reason, want.retry);
    EXPECT_EQ(got.retry_after, DefaultRetryAfter(want.retry));
  } else {
    EXPECT_EQ(got.failure_reason, want.reason);
  }
}

// Every file of `dir` (but the .tsv tables) has an expectation, and every expectation a file.
void CheckDirectory(const std::string& dir, const std::map<std::string, Expect>& expectations,
                    bool graph) {
  std::set<std::string> seen;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(PARLEY_PROVIDER_FIXTURES) + "/" + dir)) {
    std::string name = entry.path().filename().string();
    if (entry.path().extension() == ".tsv") continue;
    seen.insert(name);
    auto it = expectations.find(name);
    ASSERT_NE(it, expectations.end()) << dir << "/" << name << " has no expectation";
    std::string body = ReadFixture(dir + "/" + name);
    ProviderReply reply{.http_status = it->second.http_status, .body = body};
    CheckOutcome(name, graph ? ClassifyGraphReply(reply, kNow) : ClassifyTwilioReply(reply, kNow),
                 it->second);
  }
  EXPECT_EQ(seen.size(), expectations.size());
}

TEST(ProviderErrorsTest, EveryGraphErrorFixture) {
  CheckDirectory("graph_api/errors", GraphExpectations(), true);
}

TEST(ProviderErrorsTest, EveryTwilioErrorFixture) {
  CheckDirectory("twilio_api/errors", TwilioExpectations(), false);
}

TEST(ProviderErrorsTest, SuccessFixturesAreAcceptedWithTheProviderId) {
  std::string graph = ReadFixture("graph_api/responses/send_success.json");
  ProviderOutcome g = ClassifyGraphReply({.http_status = 200, .body = graph}, kNow);
  ASSERT_EQ(g.kind, OutcomeKind::kAccepted);
  EXPECT_EQ(g.provider_message_id, "mid.1456970487936:c34767dfe57ee6e339");
  std::string twilio = ReadFixture("twilio_api/responses/message_create_201.json");
  ProviderOutcome t = ClassifyTwilioReply({.http_status = 201, .body = twilio}, kNow);
  ASSERT_EQ(t.kind, OutcomeKind::kAccepted);
  EXPECT_EQ(t.provider_message_id, "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
  EXPECT_EQ(OutcomeLabel(t), "accepted");
}

TEST(ProviderErrorsTest, HttpStatusDecidesWhenTheBodyIsNotTheProviders) {
  ProviderOutcome a = ClassifyGraphReply({.http_status = 503, .body = "<html>bad gateway"}, kNow);
  EXPECT_EQ(a.kind, OutcomeKind::kRetryable);
  EXPECT_EQ(a.retry_reason, v1::RETRY_REASON_PROVIDER_ERROR);
  ProviderOutcome b = ClassifyGraphReply({.http_status = 429, .body = ""}, kNow);
  EXPECT_EQ(b.retry_reason, v1::RETRY_REASON_RATE_LIMITED);
  ProviderOutcome c = ClassifyTwilioReply({.http_status = 429, .body = "{}"}, kNow);
  EXPECT_EQ(c.retry_reason, v1::RETRY_REASON_RATE_LIMITED);
  ProviderOutcome d = ClassifyTwilioReply({.http_status = 500, .body = "oops"}, kNow);
  EXPECT_EQ(d.retry_reason, v1::RETRY_REASON_PROVIDER_ERROR);
  ProviderOutcome e = ClassifyTwilioReply({.http_status = 401, .body = ""}, kNow);
  EXPECT_EQ(e.failure_reason, cv1::DELIVERY_FAILURE_REASON_INVALID_CREDENTIALS);
  ProviderOutcome f = ClassifyGraphReply({.http_status = 200, .body = "{}"}, kNow);
  EXPECT_EQ(f.kind, OutcomeKind::kFinal);
  EXPECT_EQ(OutcomeLabel(f), "final_provider_error");
  std::string twilio = ReadFixture("twilio_api/errors/malformed_body.txt");
  ProviderOutcome g = ClassifyTwilioReply({.http_status = 502, .body = twilio}, kNow);
  EXPECT_EQ(OutcomeLabel(g), "retryable_provider_error");
}

TEST(ProviderErrorsTest, TwilioWindowAndRateCodes) {
  // No public REST body carries 63016 (it normally arrives in a status callback); this is the
  // documented shape with that code.
  ProviderOutcome w = ClassifyTwilioReply(
      {.http_status = 400,
       .body = R"({"code":63016,"message":"Outside messaging window","status":400})"},
      kNow);
  EXPECT_EQ(w.failure_reason, cv1::DELIVERY_FAILURE_REASON_WINDOW_CLOSED);
  EXPECT_EQ(OutcomeLabel(w), "final_window_closed");
  ProviderOutcome r = ClassifyTwilioReply(
      {.http_status = 400, .body = R"({"code":63017,"message":"Rate limit exceeded"})"}, kNow);
  EXPECT_EQ(r.retry_reason, v1::RETRY_REASON_RATE_LIMITED);
  ProviderOutcome u = ClassifyTwilioReply(
      {.http_status = 400, .body = R"({"code":21211,"message":"The 'To' number is not valid"})"},
      kNow);
  EXPECT_EQ(u.failure_reason, cv1::DELIVERY_FAILURE_REASON_RECIPIENT_UNAVAILABLE);
}

TEST(ProviderErrorsTest, RetryAfterHintWins) {
  std::string body = ReadFixture("graph_api/errors/613_rate_limit.json");
  ProviderOutcome a =
      ClassifyGraphReply({.http_status = 400, .body = body, .retry_after = "120"}, kNow);
  EXPECT_EQ(a.retry_after, absl::Seconds(120));
  ProviderOutcome b = ClassifyTwilioReply(
      {.http_status = 429, .body = "", .retry_after = "Tue, 14 Nov 2023 22:20:20 GMT"}, kNow);
  EXPECT_EQ(b.retry_after, absl::Minutes(7));  // kNow is 22:13:20
  EXPECT_EQ(ParseRetryAfter("99999", kNow), absl::Hours(1));
  EXPECT_EQ(ParseRetryAfter("soon", kNow), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("-3", kNow), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("", kNow), std::nullopt);
}

TEST(ProviderErrorsTest, TransportFailures) {
  ProviderOutcome a = ClassifyTransportFailure(absl::UnavailableError("connect refused"));
  EXPECT_EQ(a.retry_reason, v1::RETRY_REASON_UNREACHABLE);
  EXPECT_EQ(a.http_status, 0);
  ProviderOutcome b = ClassifyTransportFailure(absl::DeadlineExceededError("timeout"));
  EXPECT_EQ(b.retry_reason, v1::RETRY_REASON_TIMEOUT);
  EXPECT_EQ(OutcomeLabel(b), "retryable_timeout");
}

TEST(ProviderErrorsTest, LongProviderMessagesAreCutOnACharacterBoundary) {
  std::string message;
  for (int i = 0; i < 600; ++i) message += "é";  // 2 bytes each
  std::string body = R"({"error":{"message":")" + message + R"(","code":10303}})";
  ProviderOutcome o = ClassifyGraphReply({.http_status = 400, .body = body}, kNow);
  EXPECT_LE(o.detail.size(), 1000u);
  EXPECT_NE(static_cast<unsigned char>(o.detail.back()), 0xC3);
}

}  // namespace
}  // namespace parley::ingress
