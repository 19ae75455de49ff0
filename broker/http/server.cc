#include "broker/http/server.h"

#include <pistache/endpoint.h>
#include <pistache/http.h>
#include <pistache/peer.h>
#include <pistache/router.h>

#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <exception>
#include <optional>

#include "broker/base/ids.h"
#include "broker/base/log.h"
#include "broker/base/thread.h"
#include "broker/http/codec.h"
#include "broker/http/error_mapping.h"
#include "broker/http/response.h"

namespace broker::http {
namespace {

using base::Result;
using base::Status;
using Pistache::Http::ResponseWriter;
using Pistache::Rest::Request;
using RouteResult = Pistache::Rest::Route::Result;

std::shared_ptr<spdlog::logger> Log() {
  static const auto log = base::Logger("http");
  return log;
}

// What a handler answers on success; failures are Statuses mapped by MapError.
struct Reply {
  int status = 200;
  std::string body = "{}";
  bool retry_after = false;  // add Retry-After (last_operation while in progress)
  bool plain_text = false;   // text/plain instead of application/json (the bootstrap script)
  std::string file{};        // non-empty: answer 200 with this file's bytes (the tmate bundle)
};

// A response header with a name known only at run time. Pistache 0.0.5 writes typed headers but
// silently drops raw ones (Collection::addRaw) from responses.
class ResponseHeader final : public Pistache::Http::Header::Header {
 public:
  ResponseHeader(std::string name, std::string value) : name_(std::move(name)), value_(std::move(value)) {}
  const char* name() const override { return name_.c_str(); }
  void write(std::ostream& os) const override { os << value_; }
#ifdef SAFE_HEADER_CAST
  uint64_t hash() const override { return Pistache::Http::Header::detail::hash(name_.c_str()); }
#endif

 private:
  std::string name_;
  std::string value_;
};

void AddHeader(ResponseWriter& resp, std::string name, std::string value) {
  resp.headers().add(std::make_shared<ResponseHeader>(std::move(name), std::move(value)));
}

// The Authorization header's value, if any. A secret: never log it.
std::optional<std::string> AuthorizationHeader(const Request& req) {
  if (const auto auth = req.headers().tryGet<Pistache::Http::Header::Authorization>()) return auth->value();
  return std::nullopt;
}

bool IsSessionEndpoint(Endpoint endpoint) {
  return endpoint == Endpoint::kSessionReport || endpoint == Endpoint::kSessionRead;
}

std::optional<std::string> RawHeader(const Request& req, const std::string& name) {
  const auto raw = req.headers().tryGetRaw(name);
  if (!raw.has_value()) return std::nullopt;
  return raw->value();
}

// Marks a connection whose responses go through Pistache's write queue from now on (see
// WriteDirect). The value is never read; its presence is the mark.
constexpr char kQueuedMark[] = "ssh-access.queued";

void MarkQueued(Pistache::Tcp::Peer& peer) {
  if (!peer.tryGetData(kQueuedMark)) peer.putData(kQueuedMark, std::make_shared<int>(1));
}

// Writes a whole response on its connection now. Handlers run on the reactor thread that owns
// the connection, so the socket is ours to write; Pistache 0.0.5's own path (ResponseWriter::send)
// queues the bytes, wakes its loop through an eventfd and waits for EPOLLOUT first: nine more
// system calls per response, which on a 2-core VM cost the catalog a third of its throughput
// (bench/api/README.md). What the socket does not take now goes to Pistache's queue, which
// writes it when the socket drains; from then on the connection keeps to the queue so that no
// response can overtake an earlier one.
void WriteDirect(ResponseWriter& resp, const std::string& bytes) {
  const auto peer = resp.getPeer();
  if (!peer) return;  // the client is gone: nobody to answer
  std::size_t sent = 0;
  if (!peer->tryGetData(kQueuedMark)) {
    while (sent < bytes.size()) {
      const ssize_t n = ::send(peer->fd(), bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        sent += static_cast<std::size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        break;
      } else {
        return;  // reset or closed by the client; Pistache sees it on its next read
      }
    }
  }
  if (sent == bytes.size()) return;
  MarkQueued(*peer);
  peer->send(Pistache::RawBuffer(bytes.substr(sent), bytes.size() - sent));
}

// Hands a response to Pistache's own write path: the extra fields become headers, and the
// connection keeps to the queue from now on (see WriteDirect).
void UsePistacheWriter(ResponseWriter& resp, std::vector<HeaderField> headers) {
  if (const auto peer = resp.getPeer()) MarkQueued(*peer);
  for (HeaderField& h : headers) AddHeader(resp, std::move(h.name), std::move(h.value));
}

// The OSB seconds hint for the next poll; Cloud Controller clamps it to its own minimum.
constexpr char kRetryAfterSeconds[] = "10";
// Pistache buffers whole requests and refuses (413, plain text) anything over this itself; our own
// check below answers bodies over max_body_bytes with a JSON 413. Kept near 1 MiB because Pistache
// 0.0.5 re-parses an unfinished header line from its start on every 4 KiB read: a 4 MiB header
// line cost 7 s of CPU before any authentication, 1 MiB costs about 0.5 s (Cloud Foundry's
// gorouter refuses headers over 1 MiB anyway).
constexpr std::size_t kPistacheMaxRequest = 1024 * 1024 + 64 * 1024;

}  // namespace

struct Server::Impl {
  ServerOptions options;
  osb::Broker& broker;
  clone::SessionDesk& sessions;
  std::function<Status()> health_check;
  std::shared_ptr<Pistache::Http::Endpoint> http_endpoint;
  Pistache::Rest::Router router;
  bool running = false;

  // options.credentials as every request compares them, digested once.
  std::vector<CredentialDigest> accepted;

  Impl(ServerOptions o, osb::Broker& b, clone::SessionDesk& d, std::function<Status()> h)
      : options(std::move(o)),
        broker(b),
        sessions(d),
        health_check(std::move(h)),
        accepted(DigestCredentials(options.credentials)) {}

  // Everything a handler needs from the request, decoded once.
  struct Call {
    const Request& req;
    osb::RequestContext ctx;
    std::string instance_id;
    std::string binding_id;
  };

  // Path parameters arrive percent-encoded; ids are opaque strings to us.
  static Status PathParam(const Request& req, const char* name, std::string* out) {
    if (!req.hasParam(name)) {
      out->clear();
      return Status::Ok();
    }
    return PercentDecode(req.param(name).as<std::string>(), /*plus_is_space=*/false, out);
  }

  static Status Query(const Request& req, const char* name, std::string* out) {
    const auto v = req.query().get(name);
    if (!v.has_value()) {
      out->clear();
      return Status::Ok();
    }
    return PercentDecode(*v, /*plus_is_space=*/true, out);
  }

  static Result<bool> AcceptsIncomplete(const Request& req) {
    std::string v;
    BROKER_RETURN_IF_ERROR(Query(req, "accepts_incomplete", &v));
    if (v.empty() || v == "false") return false;
    if (v == "true") return true;
    return Status::InvalidArgument("accepts_incomplete must be true or false");
  }

  // Answers with `body` (JSON, or text/plain) and the extra header fields.
  static void Send(const Request& req, ResponseWriter& resp, int status, const std::string& body, bool plain_text,
                   std::vector<HeaderField> headers) {
    const auto connection = req.headers().tryGet<Pistache::Http::Header::Connection>();
    const bool keep_alive = req.version() == Pistache::Http::Version::Http11 &&
                            (!connection || connection->control() == Pistache::Http::ConnectionControl::KeepAlive);
    if (keep_alive) {
      // The common case, written directly: a persistent HTTP/1.1 connection.
      // RFC 9110: a 204 has no content, so nothing to describe.
      if (status != 204) headers.push_back({"Content-Type", plain_text ? "text/plain" : "application/json"});
      headers.push_back({"Connection", "Keep-Alive"});
      WriteDirect(resp, SerializeResponse(status, Pistache::Http::codeString(static_cast<Pistache::Http::Code>(status)),
                                          headers, body));
      return;
    }
    // HTTP/1.0 or "Connection: close": Pistache's path, which answers the Connection header itself.
    UsePistacheWriter(resp, std::move(headers));
    if (status != 204) {
      resp.headers().add<Pistache::Http::Header::ContentType>(plain_text ? MIME(Text, Plain) : MIME(Application, Json));
    }
    resp.send(static_cast<Pistache::Http::Code>(status), body);
  }

  // The one wrapper every route goes through: prelude, handler, error mapping, access log.
  RouteResult Serve(Endpoint endpoint, bool osb_route, const Request& req, ResponseWriter resp,
                    const std::function<Result<Reply>(Call&)>& handler) {
    const auto start = std::chrono::steady_clock::now();
    // Pistache starts its reactor threads unnamed; each takes a name with its first request.
    thread_local bool named = false;
    if (!named) {
      base::NameThisThread("http");
      named = true;
    }
    Call call{req, {}, {}, {}};
    const auto request_identity = RawHeader(req, "X-Broker-API-Request-Identity");
    call.ctx.request_id = request_identity.has_value() && !request_identity->empty()
                              ? request_identity->substr(0, 128)
                              : base::NewUuid();
    std::vector<HeaderField> headers;
    if (request_identity.has_value() && !request_identity->empty()) {
      headers.push_back({"X-Broker-API-Request-Identity", *request_identity});
    }

    Result<Reply> reply = Status::Internal("unset");
    Endpoint mapped_as = endpoint;
    try {
      reply = [&]() -> Result<Reply> {
        if (osb_route) {
          // Authenticate before anything else: a request with bad credentials may carry any body.
          BROKER_RETURN_IF_ERROR(CheckBasicAuth(AuthorizationHeader(req), accepted));
          BROKER_RETURN_IF_ERROR(CheckApiVersion(RawHeader(req, "X-Broker-API-Version")));
          if (const auto oi = RawHeader(req, "X-Broker-API-Originating-Identity")) {
            BROKER_ASSIGN_OR_RETURN(call.ctx.actor, OriginatingActor(*oi));
          }
        }
        const std::size_t max_body =
            IsSessionEndpoint(endpoint) ? options.max_session_body_bytes : options.max_body_bytes;
        if (req.body().size() > max_body) {
          return Status::ResourceExhausted("the request body exceeds " + std::to_string(max_body) + " bytes");
        }
        BROKER_RETURN_IF_ERROR(PathParam(req, ":instance_id", &call.instance_id));
        BROKER_RETURN_IF_ERROR(PathParam(req, ":binding_id", &call.binding_id));
        return handler(call);
      }();
      // A poll whose operation hint names the kind of operation changes what "unknown" means.
      if (!reply.ok() && reply.status().code() == base::Code::kNotFound) {
        std::string hint;
        if (Query(req, "operation", &hint).ok()) {
          const auto op = osb::ParseOperationToken(hint);
          if (op && endpoint == Endpoint::kBindingLastOperation && op->verb == "bind") {
            mapped_as = Endpoint::kBindingLastOperationOfBind;
          } else if (op && endpoint == Endpoint::kInstanceLastOperation && op->verb == "deprovision") {
            mapped_as = Endpoint::kInstanceLastOperationOfDeprovision;
          }
        }
      }
    } catch (const std::exception& e) {
      Log()->error("http.handler_exception request_id={} detail={}", call.ctx.request_id, base::LogQuote(e.what()));
      reply = Status::Internal("handler exception");
    }

    // Session answers (ssh commands) must not sit in caches.
    if (IsSessionEndpoint(endpoint)) headers.push_back({"Cache-Control", "no-store"});
    int status;
    if (reply.ok()) {
      status = reply->status;
      if (reply->retry_after) headers.push_back({"Retry-After", kRetryAfterSeconds});
      if (!reply->file.empty()) {
        // Pistache streams the file (sendfile) and answers 404 itself if it vanished.
        UsePistacheWriter(resp, std::move(headers));
        Pistache::Http::serveFile(resp, reply->file, MIME(Application, OctetStream));
      } else {
        Send(req, resp, status, reply->body, reply->plain_text, std::move(headers));
      }
    } else {
      const HttpError err = MapError(reply.status(), mapped_as);
      status = err.status;
      if (status >= 500) {
        Log()->error("http.request_failed request_id={} status={} error={}", call.ctx.request_id, status,
                     base::LogQuote(reply.status().ToString()));
      }
      if (!err.www_authenticate.empty()) headers.push_back({"WWW-Authenticate", err.www_authenticate});
      Send(req, resp, status, err.body, /*plain_text=*/false, std::move(headers));
    }

    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    auto& log = *Log();
    if (log.should_log(endpoint == Endpoint::kHealth ? spdlog::level::debug : spdlog::level::info)) {
      log.log(endpoint == Endpoint::kHealth ? spdlog::level::debug : spdlog::level::info,
              "http.request method={} path={} status={} ms={:.2f} request_id={} instance_id={} binding_id={} actor={}",
              Pistache::Http::methodString(req.method()), base::LogQuote(req.resource()), status, ms,
              call.ctx.request_id, call.instance_id.empty() ? "-" : call.instance_id,
              call.binding_id.empty() ? "-" : call.binding_id, call.ctx.actor.empty() ? "-" : call.ctx.actor);
    }
    return RouteResult::Ok;
  }

  void Route(Pistache::Http::Method method, const std::string& path, Endpoint endpoint, bool osb_route,
             std::function<Result<Reply>(Call&)> handler) {
    router.addRoute(method, path,
                    [this, endpoint, osb_route, handler = std::move(handler)](const Request req, ResponseWriter resp) {
                      return Serve(endpoint, osb_route, req, std::move(resp), handler);
                    });
  }

  void SetupRoutes();
};

void Server::Impl::SetupRoutes() {
  using M = Pistache::Http::Method;
  const std::string instance = "/v2/service_instances/:instance_id";
  const std::string binding = instance + "/service_bindings/:binding_id";

  Route(M::Get, "/healthz", Endpoint::kHealth, false, [this](Call&) -> Result<Reply> {
    const Status s = health_check();
    if (!s.ok()) {
      Log()->warn("http.health_failed error={}", base::LogQuote(s.ToString()));
      return Reply{503, R"({"status":"unavailable","database":"unreachable"})"};
    }
    return Reply{200, R"({"status":"ok","database":"ok"})"};
  });

  // What a clone downloads at start (no credentials: neither holds a secret). The bootstrap is
  // built into the binary; the bundle is served only when this broker has one.
  Route(M::Get, "/ssh-access/v1/bootstrap", Endpoint::kOther, false, [this](Call&) -> Result<Reply> {
    Reply r{200, options.bootstrap_script};
    r.plain_text = true;
    return r;
  });
  Route(M::Get, "/ssh-access/v1/assets/tmate-bundle.tar.gz", Endpoint::kOther, false, [this](Call&) -> Result<Reply> {
    if (options.tmate_bundle_path.empty()) return Status::NotFound("this broker serves no tmate bundle");
    Reply r;
    r.file = options.tmate_bundle_path;
    return r;
  });
  Route(M::Get, "/ssh-access/v1/assets/tmate-bundle.tar.gz.sha256", Endpoint::kOther, false,
        [this](Call&) -> Result<Reply> {
          if (options.tmate_bundle_path.empty()) return Status::NotFound("this broker serves no tmate bundle");
          Reply r{200, options.tmate_bundle_sha256 + "  tmate-bundle.tar.gz\n"};
          r.plain_text = true;
          return r;
        });

  Route(M::Get, "/v2/catalog", Endpoint::kCatalog, true,
        [this](Call&) -> Result<Reply> { return Reply{200, broker.catalog().json()}; });

  Route(M::Put, instance, Endpoint::kProvision, true, [this](Call& c) -> Result<Reply> {
    osb::ProvisionRequest r;
    r.instance_id = c.instance_id;
    BROKER_RETURN_IF_ERROR(AcceptsIncomplete(c.req).status());  // sync provision: either value is fine
    BROKER_RETURN_IF_ERROR(DecodeProvision(c.req.body(), &r));
    BROKER_ASSIGN_OR_RETURN(bool created, broker.Provision(c.ctx, r));
    return Reply{created ? 201 : 200, "{}"};
  });

  Route(M::Patch, instance, Endpoint::kUpdate, true, [this](Call& c) -> Result<Reply> {
    osb::UpdateRequest r;
    r.instance_id = c.instance_id;
    BROKER_RETURN_IF_ERROR(AcceptsIncomplete(c.req).status());
    BROKER_RETURN_IF_ERROR(DecodeUpdate(c.req.body(), &r));
    BROKER_RETURN_IF_ERROR(broker.Update(c.ctx, r));
    return Reply{200, "{}"};
  });

  Route(M::Delete, instance, Endpoint::kDeprovision, true, [this](Call& c) -> Result<Reply> {
    osb::DeprovisionRequest r;
    r.instance_id = c.instance_id;
    BROKER_RETURN_IF_ERROR(Query(c.req, "service_id", &r.service_id));
    BROKER_RETURN_IF_ERROR(Query(c.req, "plan_id", &r.plan_id));
    BROKER_ASSIGN_OR_RETURN(r.accepts_incomplete, AcceptsIncomplete(c.req));
    BROKER_ASSIGN_OR_RETURN(osb::DeprovisionResult res, broker.Deprovision(c.ctx, r));
    if (res.async) return Reply{202, EncodeOperation(res.operation)};
    return Reply{200, "{}"};
  });

  Route(M::Get, instance, Endpoint::kGetInstance, true, [this](Call& c) -> Result<Reply> {
    BROKER_ASSIGN_OR_RETURN(osb::InstanceView v, broker.GetInstance(c.ctx, c.instance_id));
    return Reply{200, EncodeInstance(v)};
  });

  Route(M::Get, instance + "/last_operation", Endpoint::kInstanceLastOperation, true,
        [this](Call& c) -> Result<Reply> {
          BROKER_ASSIGN_OR_RETURN(osb::LastOperation op, broker.LastInstanceOperation(c.ctx, c.instance_id));
          return Reply{200, EncodeLastOperation(op), op.state == osb::OperationState::kInProgress};
        });

  Route(M::Put, binding, Endpoint::kBind, true, [this](Call& c) -> Result<Reply> {
    osb::BindRequest r;
    r.instance_id = c.instance_id;
    r.binding_id = c.binding_id;
    BROKER_ASSIGN_OR_RETURN(r.accepts_incomplete, AcceptsIncomplete(c.req));
    BROKER_RETURN_IF_ERROR(DecodeBind(c.req.body(), &r));
    BROKER_ASSIGN_OR_RETURN(osb::BindResult res, broker.Bind(c.ctx, r));
    if (res.complete) return Reply{200, EncodeBinding(res.binding)};
    return Reply{202, EncodeOperation(res.operation)};
  });

  Route(M::Get, binding, Endpoint::kGetBinding, true, [this](Call& c) -> Result<Reply> {
    BROKER_ASSIGN_OR_RETURN(osb::BindingView v, broker.GetBinding(c.ctx, c.instance_id, c.binding_id));
    return Reply{200, EncodeBinding(v)};
  });

  Route(M::Get, binding + "/last_operation", Endpoint::kBindingLastOperation, true,
        [this](Call& c) -> Result<Reply> {
          BROKER_ASSIGN_OR_RETURN(osb::LastOperation op,
                                  broker.LastBindingOperation(c.ctx, c.instance_id, c.binding_id));
          return Reply{200, EncodeLastOperation(op), op.state == osb::OperationState::kInProgress};
        });

  Route(M::Delete, binding, Endpoint::kUnbind, true, [this](Call& c) -> Result<Reply> {
    osb::UnbindRequest r;
    r.instance_id = c.instance_id;
    r.binding_id = c.binding_id;
    BROKER_RETURN_IF_ERROR(Query(c.req, "service_id", &r.service_id));
    BROKER_RETURN_IF_ERROR(Query(c.req, "plan_id", &r.plan_id));
    BROKER_ASSIGN_OR_RETURN(r.accepts_incomplete, AcceptsIncomplete(c.req));
    BROKER_ASSIGN_OR_RETURN(std::string operation, broker.Unbind(c.ctx, r));
    return Reply{202, EncodeOperation(operation)};
  });

  const std::string session = "/ssh-access/v1/bindings/:binding_id/session";

  Route(M::Post, session, Endpoint::kSessionReport, false, [this](Call& c) -> Result<Reply> {
    const auto token = DecodeBearerToken(AuthorizationHeader(c.req));
    if (!token.has_value()) return Status::Unauthenticated("a bearer token is required");
    BROKER_RETURN_IF_ERROR(sessions.Report(c.ctx.request_id, c.binding_id, *token, c.req.body()));
    return Reply{204, ""};
  });

  Route(M::Get, session, Endpoint::kSessionRead, false, [this](Call& c) -> Result<Reply> {
    // session_url is https://<binding id>:<key>@host/...: the user name must be the path's binding.
    const auto basic = DecodeBasicAuth(AuthorizationHeader(c.req));
    if (!basic.has_value() || basic->username != c.binding_id) {
      return Status::Unauthenticated("missing or wrong session credentials for this binding");
    }
    BROKER_ASSIGN_OR_RETURN(std::string view, sessions.Read(c.ctx.request_id, c.binding_id, basic->password));
    return Reply{200, std::move(view)};
  });

  router.addNotFoundHandler([this](const Request req, ResponseWriter resp) {
    return Serve(Endpoint::kOther, false, req, std::move(resp),
                 [](Call&) -> Result<Reply> { return Status::NotFound("no such route"); });
  });
}

Server::Server(ServerOptions options, osb::Broker& broker, clone::SessionDesk& sessions,
               std::function<Status()> health_check)
    : impl_(std::make_unique<Impl>(std::move(options), broker, sessions, std::move(health_check))) {
  impl_->SetupRoutes();
}

Server::~Server() { Stop(); }

Status Server::Start() {
  try {
    Pistache::Address addr(impl_->options.address, Pistache::Port(static_cast<uint16_t>(impl_->options.port)));
    impl_->http_endpoint = std::make_shared<Pistache::Http::Endpoint>(addr);
    auto opts = Pistache::Http::Endpoint::options()
                    .threads(impl_->options.threads)
                    .flags(Pistache::Tcp::Options::ReuseAddr)
                    .maxRequestSize(kPistacheMaxRequest);
    impl_->http_endpoint->init(opts);
    impl_->http_endpoint->setHandler(impl_->router.handler());
    impl_->http_endpoint->serveThreaded();
    impl_->running = true;
  } catch (const std::exception& e) {
    return Status::Unavailable("cannot listen on port " + std::to_string(impl_->options.port) + ": " + e.what());
  }
  return Status::Ok();
}

void Server::Stop() {
  if (impl_ && impl_->running) {
    impl_->http_endpoint->shutdown();
    impl_->running = false;
  }
}

int Server::port() const {
  return impl_->http_endpoint ? static_cast<int>(static_cast<uint16_t>(impl_->http_endpoint->getPort())) : 0;
}

}  // namespace broker::http
