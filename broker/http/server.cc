#include "broker/http/server.h"

#include <pistache/http.h>
#include <pistache/peer.h>
#include <pistache/router.h>

#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <exception>
#include <optional>

#include "broker/base/ids.h"
#include "broker/base/log.h"
#include "broker/base/thread.h"
#include "broker/http/codec.h"
#include "broker/http/edge.h"
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

// Whether the connection stays open after this request's answer: the rule the edge follows too
// (edge.h): HTTP/1.1 unless "Connection: close", HTTP/1.0 only with "Connection: keep-alive".
bool KeepAlive(const Request& req) {
  const auto connection = req.headers().tryGet<Pistache::Http::Header::Connection>();
  if (req.version() == Pistache::Http::Version::Http11) {
    return !connection || connection->control() != Pistache::Http::ConnectionControl::Close;
  }
  return connection && connection->control() == Pistache::Http::ConnectionControl::KeepAlive;
}

const char* ReasonPhrase(int status) { return Pistache::Http::codeString(static_cast<Pistache::Http::Code>(status)); }

// The OSB seconds hint for the next poll; Cloud Controller clamps it to its own minimum.
constexpr char kRetryAfterSeconds[] = "10";
// The session route: /ssh-access/v1/bindings/<id>/session, with or without a query.
bool IsSessionTarget(std::string_view target) {
  const auto query = target.find('?');
  const std::string_view path = target.substr(0, query);
  constexpr std::string_view kPrefix = "/ssh-access/v1/bindings/";
  constexpr std::string_view kSuffix = "/session";
  return path.size() > kPrefix.size() + kSuffix.size() && path.substr(0, kPrefix.size()) == kPrefix &&
         path.substr(path.size() - kSuffix.size()) == kSuffix;
}

}  // namespace

struct Server::Impl {
  ServerOptions options;
  osb::Broker& broker;
  clone::SessionDesk& sessions;
  std::function<Status()> health_check;
  Pistache::Rest::Router router;
  // After the router: destroyed (its threads stopped) before it.
  std::unique_ptr<EdgeServer> edge;

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

  // Answers with `body` (JSON, or text/plain) and the extra header fields, written directly; a HEAD
  // gets the same header and no body.
  static void Send(const Request& req, ResponseWriter& resp, int status, const std::string& body, bool plain_text,
                   std::vector<HeaderField> headers) {
    // RFC 9110: a 204 has no content, so nothing to describe.
    if (status != 204) headers.push_back({"Content-Type", plain_text ? "text/plain" : "application/json"});
    // The edge closes the connection after this answer when the request asked for that.
    headers.push_back({"Connection", KeepAlive(req) ? "Keep-Alive" : "close"});
    if (req.method() == Pistache::Http::Method::Head) {
      WriteDirect(resp, SerializeResponseHead(status, ReasonPhrase(status), headers, body.size()));
    } else {
      WriteDirect(resp, SerializeResponse(status, ReasonPhrase(status), headers, body));
    }
  }

  // Answers with the file's bytes, sent with sendfile(2) behind the head (EdgeSendFile); a HEAD
  // gets the head only, its Content-Length the file's size. kNotFound when the file is gone.
  static Status SendFile(const Request& req, ResponseWriter& resp, const std::string& file,
                         std::vector<HeaderField> headers) {
    headers.push_back({"Content-Type", "application/octet-stream"});
    headers.push_back({"Connection", KeepAlive(req) ? "Keep-Alive" : "close"});
    if (req.method() == Pistache::Http::Method::Head) {
      struct stat st {};
      if (::stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return Status::NotFound("the file is gone");
      WriteDirect(resp, SerializeResponseHead(200, ReasonPhrase(200), headers, static_cast<std::size_t>(st.st_size)));
      return Status::Ok();
    }
    // The file goes through Pistache's queue: later answers on this connection must follow it.
    if (const auto peer = resp.getPeer()) MarkQueued(*peer);
    return EdgeSendFile(resp, file, [&headers](std::size_t size) {
      return SerializeResponseHead(200, ReasonPhrase(200), headers, size);
    });
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
    call.ctx.request_id =
        request_identity.has_value() && !request_identity->empty() ? request_identity->substr(0, 128) : base::NewUuid();
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
      Log()->error("http.handler_exception request_id={} detail={}", base::LogId(call.ctx.request_id),
                   base::LogQuote(e.what()));
      reply = Status::Internal("handler exception");
    }

    // Session answers (ssh commands) must not sit in caches.
    if (IsSessionEndpoint(endpoint)) headers.push_back({"Cache-Control", "no-store"});
    int status = 500;
    if (reply.ok()) {
      status = reply->status;
      if (reply->retry_after) headers.push_back({"Retry-After", kRetryAfterSeconds});
      if (!reply->file.empty()) {
        if (const Status s = SendFile(req, resp, reply->file, headers); !s.ok()) reply = s;
      } else {
        Send(req, resp, status, reply->body, reply->plain_text, std::move(headers));
      }
    }
    if (!reply.ok()) {
      const HttpError err = MapError(reply.status(), mapped_as);
      status = err.status;
      if (status >= 500) {
        Log()->error("http.request_failed request_id={} status={} error={}", base::LogId(call.ctx.request_id), status,
                     base::LogQuote(reply.status().ToString()));
      }
      if (!err.www_authenticate.empty()) headers.push_back({"WWW-Authenticate", err.www_authenticate});
      Send(req, resp, status, err.body, /*plain_text=*/false, std::move(headers));
    }

    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    auto& log = *Log();
    if (log.should_log(endpoint == Endpoint::kHealth ? spdlog::level::debug : spdlog::level::info)) {
      log.log(endpoint == Endpoint::kHealth ? spdlog::level::debug : spdlog::level::info,
              "http.request method={} path={} status={} ms={:.2f} request_id={} instance_id={} binding_id={} actor={}",
              Pistache::Http::methodString(req.method()), base::LogId(req.resource()), status, ms,
              base::LogId(call.ctx.request_id), call.instance_id.empty() ? "-" : base::LogId(call.instance_id),
              call.binding_id.empty() ? "-" : base::LogId(call.binding_id),
              call.ctx.actor.empty() ? "-" : base::LogId(call.ctx.actor));
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
  // A HEAD of each is answered as its GET, without the body (Send, SendFile).
  const auto bootstrap = [this](Call&) -> Result<Reply> {
    Reply r{200, options.bootstrap_script};
    r.plain_text = true;
    return r;
  };
  const auto bundle = [this](Call&) -> Result<Reply> {
    if (options.tmate_bundle_path.empty()) return Status::NotFound("this broker serves no tmate bundle");
    Reply r;
    r.file = options.tmate_bundle_path;
    return r;
  };
  const auto bundle_sha256 = [this](Call&) -> Result<Reply> {
    if (options.tmate_bundle_path.empty()) return Status::NotFound("this broker serves no tmate bundle");
    Reply r{200, options.tmate_bundle_sha256 + "  tmate-bundle.tar.gz\n"};
    r.plain_text = true;
    return r;
  };
  for (const M method : {M::Get, M::Head}) {
    Route(method, "/ssh-access/v1/bootstrap", Endpoint::kOther, false, bootstrap);
    Route(method, "/ssh-access/v1/assets/tmate-bundle.tar.gz", Endpoint::kOther, false, bundle);
    Route(method, "/ssh-access/v1/assets/tmate-bundle.tar.gz.sha256", Endpoint::kOther, false, bundle_sha256);
  }

  Route(M::Get, "/v2/catalog", Endpoint::kCatalog, true, [this](Call&) -> Result<Reply> {
    return Reply{200, broker.catalog().json()};
  });

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

  Route(M::Get, instance + "/last_operation", Endpoint::kInstanceLastOperation, true, [this](Call& c) -> Result<Reply> {
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

  Route(M::Get, binding + "/last_operation", Endpoint::kBindingLastOperation, true, [this](Call& c) -> Result<Reply> {
    BROKER_ASSIGN_OR_RETURN(osb::LastOperation op, broker.LastBindingOperation(c.ctx, c.instance_id, c.binding_id));
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
  const ServerOptions& o = impl_->options;
  EdgeOptions edge;
  edge.address = o.address;
  edge.port = o.port;
  edge.threads = o.threads;
  edge.limits.max_header_bytes = o.max_header_bytes;
  edge.limits.max_header_line_bytes = o.max_header_line_bytes;
  edge.limits.max_body_bytes = std::max(o.max_body_bytes, o.max_session_body_bytes);
  edge.limits.body_limit = [body = o.max_body_bytes, session = o.max_session_body_bytes](std::string_view target) {
    return IsSessionTarget(target) ? session : body;
  };
  edge.max_connections = o.max_connections;
  edge.header_timeout = o.header_timeout;
  edge.idle_timeout = o.idle_timeout;
  // The session routes' errors always name one (server.h): the edge's refusals too.
  edge.refusal_error = [](const EdgeRefusal& r) -> std::string {
    if (!IsSessionTarget(r.target)) return "";
    if (r.status == 413 || r.status == 431) return "resource_exhausted";
    if (r.status == 408) return "deadline_exceeded";
    return "invalid_argument";
  };
  impl_->edge = std::make_unique<EdgeServer>(
      std::move(edge), [impl = impl_.get()](const Pistache::Http::Request& req, ResponseWriter resp) {
        impl->router.route(req, std::move(resp));
      });
  return impl_->edge->Start();
}

void Server::Stop() {
  if (impl_ && impl_->edge) impl_->edge->Stop();
}

int Server::port() const { return impl_->edge ? impl_->edge->port() : 0; }

}  // namespace broker::http
