#include "broker/config/config.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <rapidjson/document.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "broker/base/encoding.h"
#include "broker/osb/broker.h"
#include "broker/session/tmate.h"

namespace broker::config {
namespace {

using base::Status;

Status Bad(const std::string& var, const std::string& why) { return Status::InvalidArgument(var + ": " + why); }

base::Result<int> IntVar(const Getenv& getenv, const std::string& name, int fallback, int min, int max) {
  const auto v = getenv(name);
  if (!v.has_value() || v->empty()) return fallback;
  int out = 0;
  const auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
  if (ec != std::errc() || ptr != v->data() + v->size() || out < min || out > max) {
    return Bad(name, "must be an integer from " + std::to_string(min) + " to " + std::to_string(max) + " (got \"" +
                         v->substr(0, 40) + "\")");
  }
  return out;
}

std::string StrVar(const Getenv& getenv, const std::string& name, const std::string& fallback = {}) {
  const auto v = getenv(name);
  return v.has_value() && !v->empty() ? *v : fallback;
}

base::Result<bool> BoolVar(const Getenv& getenv, const std::string& name) {
  const std::string v = StrVar(getenv, name, "false");
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  return Bad(name, "must be true or false");
}

bool IsIpAddress(const std::string& text) {
  in_addr v4{};
  in6_addr v6{};
  return ::inet_pton(AF_INET, text.c_str(), &v4) == 1 || ::inet_pton(AF_INET6, text.c_str(), &v6) == 1;
}

bool IsHttpUrl(const std::string& url) { return url.rfind("https://", 0) == 0 || url.rfind("http://", 0) == 0; }

// The environment variable behind each tmate setting session::ValidateTmateConfig can refuse;
// nullptr for authorized keys, which come with each bind, never from the environment.
const char* TmateVariable(session::TmateField field) {
  switch (field) {
    case session::TmateField::kServerHost: return "TMATE_SERVER_HOST";
    case session::TmateField::kServerPort: return "TMATE_SERVER_PORT";
    case session::TmateField::kEd25519Fingerprint: return "TMATE_SERVER_ED25519_FINGERPRINT";
    case session::TmateField::kRsaFingerprint: return "TMATE_SERVER_RSA_FINGERPRINT";
    case session::TmateField::kAuthorizedKeys: return nullptr;
  }
  return nullptr;
}

// The number of bytes a base64 key decodes to, or -1.
int DecodedKeyLength(const std::string& b64) {
  const auto raw = base::Base64Decode(b64);
  return raw.has_value() ? static_cast<int>(raw->size()) : -1;
}

Status CheckKeys(const Config& c, bool from_list) {
  const std::string var = from_list ? "BROKER_ENCRYPTION_KEYS" : "BROKER_ENCRYPTION_KEY";
  if (!from_list) {
    if (DecodedKeyLength(c.encryption_keys) != 32) return Bad(var, "must be base64 of exactly 32 random bytes");
    return Status::Ok();
  }
  std::stringstream ss(c.encryption_keys);
  std::string item;
  int n = 0;
  while (std::getline(ss, item, ',')) {
    const auto colon = item.find(':');
    if (colon == std::string::npos || colon == 0 || DecodedKeyLength(item.substr(colon + 1)) != 32) {
      return Bad(var, "entry " + std::to_string(n + 1) + " must be <key id>:<base64 of 32 bytes>");
    }
    ++n;
  }
  if (n == 0) return Bad(var, "must list at least one key");
  return Status::Ok();
}

}  // namespace

Getenv ProcessEnvironment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

base::Result<std::optional<std::string>> PostgresUriFromVcapServices(std::string_view vcap_services) {
  rapidjson::Document doc;
  doc.Parse(vcap_services.data(), vcap_services.size());
  if (doc.HasParseError() || !doc.IsObject()) return Status::InvalidArgument("VCAP_SERVICES: is not a JSON object");
  for (const auto& offering : doc.GetObject()) {
    if (!offering.value.IsArray()) continue;
    for (const auto& svc : offering.value.GetArray()) {
      if (!svc.IsObject()) continue;
      const auto creds = svc.FindMember("credentials");
      if (creds == svc.MemberEnd() || !creds->value.IsObject()) continue;
      for (const char* key : {"uri", "url"}) {
        const auto it = creds->value.FindMember(key);
        if (it == creds->value.MemberEnd() || !it->value.IsString()) continue;
        const std::string uri = it->value.GetString();
        if (uri.rfind("postgres://", 0) == 0 || uri.rfind("postgresql://", 0) == 0) return std::optional(uri);
      }
    }
  }
  return std::optional<std::string>();
}

base::Result<Config> LoadConfig(const Getenv& getenv) {
  Config c;
  BROKER_ASSIGN_OR_RETURN(c.port, IntVar(getenv, "PORT", 8080, 1, 65535));

  c.database_url = StrVar(getenv, "DATABASE_URL");
  c.database_url_source = "DATABASE_URL";
  if (c.database_url.empty()) {
    const std::string vcap = StrVar(getenv, "VCAP_SERVICES");
    if (!vcap.empty()) {
      BROKER_ASSIGN_OR_RETURN(std::optional<std::string> uri, PostgresUriFromVcapServices(vcap));
      if (uri.has_value()) {
        c.database_url = *uri;
        c.database_url_source = "VCAP_SERVICES";
      }
    }
  }
  if (c.database_url.empty()) {
    return Bad("DATABASE_URL", "is not set and VCAP_SERVICES has no postgres:// credentials uri");
  }
  if (c.database_url.rfind("postgres://", 0) != 0 && c.database_url.rfind("postgresql://", 0) != 0) {
    return Bad(c.database_url_source, "must be a postgres:// or postgresql:// URI");
  }

  // The tile's names first, then ours; both pairs are accepted when both are set.
  for (const auto& [user_var, pass_var] : {std::pair<std::string, std::string>{"SECURITY_USER_NAME", "SECURITY_USER_PASSWORD"},
                                           {"BROKER_USERNAME", "BROKER_PASSWORD"}}) {
    const std::string user = StrVar(getenv, user_var);
    const std::string pass = StrVar(getenv, pass_var);
    if (user.empty() && pass.empty()) continue;
    if (user.empty()) return Bad(user_var, "must be set when " + pass_var + " is");
    if (pass.empty()) return Bad(pass_var, "must be set when " + user_var + " is");
    if (user.find(':') != std::string::npos) return Bad(user_var, "must not contain ':'");
    c.credentials.push_back({user, pass});
  }
  if (c.credentials.empty()) return Bad("SECURITY_USER_PASSWORD", "broker credentials are required (SECURITY_USER_NAME and SECURITY_USER_PASSWORD)");

  const std::string keys = StrVar(getenv, "BROKER_ENCRYPTION_KEYS");
  if (!keys.empty()) {
    c.encryption_keys = keys;
    BROKER_RETURN_IF_ERROR(CheckKeys(c, true));
  } else {
    c.encryption_keys = StrVar(getenv, "BROKER_ENCRYPTION_KEY");
    if (c.encryption_keys.empty()) return Bad("BROKER_ENCRYPTION_KEY", "is required (base64 of 32 random bytes, e.g. `openssl rand -base64 32`)");
    BROKER_RETURN_IF_ERROR(CheckKeys(c, false));
  }

  c.catalog_file = StrVar(getenv, "BROKER_CATALOG_FILE", c.catalog_file);
  c.migrations_dir = StrVar(getenv, "BROKER_MIGRATIONS_DIR", c.migrations_dir);
  c.log_level = StrVar(getenv, "LOG_LEVEL", c.log_level);
  if (c.log_level != "trace" && c.log_level != "debug" && c.log_level != "info" && c.log_level != "warn" &&
      c.log_level != "error") {
    return Bad("LOG_LEVEL", "must be one of trace, debug, info, warn, error");
  }
  BROKER_ASSIGN_OR_RETURN(c.http_threads, IntVar(getenv, "BROKER_HTTP_THREADS", c.http_threads, 1, 256));
  BROKER_ASSIGN_OR_RETURN(c.db_pool_size, IntVar(getenv, "BROKER_DB_POOL_SIZE", c.db_pool_size, 1, 256));

  // The HTTP edge (docs/operator.md, "HTTP limits").
  c.listen_address = StrVar(getenv, "BROKER_LISTEN_ADDRESS", c.listen_address);
  if (!IsIpAddress(c.listen_address)) {
    return Bad("BROKER_LISTEN_ADDRESS", "must be an IPv4 or IPv6 address such as 0.0.0.0 or 127.0.0.1 (got \"" +
                                            c.listen_address.substr(0, 40) + "\")");
  }
  BROKER_ASSIGN_OR_RETURN(c.max_header_bytes,
                          IntVar(getenv, "BROKER_MAX_HEADER_BYTES", c.max_header_bytes, 1024, 1024 * 1024));
  BROKER_ASSIGN_OR_RETURN(c.max_header_line_bytes,
                          IntVar(getenv, "BROKER_MAX_HEADER_LINE_BYTES",
                                 std::min(c.max_header_line_bytes, c.max_header_bytes), 256, c.max_header_bytes));
  BROKER_ASSIGN_OR_RETURN(c.max_body_bytes,
                          IntVar(getenv, "BROKER_MAX_BODY_BYTES", c.max_body_bytes, 1024, 16 * 1024 * 1024));
  BROKER_ASSIGN_OR_RETURN(c.max_session_body_bytes, IntVar(getenv, "BROKER_MAX_SESSION_BODY_BYTES",
                                                           c.max_session_body_bytes, 1024, 16 * 1024 * 1024));
  BROKER_ASSIGN_OR_RETURN(c.max_connections,
                          IntVar(getenv, "BROKER_MAX_CONNECTIONS", c.max_connections, 16, 1'000'000));
  BROKER_ASSIGN_OR_RETURN(c.http_header_timeout_ms,
                          IntVar(getenv, "BROKER_HTTP_HEADER_TIMEOUT_MS", c.http_header_timeout_ms, 100, 600'000));
  BROKER_ASSIGN_OR_RETURN(c.http_idle_timeout_ms,
                          IntVar(getenv, "BROKER_HTTP_IDLE_TIMEOUT_MS", c.http_idle_timeout_ms, 100, 3'600'000));

  c.public_url = StrVar(getenv, "BROKER_PUBLIC_URL");
  if (c.public_url.empty()) {
    const std::string vcap_app = StrVar(getenv, "VCAP_APPLICATION");
    if (!vcap_app.empty()) {
      rapidjson::Document app;
      app.Parse(vcap_app.c_str());
      if (app.HasParseError() || !app.IsObject()) return Bad("VCAP_APPLICATION", "is not a JSON object");
      const auto uris = app.FindMember("application_uris");
      if (uris != app.MemberEnd() && uris->value.IsArray() && !uris->value.Empty() && uris->value[0].IsString()) {
        c.public_url = std::string("https://") + uris->value[0].GetString();
      }
    }
  } else if (!IsHttpUrl(c.public_url)) {
    return Bad("BROKER_PUBLIC_URL", "must be an http:// or https:// URL");
  } else {
    // Without the '/'s that end it: the clones get it as SSH_ACCESS_BROKER_URL, and their bootstrap
    // command appends "/ssh-access/v1/bootstrap" (the broker's own URLs use base::JoinUrl).
    const std::size_t host = c.public_url.find("://") + 3;
    while (c.public_url.size() > host && c.public_url.back() == '/') c.public_url.pop_back();
  }

  c.cf_api_url = StrVar(getenv, "CF_API_URL");
  if (!c.cf_api_url.empty() && !IsHttpUrl(c.cf_api_url)) return Bad("CF_API_URL", "must be an http:// or https:// URL");
  c.cf_client_id = StrVar(getenv, "CF_CLIENT_ID");
  c.cf_client_secret = StrVar(getenv, "CF_CLIENT_SECRET");
  if (c.cf_client_id.empty() != c.cf_client_secret.empty()) {
    return Bad(c.cf_client_id.empty() ? "CF_CLIENT_ID" : "CF_CLIENT_SECRET", "CF_CLIENT_ID and CF_CLIENT_SECRET go together");
  }
  c.cf_admin_user = StrVar(getenv, "CF_ADMIN_USER");
  c.cf_admin_password = StrVar(getenv, "CF_ADMIN_PASSWORD");
  if (c.cf_admin_user.empty() != c.cf_admin_password.empty()) {
    return Bad(c.cf_admin_user.empty() ? "CF_ADMIN_USER" : "CF_ADMIN_PASSWORD", "CF_ADMIN_USER and CF_ADMIN_PASSWORD go together");
  }
  BROKER_ASSIGN_OR_RETURN(c.cf_skip_ssl_validation, BoolVar(getenv, "CF_SKIP_SSL_VALIDATION"));
  c.cf_ca_cert = StrVar(getenv, "CF_CA_CERT");

  c.tmate_server_host = StrVar(getenv, "TMATE_SERVER_HOST");
  BROKER_ASSIGN_OR_RETURN(c.tmate_server_port, IntVar(getenv, "TMATE_SERVER_PORT", 22, 1, 65535));
  c.tmate_ed25519_fingerprint = StrVar(getenv, "TMATE_SERVER_ED25519_FINGERPRINT");
  c.tmate_rsa_fingerprint = StrVar(getenv, "TMATE_SERVER_RSA_FINGERPRINT");
  c.tmate_bundle_path = StrVar(getenv, "TMATE_BUNDLE_PATH");
  c.tmate_bundle_url = StrVar(getenv, "TMATE_BUNDLE_URL");
  c.tmate_bundle_sha256 = StrVar(getenv, "TMATE_BUNDLE_SHA256");
  if (!c.tmate_bundle_url.empty() && !IsHttpUrl(c.tmate_bundle_url)) {
    return Bad("TMATE_BUNDLE_URL", "must be an http:// or https:// URL");
  }
  if (!c.tmate_bundle_url.empty() || !c.tmate_bundle_sha256.empty()) {
    if (c.tmate_bundle_url.empty()) return Bad("TMATE_BUNDLE_URL", "TMATE_BUNDLE_SHA256 needs TMATE_BUNDLE_URL");
    const bool hex64 = c.tmate_bundle_sha256.size() == 64 &&
                       c.tmate_bundle_sha256.find_first_not_of("0123456789abcdef") == std::string::npos;
    if (!hex64) return Bad("TMATE_BUNDLE_SHA256", "must be the bundle's SHA-256 as 64 lowercase hex digits");
  }

  BROKER_ASSIGN_OR_RETURN(c.clone_ttl_minutes, IntVar(getenv, "CLONE_TTL", 0, 0, 7 * 24 * 60));
  BROKER_ASSIGN_OR_RETURN(c.clone_max_per_space, IntVar(getenv, "CLONE_MAX_PER_SPACE", 0, 0, 100000));
  BROKER_ASSIGN_OR_RETURN(c.clone_max_memory_mb, IntVar(getenv, "CLONE_MAX_MEMORY_MB", 0, 0, 65536));
  BROKER_ASSIGN_OR_RETURN(c.worker_threads, IntVar(getenv, "WORKER_THREADS", c.worker_threads, 0, 64));
  BROKER_ASSIGN_OR_RETURN(c.worker_lease_ms, IntVar(getenv, "WORKER_LEASE_MS", c.worker_lease_ms, 300, 3'600'000));
  BROKER_ASSIGN_OR_RETURN(c.clone_poll_interval_ms,
                          IntVar(getenv, "CLONE_POLL_INTERVAL_MS", c.clone_poll_interval_ms, 10, 600'000));
  c.cf_broker_name = StrVar(getenv, "CF_BROKER_NAME", c.cf_broker_name);
  c.clone_metadata_prefix = StrVar(getenv, "CLONE_METADATA_PREFIX", c.clone_metadata_prefix);
  if (const std::string bad = clone::MetadataPrefixError(c.clone_metadata_prefix); !bad.empty()) {
    return Bad("CLONE_METADATA_PREFIX", bad + " (Cloud Controller requires a DNS name with at least one dot, e.g. " +
                                            clone::kDefaultMetadataPrefix + ")");
  }
  // 0 turns the reconciler off; otherwise at least 100 ms between passes, at most a day.
  BROKER_ASSIGN_OR_RETURN(c.reconcile_interval_ms,
                          IntVar(getenv, "RECONCILE_INTERVAL_MS", c.reconcile_interval_ms, 0, 86'400'000));
  if (c.reconcile_interval_ms != 0 && c.reconcile_interval_ms < 100) {
    return Bad("RECONCILE_INTERVAL_MS", "must be 0 (off) or an integer from 100 to 86400000 (got \"" +
                                            std::to_string(c.reconcile_interval_ms) + "\")");
  }
  BROKER_ASSIGN_OR_RETURN(c.clone_orphan_grace_seconds,
                          IntVar(getenv, "CLONE_ORPHAN_GRACE_SECONDS", c.clone_orphan_grace_seconds, 0, 7 * 86'400));

  BROKER_ASSIGN_OR_RETURN(c.clone_step_retry_budget_seconds, IntVar(getenv, "CLONE_STEP_RETRY_BUDGET_SECONDS",
                                                                     c.clone_step_retry_budget_seconds, 1, 86'400));
  BROKER_ASSIGN_OR_RETURN(c.cf_request_timeout_seconds,
                          IntVar(getenv, "CF_REQUEST_TIMEOUT_SECONDS", c.cf_request_timeout_seconds, 1, 600));

  // The ssh session's start: handed to the clone's bootstrap.
  BROKER_ASSIGN_OR_RETURN(c.session_start_timeout_seconds,
                          IntVar(getenv, "SESSION_START_TIMEOUT", c.session_start_timeout_seconds, 1, 86'400));

  // The clone engine runs only when Cloud Foundry is configured; then it needs credentials and a
  // URL the clones can call back to.
  if (!c.cf_api_url.empty()) {
    if (c.cf_client_id.empty() && c.cf_admin_user.empty()) {
      return Bad("CF_CLIENT_ID", "CF_API_URL needs CF_CLIENT_ID/CF_CLIENT_SECRET or CF_ADMIN_USER/CF_ADMIN_PASSWORD");
    }
    if (c.public_url.empty()) {
      return Bad("BROKER_PUBLIC_URL", "CF_API_URL needs the broker's URL as the clones reach it (or VCAP_APPLICATION)");
    }
    // The clones' tmate needs the operator's server, and its ed25519 fingerprint above all
    // (tmate.md §1: it is the one tmate checks).
    if (c.tmate_server_host.empty()) return Bad("TMATE_SERVER_HOST", "CF_API_URL needs the tmate server clones connect to");
    if (c.tmate_ed25519_fingerprint.empty()) {
      return Bad("TMATE_SERVER_ED25519_FINGERPRINT",
                 "CF_API_URL needs the tmate server's ed25519 host key fingerprint (ssh-keygen -l -E SHA256)");
    }
    if (const auto error = session::ValidateTmateConfig(
            {c.tmate_server_host, c.tmate_server_port, c.tmate_ed25519_fingerprint, c.tmate_rsa_fingerprint, {}})) {
      const char* var = TmateVariable(error->field);
      if (var == nullptr) return Status::Internal("tmate settings: " + error->message);  // cannot be: no keys
      return Bad(var, error->message);
    }
  }
  return c;
}

base::Status CheckAgainstCatalog(const Config& config, const osb::Catalog& catalog) {
  const auto budget = std::chrono::seconds(config.clone_step_retry_budget_seconds);
  const auto refuse = [&](const std::string& what, std::chrono::seconds deadline) {
    return Bad("CLONE_STEP_RETRY_BUDGET_SECONDS", "must be below " + what + " (" + std::to_string(deadline.count()) +
                                                      " s), so a Cloud Controller outage fails a bind saying so before "
                                                      "the deadline does (got " +
                                                      std::to_string(budget.count()) + ")");
  };
  if (budget >= osb::kTeardownDeadline) return refuse("the unbind's deadline", osb::kTeardownDeadline);
  for (const osb::Service& service : catalog.services()) {
    for (const osb::Plan& plan : service.plans) {
      const auto deadline = osb::BindDeadline(&plan);
      if (budget >= deadline) {
        return refuse("the bind deadline of plan " + service.name + "/" + plan.name + " (maximum_polling_duration)",
                      deadline);
      }
    }
  }
  return Status::Ok();
}

base::Result<osb::Catalog> LoadCatalog(const std::string& path) {
  std::error_code ec;
  std::ifstream in(path, std::ios::binary);
  if (!std::filesystem::is_regular_file(path, ec) || !in) {
    return Status::NotFound("BROKER_CATALOG_FILE: cannot read " + path);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto catalog = osb::Catalog::Parse(ss.str());
  if (!catalog.ok()) return Status::InvalidArgument(path + ": " + catalog.status().message());
  return catalog;
}

}  // namespace broker::config
