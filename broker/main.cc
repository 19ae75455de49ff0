// The composition root: the only file that sees every concrete type. Reads the configuration,
// loads the catalog, opens the database pool, applies migrations (under an advisory lock, so
// several broker instances may start at once), and serves HTTP until SIGTERM or SIGINT.
//
// Exit codes: 0 after a clean shutdown; 2 for a configuration or catalog error (one line on
// stderr naming the variable or field); 3 when the database or the listen port is unusable.
#include <signal.h>

#include <cstdio>
#include <memory>

#include "broker/base/clock.h"
#include "broker/base/log.h"
#include "broker/clone/session_desk.h"
#include "broker/config/config.h"
#include "broker/http/server.h"
#include "broker/osb/broker.h"
#include "broker/store/cipher.h"
#include "broker/store/migration_runner.h"
#include "broker/store/pg_pool.h"
#include "broker/store/pg_store.h"

namespace {

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "broker: %s\n", message.c_str());
  return code;
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
  clone::SessionDesk session_desk(pg_store, clock);

  http::ServerOptions server_options;
  server_options.port = cfg->port;
  server_options.threads = cfg->http_threads;
  for (const auto& c : cfg->credentials) server_options.credentials.push_back({c.username, c.password});
  http::Server server(server_options, broker, session_desk, [&pg_store] { return pg_store.Ping(); });
  if (const auto s = server.Start(); !s.ok()) return Fail(3, s.ToString());
  log->info("main.listening port={}", server.port());

  int sig = 0;
  sigwait(&signals, &sig);
  log->info("main.stopping signal={}", sig);
  server.Stop();
  log->info("main.stopped");
  return 0;
}
