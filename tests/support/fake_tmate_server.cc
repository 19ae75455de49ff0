#include "tests/support/fake_tmate_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace broker::testing {

std::string EscapeLine(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else {
      out += c;
    }
  }
  return out;
}

std::string UnescapeLine(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\' || i + 1 == text.size()) {
      out += text[i];
      continue;
    }
    const char n = text[++i];
    out += n == 'n' ? '\n' : n == 'r' ? '\r' : n;
  }
  return out;
}

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

namespace {

// Splits "word rest" at the first space.
std::pair<std::string, std::string> SplitFirst(const std::string& line) {
  const std::size_t sp = line.find(' ');
  if (sp == std::string::npos) return {line, ""};
  return {line.substr(0, sp), line.substr(sp + 1)};
}

}  // namespace

struct FakeTmateServer::Impl {
  struct Conn {
    int fd = -1;
    int session_index = -1;  // into sessions, once "ready"
    bool closed = false;
  };

  mutable std::mutex mu;
  mutable std::condition_variable cv;
  std::string fingerprint = kDefaultFingerprint;
  std::string advertised_host = "127.0.0.1";
  int advertised_port = 0;
  bool require_keys = false;
  int port = 0;
  int listen_fd = -1;
  int wake_pipe[2] = {-1, -1};
  bool started = false;
  bool stopping = false;
  std::size_t accepted = 0;
  std::vector<Session> sessions;
  std::vector<std::shared_ptr<Conn>> conns;
  std::map<int, RunResult> results;  // by run id
  int next_run_id = 1;
  std::thread acceptor;
  std::vector<std::thread> readers;

  void AcceptLoop();
  void ReadLoop(std::shared_ptr<Conn> conn);
  // The most recent live, non-refused session's connection; nullptr when none. Under mu.
  std::shared_ptr<Conn> LatestLiveLocked() const;
};

void FakeTmateServer::Impl::AcceptLoop() {
  for (;;) {
    pollfd fds[2] = {{listen_fd, POLLIN, 0}, {wake_pipe[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    auto conn = std::make_shared<Conn>();
    conn->fd = fd;
    std::string banner;
    {
      std::lock_guard<std::mutex> lock(mu);
      banner = "FAKE-TMATE-SERVER 1 " + fingerprint + " " + advertised_host + " " +
               std::to_string(advertised_port != 0 ? advertised_port : port) + " " + (require_keys ? "1" : "0") +
               "\n";
    }
    SendAll(fd, banner);  // before the reader thread exists: only it closes the fd
    {
      std::lock_guard<std::mutex> lock(mu);
      if (stopping) {
        ::close(fd);
        return;
      }
      ++accepted;
      conns.push_back(conn);
      readers.emplace_back([this, conn] { ReadLoop(conn); });
    }
    cv.notify_all();
  }
}

void FakeTmateServer::Impl::ReadLoop(std::shared_ptr<Conn> conn) {
  Session pending;
  std::string buffer;
  char chunk[4096];
  for (;;) {
    const ssize_t n = ::recv(conn->fd, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    buffer.append(chunk, static_cast<std::size_t>(n));
    std::size_t nl;
    while ((nl = buffer.find('\n')) != std::string::npos) {
      const std::string line = buffer.substr(0, nl);
      buffer.erase(0, nl + 1);
      const auto [word, rest] = SplitFirst(line);
      if (word == "key") {
        pending.authorized_keys.push_back(UnescapeLine(rest));
      } else if (word == "cwd") {
        pending.cwd = UnescapeLine(rest);
      } else if (word == "env") {
        const std::string kv = UnescapeLine(rest);
        const std::size_t eq = kv.find('=');
        if (eq != std::string::npos) pending.env[kv.substr(0, eq)] = kv.substr(eq + 1);
      } else if (word == "pid") {
        pending.client_pid = std::atoi(rest.c_str());
      } else if (word == "tokens") {
        const auto [rw, ro] = SplitFirst(rest);
        pending.token = rw;
        pending.token_read_only = ro;
      } else if (word == "ready") {
        bool refuse = false;
        {
          std::lock_guard<std::mutex> lock(mu);
          refuse = require_keys && pending.authorized_keys.empty();
          pending.id = static_cast<int>(sessions.size()) + 1;
          pending.refused = refuse;
          pending.live = !conn->closed;
          conn->session_index = static_cast<int>(sessions.size());
          sessions.push_back(pending);
        }
        cv.notify_all();
        SendAll(conn->fd, refuse ? "need-keys\n" : "ok\n");
        // The client prints the refusal, then sees EOF and drops the connection.
        if (refuse) ::shutdown(conn->fd, SHUT_WR);
      } else if (word == "result") {
        const auto [id, tail] = SplitFirst(rest);
        const auto [status, output] = SplitFirst(tail);
        {
          std::lock_guard<std::mutex> lock(mu);
          results[std::atoi(id.c_str())] = RunResult{std::atoi(status.c_str()), UnescapeLine(output)};
        }
        cv.notify_all();
      }
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    conn->closed = true;
    if (conn->session_index >= 0) sessions[static_cast<std::size_t>(conn->session_index)].live = false;
    ::close(conn->fd);
    conn->fd = -1;
  }
  cv.notify_all();
}

std::shared_ptr<FakeTmateServer::Impl::Conn> FakeTmateServer::Impl::LatestLiveLocked() const {
  std::shared_ptr<Conn> best;
  int best_index = -1;
  for (const auto& c : conns) {
    if (c->closed || c->session_index < 0) continue;
    if (sessions[static_cast<std::size_t>(c->session_index)].refused) continue;
    if (c->session_index > best_index) {
      best_index = c->session_index;
      best = c;
    }
  }
  return best;
}

FakeTmateServer::FakeTmateServer() : impl_(std::make_unique<Impl>()) {}

FakeTmateServer::~FakeTmateServer() { Stop(); }

void FakeTmateServer::Start(int port) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->started) throw std::runtime_error("FakeTmateServer::Start: already started");
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("FakeTmateServer::Start: socket: ") + std::strerror(errno));
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 64) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 || ::pipe2(impl_->wake_pipe, O_CLOEXEC) != 0) {
    const std::string error = std::strerror(errno);
    ::close(fd);
    throw std::runtime_error("FakeTmateServer::Start: cannot listen on 127.0.0.1:" + std::to_string(port) + ": " +
                             error);
  }
  impl_->listen_fd = fd;
  impl_->port = ntohs(addr.sin_port);
  impl_->started = true;
  impl_->acceptor = std::thread([impl = impl_.get()] { impl->AcceptLoop(); });
}

void FakeTmateServer::Stop() {
  std::vector<std::thread> readers;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (!impl_->started || impl_->stopping) return;
    impl_->stopping = true;
    const char byte = 'x';
    [[maybe_unused]] const ssize_t ignored = ::write(impl_->wake_pipe[1], &byte, 1);
  }
  impl_->acceptor.join();  // no new readers after this
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    for (const auto& c : impl_->conns) {
      if (!c->closed) ::shutdown(c->fd, SHUT_RDWR);
    }
    readers.swap(impl_->readers);
  }
  for (std::thread& t : readers) t.join();
  impl_->cv.notify_all();
  ::close(impl_->listen_fd);
  ::close(impl_->wake_pipe[0]);
  ::close(impl_->wake_pipe[1]);
  impl_->listen_fd = impl_->wake_pipe[0] = impl_->wake_pipe[1] = -1;
}

int FakeTmateServer::port() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->port;
}

void FakeTmateServer::set_fingerprint(std::string fingerprint) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->fingerprint = std::move(fingerprint);
}

std::string FakeTmateServer::fingerprint() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->fingerprint;
}

void FakeTmateServer::set_advertised_host(std::string host) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->advertised_host = std::move(host);
}

void FakeTmateServer::set_advertised_port(int port) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->advertised_port = port;
}

void FakeTmateServer::set_require_keys(bool require) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->require_keys = require;
}

void FakeTmateServer::Restart() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  for (const auto& c : impl_->conns) {
    if (!c->closed) ::shutdown(c->fd, SHUT_RDWR);
  }
}

std::vector<FakeTmateServer::Session> FakeTmateServer::Sessions() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->sessions;
}

std::size_t FakeTmateServer::connections() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->accepted;
}

bool FakeTmateServer::WaitForSessions(std::size_t count, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(impl_->mu);
  return impl_->cv.wait_for(lock, timeout, [&] { return impl_->sessions.size() >= count; });
}

std::optional<FakeTmateServer::RunResult> FakeTmateServer::Run(const std::string& command,
                                                               std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(impl_->mu);
  const std::shared_ptr<Impl::Conn> conn = impl_->LatestLiveLocked();
  if (!conn) return std::nullopt;
  const int id = impl_->next_run_id++;
  if (!SendAll(conn->fd, "run " + std::to_string(id) + " " + EscapeLine(command) + "\n")) return std::nullopt;
  const bool done = impl_->cv.wait_for(lock, timeout, [&] { return impl_->results.count(id) != 0 || conn->closed; });
  const auto it = impl_->results.find(id);
  if (!done || it == impl_->results.end()) return std::nullopt;
  RunResult result = std::move(it->second);
  impl_->results.erase(it);
  return result;
}

bool FakeTmateServer::ExitClient(int status) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const std::shared_ptr<Impl::Conn> conn = impl_->LatestLiveLocked();
  return conn && SendAll(conn->fd, "exit " + std::to_string(status) + "\n");
}

}  // namespace broker::testing
