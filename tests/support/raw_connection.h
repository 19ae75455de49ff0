// RawConnection: one client TCP connection to 127.0.0.1, for tests that look at HTTP on the wire
// (framing, pipelining, who closes when). Reads have deadlines, so a framing bug fails a test
// instead of hanging it. Not thread-safe: one thread owns a connection.
#ifndef BROKER_TESTS_SUPPORT_RAW_CONNECTION_H_
#define BROKER_TESTS_SUPPORT_RAW_CONNECTION_H_

#include <chrono>
#include <optional>
#include <string>

namespace broker::testing {

class RawConnection {
 public:
  // Connects (REQUIRE-fails when it cannot). `receive_buffer` > 0 sets SO_RCVBUF first.
  explicit RawConnection(int port, int receive_buffer = 0);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  int fd() const { return fd_; }

  // Sends all of `bytes` (REQUIRE-fails otherwise).
  void Write(const std::string& bytes);
  // Sends what it can of `bytes`; false when the server closed or reset the connection first.
  bool TryWrite(const std::string& bytes);
  // Half-closes the sending side (the server reads EOF).
  void ShutdownWrite();

  // Reads more bytes into the buffer; false at EOF, on a reset, or after `timeout` without any.
  bool Fill(std::chrono::milliseconds timeout = std::chrono::seconds(10));

  struct Answer {
    int status = 0;
    std::string head;  // status line and header fields
    std::string body;
    // The value of header field `name` (case-insensitive), if present.
    std::optional<std::string> Header(const std::string& name) const;
  };

  // One response framed by its Content-Length (none: no body, as for a 204). FAILs when the
  // header or body does not arrive within 10 s of silence.
  Answer ReadResponse();
  // Like ReadResponse() for the answer to a HEAD: the header only, whatever its Content-Length.
  Answer ReadHeadResponse();

  // True when the server closes (EOF or reset) the connection with nothing more to read within
  // `timeout`; false when data arrives or the connection is still open after it.
  bool ClosedByServer(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // What has been read and not yet consumed by ReadResponse().
  const std::string& buffered() const { return buffer_; }

 private:
  Answer ReadHead();
  int fd_ = -1;
  std::string buffer_;
};

}  // namespace broker::testing

#endif  // BROKER_TESTS_SUPPORT_RAW_CONNECTION_H_
