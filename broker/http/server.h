// Server: the broker's HTTP face. Serves the OSB routes over Pistache, runs the OSB prelude
// (basic auth, X-Broker-API-Version, identity headers) on every /v2 route, decodes bodies with
// the codec, calls osb::Broker, and maps failures through the one MapError. Also GET /healthz
// (no auth): 200 when the database answers, 503 when not.
//
// The session routes are not OSB routes (no broker credentials, no version header):
//   POST /ssh-access/v1/bindings/:binding_id/session  Authorization: Bearer <clone's token>,
//        JSON body of at most max_session_body_bytes -> 204 (clone::SessionDesk::Report);
//   GET  /ssh-access/v1/bindings/:binding_id/session  HTTP Basic (binding id, session key)
//        -> 200 with the current ssh command (clone::SessionDesk::Read).
// Their errors are {"error", "description"}; a 401 carries WWW-Authenticate; every answer carries
// Cache-Control: no-store.
//
// Every response but a 204 carries Content-Type: application/json and a JSON body; the request
// identity is echoed. One access-log line per request, with no Authorization header, body or
// credential.
//
// The bytes come through the HTTP edge (edge.h): it frames each request and refuses what is over
// the limits below before Pistache's parser sees it, answers pipelined requests in order, closes
// connections that asked for it, and caps and times out connections. A HEAD of the bootstrap and
// the assets is answered as their GET without the body.
//
// Responses are written by the handler's reactor thread itself (Pistache's own write queue costs
// nine system calls more per response); what the socket does not take at once and the bundle file
// go through Pistache's queue, and a connection that used the queue keeps to it.
//
// Thread-safety: Start()/Stop() from one thread; handlers run on Pistache's reactor threads and
// only touch thread-safe collaborators.
#ifndef BROKER_HTTP_SERVER_H_
#define BROKER_HTTP_SERVER_H_

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "broker/base/status.h"
#include "broker/clone/session_desk.h"
#include "broker/http/prelude.h"
#include "broker/osb/broker.h"

namespace broker::http {

struct ServerOptions {
  std::string address = "0.0.0.0";
  int port = 8080;
  // Reactor threads. Handlers block on the database, so a few more than cores; but every extra
  // thread costs wake-ups (bench/api/README.md: 4 beat 16 on every endpoint on 2 cores).
  int threads = 4;
  std::vector<BasicCredential> credentials;
  // Request limits (edge.h), answered 431 / 413 before any handler runs.
  std::size_t max_header_bytes = 32 * 1024;
  std::size_t max_header_line_bytes = 8 * 1024;
  std::size_t max_body_bytes = 64 * 1024;
  // A session report is a few tmate lines (the bootstrap sends at most 100, each short).
  std::size_t max_session_body_bytes = 16 * 1024;
  int max_connections = 4096;                        // past it, new connections are closed at once
  std::chrono::milliseconds header_timeout{10'000};  // a request must arrive whole within this
  std::chrono::milliseconds idle_timeout{120'000};   // a persistent connection with no request
  std::string bootstrap_script;                      // GET /ssh-access/v1/bootstrap
  std::string tmate_bundle_path;                     // GET /ssh-access/v1/assets/tmate-bundle.tar.gz; "" = 404
  std::string tmate_bundle_sha256;                   // hex, served as the bundle's .sha256
};

class Server {
 public:
  // `broker` and `sessions` must outlive the Server. `health_check` answers OK when the database
  // is reachable.
  Server(ServerOptions options, osb::Broker& broker, clone::SessionDesk& sessions,
         std::function<base::Status()> health_check);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the port and starts serving in background threads. kUnavailable when the port cannot
  // be bound.
  base::Status Start();
  // Stops accepting and waits for the reactor threads. Idempotent.
  void Stop();
  // The bound port (useful when options.port was 0).
  int port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace broker::http

#endif  // BROKER_HTTP_SERVER_H_
