// Tests for broker/http/response.h: the bytes of a directly written response.
#include "broker/http/response.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace broker::http {
namespace {

TEST_SUITE("http response") {
  TEST_CASE("status line, header fields in order, Content-Length, blank line, body") {
    const std::string bytes = SerializeResponse(
        200, "OK", {{"Content-Type", "application/json"}, {"Connection", "Keep-Alive"}}, R"({"a":1})");
    CHECK(bytes ==
          "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: Keep-Alive\r\n"
          "Content-Length: 7\r\n\r\n{\"a\":1}");
  }

  TEST_CASE("an empty body still has Content-Length: 0, so a persistent connection knows where it ends") {
    CHECK(SerializeResponse(202, "Accepted", {}, "") == "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n");
  }

  TEST_CASE("a 204 carries no Content-Length (RFC 9110 8.6)") {
    CHECK(SerializeResponse(204, "No Content", {{"Cache-Control", "no-store"}}, "") ==
          "HTTP/1.1 204 No Content\r\nCache-Control: no-store\r\n\r\n");
  }

  TEST_CASE("CR and LF cannot split a header: they are dropped from names, values and the reason") {
    const std::string bytes = SerializeResponse(
        400, "Bad\r\nRequest", {{"X-Broker-API-Request-Identity", "abc\r\nSet-Cookie: x=1"}, {"X\nY", "v"}}, "{}");
    CHECK(bytes ==
          "HTTP/1.1 400 BadRequest\r\nX-Broker-API-Request-Identity: abcSet-Cookie: x=1\r\nXY: v\r\n"
          "Content-Length: 2\r\n\r\n{}");
  }

  TEST_CASE("the body is copied byte for byte, NUL and non-ASCII included") {
    const std::string body("a\0b\xc3\xa9", 5);
    const std::string bytes = SerializeResponse(200, "OK", {}, body);
    CHECK(bytes.size() == std::string("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n").size() + 5);
    CHECK(bytes.substr(bytes.size() - 5) == body);
  }
}

}  // namespace
}  // namespace broker::http
