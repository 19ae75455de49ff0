#include "broker/http/response.h"

namespace broker::http {
namespace {

void AppendLine(std::string_view text, std::string* out) {
  for (const char c : text) {
    if (c != '\r' && c != '\n') out->push_back(c);
  }
}

void AppendHead(int status, std::string_view reason, const std::vector<HeaderField>& headers,
                std::size_t content_length, std::string* out_ptr) {
  std::string& out = *out_ptr;
  out += "HTTP/1.1 ";
  out += std::to_string(status);
  out += ' ';
  AppendLine(reason, &out);
  out += "\r\n";
  for (const HeaderField& h : headers) {
    AppendLine(h.name, &out);
    out += ": ";
    AppendLine(h.value, &out);
    out += "\r\n";
  }
  if (status != 204 && !(status >= 100 && status < 200)) {
    out += "Content-Length: ";
    out += std::to_string(content_length);
    out += "\r\n";
  }
  out += "\r\n";
}

}  // namespace

std::string SerializeResponseHead(int status, std::string_view reason, const std::vector<HeaderField>& headers,
                                  std::size_t content_length) {
  std::string out;
  out.reserve(128 + headers.size() * 48);
  AppendHead(status, reason, headers, content_length, &out);
  return out;
}

std::string SerializeResponse(int status, std::string_view reason, const std::vector<HeaderField>& headers,
                              std::string_view body) {
  std::string out;
  out.reserve(128 + headers.size() * 48 + body.size());
  AppendHead(status, reason, headers, body.size(), &out);
  out += body;
  return out;
}

}  // namespace broker::http
