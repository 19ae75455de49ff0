// The bytes of one HTTP/1.1 response, for the server's direct write (server.cc): status line,
// the given header fields, Content-Length (none on a 204, RFC 9110 §8.6), a blank line, the body.
// Pure; thread-safe.
#ifndef BROKER_HTTP_RESPONSE_H_
#define BROKER_HTTP_RESPONSE_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace broker::http {

struct HeaderField {
  std::string name;
  std::string value;
};

// `reason` is the status line's reason phrase ("OK"). CR and LF in names, values and the reason
// are dropped, so a value copied from a request can never start a header of its own.
std::string SerializeResponse(int status, std::string_view reason, const std::vector<HeaderField>& headers,
                              std::string_view body);

// The same without the body: the answer to a HEAD, whose Content-Length is that of the body a GET
// would get (RFC 9110 §9.3.2).
std::string SerializeResponseHead(int status, std::string_view reason, const std::vector<HeaderField>& headers,
                                  std::size_t content_length);

}  // namespace broker::http

#endif  // BROKER_HTTP_RESPONSE_H_
