#include "broker/store/cipher.h"

#include <doctest/doctest.h>

#include <string>

#include "broker/base/ids.h"

namespace broker::store {
namespace {

// base64 of 32 bytes 0x00..0x1f and of 32 bytes 0xff.
constexpr const char* kKeyA = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
constexpr const char* kKeyB = "//////////////////////////////////////////8=";

KeyRing MustRing(base::Result<KeyRing> ring) {
  REQUIRE_MESSAGE(ring.ok(), ring.status().ToString());
  return std::move(ring).value();
}

TEST_SUITE("store::KeyRing") {
  TEST_CASE("encrypt then decrypt returns the plaintext") {
    const KeyRing ring = MustRing(KeyRing::FromBase64Key(kKeyA));
    for (const std::string& plaintext :
         {std::string(), std::string("{\"ssh_command\":\"ssh x@h\"}"), std::string(10000, 'z')}) {
      auto sealed = ring.Encrypt(plaintext, "binding-1");
      REQUIRE(sealed.ok());
      CHECK(sealed->key_id == ring.current_key_id());
      CHECK(sealed->blob.size() == KeyRing::kNonceSize + plaintext.size() + KeyRing::kTagSize);
      if (!plaintext.empty()) CHECK(sealed->blob.find(plaintext) == std::string::npos);
      auto opened = ring.Decrypt(sealed->key_id, sealed->blob, "binding-1");
      REQUIRE(opened.ok());
      CHECK(*opened == plaintext);
    }
  }

  TEST_CASE("two encryptions of one plaintext differ (fresh nonce each time)") {
    const KeyRing ring = MustRing(KeyRing::FromBase64Key(kKeyA));
    auto a = ring.Encrypt("same");
    auto b = ring.Encrypt("same");
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    CHECK(a->blob != b->blob);
  }

  TEST_CASE("any altered byte makes decryption fail with kInternal") {
    const KeyRing ring = MustRing(KeyRing::FromBase64Key(kKeyA));
    auto sealed = ring.Encrypt("{\"password\":\"hunter2\"}");
    REQUIRE(sealed.ok());
    for (std::size_t i = 0; i < sealed->blob.size(); ++i) {
      std::string tampered = sealed->blob;
      tampered[i] = static_cast<char>(tampered[i] ^ 0x01);
      auto opened = ring.Decrypt(sealed->key_id, tampered);
      REQUIRE_FALSE(opened.ok());
      CHECK(opened.status().code() == base::Code::kInternal);
      CHECK(opened.status().message() == "credentials could not be decrypted");
    }
    SUBCASE("when the blob is truncated") {
      auto opened = ring.Decrypt(sealed->key_id, sealed->blob.substr(0, 20));
      CHECK(opened.status().code() == base::Code::kInternal);
    }
    SUBCASE("when the associated data differs") {
      auto with_aad = ring.Encrypt("x", "binding-1");
      REQUIRE(with_aad.ok());
      CHECK(ring.Decrypt(with_aad->key_id, with_aad->blob, "binding-2").status().code() ==
            base::Code::kInternal);
      CHECK(ring.Decrypt(with_aad->key_id, with_aad->blob).status().code() ==
            base::Code::kInternal);
    }
  }

  TEST_CASE("an unknown key id gives kNotFound") {
    const KeyRing ring = MustRing(KeyRing::FromBase64Key(kKeyA));
    auto sealed = ring.Encrypt("x");
    REQUIRE(sealed.ok());
    auto opened = ring.Decrypt("nosuchkey", sealed->blob);
    CHECK(opened.status().code() == base::Code::kNotFound);
  }

  TEST_CASE("a blob sealed by another key does not open under a key of the same id") {
    const KeyRing a = MustRing(KeyRing::FromSpec(std::string("k1:") + kKeyA));
    const KeyRing b = MustRing(KeyRing::FromSpec(std::string("k1:") + kKeyB));
    auto sealed = a.Encrypt("x");
    REQUIRE(sealed.ok());
    CHECK(b.Decrypt("k1", sealed->blob).status().code() == base::Code::kInternal);
  }

  TEST_CASE("the derived key id is stable and is not the key") {
    const KeyRing one = MustRing(KeyRing::FromBase64Key(kKeyA));
    const KeyRing two = MustRing(KeyRing::FromBase64Key(std::string("  ") + kKeyA + "\n"));
    CHECK(one.current_key_id() == two.current_key_id());
    CHECK(one.current_key_id().size() == 8);
    CHECK(one.current_key_id() != MustRing(KeyRing::FromBase64Key(kKeyB)).current_key_id());
    SUBCASE("when the key is written without padding or in the URL-safe alphabet") {
      const KeyRing unpadded =
          MustRing(KeyRing::FromBase64Key("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"));
      CHECK(unpadded.current_key_id() == one.current_key_id());
      const KeyRing url_safe =
          MustRing(KeyRing::FromBase64Key("__________________________________________8"));
      CHECK(url_safe.current_key_id() == MustRing(KeyRing::FromBase64Key(kKeyB)).current_key_id());
    }
  }

  TEST_CASE("rotation: the ring encrypts with its first key and decrypts with any of its keys") {
    const KeyRing old_ring = MustRing(KeyRing::FromSpec(std::string("old:") + kKeyA));
    auto sealed_old = old_ring.Encrypt("secret-from-before");
    REQUIRE(sealed_old.ok());
    CHECK(sealed_old->key_id == "old");

    const KeyRing rotated =
        MustRing(KeyRing::FromSpec(std::string("new:") + kKeyB + ", old:" + kKeyA));
    CHECK(rotated.current_key_id() == "new");
    CHECK(rotated.key_ids() == std::vector<std::string>{"new", "old"});
    auto opened = rotated.Decrypt(sealed_old->key_id, sealed_old->blob);
    REQUIRE(opened.ok());
    CHECK(*opened == "secret-from-before");

    auto sealed_new = rotated.Encrypt("secret-from-now");
    REQUIRE(sealed_new.ok());
    CHECK(sealed_new->key_id == "new");
    CHECK(old_ring.Decrypt(sealed_new->key_id, sealed_new->blob).status().code() ==
          base::Code::kNotFound);
  }

  TEST_CASE("a spec entry without an id gets the derived id") {
    const KeyRing ring = MustRing(KeyRing::FromSpec(kKeyA));
    CHECK(ring.current_key_id() == MustRing(KeyRing::FromBase64Key(kKeyA)).current_key_id());
  }

  TEST_CASE("malformed keys are rejected with kInvalidArgument and a message without the key") {
    // Strings that look like key material; none may appear in an error message.
    const std::string short_key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd";         // 30 bytes
    const std::string long_key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gIQ==";  // 34 bytes
    const std::string bad_chars = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGx*dHh8=";
    const std::string bad_padding = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8===";
    const std::string unpadded_secret = std::string(kKeyA).substr(0, 43);
    struct Case {
      const char* name;
      std::string spec;
      std::string secret;  // must not appear in the message
    };
    const Case cases[] = {
        {"too short", short_key, short_key},
        {"too long", long_key, long_key},
        {"not base64", bad_chars, bad_chars},
        {"too much padding", bad_padding, bad_padding},
        {"empty", "", "x-never-x"},
        {"empty id", ":" + std::string(kKeyA), kKeyA},
        {"invalid id", "bad id:" + std::string(kKeyA), kKeyA},
        {"empty entry", std::string(kKeyA) + ",", kKeyA},
        {"repeated id", std::string("k:") + kKeyA + ",k:" + kKeyB, kKeyB},
        {"key and id swapped", unpadded_secret + ":k1", unpadded_secret},
        {"second key bad", std::string("a:") + kKeyA + ",b:" + short_key, short_key},
    };
    for (const Case& c : cases) {
      CAPTURE(c.name);
      auto ring = KeyRing::FromSpec(c.spec);
      REQUIRE_FALSE(ring.ok());
      CHECK(ring.status().code() == base::Code::kInvalidArgument);
      CHECK(ring.status().message().find(c.secret) == std::string::npos);
      CHECK(ring.status().message().find(std::string(kKeyA).substr(0, 16)) == std::string::npos);
    }
    for (const std::string& bad : {short_key, long_key, bad_chars, bad_padding, std::string()}) {
      auto ring = KeyRing::FromBase64Key(bad);
      REQUIRE_FALSE(ring.ok());
      CHECK(ring.status().code() == base::Code::kInvalidArgument);
      if (!bad.empty()) CHECK(ring.status().message().find(bad) == std::string::npos);
    }
  }

  TEST_CASE("a random 32-byte key round-trips through base64 parsing") {
    // The shape `openssl rand -base64 32` prints.
    for (int i = 0; i < 20; ++i) {
      const std::string raw = base::RandomBytes(32);
      static constexpr char kAlphabet[] =
          "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
      std::string b64;
      unsigned acc = 0;
      int bits = 0;
      for (unsigned char ch : raw) {
        acc = (acc << 8) | ch;
        bits += 8;
        while (bits >= 6) {
          bits -= 6;
          b64 += kAlphabet[(acc >> bits) & 0x3F];
        }
      }
      if (bits > 0) b64 += kAlphabet[(acc << (6 - bits)) & 0x3F];
      while (b64.size() % 4 != 0) b64 += '=';
      auto decoded = DecodeBase64(b64);
      REQUIRE(decoded.has_value());
      CHECK(*decoded == raw);
      CHECK(KeyRing::FromBase64Key(b64).ok());
    }
  }
}

}  // namespace
}  // namespace broker::store
