// Encryption at rest for binding credentials: AES-256-GCM (OpenSSL EVP) under a KeyRing.
//
// A sealed value is {key_id, blob}; blob = 12-byte random nonce || ciphertext || 16-byte tag.
// The key id is stored beside the blob so keys can rotate: the ring encrypts with its current
// key and decrypts with whichever key the stored id names. Optional associated data (e.g. the
// row's id) is authenticated but not stored: decrypting needs the same `aad`, so a blob copied
// into another row does not decrypt.
//
// Key material never appears in a Status message or a log line. The ring wipes its keys on
// destruction.
//
// Thread-safety: a KeyRing is immutable after construction; Encrypt/Decrypt are thread-safe.
#ifndef BROKER_STORE_CIPHER_H_
#define BROKER_STORE_CIPHER_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/base/result.h"

namespace broker::store {

struct Sealed {
  std::string key_id;
  std::string blob;  // nonce || ciphertext || tag (binary)
};

class KeyRing {
 public:
  static constexpr std::size_t kKeySize = 32;
  static constexpr std::size_t kNonceSize = 12;
  static constexpr std::size_t kTagSize = 16;

  // A ring holding one key given as base64 (standard or URL-safe alphabet, padding optional,
  // surrounding whitespace ignored) of exactly 32 bytes — what BROKER_ENCRYPTION_KEY holds. Its id
  // is DeriveKeyId(key), so every process and restart agrees on it.
  // kInvalidArgument when the text is not base64 of 32 bytes (the message never repeats it).
  static base::Result<KeyRing> FromBase64Key(std::string_view b64);

  // A ring from "id1:b64key1,id2:b64key2,..." (BROKER_ENCRYPTION_KEYS); the first entry is the
  // current key. An entry without "id:" gets DeriveKeyId(key). Ids are 1..64 characters of
  // [A-Za-z0-9._-] and unique. kInvalidArgument when the spec is empty, an id is invalid or
  // repeated, or a key is not base64 of 32 bytes; the message names the entry by its position,
  // never by its text.
  static base::Result<KeyRing> FromSpec(std::string_view spec);

  // The first 8 hex characters of SHA-256(key): a stable, non-secret name for a 32-byte key.
  static std::string DeriveKeyId(std::string_view key);

  KeyRing(const KeyRing& other) = default;
  KeyRing& operator=(const KeyRing& other) = default;
  KeyRing(KeyRing&& other) noexcept = default;
  KeyRing& operator=(KeyRing&& other) noexcept = default;
  ~KeyRing();

  const std::string& current_key_id() const { return keys_.front().id; }
  std::vector<std::string> key_ids() const;

  // Seals `plaintext` with the current key and a fresh random nonce.
  // kInternal "encryption failed" only if OpenSSL fails.
  base::Result<Sealed> Encrypt(std::string_view plaintext, std::string_view aad = {}) const;

  // Opens a blob sealed under `key_id` with the same `aad`.
  // kNotFound "encryption key <id> is not configured" for an unknown key id;
  // kInternal "credentials could not be decrypted" for a short, altered or mis-keyed blob.
  base::Result<std::string> Decrypt(std::string_view key_id, std::string_view blob,
                                    std::string_view aad = {}) const;

 private:
  struct Key {
    std::string id;
    std::string material;  // kKeySize bytes
  };
  explicit KeyRing(std::vector<Key> keys) : keys_(std::move(keys)) {}

  std::vector<Key> keys_;  // never empty; front() is current
};

// Strict base64 decoding (standard or URL-safe alphabet, optional padding, no whitespace inside).
// nullopt on malformed input. Exposed for tests.
std::optional<std::string> DecodeBase64(std::string_view text);

}  // namespace broker::store

#endif  // BROKER_STORE_CIPHER_H_
