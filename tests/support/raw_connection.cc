#include "tests/support/raw_connection.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <cctype>
#include <cerrno>

namespace broker::testing {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

RawConnection::RawConnection(int port, int receive_buffer) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd_ >= 0);
  if (receive_buffer > 0) {
    REQUIRE(::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer) == 0);
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
}

RawConnection::~RawConnection() { ::close(fd_); }

void RawConnection::Write(const std::string& bytes) {
  REQUIRE(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size()));
}

bool RawConnection::TryWrite(const std::string& bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

void RawConnection::ShutdownWrite() { ::shutdown(fd_, SHUT_WR); }

bool RawConnection::Fill(std::chrono::milliseconds timeout) {
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return false;
  char chunk[65536];
  const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
  if (n <= 0) return false;
  buffer_.append(chunk, static_cast<std::size_t>(n));
  return true;
}

std::optional<std::string> RawConnection::Answer::Header(const std::string& name) const {
  const std::string lower_head = Lower(head);
  const auto at = lower_head.find("\r\n" + Lower(name) + ":");
  if (at == std::string::npos) return std::nullopt;
  const auto start = head.find_first_not_of(' ', at + 2 + name.size() + 1);
  return head.substr(start, head.find("\r\n", start) - start);
}

RawConnection::Answer RawConnection::ReadHead() {
  std::size_t end = 0;
  std::size_t searched = 0;
  while ((end = buffer_.find("\r\n\r\n", searched)) == std::string::npos) {
    searched = buffer_.size() < 3 ? 0 : buffer_.size() - 3;
    if (!Fill()) FAIL("no end of the header in " << buffer_.size() << " bytes: " << buffer_.substr(0, 200));
  }
  Answer a;
  a.head = buffer_.substr(0, end);
  buffer_.erase(0, end + 4);
  REQUIRE_MESSAGE((a.head.rfind("HTTP/1.1 ", 0) == 0 || a.head.rfind("HTTP/1.0 ", 0) == 0), a.head);
  a.status = std::stoi(a.head.substr(9, 3));
  return a;
}

RawConnection::Answer RawConnection::ReadResponse() {
  Answer a = ReadHead();
  const auto length = a.Header("Content-Length");
  const std::size_t want = length ? std::stoul(*length) : 0;
  while (buffer_.size() < want) {
    if (!Fill()) FAIL("the body ends at " << buffer_.size() << " of " << want << " bytes");
  }
  a.body = buffer_.substr(0, want);
  buffer_.erase(0, want);
  return a;
}

RawConnection::Answer RawConnection::ReadHeadResponse() { return ReadHead(); }

bool RawConnection::ClosedByServer(std::chrono::milliseconds timeout) {
  if (!buffer_.empty()) return false;
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return false;  // still open after `timeout`
  char chunk[4096];
  const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
  if (n > 0) {
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return false;
  }
  return true;  // EOF, or reset
}

}  // namespace broker::testing
