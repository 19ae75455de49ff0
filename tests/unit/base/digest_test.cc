#include "broker/base/digest.h"

#include <doctest/doctest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace broker::base {
namespace {

TEST_SUITE("base::Digest") {
  TEST_CASE("Sha256Hex matches the FIPS 180-2 test vectors") {
    CHECK(Sha256Hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(Sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(Sha256Hex(std::string("a\0b", 3)) != Sha256Hex("ab"));
  }

  TEST_CASE("Sha256Hex gives the same answers from many threads at once (each keeps its own context)") {
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&wrong, t] {
        for (int i = 0; i < 2000; ++i) {
          const bool ok = (i + t) % 2 == 0
                              ? Sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
                              : Sha256Hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
          if (!ok) ++wrong;
        }
      });
    }
    for (auto& th : threads) th.join();
    CHECK(wrong.load() == 0);
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
