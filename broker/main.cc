// The composition root: the only file that sees every concrete type. Reads the configuration,
// loads the catalog, opens the database pool, applies migrations (under an advisory lock, so
// several broker instances may start at once), and serves HTTP until SIGTERM or SIGINT.
//
// Exit codes: 0 after a clean shutdown; 2 for a configuration or catalog error (one line on
// stderr naming the variable or field); 3 when the database or the listen port is unusable.
#include <signal.h>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <thread>

#include "broker/base/clock.h"
#include "broker/base/digest.h"
#include "broker/base/ids.h"
#include "broker/base/log.h"
#include "broker/base/url.h"
#include "broker/cf/cc_client.h"
#include "broker/clone/reconciler.h"
#include "broker/clone/session_desk.h"
#include "broker/clone/steps.h"
#include "broker/clone/worker.h"
#include "broker/config/config.h"
#include "broker/http/server.h"
#include "broker/osb/broker.h"
#include "broker/session/bootstrap_script.h"
#include "broker/store/cipher.h"
#include "broker/store/migration_runner.h"
#include "broker/store/pg_pool.h"
#include "broker/store/pg_store.h"

namespace {

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "broker: %s\n", message.c_str());
  return code;
}

// The tmate bundle this process serves: TMATE_BUNDLE_PATH, else assets/ next to the binary (the
// package layout), else ../assets/ (a build tree: build/broker/broker, build/assets/). "" when
// there is none.
std::string FindTmateBundle(const std::string& configured) {
  if (!configured.empty()) return configured;
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "";
  for (const auto& dir : {exe.parent_path() / "assets", exe.parent_path().parent_path() / "assets"}) {
    const auto candidate = dir / "tmate-bundle.tar.gz";
    if (std::filesystem::is_regular_file(candidate, ec)) return candidate.string();
  }
  return "";
}

// Raises the open-file soft limit to the hard one (every connection is a descriptor) and returns
// the HTTP connection cap that fits under it: `wanted`, or fewer when the limit leaves no room
// for the database pool and the broker's own files (`reserve`). At the limit accept() fails and
// Pistache's accept loop spins, so the cap must be reached first.
int ConnectionCapUnderFileLimit(int wanted, int reserve, rlim_t* limit_out) {
  rlimit nofile{};
  if (::getrlimit(RLIMIT_NOFILE, &nofile) != 0) return wanted;
  if (nofile.rlim_cur < nofile.rlim_max) {
    rlimit raised = nofile;
    raised.rlim_cur = nofile.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) nofile = raised;
  }
  *limit_out = nofile.rlim_cur;
  if (nofile.rlim_cur == RLIM_INFINITY) return wanted;
  const auto room = static_cast<long long>(nofile.rlim_cur) - reserve;
  return static_cast<int>(std::max(16LL, std::min(static_cast<long long>(wanted), room)));
}

}  // namespace

int main() {
  using namespace broker;

  // Block the shutdown signals before any thread starts, so only sigwait() below sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto cfg = config::LoadConfig(config::ProcessEnvironment());
  if (!cfg.ok()) return Fail(2, "config: " + cfg.status().message());
  base::InitLogging(cfg->log_level);
  auto log = base::Logger("main");

  auto catalog = config::LoadCatalog(cfg->catalog_file);
  if (!catalog.ok()) return Fail(2, "catalog: " + catalog.status().message());
  if (const auto fits = config::CheckAgainstCatalog(*cfg, *catalog); !fits.ok()) return Fail(2, "config: " + fits.message());

  auto keys = cfg->encryption_keys.find(':') != std::string::npos ? store::KeyRing::FromSpec(cfg->encryption_keys)
                                                                   : store::KeyRing::FromBase64Key(cfg->encryption_keys);
  if (!keys.ok()) return Fail(2, "config: encryption key: " + keys.status().message());

  store::PgPool::Options pool_options;
  pool_options.url = cfg->database_url;
  pool_options.max_connections = cfg->db_pool_size;
  store::PgPool pool(pool_options);
  log->info("main.starting port={} database={} database_from={} http_threads={} catalog={}", cfg->port,
            pool.target(), cfg->database_url_source, cfg->http_threads, cfg->catalog_file);

  {
    store::MigrationRunner runner(pool, cfg->migrations_dir);
    auto report = runner.Run();
    if (!report.ok()) {
      log->error("main.migrations_failed error={}", base::LogQuote(report.status().ToString()));
      return Fail(3, "migrations: " + report.status().ToString());
    }
  }

  store::PgStore pg_store(pool, std::move(keys).value());
  base::SystemClock clock;
  osb::Broker broker(catalog.value(), pg_store, clock);

  // The clone engine: only when Cloud Foundry is configured (without it, binds wait for a broker
  // process that has it: any number of processes share the job queue).
  std::unique_ptr<cf::CcClient> cc;
  std::unique_ptr<clone::Worker> worker;
  std::unique_ptr<clone::Reconciler> reconciler;
  clone::EngineSettings engine;
  engine.public_url = cfg->public_url;
  engine.broker_name = cfg->cf_broker_name;
  engine.metadata_prefix = cfg->clone_metadata_prefix;
  engine.max_memory_mb = cfg->clone_max_memory_mb;
  engine.ttl_minutes = cfg->clone_ttl_minutes;
  engine.max_clones_per_space = cfg->clone_max_per_space;
  engine.tmate_server_host = cfg->tmate_server_host;
  engine.tmate_server_port = cfg->tmate_server_port;
  engine.tmate_ed25519_fingerprint = cfg->tmate_ed25519_fingerprint;
  engine.tmate_rsa_fingerprint = cfg->tmate_rsa_fingerprint;
  engine.poll_interval = std::chrono::milliseconds(cfg->clone_poll_interval_ms);
  engine.session_start_timeout_seconds = cfg->session_start_timeout_seconds;
  // Any broker process may take a clone's report, and it ends a bind waiting for it.
  clone::SessionDesk session_desk(pg_store, clock, &engine);

  // The tmate bundle: served by this broker, or the operator's own (TMATE_BUNDLE_URL).
  std::string bundle_path, bundle_sha256;
  if (!cfg->tmate_bundle_url.empty()) {
    engine.tmate_bundle_url = cfg->tmate_bundle_url;
    engine.tmate_bundle_sha256 = cfg->tmate_bundle_sha256;
  } else {
    bundle_path = FindTmateBundle(cfg->tmate_bundle_path);
    if (!bundle_path.empty()) {
      auto sha = base::Sha256FileHex(bundle_path);
      if (!sha.ok()) return Fail(2, "config: TMATE_BUNDLE_PATH: " + sha.status().message());
      bundle_sha256 = *sha;
      engine.tmate_bundle_url = base::JoinUrl(cfg->public_url, "/ssh-access/v1/assets/tmate-bundle.tar.gz");
      engine.tmate_bundle_sha256 = bundle_sha256;
      log->info("main.tmate_bundle path={} sha256={}", base::LogQuote(bundle_path), bundle_sha256);
    } else if (!cfg->tmate_bundle_path.empty() || !cfg->cf_api_url.empty()) {
      return Fail(2, "config: TMATE_BUNDLE_PATH: no tmate bundle at " +
                         (cfg->tmate_bundle_path.empty() ? std::string("assets/tmate-bundle.tar.gz next to the binary")
                                                         : cfg->tmate_bundle_path) +
                         " (build one with scripts/build-tmate-bundle, or set TMATE_BUNDLE_URL and TMATE_BUNDLE_SHA256)");
    }
  }
  if (!cfg->cf_api_url.empty() && cfg->worker_threads > 0) {
    cf::CcClientOptions cc_options;
    cc_options.api_url = cfg->cf_api_url;
    cc_options.credentials = {cfg->cf_client_id, cfg->cf_client_secret, cfg->cf_admin_user, cfg->cf_admin_password};
    cc_options.http.skip_tls_verification = cfg->cf_skip_ssl_validation;
    cc_options.http.ca_cert = cfg->cf_ca_cert;
    cc_options.http.request_timeout = std::chrono::seconds(cfg->cf_request_timeout_seconds);
    cc = std::make_unique<cf::CcClient>(std::move(cc_options), &clock);
    clone::WorkerOptions worker_options;
    worker_options.threads = cfg->worker_threads;
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    worker_options.worker_id = std::string(host) + ":" + std::to_string(getpid()) + ":" + base::RandomHex(4);
    worker_options.lease = std::chrono::milliseconds(cfg->worker_lease_ms);
    worker_options.step_retry_budget = std::chrono::seconds(cfg->clone_step_retry_budget_seconds);
    worker = std::make_unique<clone::Worker>(pg_store, *cc, engine, clock, worker_options);
    // TTL and orphans; every process runs one (expiry is fenced by the binding's row lock).
    clone::ReconcilerOptions reconciler_options;
    reconciler_options.interval = std::chrono::milliseconds(cfg->reconcile_interval_ms);
    reconciler_options.orphan_grace = std::chrono::seconds(cfg->clone_orphan_grace_seconds);
    reconciler = std::make_unique<clone::Reconciler>(pg_store, *cc, engine, clock, reconciler_options);
    if (cfg->reconcile_interval_ms == 0) log->warn("main.reconciler_off reason=RECONCILE_INTERVAL_MS=0");
  } else {
    log->warn("main.clone_engine_off reason={}", cfg->cf_api_url.empty() ? "CF_API_URL unset" : "WORKER_THREADS=0");
  }

  http::ServerOptions server_options;
  server_options.address = cfg->listen_address;
  server_options.port = cfg->port;
  server_options.threads = cfg->http_threads;
  server_options.max_header_bytes = static_cast<std::size_t>(cfg->max_header_bytes);
  server_options.max_header_line_bytes = static_cast<std::size_t>(cfg->max_header_line_bytes);
  server_options.max_body_bytes = static_cast<std::size_t>(cfg->max_body_bytes);
  server_options.max_session_body_bytes = static_cast<std::size_t>(cfg->max_session_body_bytes);
  rlim_t file_limit = 0;
  server_options.max_connections =
      ConnectionCapUnderFileLimit(cfg->max_connections, 64 + cfg->db_pool_size, &file_limit);
  if (server_options.max_connections < cfg->max_connections) {
    log->warn("main.connection_cap_lowered max_connections={} configured={} open_file_limit={}",
              server_options.max_connections, cfg->max_connections, static_cast<unsigned long long>(file_limit));
  }
  server_options.header_timeout = std::chrono::milliseconds(cfg->http_header_timeout_ms);
  server_options.idle_timeout = std::chrono::milliseconds(cfg->http_idle_timeout_ms);
  for (const auto& c : cfg->credentials) server_options.credentials.push_back({c.username, c.password});
  server_options.bootstrap_script = std::string(session::BootstrapScript());
  server_options.tmate_bundle_path = bundle_path;
  server_options.tmate_bundle_sha256 = bundle_sha256;
  http::Server server(server_options, broker, session_desk, [&pg_store] { return pg_store.Ping(); });
  if (const auto s = server.Start(); !s.ok()) return Fail(3, s.ToString());
  log->info("main.listening address={} port={} max_connections={}", cfg->listen_address, server.port(),
            server_options.max_connections);
  if (worker) worker->Start();
  if (reconciler) reconciler->Start();
  // CF_API_URL against the URL Cloud Controller calls itself, off the main thread (CC may be slow
  // or down; every token fetch checks it again and a mismatch fails each clone call).
  std::thread api_url_check;
  if (cc) {
    api_url_check = std::thread([&cc, &log] {
      const base::Status s = cc->CheckApiUrl();
      if (s.reason() == "ApiUrlMismatch") {
        log->error("main.cf_api_url_mismatch clones_refused=true why={}", base::LogQuote(s.message()));
      } else if (!s.ok()) {
        log->warn("main.cf_api_url_unchecked why={}", base::LogQuote(s.message()));
      } else {
        log->info("main.cf_api_url_checked");
      }
    });
  }

  int sig = 0;
  sigwait(&signals, &sig);
  log->info("main.stopping signal={}", sig);
  // The reconciler first (it enqueues jobs), then the jobs: each worker thread finishes its step
  // and releases its lease for another process.
  if (reconciler) reconciler->Stop();
  if (worker) worker->Stop();
  if (api_url_check.joinable()) api_url_check.join();
  server.Stop();
  log->info("main.stopped");
  return 0;
}
