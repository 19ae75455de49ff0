// The HTTP edge: our own layer between the socket and Pistache 0.0.5's request parser
// (docs/architecture.md, "The HTTP edge", says why it exists).
//
// RequestFramer finds where each request on a connection ends, before any parser sees its bytes,
// and refuses what does not fit the limits: a header over max_header_bytes or a header line over
// max_header_line_bytes (431; a request line over it: 414), a body over the route's limit by its
// Content-Length (413), malformed framing (400: bad request line, bad field syntax, bare LF,
// control bytes in a value, a bad or ambiguous Content-Length, Transfer-Encoding together with
// Content-Length), a chunked body (411: send Content-Length), another transfer coding or an
// unknown method (501), an HTTP version other than 1.0 and 1.1 (505). Its cost is linear in the
// bytes received, however they are split into reads. Pure; one framer per connection, not
// thread-safe.
//
// EdgeServer listens (Pistache's Tcp::Listener, backlog `backlog`) and runs one EdgeHandler per
// reactor thread. The handler frames each connection's input and hands complete requests to
// Pistache's parser one at a time, in order, so every pipelined request reaches `dispatch` and is
// answered in order. It closes a connection after the answer when the request asked for it
// (Connection: close, or HTTP/1.0 without keep-alive), after a refusal (answered
// {"description": "..."} with Connection: close), and when Pistache's own parser refused a request:
// it waits until Pistache's write queue has written everything before (so an answer written later
// through the queue, e.g. a file, is not cut), then half-closes (SHUT_WR), discards what the client
// still sends, and closes when the client does or `linger` later.
//
// Connections: past max_connections open ones, a new connection is closed at once (the others are
// still served). A request must arrive whole within header_timeout of its first byte (else 408 and
// close), a new connection must send its first byte within header_timeout, and a persistent
// connection with no request for idle_timeout after its last answer is closed. A timer on each
// reactor thread checks them every 200 ms.
//
// Thread-safety: Start()/Stop() from one thread; `dispatch` is called on the reactor threads, one
// request at a time per connection, and must be safe to call from several threads at once.
#ifndef BROKER_HTTP_EDGE_H_
#define BROKER_HTTP_EDGE_H_

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "broker/base/status.h"

namespace Pistache::Http {
class Request;
class ResponseWriter;
}  // namespace Pistache::Http

namespace broker::http {

struct EdgeLimits {
  std::size_t max_header_bytes = 32 * 1024;      // request line + header fields + their CRLFs
  std::size_t max_header_line_bytes = 8 * 1024;  // any one of those lines, CRLF included
  std::size_t max_body_bytes = 64 * 1024;        // the largest body any route takes
  // The body limit of a request target ("/path?query"), at most max_body_bytes. Unset: max_body_bytes.
  std::function<std::size_t(std::string_view target)> body_limit;
};

// Why the framer will not pass a request on: the HTTP status and a user-facing description.
struct EdgeRefusal {
  int status = 400;
  std::string description;
  std::string target;  // the request target, when the request line was read
  std::string error;   // the body's "error" member; "" leaves it out
};

// The answer to a refusal: status line, Content-Type: application/json, Connection: close,
// Content-Length, and {"description": "..."} (with "error" first when refusal.error is set).
std::string EdgeRefusalResponse(const EdgeRefusal& refusal);

class RequestFramer {
 public:
  enum class Step {
    kNeedMore,  // no whole request yet
    kRequest,   // request() holds the whole request at the front of the input
    kRefused,   // refusal() says why; the framer takes nothing more
  };

  // `limits` must outlive the framer.
  explicit RequestFramer(const EdgeLimits* limits);

  // Appends bytes read from the connection.
  void Append(std::string_view bytes);
  // Frames what has been appended. Each byte is looked at once, whatever the reads' sizes.
  Step Next();
  // After kRequest: the request's bytes (head and body), valid until Pop() or Append().
  std::string_view request() const;
  // After kRequest: the request asked the connection to close after its answer.
  bool close_after() const { return close_after_; }
  // Drops the request returned by Next(), keeping what follows it (the next pipelined request).
  void Pop();
  // After kRefused.
  const EdgeRefusal& refusal() const { return refusal_; }
  // Some bytes of a request not yet returned are buffered (the header timeout is running).
  bool started() const { return buffer_.size() > start_; }

 private:
  enum class Phase { kRequestLine, kFields, kBody, kComplete, kRefused };
  Step Refuse(int status, std::string description);
  Step ParseRequestLine(std::string_view line);
  Step ParseField(std::string_view line);
  Step EndOfHead();

  const EdgeLimits* limits_;
  std::string buffer_;
  std::size_t start_ = 0;    // where the current request begins in buffer_
  std::size_t line_ = 0;     // where the current (unfinished) line begins
  std::size_t scanned_ = 0;  // bytes of the current line already searched for LF
  std::size_t end_ = 0;      // after kRequest: where the request ends
  Phase phase_ = Phase::kRequestLine;
  // The current request.
  std::string target_;
  bool http11_ = false;
  bool saw_close_ = false;
  bool saw_keep_alive_ = false;
  bool has_length_ = false;
  std::size_t content_length_ = 0;
  bool has_transfer_encoding_ = false;
  bool chunked_last_ = false;
  bool close_after_ = false;
  EdgeRefusal refusal_;
};

struct EdgeOptions {
  std::string address = "0.0.0.0";
  int port = 8080;
  int threads = 4;
  // Listen backlog (Http::Endpoint always passes Pistache's 128, and clients connecting at once
  // past it wait for SYN retransmits). The kernel caps it at net.core.somaxconn (4096 by default).
  int backlog = 4096;
  EdgeLimits limits;
  int max_connections = 4096;
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds idle_timeout{120'000};
  std::chrono::milliseconds linger{2'000};
  // The "error" member of a refusal's body, e.g. for routes whose errors always name one; "" or
  // unset: only "description".
  std::function<std::string(const EdgeRefusal&)> refusal_error;
};

using EdgeDispatch = std::function<void(const Pistache::Http::Request&, Pistache::Http::ResponseWriter)>;

// For a handler called by an EdgeServer's dispatch, on that thread: answers with `head(size)` and
// then the file's bytes, both queued on Pistache's write queue at once, so that nothing written
// later can come between them (Pistache's serveFile queues the file only once the head is written,
// and a pipelined answer could land between the two). The file goes out with sendfile(2).
// kNotFound when the file cannot be opened; kInternal outside a dispatch.
base::Status EdgeSendFile(Pistache::Http::ResponseWriter& response, const std::string& path,
                          const std::function<std::string(std::size_t size)>& head);

class EdgeServer {
 public:
  EdgeServer(EdgeOptions options, EdgeDispatch dispatch);
  ~EdgeServer();
  EdgeServer(const EdgeServer&) = delete;
  EdgeServer& operator=(const EdgeServer&) = delete;

  // Binds and starts the accept and reactor threads. kUnavailable when the address cannot be bound.
  base::Status Start();
  // Stops accepting and serving. Idempotent.
  void Stop();
  int port() const;

  struct Shared;  // what every reactor thread's handler shares (edge.cc)

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace broker::http

#endif  // BROKER_HTTP_EDGE_H_
