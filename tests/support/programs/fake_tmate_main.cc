// fake_tmate: a stand-in for the tmate 2.4.0 client in foreground mode, for tests only. Its server
// is broker::testing::FakeTmateServer (tests/support/fake_tmate_server.h, which documents the wire
// protocol); it cannot talk to a real tmate-ssh-server.
//
//   fake_tmate -V                                      prints "tmate 2.4.0-fake"
//   fake_tmate -F -f FILE -S SOCK new-session -c DIR [CMD...]
//
// Like tmate (tmate.md §3, §4.2, §7):
//   - needs a UTF-8 locale: the first of LC_ALL, LC_CTYPE, LANG that is set must name UTF-8, else
//     prints `need UTF-8 locale` on stderr and exits 1;
//   - reads FILE: `set[-option] -g NAME VALUE` for tmate-server-host, tmate-server-port,
//     tmate-server-ed25519-fingerprint, tmate-server-rsa-fingerprint, tmate-foreground-restart and
//     tmate-set (repeatable; "authorized_keys=KEY" values are the session's keys), and
//     `set-environment -g NAME VALUE` and `set-environment -gu NAME`; words split and quoted as tmux does for simple cases ('...',
//     "..." with backslash escapes, # comments). Any other option prints `FILE:LINE: unknown
//     option: NAME` (another command `FILE:LINE: unknown command: NAME`) and exits 1;
//   - prints, line-buffered on stdout, exactly the lines of tmate.md §4.2: the local-attach hint,
//     `Connecting to HOST...`, the readonly note, `ssh session read only: ssh[ -pPORT] ro-TOKEN@HOST`
//     and `ssh session: ssh[ -pPORT] TOKEN@HOST` (HOST and PORT as the server advertises; tokens of
//     25 symbols of tmate's 55-symbol alphabet, new on every connection);
//   - connection refused: `Error connecting: Connection refused`, `Reconnecting...`; wrong server
//     fingerprint: `Cannot authenticate server`, `Reconnecting...`; dropped connection: `Error
//     reading from channel: Socket error: disconnected`, `Reconnecting...`; each retried after
//     FAKE_TMATE_RETRY_MS (default 300) milliseconds, forever;
//   - SIGTERM or SIGINT: prints `Session closed`, exits 0.
// CMD and tmate-foreground-restart are accepted and ignored (there is no real shell; the server's
// `run` requests each start `bash -c` in DIR).
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "tests/support/fake_tmate_server.h"

extern char** environ;

namespace {

using broker::testing::EscapeLine;
using broker::testing::SendAll;
using broker::testing::UnescapeLine;

struct Config {
  std::string host = "ssh.tmate.io";
  std::string port = "22";
  std::string ed25519_fingerprint;
  std::vector<std::string> authorized_keys;
};

struct Args {
  std::string config_file;
  std::string socket;
  std::string dir;
};

int g_signal_fd = -1;
int g_retry_ms = 300;

void Print(const std::string& line) {
  std::fputs(line.c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

[[noreturn]] void SessionClosed() {
  Print("Session closed");
  std::exit(0);
}

bool IsUtf8(std::string value) {
  for (char& c : value) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return value.find("utf-8") != std::string::npos || value.find("utf8") != std::string::npos;
}

bool HaveUtf8Locale() {
  for (const char* name : {"LC_ALL", "LC_CTYPE", "LANG"}) {
    const char* v = std::getenv(name);
    if (v != nullptr && *v != '\0') return IsUtf8(v);
  }
  return false;
}

// Splits a config line into words as tmux does for simple cases. nullopt on an unterminated quote.
std::optional<std::vector<std::string>> SplitWords(const std::string& line) {
  std::vector<std::string> words;
  std::size_t i = 0;
  for (;;) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i == line.size() || line[i] == '#') return words;
    std::string word;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') {
      const char c = line[i++];
      if (c == '\'') {
        const std::size_t end = line.find('\'', i);
        if (end == std::string::npos) return std::nullopt;
        word += line.substr(i, end - i);
        i = end + 1;
      } else if (c == '"') {
        for (;;) {
          if (i == line.size()) return std::nullopt;
          const char d = line[i++];
          if (d == '"') break;
          if (d == '\\' && i < line.size()) {
            const char e = line[i++];
            word += e == 'n' ? '\n' : e == 't' ? '\t' : e;
          } else {
            word += d;
          }
        }
      } else if (c == '\\' && i < line.size()) {
        word += line[i++];
      } else {
        word += c;
      }
    }
    words.push_back(word);
  }
}

// Loads the config like tmate -F: any error is printed and exits 1.
Config LoadConfig(const std::string& file) {
  Config cfg;
  std::ifstream in(file);
  if (!in) {
    Print(file + ": No such file or directory");
    std::exit(1);
  }
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    const std::string where = file + ":" + std::to_string(number) + ": ";
    const std::optional<std::vector<std::string>> words = SplitWords(line);
    if (!words) {
      Print(where + "syntax error");
      std::exit(1);
    }
    if (words->empty()) continue;
    const std::vector<std::string>& w = *words;
    const bool set = w[0] == "set" || w[0] == "set-option";
    const bool setenv = w[0] == "set-environment" || w[0] == "setenv";
    if (!set && !setenv) {
      Print(where + "unknown command: " + w[0]);
      std::exit(1);
    }
    std::size_t k = 1;
    bool unset = false;  // set-environment -u NAME (tmux: remove NAME from the environment)
    while (k < w.size() && w[k].size() > 1 && w[k][0] == '-') {  // flags such as -g
      unset = unset || (setenv && w[k].find('u') != std::string::npos);
      ++k;
    }
    if (unset) {
      if (k + 1 != w.size()) {
        Print(where + "command " + w[0] + ": expected NAME");
        std::exit(1);
      }
      ::unsetenv(w[k].c_str());
      continue;
    }
    if (k + 2 != w.size()) {
      Print(where + "command " + w[0] + ": expected NAME VALUE");
      std::exit(1);
    }
    const std::string& name = w[k];
    const std::string& value = w[k + 1];
    if (setenv) {
      ::setenv(name.c_str(), value.c_str(), 1);
    } else if (name == "tmate-server-host") {
      cfg.host = value;
    } else if (name == "tmate-server-port") {
      cfg.port = value;
    } else if (name == "tmate-server-ed25519-fingerprint") {
      cfg.ed25519_fingerprint = value;
    } else if (name == "tmate-server-rsa-fingerprint" || name == "tmate-foreground-restart") {
      // accepted; nothing to do in the fake
    } else if (name == "tmate-set") {
      static constexpr char kKeys[] = "authorized_keys=";
      if (value.rfind(kKeys, 0) == 0) cfg.authorized_keys.push_back(value.substr(sizeof kKeys - 1));
    } else {
      Print(where + "unknown option: " + name);
      std::exit(1);
    }
  }
  return cfg;
}

std::string NewToken() {
  static constexpr char kAlphabet[] = "23456789abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";
  static_assert(sizeof kAlphabet - 1 == 55);
  static std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<std::size_t> pick(0, sizeof kAlphabet - 2);
  std::string token;
  for (int i = 0; i < 25; ++i) token += kAlphabet[pick(rng)];
  return token;
}

// Waits up to `ms` (-1: forever) for `fd` to be readable. Exits on SIGTERM/SIGINT.
bool WaitReadable(int fd, int ms) {
  for (;;) {
    pollfd fds[2] = {{g_signal_fd, POLLIN, 0}, {fd, POLLIN, 0}};
    const int n = ::poll(fds, fd >= 0 ? 2 : 1, ms);
    if (n < 0 && errno == EINTR) continue;
    if (fds[0].revents != 0) SessionClosed();
    return n > 0;
  }
}

// Buffered line reader over a socket, interruptible by SIGTERM/SIGINT.
class LineReader {
 public:
  explicit LineReader(int fd) : fd_(fd) {}
  // The next line, or nullopt at EOF or on an error.
  std::optional<std::string> Next() {
    for (;;) {
      const std::size_t nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      WaitReadable(fd_, -1);
      char chunk[4096];
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_;
  std::string buffer_;
};


// Runs `bash -c command` in `dir` with this process's environment plus TMUX; returns its exit
// status and its stdout+stderr.
std::pair<int, std::string> RunCommand(const std::string& command, const Args& args) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return {127, std::string("pipe: ") + std::strerror(errno)};
  const pid_t pid = ::fork();
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    if (::chdir(args.dir.c_str()) != 0) {
      std::fprintf(stderr, "cd %s: %s\n", args.dir.c_str(), std::strerror(errno));
      ::_exit(1);
    }
    ::setenv("TMUX", (args.socket + "," + std::to_string(::getppid()) + ",0").c_str(), 1);
    ::execlp("bash", "bash", "-c", command.c_str(), static_cast<char*>(nullptr));
    std::fprintf(stderr, "bash: %s\n", std::strerror(errno));
    ::_exit(127);
  }
  ::close(out[1]);
  if (pid < 0) {
    ::close(out[0]);
    return {127, std::string("fork: ") + std::strerror(errno)};
  }
  std::string output;
  char chunk[4096];
  for (;;) {
    const ssize_t n = ::read(out[0], chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    output.append(chunk, static_cast<std::size_t>(n));
  }
  ::close(out[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return {code, output};
}

// Connects to host:port. -1 with `error` set on failure.
int Connect(const Config& cfg, std::string* error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const int rc = ::getaddrinfo(cfg.host.c_str(), cfg.port.c_str(), &hints, &res);
  if (rc != 0) {
    *error = ::gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  int last_errno = ECONNREFUSED;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last_errno = errno;
      continue;
    }
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
    last_errno = errno;
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(res);
  if (fd < 0) *error = std::strerror(last_errno);
  return fd;
}

std::string SshCommand(const std::string& token, const std::string& host, const std::string& port) {
  return port == "22" ? "ssh " + token + "@" + host : "ssh -p" + port + " " + token + "@" + host;
}

// One connection: handshake, session lines, then serves `run`/`exit` until the server drops it.
// Prints the lines that precede a retry; the caller prints `Reconnecting...` when told to.
bool Session(int fd, const Config& cfg, const Args& args) {
  LineReader reader(fd);
  const std::optional<std::string> banner = reader.Next();
  std::vector<std::string> f;
  if (banner) {
    std::size_t start = 0;
    while (start <= banner->size()) {
      const std::size_t sp = banner->find(' ', start);
      f.push_back(banner->substr(start, sp == std::string::npos ? std::string::npos : sp - start));
      if (sp == std::string::npos) break;
      start = sp + 1;
    }
  }
  if (f.size() != 6 || f[0] != "FAKE-TMATE-SERVER") {
    Print("Error reading from channel: Socket error: disconnected");
    return true;
  }
  if (f[2] != cfg.ed25519_fingerprint) {
    Print("Cannot authenticate server");
    return true;
  }
  const std::string& host = f[3];
  const std::string& port = f[4];
  const std::string token = NewToken();
  const std::string token_ro = "ro-" + NewToken();
  std::string hello;
  for (const std::string& key : cfg.authorized_keys) hello += "key " + EscapeLine(key) + "\n";
  hello += "cwd " + EscapeLine(args.dir) + "\n";
  for (char** e = environ; *e != nullptr; ++e) hello += "env " + EscapeLine(*e) + "\n";
  hello += "pid " + std::to_string(::getpid()) + "\n";
  hello += "tokens " + token + " " + token_ro + "\n";
  hello += "ready\n";
  std::optional<std::string> reply;
  if (SendAll(fd, hello)) reply = reader.Next();
  if (!reply || (*reply != "ok" && *reply != "need-keys")) {
    Print("Error reading from channel: Socket error: disconnected");
    return true;
  }
  Print("Note: clear your terminal before sharing readonly access");
  Print("ssh session read only: " + SshCommand(token_ro, host, port));
  Print("ssh session: " + SshCommand(token, host, port));
  if (*reply == "need-keys") {
    Print("Server requires authorized_keys but none are given.");
    Print("Use '-a FILENAME' to specify an authorized_keys file.");
    Print("Press <Ctrl-c><Ctrl-d> to exit.");
    Print("");
    while (reader.Next()) {
    }
    return false;  // the cycle repeats without "Reconnecting..."
  }
  for (;;) {
    const std::optional<std::string> line = reader.Next();
    if (!line) {
      Print("Error reading from channel: Socket error: disconnected");
      return true;
    }
    const std::size_t sp = line->find(' ');
    const std::string word = line->substr(0, sp);
    const std::string rest = sp == std::string::npos ? "" : line->substr(sp + 1);
    if (word == "run") {
      const std::size_t sp2 = rest.find(' ');
      const std::string id = rest.substr(0, sp2);
      const std::string command = sp2 == std::string::npos ? "" : UnescapeLine(rest.substr(sp2 + 1));
      const auto [status, output] = RunCommand(command, args);
      SendAll(fd, "result " + id + " " + std::to_string(status) + " " + EscapeLine(output) + "\n");
    } else if (word == "exit") {
      std::exit(std::atoi(rest.c_str()));
    }
  }
}

int Usage() {
  std::fprintf(stderr, "usage: fake_tmate -V | -F -f FILE -S SOCKET new-session -c DIR [COMMAND...]\n");
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  bool foreground = false;
  int i = 1;
  for (; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-V") {
      Print("tmate 2.4.0-fake");
      return 0;
    } else if (a == "-F") {
      foreground = true;
    } else if ((a == "-f" || a == "-S") && i + 1 < argc) {
      (a == "-f" ? args.config_file : args.socket) = argv[++i];
    } else {
      break;
    }
  }
  if (i >= argc || std::string(argv[i]) != "new-session" || !foreground || args.config_file.empty()) return Usage();
  for (++i; i < argc; ++i) {
    if (std::string(argv[i]) == "-c" && i + 1 < argc) {
      args.dir = argv[++i];
    } else {
      break;  // the initial command: accepted, ignored
    }
  }
  if (args.dir.empty()) {
    char cwd[4096];
    if (::getcwd(cwd, sizeof cwd) != nullptr) args.dir = cwd;
  }
  if (args.socket.empty()) args.socket = "/tmp/tmate-" + std::to_string(::getuid()) + "/fake";
  if (!HaveUtf8Locale()) {
    std::fprintf(stderr, "need UTF-8 locale\n");
    return 1;
  }
  if (const char* retry = std::getenv("FAKE_TMATE_RETRY_MS"); retry != nullptr && std::atoi(retry) > 0) {
    g_retry_ms = std::atoi(retry);
  }
  const Config cfg = LoadConfig(args.config_file);

  // A background process of a non-interactive shell starts with SIGINT ignored: restore the
  // defaults, then take both signals through a signalfd.
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  std::signal(SIGPIPE, SIG_IGN);
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  g_signal_fd = ::signalfd(-1, &mask, SFD_CLOEXEC);
  if (g_signal_fd < 0) {
    std::fprintf(stderr, "signalfd: %s\n", std::strerror(errno));
    return 1;
  }

  Print("To connect to the session locally, run: tmate -S " + args.socket + " attach");
  for (;;) {
    Print("Connecting to " + cfg.host + "...");
    std::string error;
    const int fd = Connect(cfg, &error);
    bool reconnect_notice = true;
    if (fd < 0) {
      Print("Error connecting: " + error);
    } else {
      reconnect_notice = Session(fd, cfg, args);
      ::close(fd);
    }
    if (reconnect_notice) Print("Reconnecting...");
    WaitReadable(-1, g_retry_ms);
  }
}
