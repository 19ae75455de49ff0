#include "broker/base/digest.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "broker/base/ids.h"

namespace broker::base {

std::string Sha256Hex(std::string_view bytes) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), md);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(md), sizeof md));
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace broker::base
