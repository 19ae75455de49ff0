#include "broker/base/digest.h"

#include <doctest/doctest.h>

#include <string>

namespace broker::base {
namespace {

TEST_SUITE("base::Digest") {
  TEST_CASE("Sha256Hex matches the FIPS 180-2 test vectors") {
    CHECK(Sha256Hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(Sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(Sha256Hex(std::string("a\0b", 3)) != Sha256Hex("ab"));
  }

  TEST_CASE("ConstantTimeEquals is plain equality") {
    CHECK(ConstantTimeEquals("", ""));
    CHECK(ConstantTimeEquals("token", "token"));
    CHECK_FALSE(ConstantTimeEquals("token", "tokeN"));
    CHECK_FALSE(ConstantTimeEquals("token", "token2"));
    CHECK_FALSE(ConstantTimeEquals("", "x"));
  }
}

}  // namespace
}  // namespace broker::base
