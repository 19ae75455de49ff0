#include "broker/store/cipher.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>
#include <memory>
#include <set>
#include <utility>

#include "broker/base/ids.h"

namespace broker::store {
namespace {

struct CtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter>;

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

int SextetOf(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

std::string_view TrimSpace(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

bool ValidKeyId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// Decodes a key; on failure the caller's message names the entry, never the text.
std::optional<std::string> DecodeKey(std::string_view b64) {
  auto key = DecodeBase64(TrimSpace(b64));
  if (!key || key->size() != KeyRing::kKeySize) {
    if (key) OPENSSL_cleanse(key->data(), key->size());
    return std::nullopt;
  }
  return key;
}

}  // namespace

std::optional<std::string> DecodeBase64(std::string_view text) {
  std::size_t padding = 0;
  while (!text.empty() && text.back() == '=') {
    text.remove_suffix(1);
    ++padding;
  }
  if (padding > 2 || (padding > 0 && (text.size() + padding) % 4 != 0)) return std::nullopt;
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  unsigned int acc = 0;
  int bits = 0;
  for (char c : text) {
    const int v = SextetOf(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<unsigned int>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  // Leftover bits must be zero, or the text is not the canonical encoding of any bytes.
  if ((acc & ((1U << bits) - 1)) != 0) return std::nullopt;
  return out;
}

std::string KeyRing::DeriveKeyId(std::string_view key) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(Bytes(key), key.size(), digest);
  return base::HexEncode(std::string_view(reinterpret_cast<const char*>(digest), 4));
}

base::Result<KeyRing> KeyRing::FromBase64Key(std::string_view b64) {
  auto key = DecodeKey(b64);
  if (!key) {
    return base::Status::InvalidArgument("encryption key is not base64 of exactly 32 bytes");
  }
  std::vector<Key> keys;
  keys.push_back(Key{DeriveKeyId(*key), std::move(*key)});
  return KeyRing(std::move(keys));
}

base::Result<KeyRing> KeyRing::FromSpec(std::string_view spec) {
  std::vector<Key> keys;
  std::set<std::string> seen;
  std::size_t position = 0;
  while (true) {
    ++position;
    const auto comma = spec.find(',');
    const std::string_view entry = TrimSpace(spec.substr(0, comma));
    const std::string where = "encryption key entry " + std::to_string(position);
    if (entry.empty()) return base::Status::InvalidArgument(where + " is empty");
    const auto colon = entry.find(':');
    std::string id;
    std::string_view b64 = entry;
    if (colon != std::string_view::npos) {
      id = std::string(TrimSpace(entry.substr(0, colon)));
      b64 = entry.substr(colon + 1);
      if (!ValidKeyId(id)) {
        return base::Status::InvalidArgument(
            where + ": key id must be 1-64 characters of letters, digits, '.', '_' or '-'");
      }
    }
    auto key = DecodeKey(b64);
    if (!key) {
      // Named by position only: a mis-ordered "key:id" entry would otherwise echo the key.
      return base::Status::InvalidArgument(where + " is not base64 of exactly 32 bytes");
    }
    if (id.empty()) id = DeriveKeyId(*key);
    if (!seen.insert(id).second) {
      OPENSSL_cleanse(key->data(), key->size());
      return base::Status::InvalidArgument(where + " repeats the key id of an earlier entry");
    }
    keys.push_back(Key{std::move(id), std::move(*key)});
    if (comma == std::string_view::npos) break;
    spec.remove_prefix(comma + 1);
  }
  return KeyRing(std::move(keys));
}

KeyRing::~KeyRing() {
  for (Key& k : keys_) OPENSSL_cleanse(k.material.data(), k.material.size());
}

std::vector<std::string> KeyRing::key_ids() const {
  std::vector<std::string> ids;
  for (const Key& k : keys_) ids.push_back(k.id);
  return ids;
}

base::Result<Sealed> KeyRing::Encrypt(std::string_view plaintext, std::string_view aad) const {
  const Key& key = keys_.front();
  const base::Status failed = base::Status::Internal("encryption failed");
  CtxPtr ctx(EVP_CIPHER_CTX_new());
  if (ctx == nullptr) return failed;

  std::string blob = base::RandomBytes(kNonceSize);
  blob.resize(kNonceSize + plaintext.size() + kTagSize);
  auto* out = reinterpret_cast<unsigned char*>(blob.data());
  int len = 0;
  if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kNonceSize),
                          nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, Bytes(key.material), out) != 1) {
    return failed;
  }
  if (!aad.empty() &&
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, Bytes(aad), static_cast<int>(aad.size())) != 1) {
    return failed;
  }
  int written = 0;
  if (!plaintext.empty()) {
    if (EVP_EncryptUpdate(ctx.get(), out + kNonceSize, &len, Bytes(plaintext),
                          static_cast<int>(plaintext.size())) != 1) {
      return failed;
    }
    written = len;
  }
  if (EVP_EncryptFinal_ex(ctx.get(), out + kNonceSize + written, &len) != 1) return failed;
  written += len;
  if (static_cast<std::size_t>(written) != plaintext.size() ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagSize),
                          out + kNonceSize + written) != 1) {
    return failed;
  }
  return Sealed{key.id, std::move(blob)};
}

base::Result<std::string> KeyRing::Decrypt(std::string_view key_id, std::string_view blob,
                                           std::string_view aad) const {
  const Key* key = nullptr;
  for (const Key& k : keys_) {
    if (k.id == key_id) key = &k;
  }
  if (key == nullptr) {
    return base::Status::NotFound("encryption key " + std::string(key_id) + " is not configured");
  }
  const base::Status failed = base::Status::Internal("credentials could not be decrypted");
  if (blob.size() < kNonceSize + kTagSize) return failed;
  const std::size_t n = blob.size() - kNonceSize - kTagSize;
  const auto* in = Bytes(blob);
  CtxPtr ctx(EVP_CIPHER_CTX_new());
  if (ctx == nullptr) return failed;
  std::string plaintext(n, '\0');
  auto* out = reinterpret_cast<unsigned char*>(plaintext.data());
  int len = 0;
  if (EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kNonceSize),
                          nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, Bytes(key->material), in) != 1) {
    return failed;
  }
  if (!aad.empty() &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, Bytes(aad), static_cast<int>(aad.size())) != 1) {
    return failed;
  }
  int written = 0;
  if (n > 0) {
    if (EVP_DecryptUpdate(ctx.get(), out, &len, in + kNonceSize, static_cast<int>(n)) != 1) {
      return failed;
    }
    written = len;
  }
  // EVP wants a mutable tag buffer.
  unsigned char tag[kTagSize];
  std::copy(in + kNonceSize + n, in + blob.size(), tag);
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagSize), tag) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), out + written, &len) != 1) {
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    return failed;
  }
  return plaintext;
}

}  // namespace broker::store
