#include "services/ingress/secret_box.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <memory>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace parley::ingress {
namespace {

constexpr char kVersion = 0x01;
constexpr int kKeyBytes = 32;
constexpr int kNonceBytes = 12;
constexpr int kTagBytes = 16;

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

CipherCtx NewCtx() { return CipherCtx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free); }

const unsigned char* Bytes(absl::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}
unsigned char* Bytes(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

// The additional authenticated data: the format, the key id and the secret's place.
std::string Aad(absl::string_view key_id, absl::string_view context) {
  return absl::StrCat("parley-secret-v1", absl::string_view("\0", 1), key_id,
                      absl::string_view("\0", 1), context);
}

bool ValidKeyId(absl::string_view id) {
  if (id.empty() || id.size() > 32) return false;
  for (char c : id) {
    if (!absl::ascii_isalnum(c) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

// Decodes one base64 key; `where` names it in errors (the setting, the ring entry).
absl::StatusOr<std::string> DecodeKey(absl::string_view where, absl::string_view base64) {
  std::string bytes;
  const absl::string_view trimmed = absl::StripAsciiWhitespace(base64);
  if (trimmed.empty()) return absl::InvalidArgumentError(absl::StrCat(where, ": empty"));
  if (!absl::Base64Unescape(trimmed, &bytes)) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": not base64"));
  }
  if (bytes.size() != kKeyBytes) {
    const size_t n = bytes.size();
    OPENSSL_cleanse(bytes.data(), bytes.size());
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": decodes to ", n, " bytes, AES-256 needs 32 (openssl rand -base64 32)"));
  }
  return bytes;
}

}  // namespace

absl::StatusOr<SecretBox> SecretBox::Create(std::vector<SecretKey> keys) {
  if (keys.empty()) return absl::InvalidArgumentError("secret key ring: no key");
  std::set<std::string, std::less<>> ids;
  for (const SecretKey& k : keys) {
    if (!ValidKeyId(k.id)) {
      return absl::InvalidArgumentError(absl::StrCat("secret key id \"", absl::CEscape(k.id),
                                                     "\": 1..32 characters of A-Z a-z 0-9 . _ -"));
    }
    if (k.bytes.size() != kKeyBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("secret key ", k.id, ": ", k.bytes.size(), " bytes, AES-256 needs 32"));
    }
    if (!ids.insert(k.id).second) {
      return absl::InvalidArgumentError(absl::StrCat("secret key ", k.id, ": id given twice"));
    }
  }
  return SecretBox(std::move(keys));
}

absl::StatusOr<SecretBox> SecretBox::FromSettings(absl::string_view key_id,
                                                  absl::string_view key_base64,
                                                  absl::string_view previous_keys) {
  std::vector<SecretKey> keys;
  absl::StatusOr<std::string> current = DecodeKey("setting secrets_key", key_base64);
  if (!current.ok()) return current.status();
  keys.push_back({std::string(absl::StripAsciiWhitespace(key_id)), *std::move(current)});
  for (absl::string_view entry : absl::StrSplit(previous_keys, ',', absl::SkipWhitespace())) {
    const std::pair<absl::string_view, absl::string_view> parts =
        absl::StrSplit(entry, absl::MaxSplits(':', 1));
    const std::string id(absl::StripAsciiWhitespace(parts.first));
    if (parts.second.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("setting secrets_previous_keys: entry ",
                                                     keys.size(),
                                                     " is not id:base64 (comma-separated)"));
    }
    absl::StatusOr<std::string> bytes =
        DecodeKey(absl::StrCat("setting secrets_previous_keys: key ", id), parts.second);
    if (!bytes.ok()) return bytes.status();
    keys.push_back({id, *std::move(bytes)});
  }
  absl::StatusOr<SecretBox> box = Create(std::move(keys));
  if (!box.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("settings secrets_key_id/secrets_previous_keys: ", box.status().message()));
  }
  return box;
}

SecretBox::~SecretBox() {
  for (SecretKey& k : keys_) OPENSSL_cleanse(k.bytes.data(), k.bytes.size());
}

const SecretKey* SecretBox::Find(absl::string_view id) const {
  for (const SecretKey& k : keys_) {
    if (k.id == id) return &k;
  }
  return nullptr;
}

absl::StatusOr<SealedSecret> SecretBox::Seal(absl::string_view plaintext,
                                             absl::string_view context) const {
  const SecretKey& key = keys_.front();
  const std::string aad = Aad(key.id, context);
  std::string blob(1 + kNonceBytes + plaintext.size() + kTagBytes, '\0');
  blob[0] = kVersion;
  unsigned char* nonce = Bytes(blob) + 1;
  unsigned char* out = nonce + kNonceBytes;
  if (RAND_bytes(nonce, kNonceBytes) != 1) return absl::InternalError("RAND_bytes failed");
  CipherCtx ctx = NewCtx();
  int len = 0;
  int total = 0;
  if (ctx == nullptr ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceBytes, nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, Bytes(key.bytes), nonce) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, Bytes(aad), static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), out, &len, Bytes(plaintext),
                        static_cast<int>(plaintext.size())) != 1) {
    return absl::InternalError("AES-256-GCM encryption failed");
  }
  total = len;
  if (EVP_EncryptFinal_ex(ctx.get(), out + total, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, out + total + len) != 1) {
    return absl::InternalError("AES-256-GCM encryption failed");
  }
  return SealedSecret{key.id, std::move(blob)};
}

absl::StatusOr<std::string> SecretBox::Open(const SealedSecret& sealed,
                                            absl::string_view context) const {
  const SecretKey* key = Find(sealed.key_id);
  if (key == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("secret sealed with key \"", absl::CEscape(sealed.key_id),
                     "\", which is not configured (secrets_key_id, secrets_previous_keys)"));
  }
  const absl::string_view blob = sealed.blob;
  if (blob.size() < 1 + kNonceBytes + kTagBytes || blob[0] != kVersion) {
    return absl::DataLossError(
        absl::StrCat("secret under key ", key->id, ": not a version 1 sealed secret"));
  }
  const absl::string_view nonce = blob.substr(1, kNonceBytes);
  const absl::string_view body =
      blob.substr(1 + kNonceBytes, blob.size() - 1 - kNonceBytes - kTagBytes);
  std::string tag(blob.substr(blob.size() - kTagBytes));
  const std::string aad = Aad(key->id, context);
  std::string plain(body.size(), '\0');
  CipherCtx ctx = NewCtx();
  int len = 0;
  if (ctx == nullptr ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceBytes, nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, Bytes(key->bytes), Bytes(nonce)) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, Bytes(aad), static_cast<int>(aad.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), Bytes(plain), &len, Bytes(body),
                        static_cast<int>(body.size())) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, Bytes(tag)) != 1) {
    OPENSSL_cleanse(plain.data(), plain.size());
    return absl::InternalError("AES-256-GCM decryption failed");
  }
  int final_len = 0;
  if (EVP_DecryptFinal_ex(ctx.get(), Bytes(plain) + len, &final_len) != 1) {
    OPENSSL_cleanse(plain.data(), plain.size());
    return absl::DataLossError(absl::StrCat(
        "secret under key ", key->id,
        ": does not authenticate (altered, moved from another record, or another key)"));
  }
  plain.resize(len + final_len);
  return plain;
}

}  // namespace parley::ingress
