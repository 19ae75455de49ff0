#include "tests/support/osb_fixtures.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#if __has_include("broker/store/pg_store.h")
#define BROKER_TESTS_HAVE_PG_STORE 1
#include "broker/store/pg_store.h"
#else
#define BROKER_TESTS_HAVE_PG_STORE 0
#endif

namespace broker::testing {

// --- JSON -------------------------------------------------------------------------------------

rapidjson::Document ParseJson(std::string_view text) {
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  return doc;
}

std::optional<std::string> StringMember(const rapidjson::Value& v, const char* name) {
  if (!v.IsObject()) return std::nullopt;
  auto it = v.FindMember(name);
  if (it == v.MemberEnd() || !it->value.IsString()) return std::nullopt;
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

bool HasMember(const rapidjson::Value& v, const char* name) {
  return v.IsObject() && v.HasMember(name);
}

const rapidjson::Value& Member(const rapidjson::Value& v, const char* name) {
  static const rapidjson::Value kNull;
  if (!v.IsObject()) return kNull;
  auto it = v.FindMember(name);
  return it == v.MemberEnd() ? kNull : it->value;
}

std::string SqlQuote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

// --- Paths and bodies -------------------------------------------------------------------------

std::string ServicePlanQuery(std::string_view plan_id, std::string_view service_id) {
  return "service_id=" + std::string(service_id) + "&plan_id=" + std::string(plan_id);
}

namespace {
std::string WithQuery(std::string path, std::string_view query) {
  if (!query.empty()) {
    path += '?';
    path += query;
  }
  return path;
}
}  // namespace

std::string InstancePath(std::string_view iid, std::string_view query) {
  return WithQuery("/v2/service_instances/" + std::string(iid), query);
}

std::string InstanceLastOperationPath(std::string_view iid, std::string_view query) {
  return WithQuery("/v2/service_instances/" + std::string(iid) + "/last_operation", query);
}

std::string BindingPath(std::string_view iid, std::string_view bid, std::string_view query) {
  return WithQuery(
      "/v2/service_instances/" + std::string(iid) + "/service_bindings/" + std::string(bid),
      query);
}

std::string BindingLastOperationPath(std::string_view iid, std::string_view bid,
                                     std::string_view query) {
  return WithQuery("/v2/service_instances/" + std::string(iid) + "/service_bindings/" +
                       std::string(bid) + "/last_operation",
                   query);
}

std::string ProvisionBody(std::string_view plan_id, std::string_view extra_members) {
  std::string body = R"({"service_id":")" + std::string(kServiceId) + R"(","plan_id":")" +
                     std::string(plan_id) + R"(","organization_guid":")" +
                     std::string(kOrgGuid) + R"(","space_guid":")" + std::string(kSpaceGuid) +
                     R"(","context":{"platform":"cloudfoundry","organization_guid":")" +
                     std::string(kOrgGuid) + R"(","organization_name":"org","space_guid":")" +
                     std::string(kSpaceGuid) +
                     R"(","space_name":"dev","instance_name":"my-ssh"})";
  if (!extra_members.empty()) {
    body += ',';
    body += extra_members;
  }
  return body + "}";
}

std::string BindBody(std::string_view plan_id, std::string_view app_guid,
                     std::string_view parameters, std::string_view extra_members) {
  std::string body = R"({"service_id":")" + std::string(kServiceId) + R"(","plan_id":")" +
                     std::string(plan_id) + R"(","bind_resource":{"app_guid":")" +
                     std::string(app_guid) + R"(","space_guid":")" + std::string(kSpaceGuid) +
                     R"("},"context":{"platform":"cloudfoundry","organization_guid":")" +
                     std::string(kOrgGuid) + R"(","organization_name":"org","space_guid":")" +
                     std::string(kSpaceGuid) + R"(","space_name":"dev"})";
  if (!parameters.empty()) {
    body += R"(,"parameters":)";
    body += parameters;
  }
  if (!extra_members.empty()) {
    body += ',';
    body += extra_members;
  }
  return body + "}";
}

// --- Response checks --------------------------------------------------------------------------

void CheckJsonObjectResponse(const Response& r) {
  INFO("response: ", r.Describe());
  auto ct = r.Header("Content-Type");
  CHECK_MESSAGE(ct.has_value(), "no Content-Type header");
  if (ct) CHECK_MESSAGE(ct->starts_with("application/json"), "Content-Type is ", *ct);
  auto doc = ParseJson(r.body);
  CHECK_MESSAGE(!doc.HasParseError(), "body is not JSON");
  if (!doc.HasParseError()) CHECK_MESSAGE(doc.IsObject(), "body is not a JSON object");
}

void CheckErrorBody(const Response& r) {
  INFO("response: ", r.Describe());
  auto doc = ParseJson(r.body);
  REQUIRE_MESSAGE((!doc.HasParseError() && doc.IsObject()), "error body is not a JSON object");
  auto description = StringMember(doc, "description");
  CHECK_MESSAGE(description.has_value(), "error body has no string \"description\"");
  if (description) {
    CHECK_MESSAGE(std::any_of(description->begin(), description->end(),
                              [](unsigned char c) { return !std::isspace(c); }),
                  "\"description\" is blank");
  }
  if (doc.HasMember("error")) {
    auto error = StringMember(doc, "error");
    CHECK_MESSAGE(error.has_value(), "\"error\" is not a string");
    if (error) CHECK_MESSAGE(!error->empty(), "\"error\" is empty");
  }
}

void CheckEmptyObjectBody(const Response& r) {
  INFO("response: ", r.Describe());
  auto doc = ParseJson(r.body);
  REQUIRE_MESSAGE((!doc.HasParseError() && doc.IsObject()), "body is not a JSON object");
  CHECK_MESSAGE(doc.MemberCount() == 0, "body is not exactly {}");
}

std::string ErrorCode(const Response& r) {
  auto doc = ParseJson(r.body);
  if (doc.HasParseError()) return "";
  return StringMember(doc, "error").value_or("");
}

std::string OperationOf(const Response& r) {
  auto doc = ParseJson(r.body);
  if (doc.HasParseError()) return "";
  return StringMember(doc, "operation").value_or("");
}

bool IsOperationToken(std::string_view op, std::string_view verb) {
  if (op.size() <= verb.size() + 1 || !op.starts_with(verb) || op[verb.size()] != '-') return false;
  auto digits = op.substr(verb.size() + 1);
  return std::all_of(digits.begin(), digits.end(),
                     [](unsigned char c) { return std::isdigit(c) != 0; });
}

// --- The fixture ------------------------------------------------------------------------------

OsbTest::OsbTest(const EnvOverrides& overrides) {
  broker = std::make_unique<BrokerProcess>(db.url(), overrides);
  http = std::make_unique<HttpClient>(broker->base_url(), broker->username(), broker->password());
}

OsbTest::OsbTest(const std::function<EnvOverrides(TestDatabase&)>& overrides) {
  broker = std::make_unique<BrokerProcess>(db.url(), overrides(db));
  http = std::make_unique<HttpClient>(broker->base_url(), broker->username(), broker->password());
}

Response OsbTest::Send(const Request& request) {
  Response r = http->Send(request);
  INFO("request: ", request.method, " ", request.path);
  CheckJsonObjectResponse(r);
  return r;
}

Response OsbTest::Get(std::string path) {
  Request r;
  r.method = "GET";
  r.path = std::move(path);
  return Send(r);
}

Response OsbTest::Put(std::string path, std::string body) {
  Request r;
  r.method = "PUT";
  r.path = std::move(path);
  r.body = std::move(body);
  return Send(r);
}

Response OsbTest::Patch(std::string path, std::string body) {
  Request r;
  r.method = "PATCH";
  r.path = std::move(path);
  r.body = std::move(body);
  return Send(r);
}

Response OsbTest::Delete(std::string path) {
  Request r;
  r.method = "DELETE";
  r.path = std::move(path);
  return Send(r);
}

Response OsbTest::Provision(std::string_view iid, std::string body, std::string_view query) {
  return Put(InstancePath(iid, query), std::move(body));
}

Response OsbTest::Bind(std::string_view iid, std::string_view bid, std::string body,
                       std::string_view query) {
  return Put(BindingPath(iid, bid, query), std::move(body));
}

Response OsbTest::Unbind(std::string_view iid, std::string_view bid, std::string_view query) {
  return Delete(BindingPath(iid, bid, query));
}

void OsbTest::MustProvision(std::string_view iid, std::string_view plan_id) {
  Response r = Provision(iid, ProvisionBody(plan_id));
  INFO("provision ", iid, ": ", r.Describe());
  REQUIRE(r.status == 201);
}

std::string OsbTest::MustBind(std::string_view iid, std::string_view bid, std::string body) {
  Response r = Bind(iid, bid, std::move(body));
  INFO("bind ", iid, "/", bid, ": ", r.Describe());
  REQUIRE(r.status == 202);
  std::string op = OperationOf(r);
  REQUIRE(IsOperationToken(op, "bind"));
  return op;
}

std::string OsbTest::Scalar(const std::string& sql) {
  auto rows = db.Query(sql);
  if (rows.empty() || rows[0].empty()) return "";
  return rows[0][0];
}

int OsbTest::CountJobs(std::string_view binding_id, std::string_view kind,
                       std::string_view status) {
  std::string sql = "SELECT count(*) FROM jobs WHERE binding_id = " + SqlQuote(binding_id) +
                    " AND kind = " + SqlQuote(kind);
  if (!status.empty()) sql += " AND status = " + SqlQuote(status);
  return std::stoi(Scalar(sql));
}

void OsbTest::FinishTeardown(std::string_view binding_id) {
  db.Query("UPDATE service_bindings SET deleted_at = now(), operation = 'unbind', "
           "state = 'succeeded', updated_at = now() WHERE id = " +
           SqlQuote(binding_id));
  db.Query("UPDATE jobs SET status = 'completed', finalized_at = now(), updated_at = now() "
           "WHERE kind = 'teardown' AND status IN ('available', 'running', 'retryable') AND "
           "binding_id = " +
           SqlQuote(binding_id));
}

// --- Finishing a bind as the worker would -----------------------------------------------------

bool CanMarkBindingSucceeded() { return BROKER_TESTS_HAVE_PG_STORE != 0; }

namespace {
struct PgConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct PgResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};

void ExecOrThrow(const std::string& url, const std::string& sql) {
  std::unique_ptr<PGconn, PgConnDeleter> conn(PQconnectdb(url.c_str()));
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    throw std::runtime_error(std::string("connect: ") + PQerrorMessage(conn.get()));
  }
  std::unique_ptr<PGresult, PgResultDeleter> res(PQexec(conn.get(), sql.c_str()));
  auto st = PQresultStatus(res.get());
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    throw std::runtime_error(sql + ": " + PQerrorMessage(conn.get()));
  }
}
}  // namespace

#if BROKER_TESTS_HAVE_PG_STORE
namespace {
// Writes the binding as the worker would on success, through the broker's own store code so the
// credentials are sealed exactly as the broker expects to open them.
void MarkBindingSucceededWithPgStore(const std::string& database_url,
                                     const std::string& encryption_key,
                                     std::string_view binding_id,
                                     std::string_view credentials_json) {
  auto keys = store::KeyRing::FromBase64Key(encryption_key);
  REQUIRE_MESSAGE(keys.ok(), "encryption key: ", keys.status().ToString());
  store::PgPool::Options options;
  options.url = database_url;
  options.max_connections = 1;
  options.prepare_statements = false;
  store::PgPool pool(options);
  store::PgStore store(pool, std::move(keys).value());
  base::Status s = store.InTransaction([&](osb::StoreTx& tx) -> base::Status {
    auto found = tx.LockBinding(binding_id);
    if (!found.ok()) return found.status();
    if (!found->has_value()) return base::Status::NotFound("no binding " + std::string(binding_id));
    osb::Binding binding = **found;
    binding.state = osb::OperationState::kSucceeded;
    binding.credentials_json = std::string(credentials_json);
    binding.clone_app_guid = "c10e0000-0000-4000-8000-000000000001";
    binding.clone_app_name = "spring-music-ssh";
    binding.description.clear();
    binding.expires_at = std::chrono::system_clock::now() + std::chrono::minutes(30);
    return tx.UpdateBinding(binding);
  });
  REQUIRE_MESSAGE(s.ok(), "marking binding ", binding_id, " succeeded: ", s.ToString());
}
}  // namespace
#endif

void MarkBindingSucceeded(const std::string& database_url, const std::string& encryption_key,
                          std::string_view binding_id, std::string_view credentials_json) {
#if BROKER_TESTS_HAVE_PG_STORE
  MarkBindingSucceededWithPgStore(database_url, encryption_key, binding_id, credentials_json);
#else
  (void)encryption_key;
  (void)credentials_json;
  FAIL("broker/store/pg_store.h is not available; cannot mark binding ", binding_id,
       " succeeded in ", database_url);
#endif
  ExecOrThrow(database_url,
              "UPDATE jobs SET status = 'completed', finalized_at = now(), updated_at = now() "
              "WHERE kind = 'clone' AND status IN ('available', 'running', 'retryable') AND "
              "binding_id = " +
                  SqlQuote(binding_id));
}

// --- URLs and connectivity --------------------------------------------------------------------

namespace {
struct UriParts {
  std::string prefix;     // "postgresql://"
  std::string userinfo;   // "u:p" or ""
  bool has_at = false;
  std::string hostport;   // "h:5432"
  std::string rest;       // "/db?x=y"
};

UriParts SplitUri(std::string_view url) {
  UriParts p;
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) throw std::runtime_error("not a URI: " + std::string(url));
  p.prefix = std::string(url.substr(0, scheme_end + 3));
  std::string_view after = url.substr(scheme_end + 3);
  size_t auth_end = after.find_first_of("/?");
  std::string_view authority = after.substr(0, auth_end);
  p.rest = auth_end == std::string_view::npos ? "" : std::string(after.substr(auth_end));
  size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    p.has_at = true;
    p.userinfo = std::string(authority.substr(0, at));
    p.hostport = std::string(authority.substr(at + 1));
  } else {
    p.hostport = std::string(authority);
  }
  return p;
}

std::string Join(const UriParts& p) {
  return p.prefix + (p.has_at ? p.userinfo + "@" : "") + p.hostport + p.rest;
}
}  // namespace

std::string WithHostPort(std::string_view url, int port) {
  UriParts p = SplitUri(url);
  p.hostport = "127.0.0.1:" + std::to_string(port);
  return Join(p);
}

std::string WithPassword(std::string_view url, std::string_view password) {
  UriParts p = SplitUri(url);
  if (!p.has_at || p.userinfo.empty()) return std::string(url);
  std::string user = p.userinfo.substr(0, p.userinfo.find(':'));
  p.userinfo = user + ":" + std::string(password);
  return Join(p);
}

std::string PasswordOf(std::string_view url) {
  UriParts p = SplitUri(url);
  size_t colon = p.userinfo.find(':');
  return colon == std::string::npos ? "" : p.userinfo.substr(colon + 1);
}

std::pair<std::string, int> HostPortOf(std::string_view url) {
  UriParts p = SplitUri(url);
  std::string host = p.hostport;
  int port = 5432;
  if (!host.empty() && host.front() == '[') {  // [v6]:port
    size_t close = host.find(']');
    if (close + 1 < host.size() && host[close + 1] == ':') port = std::stoi(host.substr(close + 2));
    host = host.substr(1, close - 1);
  } else if (size_t colon = host.rfind(':'); colon != std::string::npos) {
    port = std::stoi(host.substr(colon + 1));
    host = host.substr(0, colon);
  }
  if (host.empty()) host = "127.0.0.1";
  return {host, port};
}

bool CanConnect(const std::string& url) {
  std::unique_ptr<PGconn, PgConnDeleter> conn(PQconnectdb(url.c_str()));
  if (PQstatus(conn.get()) != CONNECTION_OK) return false;
  std::unique_ptr<PGresult, PgResultDeleter> res(PQexec(conn.get(), "SELECT 1"));
  return PQresultStatus(res.get()) == PGRES_TUPLES_OK;
}

// --- TcpProxy ---------------------------------------------------------------------------------

TcpProxy::TcpProxy(std::string target_host, int target_port)
    : target_host_(std::move(target_host)), target_port_(target_port) {
  Open();
}

TcpProxy::~TcpProxy() { Close(); }

void TcpProxy::Open() {
  std::lock_guard<std::mutex> lock(mu_);
  if (accept_thread_.joinable()) return;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("proxy socket: ") + std::strerror(errno));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port_));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 64) != 0) {
    int err = errno;
    ::close(fd);
    throw std::runtime_error(std::string("proxy bind/listen: ") + std::strerror(err));
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  if (::pipe2(wake_pipe_, O_CLOEXEC) != 0) {
    ::close(fd);
    throw std::runtime_error(std::string("proxy pipe: ") + std::strerror(errno));
  }
  listen_fd_ = fd;
  accept_thread_ = std::thread(&TcpProxy::AcceptLoop, this, listen_fd_, wake_pipe_[0]);
}

void TcpProxy::Close() {
  std::thread acceptor;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!accept_thread_.joinable()) return;
    (void)!::write(wake_pipe_[1], "x", 1);
    acceptor = std::move(accept_thread_);
  }
  acceptor.join();
  std::vector<std::thread> pumps;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ::close(listen_fd_);
    ::close(wake_pipe_[0]);
    ::close(wake_pipe_[1]);
    listen_fd_ = wake_pipe_[0] = wake_pipe_[1] = -1;
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    pumps.swap(threads_);
  }
  for (auto& t : pumps) t.join();
}

void TcpProxy::AcceptLoop(int listen_fd, int wake_fd) {
  while (true) {
    pollfd fds[2] = {{listen_fd, POLLIN, 0}, {wake_fd, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    int client = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;

    int upstream = -1;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (::getaddrinfo(target_host_.c_str(), std::to_string(target_port_).c_str(), &hints, &res) ==
        0) {
      for (addrinfo* a = res; a != nullptr && upstream < 0; a = a->ai_next) {
        int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) continue;
        if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
          upstream = fd;
        } else {
          ::close(fd);
        }
      }
      ::freeaddrinfo(res);
    }
    if (upstream < 0) {
      ::close(client);
      continue;
    }
    std::lock_guard<std::mutex> lock(mu_);
    open_fds_.push_back(client);
    open_fds_.push_back(upstream);
    threads_.emplace_back(&TcpProxy::Pump, this, client, upstream);
  }
}

void TcpProxy::Pump(int client_fd, int upstream_fd) {
  char buf[16384];
  bool done = false;
  while (!done) {
    pollfd fds[2] = {{client_fd, POLLIN, 0}, {upstream_fd, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2 && !done; ++i) {
      if (fds[i].revents == 0) continue;
      int from = fds[i].fd;
      int to = i == 0 ? upstream_fd : client_fd;
      ssize_t n = ::read(from, buf, sizeof buf);
      if (n <= 0) {
        done = true;
        break;
      }
      for (ssize_t off = 0; off < n;) {
        ssize_t w = ::send(to, buf + off, static_cast<size_t>(n - off), MSG_NOSIGNAL);
        if (w <= 0) {
          done = true;
          break;
        }
        off += w;
      }
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (int fd : {client_fd, upstream_fd}) {
    ::shutdown(fd, SHUT_RDWR);
    open_fds_.erase(std::remove(open_fds_.begin(), open_fds_.end(), fd), open_fds_.end());
    ::close(fd);
  }
}

}  // namespace broker::testing
