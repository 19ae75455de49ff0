// Config: the broker's immutable settings, read once at startup from the environment
// (12-factor; DESIGN.md §8). A missing or bad value stops startup with one line naming the
// variable. Thread-safe after construction (never mutated).
#ifndef BROKER_CONFIG_CONFIG_H_
#define BROKER_CONFIG_CONFIG_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/base/result.h"
#include "broker/clone/metadata.h"
#include "broker/osb/catalog.h"

namespace broker::config {

struct Credential {
  std::string username;
  std::string password;
};

struct Config {
  int port = 8080;                      // PORT
  std::string database_url;             // DATABASE_URL, else the first postgres URI in VCAP_SERVICES
  std::string database_url_source;      // "DATABASE_URL" or "VCAP_SERVICES" (for the startup log)
  std::vector<Credential> credentials;  // SECURITY_USER_NAME/PASSWORD and/or BROKER_USERNAME/PASSWORD
  std::string encryption_keys;          // BROKER_ENCRYPTION_KEYS ("id:b64,...") or BROKER_ENCRYPTION_KEY (b64)
  std::string catalog_file = "catalog/catalog.json";  // BROKER_CATALOG_FILE
  std::string migrations_dir = "migrations";          // BROKER_MIGRATIONS_DIR
  std::string log_level = "info";                     // LOG_LEVEL
  int http_threads = 4;                 // BROKER_HTTP_THREADS (bench/api/README.md: why 4)
  int db_pool_size = 16;                // BROKER_DB_POOL_SIZE
  // The HTTP edge (broker/http/edge.h; docs/operator.md, "HTTP limits").
  std::string listen_address = "0.0.0.0";  // BROKER_LISTEN_ADDRESS: an IP address (0.0.0.0 is what CF needs)
  int max_header_bytes = 32 * 1024;        // BROKER_MAX_HEADER_BYTES: request line + fields, else 431
  int max_header_line_bytes = 8 * 1024;    // BROKER_MAX_HEADER_LINE_BYTES: any one line (<= the above), else 431/414
  int max_body_bytes = 64 * 1024;          // BROKER_MAX_BODY_BYTES: OSB request bodies, else 413
  int max_session_body_bytes = 16 * 1024;  // BROKER_MAX_SESSION_BODY_BYTES: session reports, else 413
  int max_connections = 4096;              // BROKER_MAX_CONNECTIONS: past it, new ones are closed at once
  int http_header_timeout_ms = 10'000;     // BROKER_HTTP_HEADER_TIMEOUT_MS: a request arrives whole within this
  int http_idle_timeout_ms = 120'000;      // BROKER_HTTP_IDLE_TIMEOUT_MS: an idle persistent connection is closed
  std::string public_url;               // BROKER_PUBLIC_URL (trailing '/' dropped), else https://<VCAP_APPLICATION uri>
  // Cloud Controller access and the tmate server, for the clone engine. With CF_API_URL set, either
  // client or admin credentials and a public URL are required.
  std::string cf_api_url;               // CF_API_URL
  std::string cf_client_id, cf_client_secret;  // CF_CLIENT_ID / CF_CLIENT_SECRET
  std::string cf_admin_user, cf_admin_password;  // CF_ADMIN_USER / CF_ADMIN_PASSWORD
  bool cf_skip_ssl_validation = false;  // CF_SKIP_SSL_VALIDATION
  std::string cf_ca_cert;               // CF_CA_CERT (PEM text or a file path)
  std::string tmate_server_host;        // TMATE_SERVER_HOST
  int tmate_server_port = 22;           // TMATE_SERVER_PORT
  std::string tmate_ed25519_fingerprint, tmate_rsa_fingerprint;  // TMATE_SERVER_{ED25519,RSA}_FINGERPRINT
  // The tmate bundle clones download: this broker serves TMATE_BUNDLE_PATH (default: assets/ next
  // to the binary, or ../assets/ for a build tree), unless TMATE_BUNDLE_URL (with
  // TMATE_BUNDLE_SHA256) points at the operator's own copy.
  std::string tmate_bundle_path;        // TMATE_BUNDLE_PATH ("" = the default places)
  std::string tmate_bundle_url;         // TMATE_BUNDLE_URL
  std::string tmate_bundle_sha256;      // TMATE_BUNDLE_SHA256 (64 hex digits; with TMATE_BUNDLE_URL)
  int clone_ttl_minutes = 0;            // CLONE_TTL (minutes; 0 = the plan's default)
  int clone_max_per_space = 0;          // CLONE_MAX_PER_SPACE (0 = unlimited)
  int clone_max_memory_mb = 0;          // CLONE_MAX_MEMORY_MB (0 = the plan's cap)
  int worker_threads = 2;               // WORKER_THREADS (0: this process runs no jobs)
  int worker_lease_ms = 30'000;         // WORKER_LEASE_MS: a dead worker's jobs are taken over after this
  int clone_poll_interval_ms = 2'000;   // CLONE_POLL_INTERVAL_MS: between looks at CC async work
  // CLONE_STEP_RETRY_BUDGET_SECONDS (1-86400): how long a step may keep meeting Cloud Controller
  // failures (5xx, 429, timeouts, resets) before the bind fails saying so; below every plan's
  // bind deadline and the teardown's (CheckAgainstCatalog).
  int clone_step_retry_budget_seconds = 300;
  int cf_request_timeout_seconds = 60;  // CF_REQUEST_TIMEOUT_SECONDS (1-600): one CC/UAA request, all in
  // CLONE_METADATA_PREFIX: the prefix of the clone's label and annotation keys; a DNS name with
  // a dot, as Cloud Controller requires (clone/metadata.h).
  std::string clone_metadata_prefix = clone::kDefaultMetadataPrefix;
  std::string cf_broker_name = "ssh-access";  // CF_BROKER_NAME: this broker's name in CC (own plans excluded)
  int reconcile_interval_ms = 300'000;  // RECONCILE_INTERVAL_MS: between reconciler passes (0: no reconciler)
  int clone_orphan_grace_seconds = 600;  // CLONE_ORPHAN_GRACE_SECONDS: younger orphans are left alone

  // The ssh session's start (issue 16): seconds from the clone's bootstrap start within which
  // tmate must have a session; the bootstrap reports the failure then (SSH_ACCESS_SESSION_START_TIMEOUT).
  int session_start_timeout_seconds = 120;  // SESSION_START_TIMEOUT (1-86400)
};

// Reads the variables through `getenv` (the process environment in production, a map in
// tests). kInvalidArgument with a one-line message naming the variable, e.g.
// "PORT: must be an integer from 1 to 65535 (got \"http\")". Never includes a secret's value
// in a message.
using Getenv = std::function<std::optional<std::string>(const std::string& name)>;
base::Result<Config> LoadConfig(const Getenv& getenv);

// The process environment as a Getenv.
Getenv ProcessEnvironment();

// The first credentials URI in VCAP_SERVICES JSON that starts with postgres:// or
// postgresql:// ("uri", then "url"); nullopt when there is none. kInvalidArgument when the text
// is not JSON.
base::Result<std::optional<std::string>> PostgresUriFromVcapServices(std::string_view vcap_services);

// The settings that must fit the catalog: CLONE_STEP_RETRY_BUDGET_SECONDS below every plan's bind
// deadline (maximum_polling_duration, osb::BindDeadline) and the teardown's. kInvalidArgument
// naming the variable and the plan.
base::Status CheckAgainstCatalog(const Config& config, const osb::Catalog& catalog);

// Reads and validates the catalog file. kInvalidArgument naming the file and the field, or
// kNotFound when the file cannot be read.
base::Result<osb::Catalog> LoadCatalog(const std::string& path);

}  // namespace broker::config

#endif  // BROKER_CONFIG_CONFIG_H_
