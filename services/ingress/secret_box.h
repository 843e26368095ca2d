// Encryption at rest of the channel secrets (App Secrets, Page Access Tokens, Auth Tokens):
// AES-256-GCM through OpenSSL's EVP interface, a fresh random 96-bit nonce per encryption, and
// the key id plus the secret's place (e.g. "facebook_app/<id>/app_secret") bound as additional
// authenticated data, so that a ciphertext moved to another row, column or key id fails to
// open. A box holds a key ring: the current key encrypts, every key decrypts, so keys can be
// rotated (docs/adr/0009-channel-secrets.md). Keys come from the settings secrets_key,
// secrets_key_id and secrets_previous_keys (Kubernetes Secret); none of them is ever logged.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace parley::ingress {

// One AES-256 key and the id stored beside everything it encrypts.
struct SecretKey {
  std::string id;     // 1..32 characters of [A-Za-z0-9._-]
  std::string bytes;  // exactly 32 bytes
};

// A sealed secret as stored: the key id (its own column, so that rows still under an old key
// can be found) and the blob: version byte 0x01 | nonce (12) | ciphertext | tag (16).
struct SealedSecret {
  std::string key_id;
  std::string blob;
};

class SecretBox {
 public:
  // `keys[0]` encrypts; all decrypt. InvalidArgument for no key, a key that is not 32 bytes,
  // a malformed id or a repeated id.
  static absl::StatusOr<SecretBox> Create(std::vector<SecretKey> keys);

  // From the settings: the current key (`key_base64`, standard base64 of 32 bytes) with its id,
  // and older keys kept for decryption as "id:base64,id:base64" (may be empty).
  // InvalidArgument naming the setting, never quoting a key.
  static absl::StatusOr<SecretBox> FromSettings(absl::string_view key_id,
                                                absl::string_view key_base64,
                                                absl::string_view previous_keys);

  SecretBox(SecretBox&&) = default;
  SecretBox& operator=(SecretBox&&) = default;
  ~SecretBox();

  // Encrypts `plaintext` under the current key. `context` names where it is stored; Open needs
  // the same. Internal only if OpenSSL fails.
  absl::StatusOr<SealedSecret> Seal(absl::string_view plaintext, absl::string_view context) const;

  // Decrypts. FailedPrecondition when the key id is not in the ring; DataLoss when the blob is
  // malformed or does not authenticate (altered data, another context, or a different key
  // under the same id). Messages name the key id, never the data.
  absl::StatusOr<std::string> Open(const SealedSecret& sealed, absl::string_view context) const;

  const std::string& current_key_id() const { return keys_.front().id; }

 private:
  explicit SecretBox(std::vector<SecretKey> keys) : keys_(std::move(keys)) {}
  const SecretKey* Find(absl::string_view id) const;

  std::vector<SecretKey> keys_;
};

}  // namespace parley::ingress
