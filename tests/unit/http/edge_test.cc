// Tests for broker/http/edge.h: RequestFramer (where requests end, what is refused before any
// parser runs) and EdgeRefusalResponse. The server half runs in tests/integration/http_edge_test.cc.
#include "broker/http/edge.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace broker::http {
namespace {

using namespace std::string_literals;

const std::string kGet = "GET /v2/catalog HTTP/1.1\r\nHost: x\r\nX-Broker-API-Version: 2.17\r\n\r\n";

std::string Put(const std::string& target, const std::string& body, const std::string& extra = "") {
  return "PUT " + target + " HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra +
         "\r\n" + body;
}

// Every request the framer returns for `input` fed in pieces of `piece` bytes, and the refusal
// status at the end (0: none).
struct Framed {
  std::vector<std::string> requests;
  std::vector<bool> close_after;
  int refused = 0;
  std::string description;
};

Framed Frame(const EdgeLimits& limits, const std::string& input, std::size_t piece = 0) {
  RequestFramer f(&limits);
  Framed out;
  if (piece == 0) piece = input.size() == 0 ? 1 : input.size();
  for (std::size_t at = 0; at < input.size() && out.refused == 0; at += piece) {
    f.Append(std::string_view(input).substr(at, piece));
    while (true) {
      const auto step = f.Next();
      if (step == RequestFramer::Step::kNeedMore) break;
      if (step == RequestFramer::Step::kRefused) {
        out.refused = f.refusal().status;
        out.description = f.refusal().description;
        break;
      }
      out.requests.emplace_back(f.request());
      out.close_after.push_back(f.close_after());
      f.Pop();
    }
  }
  return out;
}

TEST_SUITE("http::RequestFramer") {
  TEST_CASE("a whole request comes out byte for byte, however the reads split it") {
    const EdgeLimits limits;
    const std::string put = Put("/v2/service_instances/i-1", R"({"service_id":"s"})");
    for (const std::size_t piece : {std::size_t{0}, std::size_t{1}, std::size_t{2}, std::size_t{7}, std::size_t{64}}) {
      CAPTURE(piece);
      const Framed got = Frame(limits, kGet + put, piece);
      CHECK(got.refused == 0);
      REQUIRE(got.requests.size() == 2);
      CHECK(got.requests[0] == kGet);
      CHECK(got.requests[1] == put);
      CHECK(got.close_after == std::vector<bool>{false, false});
    }
  }

  TEST_CASE("100 pipelined requests come out one by one, in order") {
    const EdgeLimits limits;
    std::string input;
    std::vector<std::string> sent;
    for (int i = 0; i < 100; ++i) {
      sent.push_back(i % 2 == 0
                         ? Put("/v2/service_instances/i-" + std::to_string(i), "{\"n\":" + std::to_string(i) + "}")
                         : "GET /healthz?n=" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n\r\n");
      input += sent.back();
    }
    const Framed got = Frame(limits, input);
    CHECK(got.refused == 0);
    CHECK(got.requests == sent);
  }

  TEST_CASE("the request says whether the connection closes after its answer") {
    const EdgeLimits limits;
    struct Row {
      std::string head;
      bool close_after;
    };
    const std::vector<Row> rows = {
        {"GET / HTTP/1.1\r\n\r\n", false},
        {"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", true},
        {"GET / HTTP/1.1\r\nconnection: Keep-Alive, CLOSE\r\n\r\n", true},
        {"GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n", false},
        {"GET / HTTP/1.0\r\n\r\n", true},
        {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", false},
        {"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", true},
    };
    for (const Row& row : rows) {
      CAPTURE(row.head);
      const Framed got = Frame(limits, row.head);
      REQUIRE(got.requests.size() == 1);
      CHECK(got.close_after[0] == row.close_after);
    }
  }

  TEST_CASE("empty lines before a request line are skipped") {
    const EdgeLimits limits;
    const Framed got = Frame(limits, "\r\n\r\n" + kGet);
    REQUIRE(got.requests.size() == 1);
    CHECK(got.requests[0] == "\r\n\r\n" + kGet);  // Pistache's parser skips them too
  }

  TEST_CASE("a header over the limits is refused with 431 as soon as the limit is passed") {
    EdgeLimits limits;
    limits.max_header_bytes = 4096;
    limits.max_header_line_bytes = 1024;
    SUBCASE("when one field line is too long, however it arrives") {
      // 1 MB in 4 KiB reads, as a client sends it: refused within the first reads, not at the end.
      const std::string head = "GET / HTTP/1.1\r\nX-Pad: " + std::string(1024 * 1024, 'p') + "\r\n\r\n";
      RequestFramer f(&limits);
      std::size_t fed = 0;
      while (fed < head.size()) {
        f.Append(std::string_view(head).substr(fed, 4096));
        fed += 4096;
        if (f.Next() != RequestFramer::Step::kNeedMore) break;
      }
      REQUIRE(f.Next() == RequestFramer::Step::kRefused);
      CHECK(f.refusal().status == 431);
      CHECK(f.refusal().description == "a header field exceeds 1024 bytes");
      CHECK(fed <= 4096);
    }
    SUBCASE("when the fields together are too many bytes") {
      std::string head = "GET / HTTP/1.1\r\n";
      for (int i = 0; i < 100; ++i) head += "X-Field-" + std::to_string(i) + ": " + std::string(60, 'v') + "\r\n";
      const Framed got = Frame(limits, head + "\r\n", 100);
      CHECK(got.refused == 431);
      CHECK(got.description == "the request header exceeds 4096 bytes");
    }
    SUBCASE("when the request line is too long: 414") {
      const Framed got = Frame(limits, "GET /" + std::string(2000, 'a') + " HTTP/1.1\r\n\r\n");
      CHECK(got.refused == 414);
    }
    SUBCASE("when a stream of empty lines never ends") {
      CHECK(Frame(limits, std::string(10, '\n')).refused == 400);  // a bare LF is no line end
      std::string crlfs;
      for (int i = 0; i < 3000; ++i) crlfs += "\r\n";
      CHECK(Frame(limits, crlfs, 10).refused == 431);
    }
  }

  TEST_CASE("a body over its route's limit is refused with 413 before it arrives") {
    EdgeLimits limits;
    limits.max_body_bytes = 1000;
    limits.body_limit = [](std::string_view target) -> std::size_t {
      return target.substr(0, 9) == "/session/" ? 100 : 1000;
    };
    SUBCASE("when the route takes the largest bodies") {
      const std::string head = "PUT /x HTTP/1.1\r\nContent-Length: 1001\r\n\r\n";
      const Framed got = Frame(limits, head);  // no body byte sent yet
      CHECK(got.refused == 413);
      CHECK(got.description == "the request body exceeds 1000 bytes");
      RequestFramer f(&limits);
      f.Append(head);
      REQUIRE(f.Next() == RequestFramer::Step::kRefused);
      CHECK(f.refusal().target == "/x");  // what refusal_error may look at
      CHECK(Frame(limits, Put("/x", std::string(1000, 'b'))).requests.size() == 1);
    }
    SUBCASE("when the route has its own, smaller limit") {
      CHECK(Frame(limits, Put("/session/b-1", std::string(101, 'b'))).refused == 413);
      CHECK(Frame(limits, Put("/session/b-1", std::string(100, 'b'))).requests.size() == 1);
    }
    SUBCASE("when Content-Length is too long to be a number we keep") {
      CHECK(Frame(limits, "PUT /x HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n").refused == 413);
    }
  }

  TEST_CASE("malformed framing is refused with the status that says why") {
    const EdgeLimits limits;
    struct Row {
      std::string input;
      int status;
    };
    const std::vector<Row> rows = {
        {"GET / HTTP/1.1\nHost: x\r\n\r\n", 400},                                            // bare LF
        {"GET / HTTP/1.1\r\nHost: x\n\r\n", 400},                                            // bare LF in the fields
        {"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400},                                         // space before the colon
        {"GET / HTTP/1.1\r\nX-A: 1\r\n folded\r\n\r\n", 400},                                // obsolete line folding
        {"GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400},                                          // no colon
        {"GET / HTTP/1.1\r\nX-A: a\0b\r\n\r\n"s, 400},                                       // NUL in a value
        {"GET / HTTP/1.1\r\nX-A: a\rb\r\n\r\n", 400},                                        // bare CR in a value
        {"GET / HTTP/1.1\r\nX-A: a\x7f\r\n\r\n", 400},                                       // DEL in a value
        {"PUT / HTTP/1.1\r\nContent-Length: 12a\r\n\r\n", 400},                              // not a number
        {"PUT / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400},                               // not a number
        {"PUT / HTTP/1.1\r\nContent-Length: 1, 1\r\n\r\n", 400},                             // a list
        {"PUT / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400},         // conflicting
        {"PUT / HTTP/1.1\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n", 400},  // both
        {"PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 411},                       // chunked
        {"PUT / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501},                          // another coding
        {"BREW /pot HTTP/1.1\r\n\r\n", 501},                                                 // unknown method
        {"GET / HTTP/2.0\r\n\r\n", 505},                                                     // other version
        {"GET / HTTP/1.1x\r\n\r\n", 400},                                                    // no version
        {"GET /\r\n\r\n", 400},                                                              // HTTP/0.9 style
        {"GET  / HTTP/1.1\r\n\r\n", 400},                                                    // double space
        {"GET /a b HTTP/1.1\r\n\r\n", 400},                                                  // space in target
        {"GET /a\x01 HTTP/1.1\r\n\r\n", 400},                                                // control in target
        {"GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n", 400},                                          // raw UTF-8 in target
        {"G(T / HTTP/1.1\r\n\r\n", 400},                                                     // method not a token
    };
    for (const Row& row : rows) {
      CAPTURE(row.input);
      const Framed got = Frame(limits, row.input);
      CHECK(got.refused == row.status);
      CHECK(got.requests.empty());
      CHECK(!got.description.empty());
    }
  }

  TEST_CASE("after a refusal the framer takes nothing more") {
    const EdgeLimits limits;
    RequestFramer f(&limits);
    f.Append("GET / HTTP/2.0\r\n\r\n");
    REQUIRE(f.Next() == RequestFramer::Step::kRefused);
    f.Append(kGet);
    CHECK(f.Next() == RequestFramer::Step::kRefused);
    CHECK(f.refusal().status == 505);
  }

  TEST_CASE("started() says whether part of a request is buffered") {
    const EdgeLimits limits;
    RequestFramer f(&limits);
    CHECK(!f.started());
    f.Append(kGet.substr(0, 10));
    CHECK(f.Next() == RequestFramer::Step::kNeedMore);
    CHECK(f.started());
    f.Append(kGet.substr(10));
    REQUIRE(f.Next() == RequestFramer::Step::kRequest);
    f.Pop();
    CHECK(!f.started());
    CHECK(f.Next() == RequestFramer::Step::kNeedMore);
  }
}

TEST_SUITE("http::EdgeRefusalResponse") {
  TEST_CASE("a refusal is a JSON description, framed, with Connection: close") {
    const std::string r = EdgeRefusalResponse({431, "a header field exceeds 8192 bytes", "", ""});
    const std::string body = R"({"description":"a header field exceeds 8192 bytes"})";
    CHECK(r.rfind("HTTP/1.1 431 Request Header Fields Too Large\r\n", 0) == 0);
    CHECK(r.find("\r\nContent-Type: application/json\r\n") != std::string::npos);
    CHECK(r.find("\r\nConnection: close\r\n") != std::string::npos);
    CHECK(r.find("\r\nContent-Length: " + std::to_string(body.size()) + "\r\n") != std::string::npos);
    CHECK(r.substr(r.size() - body.size()) == body);
    CHECK(EdgeRefusalResponse({400, R"(a "quoted" \ word)", "", ""}).find(R"("a \"quoted\" \\ word")") !=
          std::string::npos);
    const std::string named = EdgeRefusalResponse({413, "too big", "/x", "resource_exhausted"});
    CHECK(named.substr(named.find("\r\n\r\n") + 4) == R"({"error":"resource_exhausted","description":"too big"})");
  }
}

}  // namespace
}  // namespace broker::http
