#include "services/ingress/secret_box.h"

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace parley::ingress {
namespace {

constexpr char kContext[] = "facebook_apps/0b5c.../app_secret";
constexpr char kSecret[] = "0123456789abcdef0123456789abcdef";

SecretBox Box(std::vector<SecretKey> keys) {
  absl::StatusOr<SecretBox> box = SecretBox::Create(std::move(keys));
  EXPECT_TRUE(box.ok()) << box.status();
  return *std::move(box);
}

std::string Key(char c) { return std::string(32, c); }

TEST(SecretBoxTest, RoundTripsAndNeverStoresThePlaintext) {
  const SecretBox box = Box({{"k1", Key('a')}});
  absl::StatusOr<SealedSecret> sealed = box.Seal(kSecret, kContext);
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  EXPECT_EQ(sealed->key_id, "k1");
  EXPECT_EQ(sealed->blob.size(), 1 + 12 + sizeof(kSecret) - 1 + 16);
  EXPECT_FALSE(absl::StrContains(sealed->blob, kSecret));
  absl::StatusOr<std::string> opened = box.Open(*sealed, kContext);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, kSecret);
}

TEST(SecretBoxTest, EmptyAndLongPlaintextsRoundTrip) {
  const SecretBox box = Box({{"k1", Key('a')}});
  for (const std::string& plain : {std::string(), std::string(5000, 'x')}) {
    absl::StatusOr<SealedSecret> sealed = box.Seal(plain, kContext);
    ASSERT_TRUE(sealed.ok());
    absl::StatusOr<std::string> opened = box.Open(*sealed, kContext);
    ASSERT_TRUE(opened.ok()) << opened.status();
    EXPECT_EQ(*opened, plain);
  }
}

TEST(SecretBoxTest, EveryEncryptionUsesAFreshNonce) {
  const SecretBox box = Box({{"k1", Key('a')}});
  absl::StatusOr<SealedSecret> a = box.Seal(kSecret, kContext);
  absl::StatusOr<SealedSecret> b = box.Seal(kSecret, kContext);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->blob.substr(1, 12), b->blob.substr(1, 12));
  EXPECT_NE(a->blob, b->blob);
}

TEST(SecretBoxTest, DetectsATamperedCiphertextTagNonceOrVersion) {
  const SecretBox box = Box({{"k1", Key('a')}});
  absl::StatusOr<SealedSecret> sealed = box.Seal(kSecret, kContext);
  ASSERT_TRUE(sealed.ok());
  const size_t n = sealed->blob.size();
  struct Case {
    const char* what;
    size_t index;
  };
  for (const Case& c : {Case{"nonce", 1}, Case{"ciphertext", 13}, Case{"ciphertext end", n - 17},
                        Case{"tag", n - 16}, Case{"tag end", n - 1}}) {
    SealedSecret bad = *sealed;
    bad.blob[c.index] ^= 0x01;
    absl::StatusOr<std::string> opened = box.Open(bad, kContext);
    EXPECT_EQ(opened.status().code(), absl::StatusCode::kDataLoss) << c.what;
    EXPECT_TRUE(absl::StrContains(opened.status().message(), "does not authenticate")) << c.what;
  }
  SealedSecret version = *sealed;
  version.blob[0] = 0x02;
  EXPECT_EQ(box.Open(version, kContext).status().code(), absl::StatusCode::kDataLoss);
  SealedSecret truncated = *sealed;
  truncated.blob.resize(20);
  EXPECT_EQ(box.Open(truncated, kContext).status().code(), absl::StatusCode::kDataLoss);
}

TEST(SecretBoxTest, BindsTheKeyIdAndTheContext) {
  // Two ids for the same key bytes: only the AAD tells them apart.
  const SecretBox box = Box({{"k1", Key('a')}, {"k0", Key('a')}});
  absl::StatusOr<SealedSecret> sealed = box.Seal(kSecret, kContext);
  ASSERT_TRUE(sealed.ok());
  SealedSecret relabelled = *sealed;
  relabelled.key_id = "k0";
  EXPECT_EQ(box.Open(relabelled, kContext).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(box.Open(*sealed, "facebook_apps/other/app_secret").status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(SecretBoxTest, RotationKeepsOldSecretsReadable) {
  const SecretBox old_box = Box({{"k1", Key('a')}});
  absl::StatusOr<SealedSecret> old_sealed = old_box.Seal(kSecret, kContext);
  ASSERT_TRUE(old_sealed.ok());

  const SecretBox rotated = Box({{"k2", Key('b')}, {"k1", Key('a')}});
  EXPECT_EQ(rotated.current_key_id(), "k2");
  absl::StatusOr<std::string> opened = rotated.Open(*old_sealed, kContext);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, kSecret);

  absl::StatusOr<SealedSecret> new_sealed = rotated.Seal(kSecret, kContext);
  ASSERT_TRUE(new_sealed.ok());
  EXPECT_EQ(new_sealed->key_id, "k2");
  // The old ring does not know k2.
  absl::StatusOr<std::string> unknown = old_box.Open(*new_sealed, kContext);
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(unknown.status().message(), "\"k2\", which is not configured"))
      << unknown.status();
}

TEST(SecretBoxTest, AWrongKeyUnderTheSameIdDoesNotAuthenticate) {
  absl::StatusOr<SealedSecret> sealed = Box({{"k1", Key('a')}}).Seal(kSecret, kContext);
  ASSERT_TRUE(sealed.ok());
  absl::StatusOr<std::string> opened = Box({{"k1", Key('c')}}).Open(*sealed, kContext);
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(opened.status().message(),
            "secret under key k1: does not authenticate (altered, moved from another record, or "
            "another key)");
}

TEST(SecretBoxTest, RejectsMalformedKeyRings) {
  EXPECT_EQ(SecretBox::Create({}).status().message(), "secret key ring: no key");
  EXPECT_EQ(SecretBox::Create({{"k1", std::string(31, 'a')}}).status().message(),
            "secret key k1: 31 bytes, AES-256 needs 32");
  EXPECT_EQ(SecretBox::Create({{"k 1", Key('a')}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SecretBox::Create({{"", Key('a')}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SecretBox::Create({{"k1", Key('a')}, {"k1", Key('b')}}).status().message(),
            "secret key k1: id given twice");
}

TEST(SecretBoxTest, ParsesTheSettings) {
  const std::string k2 = absl::Base64Escape(Key('b'));
  const std::string k1 = absl::Base64Escape(Key('a'));
  absl::StatusOr<SecretBox> box = SecretBox::FromSettings(
      "k2", k2, absl::StrCat(" k1:", k1, " , k0:", absl::Base64Escape(Key('z'))));
  ASSERT_TRUE(box.ok()) << box.status();
  EXPECT_EQ(box->current_key_id(), "k2");
  absl::StatusOr<SealedSecret> under_k1 = Box({{"k1", Key('a')}}).Seal(kSecret, kContext);
  ASSERT_TRUE(under_k1.ok());
  absl::StatusOr<std::string> opened = box->Open(*under_k1, kContext);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, kSecret);

  EXPECT_TRUE(SecretBox::FromSettings("k1", k1, "").ok());
}

TEST(SecretBoxTest, SettingErrorsNameTheSettingAndNeverTheKey) {
  const std::string k1 = absl::Base64Escape(Key('a'));
  struct Case {
    std::string id, key, previous, message;
  };
  const std::string short_key = absl::Base64Escape(std::string(16, 'q'));
  for (const Case& c : {
           Case{"k1", "", "", "setting secrets_key: empty"},
           Case{"k1", "!!not base64!!", "", "setting secrets_key: not base64"},
           Case{"k1", short_key, "",
                "setting secrets_key: decodes to 16 bytes, AES-256 needs 32 (openssl rand "
                "-base64 32)"},
           Case{"k1", k1, "k0",
                "setting secrets_previous_keys: entry 1 is not id:base64 "
                "(comma-separated)"},
           Case{"k1", k1, "k0:" + short_key,
                "setting secrets_previous_keys: key k0: decodes to 16 bytes, AES-256 needs 32 "
                "(openssl rand -base64 32)"},
           Case{"k1", k1, "k1:" + k1,
                "settings secrets_key_id/secrets_previous_keys: secret key k1: id given twice"},
           Case{"", k1, "",
                "settings secrets_key_id/secrets_previous_keys: secret key id \"\": 1..32 "
                "characters of A-Z a-z 0-9 . _ -"},
       }) {
    absl::StatusOr<SecretBox> box = SecretBox::FromSettings(c.id, c.key, c.previous);
    EXPECT_EQ(box.status().code(), absl::StatusCode::kInvalidArgument) << c.message;
    EXPECT_EQ(box.status().message(), c.message);
    EXPECT_FALSE(absl::StrContains(box.status().message(), short_key));
    EXPECT_FALSE(absl::StrContains(box.status().message(), k1));
  }
}

}  // namespace
}  // namespace parley::ingress
