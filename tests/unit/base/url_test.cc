// Tests for broker/base/url.h: URLs under BROKER_PUBLIC_URL.
#include "broker/base/url.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace broker::base {
namespace {

TEST_SUITE("base::Url") {
  TEST_CASE("JoinUrl puts exactly one '/' between the base and the path") {
    struct Row {
      std::string base;
      std::string path;
      std::string joined;
    };
    const std::vector<Row> rows = {
        {"https://broker.example.com", "/ssh-access/v1/assets/tmate-bundle.tar.gz",
         "https://broker.example.com/ssh-access/v1/assets/tmate-bundle.tar.gz"},
        {"https://broker.example.com/", "/ssh-access/v1/assets/tmate-bundle.tar.gz",
         "https://broker.example.com/ssh-access/v1/assets/tmate-bundle.tar.gz"},
        {"https://broker.example.com//", "/ssh-access/v1/bindings/b-1/session",
         "https://broker.example.com/ssh-access/v1/bindings/b-1/session"},
        {"http://127.0.0.1:8080", "ssh-access/v1/bootstrap", "http://127.0.0.1:8080/ssh-access/v1/bootstrap"},
        {"http://127.0.0.1:8080/", "//ssh-access/v1/bootstrap", "http://127.0.0.1:8080/ssh-access/v1/bootstrap"},
        // A base with a path prefix (a broker behind a path-routing proxy) keeps it.
        {"https://apps.example.com/broker", "/ssh-access/v1/bootstrap",
         "https://apps.example.com/broker/ssh-access/v1/bootstrap"},
        {"https://apps.example.com/broker/", "/ssh-access/v1/bootstrap",
         "https://apps.example.com/broker/ssh-access/v1/bootstrap"},
        // Only the seam is touched: '/'s inside the path, and a trailing one, stay.
        {"https://b.example.com", "/a//b/", "https://b.example.com/a//b/"},
        {"https://b.example.com/", "", "https://b.example.com/"},
        {"", "/x", "/x"},
    };
    for (const Row& r : rows) {
      CAPTURE(r.base);
      CAPTURE(r.path);
      CHECK(JoinUrl(r.base, r.path) == r.joined);
    }
  }

  TEST_CASE("JoinUrl encodes nothing: the caller encodes a variable segment") {
    CHECK(JoinUrl("https://b.example.com/", "/x/a b%2F?q#f") == "https://b.example.com/x/a b%2F?q#f");
  }
}

}  // namespace
}  // namespace broker::base
