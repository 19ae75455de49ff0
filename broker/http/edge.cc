#include "broker/http/edge.h"

#include <pistache/http.h>
#include <pistache/listener.h>
#include <pistache/peer.h>
#include <pistache/tcp.h>
#include <pistache/transport.h>

#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <exception>
#include <optional>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include "broker/base/log.h"
#include "broker/http/response.h"

namespace broker::http {
namespace {

using Clock = std::chrono::steady_clock;
using Pistache::Tcp::Peer;

std::shared_ptr<spdlog::logger> Log() {
  static const auto log = base::Logger("http");
  return log;
}

// RFC 9110 §5.6.2: tchar.
bool IsTokenChar(unsigned char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return c != 0 && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

bool IsToken(std::string_view s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](char c) { return IsTokenChar(static_cast<unsigned char>(c)); });
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto x = static_cast<unsigned char>(a[i]);
    const auto y = static_cast<unsigned char>(b[i]);
    if ((x >= 'A' && x <= 'Z' ? x + 32 : x) != (y >= 'A' && y <= 'Z' ? y + 32 : y)) return false;
  }
  return true;
}

std::string_view TrimSpace(std::string_view v) {  // OWS: SP and HTAB
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

// Calls `f` with each comma-separated element of a field value, trimmed.
template <typename F>
void ForEachListElement(std::string_view value, F f) {
  while (!value.empty()) {
    const auto comma = value.find(',');
    f(TrimSpace(value.substr(0, comma)));
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
}

// The methods Pistache 0.0.5's parser knows (http_defs.h HTTP_METHODS); any other is refused by it.
bool IsKnownMethod(std::string_view m) {
  for (const char* known : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}) {
    if (m == known) return true;
  }
  return false;
}

const char* ReasonPhrase(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 408:
      return "Request Timeout";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 431:
      return "Request Header Fields Too Large";
    case 501:
      return "Not Implemented";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Error";
  }
}

constexpr std::size_t kMaxContentLengthDigits = 18;  // fits std::size_t; any such body is over every limit
constexpr std::size_t kCompactAt = 64 * 1024;        // drop consumed bytes from the front past this

}  // namespace

namespace {

void AppendJsonString(std::string_view text, std::string* out) {
  *out += '"';
  for (const char c : text) {
    if (c == '"' || c == '\\') *out += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) *out += c;
  }
  *out += '"';
}

}  // namespace

std::string EdgeRefusalResponse(const EdgeRefusal& refusal) {
  std::string body = "{";
  if (!refusal.error.empty()) {
    body += R"("error":)";
    AppendJsonString(refusal.error, &body);
    body += ',';
  }
  body += R"("description":)";
  AppendJsonString(refusal.description, &body);
  body += "}";
  return SerializeResponse(refusal.status, ReasonPhrase(refusal.status),
                           {{"Content-Type", "application/json"}, {"Connection", "close"}}, body);
}

RequestFramer::RequestFramer(const EdgeLimits* limits) : limits_(limits) {}

void RequestFramer::Append(std::string_view bytes) {
  if (phase_ == Phase::kRefused) return;
  buffer_.append(bytes);
}

RequestFramer::Step RequestFramer::Refuse(int status, std::string description) {
  phase_ = Phase::kRefused;
  refusal_ = {status, std::move(description), target_, ""};
  buffer_.clear();
  buffer_.shrink_to_fit();
  start_ = line_ = scanned_ = end_ = 0;
  return Step::kRefused;
}

RequestFramer::Step RequestFramer::Next() {
  while (true) {
    switch (phase_) {
      case Phase::kRefused:
        return Step::kRefused;
      case Phase::kComplete:
        return Step::kRequest;
      case Phase::kBody:
        if (buffer_.size() - line_ < content_length_) return Step::kNeedMore;
        end_ = line_ + content_length_;
        phase_ = Phase::kComplete;
        return Step::kRequest;
      case Phase::kRequestLine:
      case Phase::kFields: {
        // Only the bytes not searched before: a long line arriving in many reads costs its length
        // once (Pistache 0.0.5 re-parses it from the start on every read).
        const char* base = buffer_.data();
        const void* lf =
            scanned_ < buffer_.size() ? std::memchr(base + scanned_, '\n', buffer_.size() - scanned_) : nullptr;
        const std::size_t line_end = lf == nullptr ? buffer_.size() : static_cast<const char*>(lf) - base + 1;
        scanned_ = line_end;
        if (line_end - line_ > limits_->max_header_line_bytes) {
          const std::string limit = std::to_string(limits_->max_header_line_bytes);
          if (phase_ == Phase::kRequestLine) return Refuse(414, "the request line exceeds " + limit + " bytes");
          return Refuse(431, "a header field exceeds " + limit + " bytes");
        }
        if (line_end - start_ > limits_->max_header_bytes) {
          return Refuse(431, "the request header exceeds " + std::to_string(limits_->max_header_bytes) + " bytes");
        }
        if (lf == nullptr) return Step::kNeedMore;
        const std::size_t lf_at = line_end - 1;
        if (lf_at == line_ || base[lf_at - 1] != '\r') {
          return Refuse(400, "a line of the request header does not end with CRLF");
        }
        const std::string_view line(base + line_, lf_at - 1 - line_);
        line_ = line_end;
        const Step s = phase_ == Phase::kRequestLine ? ParseRequestLine(line) : ParseField(line);
        if (s == Step::kRefused) return s;
        break;
      }
    }
  }
}

RequestFramer::Step RequestFramer::ParseRequestLine(std::string_view line) {
  // RFC 9112 §2.2: empty lines before the request line are ignored (they still count against
  // max_header_bytes, so a stream of them ends in a 431).
  if (line.empty()) return Step::kNeedMore;
  const auto sp1 = line.find(' ');
  const auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return Refuse(400, "the request line is not: method, target, HTTP version, separated by single spaces");
  }
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!IsToken(method)) return Refuse(400, "the request method is not a token");
  if (target.empty() || std::any_of(target.begin(), target.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u <= 0x20 || u >= 0x7f;
      })) {
    return Refuse(400, "the request target is empty or holds a byte that must be percent-encoded");
  }
  if (version == "HTTP/1.1") {
    http11_ = true;
  } else if (version == "HTTP/1.0") {
    http11_ = false;
  } else if (version.size() == 8 && version.substr(0, 5) == "HTTP/" && version[5] >= '0' && version[5] <= '9' &&
             version[6] == '.' && version[7] >= '0' && version[7] <= '9') {
    return Refuse(505, "only HTTP/1.0 and HTTP/1.1 are supported");
  } else {
    return Refuse(400, "the request line does not end with an HTTP version");
  }
  if (!IsKnownMethod(method)) return Refuse(501, "the request method is not implemented");
  target_.assign(target);
  phase_ = Phase::kFields;
  return Step::kNeedMore;
}

RequestFramer::Step RequestFramer::ParseField(std::string_view line) {
  if (line.empty()) return EndOfHead();
  if (line.front() == ' ' || line.front() == '\t') {
    return Refuse(400, "a header field is folded over lines (obsolete line folding is not accepted)");
  }
  const auto colon = line.find(':');
  // RFC 9112 §5.1: no whitespace between the field name and the colon.
  if (colon == std::string_view::npos || !IsToken(line.substr(0, colon))) {
    return Refuse(400, "a header field is not a token name, a colon and a value");
  }
  const std::string_view name = line.substr(0, colon);
  const std::string_view value = TrimSpace(line.substr(colon + 1));
  // RFC 9110 §5.5: CR, LF and NUL are never valid in a field value; nor are the other controls.
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && u != '\t') || u == 0x7f) return Refuse(400, "a header field value holds a control byte");
  }
  if (EqualsIgnoreCase(name, "Content-Length")) {
    if (value.empty() || !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return Refuse(400, "Content-Length must be a decimal number");
    }
    std::size_t length = 0;
    if (value.size() > kMaxContentLengthDigits) {
      length = static_cast<std::size_t>(-1);
    } else {
      for (const char c : value) length = length * 10 + static_cast<std::size_t>(c - '0');
    }
    if (has_length_ && length != content_length_)
      return Refuse(400, "the request has conflicting Content-Length fields");
    has_length_ = true;
    content_length_ = length;
  } else if (EqualsIgnoreCase(name, "Transfer-Encoding")) {
    has_transfer_encoding_ = true;
    ForEachListElement(value, [this](std::string_view coding) {
      if (!coding.empty()) chunked_last_ = EqualsIgnoreCase(coding, "chunked");
    });
  } else if (EqualsIgnoreCase(name, "Connection")) {
    ForEachListElement(value, [this](std::string_view option) {
      if (EqualsIgnoreCase(option, "close")) saw_close_ = true;
      if (EqualsIgnoreCase(option, "keep-alive")) saw_keep_alive_ = true;
    });
  }
  return Step::kNeedMore;
}

RequestFramer::Step RequestFramer::EndOfHead() {
  if (has_transfer_encoding_) {
    // RFC 9112 §6.1: both together may be a smuggling attempt; a coding we do not know, 501.
    if (has_length_) return Refuse(400, "the request has both Transfer-Encoding and Content-Length");
    if (chunked_last_) return Refuse(411, "chunked request bodies are not accepted: send Content-Length");
    return Refuse(501, "the request's transfer coding is not implemented");
  }
  std::size_t limit = limits_->max_body_bytes;
  if (limits_->body_limit) limit = std::min(limit, limits_->body_limit(target_));
  if (has_length_ && content_length_ > limit) {
    return Refuse(413, "the request body exceeds " + std::to_string(limit) + " bytes");
  }
  if (!has_length_) content_length_ = 0;  // RFC 9112 §6.3: a request without either has no body
  close_after_ = saw_close_ || (!http11_ && !saw_keep_alive_);
  phase_ = Phase::kBody;
  return Step::kNeedMore;
}

std::string_view RequestFramer::request() const { return std::string_view(buffer_).substr(start_, end_ - start_); }

void RequestFramer::Pop() {
  if (phase_ != Phase::kComplete) return;
  start_ = line_ = scanned_ = end_;
  phase_ = Phase::kRequestLine;
  target_.clear();
  http11_ = saw_close_ = saw_keep_alive_ = has_length_ = has_transfer_encoding_ = chunked_last_ = false;
  content_length_ = 0;
  close_after_ = false;
  if (start_ == buffer_.size()) {
    buffer_.clear();
    if (buffer_.capacity() > kCompactAt) buffer_.shrink_to_fit();
    start_ = line_ = scanned_ = end_ = 0;
  } else if (start_ >= kCompactAt) {
    buffer_.erase(0, start_);
    line_ = scanned_ = end_ = start_ = 0;
  }
}

// --- The server -------------------------------------------------------------------------------

struct EdgeServer::Shared {
  EdgeOptions options;
  EdgeDispatch dispatch;
  std::atomic<int> open{0};  // connections accepted and not yet closed, over all reactor threads
  // Refusals at the cap are logged at most once a second, with their count.
  std::atomic<std::int64_t> last_cap_log_ms{0};
  std::atomic<int> refused_since_log{0};

  void NoteRefusedAtCap(int open_now) {
    const int refused = refused_since_log.fetch_add(1) + 1;
    const std::int64_t now_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
    std::int64_t last = last_cap_log_ms.load();
    if (now_ms - last < 1000 || !last_cap_log_ms.compare_exchange_strong(last, now_ms)) return;
    refused_since_log.fetch_sub(refused);
    Log()->warn("http.connections_at_cap max_connections={} open={} closed_at_once={}", options.max_connections,
                open_now, refused);
  }
};

namespace {

// The transport of the dispatch running on this thread (EdgeSendFile writes through it).
thread_local Pistache::Tcp::Transport* t_dispatch_transport = nullptr;

// Pistache's own HTTP handler, fed one whole request at a time by the EdgeHandler: its parser
// builds the Request, and the request goes to `dispatch`.
class Dispatcher final : public Pistache::Http::Handler {
 public:
  HTTP_PROTOTYPE(Dispatcher)

  explicit Dispatcher(std::shared_ptr<EdgeServer::Shared> shared) : shared_(std::move(shared)) {
    const EdgeLimits& l = shared_->options.limits;
    setMaxRequestSize(l.max_header_bytes + l.max_body_bytes + 1024);
  }

  void onRequest(const Pistache::Http::Request& request, Pistache::Http::ResponseWriter response) override {
    served = true;
    t_dispatch_transport = transport();
    try {
      shared_->dispatch(request, std::move(response));
    } catch (...) {
      // Pistache answers 500 through its queue: the edge then closes, as after its parser's refusals.
      served = false;
      t_dispatch_transport = nullptr;
      throw;
    }
    t_dispatch_transport = nullptr;
  }

  bool served = false;  // onRequest ran since the edge last cleared it

 private:
  std::shared_ptr<EdgeServer::Shared> shared_;
};

// Sees every byte a connection sends, before Pistache's parser (see edge.h). One per reactor
// thread; everything in it is touched by that thread only, but `shared_`.
class EdgeHandler final : public Pistache::Tcp::Handler {
 public:
  explicit EdgeHandler(std::shared_ptr<EdgeServer::Shared> shared)
      : shared_(std::move(shared)), dispatcher_(std::make_shared<Dispatcher>(shared_)) {}

  std::shared_ptr<Pistache::Tcp::Handler> clone() const override { return Fresh(); }
  std::shared_ptr<EdgeHandler> Fresh() const { return std::make_shared<EdgeHandler>(shared_); }
  std::shared_ptr<Pistache::Tcp::Handler> dispatcher() const { return dispatcher_; }

  void onConnection(const std::shared_ptr<Peer>& peer) override {
    const auto now = Clock::now();
    auto c = std::make_shared<Connection>(&shared_->options.limits);
    c->peer = peer;
    c->serial = ++serial_;
    c->since = now;
    AsTcp().onConnection(peer);  // Pistache's parser for this peer
    const int open = shared_->open.fetch_add(1) + 1;
    if (open > shared_->options.max_connections) {
      // Closed at once: the shutdown makes the socket readable at EOF, so Pistache's reactor reads
      // the end and closes it, as for a client that left.
      c->state = State::kRefused;
      c->deadline = now + shared_->options.linger;
      ::shutdown(peer->fd(), SHUT_RDWR);
      shared_->NoteRefusedAtCap(open);
    }
    connections_[peer->fd()] = std::move(c);
  }

  void onDisconnection(const std::shared_ptr<Peer>& peer) override {
    const auto it = connections_.find(peer->fd());
    if (it == connections_.end() || it->second->peer.lock() != peer) return;
    connections_.erase(it);
    shared_->open.fetch_sub(1);
  }

  void onInput(const char* bytes, size_t len, const std::shared_ptr<Peer>& peer) override {
    const auto it = connections_.find(peer->fd());
    if (it == connections_.end()) return;
    const std::shared_ptr<Connection> c = it->second;
    if (c->state != State::kOpen) return;               // closing: what the client still sends is dropped
    if (!c->framer.started()) c->since = Clock::now();  // the header timeout runs from a request's first byte
    c->framer.Append(std::string_view(bytes, len));
    while (true) {
      switch (c->framer.Next()) {
        case RequestFramer::Step::kNeedMore:
          return;
        case RequestFramer::Step::kRefused: {
          const EdgeRefusal& r = c->framer.refusal();
          Log()->info("http.request_refused status={} description={} peer={}", r.status, base::LogQuote(r.description),
                      base::LogId(peer->address().host()));
          Answer(*c, peer, r);
          return;
        }
        case RequestFramer::Step::kRequest: {
          const bool close_after = c->framer.close_after();
          const std::string_view request = c->framer.request();
          dispatcher_->served = false;
          AsTcp().onInput(request.data(), request.size(), peer);
          c->framer.Pop();
          if (!dispatcher_->served) {
            // Pistache's parser refused what the framer passed (e.g. a typed header it cannot
            // parse) and answered itself through its queue; what follows cannot be trusted.
            Log()->info("http.request_refused status=parser peer={}", base::LogId(peer->address().host()));
            CloseAfterWrites(*c, peer);
            return;
          }
          if (close_after) {
            CloseAfterWrites(*c, peer);
            return;
          }
          c->fresh = false;
          c->since = Clock::now();
          break;
        }
      }
    }
  }

  // Peers to close now (idle too long, or done lingering); a request overdue gets its 408 here.
  void Sweep(Clock::time_point now, std::vector<std::shared_ptr<Peer>>* expired) {
    const EdgeOptions& o = shared_->options;
    for (auto it = connections_.begin(); it != connections_.end();) {
      const std::shared_ptr<Connection>& c = it->second;
      auto peer = c->peer.lock();
      if (!peer) {  // gone without a disconnection (not expected): forget it
        it = connections_.erase(it);
        shared_->open.fetch_sub(1);
        continue;
      }
      switch (c->state) {
        case State::kOpen:
          if (c->fresh && !c->framer.started()) {
            // A new connection gets header_timeout for its first byte, as a request would (only
            // between requests does a persistent connection wait for idle_timeout).
            if (now - c->since > o.header_timeout) expired->push_back(std::move(peer));
          } else if (c->framer.started()) {
            if (now - c->since > o.header_timeout) {
              const EdgeRefusal r{
                  408, "the request did not arrive whole within " + std::to_string(o.header_timeout.count()) + " ms",
                  "", ""};
              Log()->info("http.request_refused status=408 description={} peer={}", base::LogQuote(r.description),
                          base::LogId(peer->address().host()));
              Answer(*c, peer, r);
            }
          } else if (now - c->since > o.idle_timeout) {
            expired->push_back(std::move(peer));
          }
          break;
        case State::kDraining:
        case State::kLingering:
        case State::kRefused:
          if (now >= c->deadline) expired->push_back(std::move(peer));
          break;
      }
      ++it;
    }
  }

 private:
  enum class State {
    kOpen,       // framing requests
    kDraining,   // the last answer is in Pistache's write queue; then SHUT_WR
    kLingering,  // half-closed: waiting for the client's end, dropping its bytes
    kRefused,    // over max_connections: shut down at once
  };

  struct Connection {
    explicit Connection(const EdgeLimits* limits) : framer(limits) {}
    std::weak_ptr<Peer> peer;
    std::uint64_t serial = 0;
    RequestFramer framer;
    State state = State::kOpen;
    bool fresh = true;           // no request answered yet
    Clock::time_point since;     // kOpen: start of the idle time, or of the request being read
    Clock::time_point deadline;  // other states: when to close regardless
  };

  Pistache::Tcp::Handler& AsTcp() { return *dispatcher_; }  // its hooks are public as a Tcp::Handler

  // Answers a refusal (after every answer already queued) and closes.
  void Answer(Connection& c, const std::shared_ptr<Peer>& peer, const EdgeRefusal& refusal) {
    EdgeRefusal answered = refusal;
    if (shared_->options.refusal_error) answered.error = shared_->options.refusal_error(answered);
    const std::string bytes = EdgeRefusalResponse(answered);
    peer->send(Pistache::RawBuffer(bytes, bytes.size()));
    CloseAfterWrites(c, peer);
  }

  // Half-closes the connection once Pistache's write queue has written all it holds for it: an
  // empty write queued now completes after every earlier one.
  void CloseAfterWrites(Connection& c, const std::shared_ptr<Peer>& peer) {
    c.state = State::kDraining;
    c.deadline = Clock::now() + shared_->options.idle_timeout;
    std::weak_ptr<Peer> weak = peer;
    const std::uint64_t serial = c.serial;
    peer->send(Pistache::RawBuffer(std::string(), 0))
        .then([this, weak, serial](ssize_t) { Drained(weak, serial); },
              [this, weak, serial](std::exception_ptr) { Drained(weak, serial); });
  }

  void Drained(const std::weak_ptr<Peer>& weak, std::uint64_t serial) {
    const auto peer = weak.lock();
    if (!peer) return;
    const auto it = connections_.find(peer->fd());
    if (it == connections_.end() || it->second->serial != serial || it->second->state != State::kDraining) return;
    // SHUT_WR, not close: a close with unread input would reset the connection, and the client
    // could lose the answer. The client sees the end, closes, and Pistache closes on its EOF.
    ::shutdown(peer->fd(), SHUT_WR);
    it->second->state = State::kLingering;
    it->second->deadline = Clock::now() + shared_->options.linger;
  }

  std::shared_ptr<EdgeServer::Shared> shared_;
  std::shared_ptr<Dispatcher> dispatcher_;
  std::unordered_map<int, std::shared_ptr<Connection>> connections_;  // by fd
  std::uint64_t serial_ = 0;
};

// Pistache's transport with the edge as its handler, and a timer for the edge's sweep.
class EdgeTransport final : public Pistache::Tcp::Transport {
 public:
  // Transport's constructor ties the handler it gets to this transport (the dispatcher's answers go
  // through it: ResponseWriter needs its transport); init() then makes the edge the handler that
  // sees the input. Both ties go through Pistache's public API, so no private member is touched.
  explicit EdgeTransport(std::shared_ptr<EdgeHandler> edge) : Transport(edge->dispatcher()), edge_(std::move(edge)) {
    init(edge_);
  }
  ~EdgeTransport() override {
    if (timer_fd_ >= 0) ::close(timer_fd_);
  }

  void registerPoller(Pistache::Polling::Epoll& poller) override {
    Transport::registerPoller(poller);
    timer_fd_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (timer_fd_ < 0) throw std::runtime_error(std::string("timerfd_create: ") + std::strerror(errno));
    itimerspec spec{};
    spec.it_interval.tv_nsec = kSweepInterval.count();
    spec.it_value.tv_nsec = kSweepInterval.count();
    if (::timerfd_settime(timer_fd_, 0, &spec, nullptr) != 0) {
      throw std::runtime_error(std::string("timerfd_settime: ") + std::strerror(errno));
    }
    poller.addFd(timer_fd_, Pistache::Flags<Pistache::Polling::NotifyOn>(Pistache::Polling::NotifyOn::Read),
                 Pistache::Polling::Tag(timer_fd_));
  }

  void onReady(const Pistache::Aio::FdSet& fds) override {
    bool tick = false;
    for (const auto& entry : fds) {
      if (entry.getTag() == Pistache::Polling::Tag(timer_fd_)) {
        std::uint64_t expirations = 0;
        [[maybe_unused]] const ssize_t n = ::read(timer_fd_, &expirations, sizeof expirations);
        tick = true;
      }
    }
    Transport::onReady(fds);
    // After the batch: a peer closed before it could still have events in it.
    if (tick) Sweep();
  }

  std::shared_ptr<Pistache::Aio::Handler> clone() const override {
    return std::make_shared<EdgeTransport>(edge_->Fresh());
  }

 private:
  static constexpr std::chrono::nanoseconds kSweepInterval{200'000'000};

  void Sweep() {
    std::vector<std::shared_ptr<Peer>> expired;
    edge_->Sweep(Clock::now(), &expired);
    for (const auto& peer : expired) {
      const auto it = peers.find(peer->fd());
      if (it == peers.end() || it->second != peer) continue;
      edge_->onDisconnection(peer);
      removePeer(peer);
    }
  }

  std::shared_ptr<EdgeHandler> edge_;
  int timer_fd_ = -1;
};

}  // namespace

base::Status EdgeSendFile(Pistache::Http::ResponseWriter& response, const std::string& path,
                          const std::function<std::string(std::size_t size)>& head) {
  if (t_dispatch_transport == nullptr) return base::Status::Internal("EdgeSendFile outside an edge dispatch");
  const auto peer = response.getPeer();
  if (!peer) return base::Status::Ok();  // the client is gone: nobody to answer
  std::optional<Pistache::FileBuffer> file;
  try {
    file.emplace(path);  // opens it; the transport closes it once sent
  } catch (const std::exception&) {
    return base::Status::NotFound("the file is gone");
  }
  const std::string bytes = head(file->size());
  t_dispatch_transport->asyncWrite(peer->fd(), Pistache::RawBuffer(bytes, bytes.size()), MSG_MORE);
  t_dispatch_transport->asyncWrite(peer->fd(), *file);
  return base::Status::Ok();
}

struct EdgeServer::Impl {
  std::shared_ptr<Shared> shared;
  std::unique_ptr<Pistache::Tcp::Listener> listener;
  bool running = false;
};

EdgeServer::EdgeServer(EdgeOptions options, EdgeDispatch dispatch) : impl_(std::make_unique<Impl>()) {
  impl_->shared = std::make_shared<Shared>();
  impl_->shared->options = std::move(options);
  impl_->shared->dispatch = std::move(dispatch);
}

EdgeServer::~EdgeServer() { Stop(); }

base::Status EdgeServer::Start() {
  const EdgeOptions& o = impl_->shared->options;
  try {
    Pistache::Address addr(o.address, Pistache::Port(static_cast<uint16_t>(o.port)));
    impl_->listener = std::make_unique<Pistache::Tcp::Listener>(addr);
    impl_->listener->init(static_cast<size_t>(o.threads),
                          Pistache::Flags<Pistache::Tcp::Options>(Pistache::Tcp::Options::ReuseAddr), "", o.backlog);
    auto prototype = std::make_shared<EdgeHandler>(impl_->shared);
    impl_->listener->setHandler(prototype);
    impl_->listener->setTransportFactory([prototype] { return std::make_shared<EdgeTransport>(prototype->Fresh()); });
    impl_->listener->bind();
    impl_->listener->runThreaded();
    impl_->running = true;
  } catch (const std::exception& e) {
    return base::Status::Unavailable("cannot listen on " + o.address + ":" + std::to_string(o.port) + ": " + e.what());
  }
  return base::Status::Ok();
}

void EdgeServer::Stop() {
  if (impl_ && impl_->running) {
    impl_->listener->shutdown();
    impl_->running = false;
  }
}

int EdgeServer::port() const {
  return impl_->listener ? static_cast<int>(static_cast<uint16_t>(impl_->listener->getPort())) : 0;
}

}  // namespace broker::http
