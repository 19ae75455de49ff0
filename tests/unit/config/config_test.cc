// Tests for broker/config/config.h: LoadConfig over a map-backed environment,
// PostgresUriFromVcapServices and LoadCatalog.
#include "broker/config/config.h"

#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "broker/base/ids.h"

namespace broker::config {
namespace {

using base::Code;
using Env = std::map<std::string, std::string>;

// base64 of 32 bytes 0x00..0x1f, of 32 bytes 0xff, and of 31 bytes.
constexpr const char* kKeyA = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
constexpr const char* kKeyB = "//////////////////////////////////////////8=";
constexpr const char* kKey31 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==";
constexpr const char* kKey33 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g";

Getenv FromMap(const Env& env) {
  return [env](const std::string& name) -> std::optional<std::string> {
    const auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
}

Env Minimal() {
  return {
      {"DATABASE_URL", "postgres://broker:db-pa55@db.example.com:5432/broker"},
      {"SECURITY_USER_NAME", "broker"},
      {"SECURITY_USER_PASSWORD", "broker-pa55"},
      {"BROKER_ENCRYPTION_KEY", kKeyA},
  };
}

Env With(Env env, const std::map<std::string, std::string>& changes) {
  for (const auto& [k, v] : changes) env[k] = v;
  return env;
}

Env Without(Env env, const std::vector<std::string>& names) {
  for (const auto& n : names) env.erase(n);
  return env;
}

Config MustLoad(const Env& env) {
  auto c = LoadConfig(FromMap(env));
  REQUIRE_MESSAGE(c.ok(), c.status().ToString());
  return std::move(c).value();
}

// The error's message, which must start with `variable` followed by ':' and must not contain any
// of `secrets`.
void CheckRejected(const Env& env, const std::string& variable, const std::vector<std::string>& secrets = {}) {
  auto c = LoadConfig(FromMap(env));
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().code() == Code::kInvalidArgument);
  const std::string msg = c.status().message();
  CAPTURE(msg);
  CHECK(msg.rfind(variable + ":", 0) == 0);
  CHECK(msg.find('\n') == std::string::npos);  // one line
  for (const auto& secret : secrets) CHECK(msg.find(secret) == std::string::npos);
}

TEST_SUITE("config::Config") {
  TEST_CASE("the minimal environment loads with the documented defaults") {
    const Config c = MustLoad(Minimal());
    CHECK(c.port == 8080);
    CHECK(c.database_url == "postgres://broker:db-pa55@db.example.com:5432/broker");
    CHECK(c.database_url_source == "DATABASE_URL");
    REQUIRE(c.credentials.size() == 1);
    CHECK(c.credentials[0].username == "broker");
    CHECK(c.credentials[0].password == "broker-pa55");
    CHECK(c.encryption_keys == kKeyA);
    CHECK(c.catalog_file == "catalog/catalog.json");
    CHECK(c.migrations_dir == "migrations");
    CHECK(c.log_level == "info");
    CHECK(c.http_threads == 4);
    CHECK(c.db_pool_size == 16);
    CHECK(c.public_url.empty());
    CHECK(c.cf_api_url.empty());
    CHECK_FALSE(c.cf_skip_ssl_validation);
    CHECK(c.tmate_server_port == 22);
    CHECK(c.clone_ttl_minutes == 0);
    CHECK(c.clone_max_per_space == 0);
    CHECK(c.clone_max_memory_mb == 0);
    CHECK(c.worker_threads == 2);
    CHECK(c.reconcile_interval_ms == 300000);
    CHECK(c.clone_orphan_grace_seconds == 600);
  }

  TEST_CASE("every setting is read from its variable") {
    const Config c = MustLoad(With(Minimal(), {
                                                  {"PORT", "9090"},
                                                  {"BROKER_CATALOG_FILE", "/etc/broker/catalog.json"},
                                                  {"BROKER_MIGRATIONS_DIR", "/srv/migrations"},
                                                  {"LOG_LEVEL", "debug"},
                                                  {"BROKER_HTTP_THREADS", "8"},
                                                  {"BROKER_DB_POOL_SIZE", "8"},
                                                  {"BROKER_PUBLIC_URL", "https://ssh-broker.example.com"},
                                                  {"CF_API_URL", "https://api.sys.example.com"},
                                                  {"CF_CLIENT_ID", "ssh-access"},
                                                  {"CF_CLIENT_SECRET", "client-s3cr3t"},
                                                  {"CF_SKIP_SSL_VALIDATION", "true"},
                                                  {"CF_CA_CERT", "/etc/ssl/ca.pem"},
                                                  {"TMATE_SERVER_HOST", "tmate.example.com"},
                                                  {"TMATE_SERVER_PORT", "2222"},
                                                  {"TMATE_SERVER_ED25519_FINGERPRINT", "SHA256:ed25519fingerprint"},
                                                  {"TMATE_SERVER_RSA_FINGERPRINT", "SHA256:rsafingerprint"},
                                                  {"TMATE_BUNDLE_PATH", "/srv/assets/tmate.tar.gz"},
                                                  {"CLONE_TTL", "120"},
                                                  {"CLONE_MAX_PER_SPACE", "3"},
                                                  {"CLONE_MAX_MEMORY_MB", "2048"},
                                                  {"WORKER_THREADS", "6"},
                                                  {"WORKER_LEASE_MS", "5000"},
                                                  {"CLONE_POLL_INTERVAL_MS", "50"},
                                                  {"CF_BROKER_NAME", "ssh-access-prod"},
                                                  {"RECONCILE_INTERVAL_MS", "60000"},
                                                  {"CLONE_ORPHAN_GRACE_SECONDS", "30"},
                                              }));
    CHECK(c.reconcile_interval_ms == 60000);
    CHECK(c.clone_orphan_grace_seconds == 30);
    CHECK(c.worker_lease_ms == 5000);
    CHECK(c.clone_poll_interval_ms == 50);
    CHECK(c.cf_broker_name == "ssh-access-prod");
    CHECK(c.port == 9090);
    CHECK(c.catalog_file == "/etc/broker/catalog.json");
    CHECK(c.migrations_dir == "/srv/migrations");
    CHECK(c.log_level == "debug");
    CHECK(c.http_threads == 8);
    CHECK(c.db_pool_size == 8);
    CHECK(c.public_url == "https://ssh-broker.example.com");
    CHECK(c.cf_api_url == "https://api.sys.example.com");
    CHECK(c.cf_client_id == "ssh-access");
    CHECK(c.cf_client_secret == "client-s3cr3t");
    CHECK(c.cf_skip_ssl_validation);
    CHECK(c.cf_ca_cert == "/etc/ssl/ca.pem");
    CHECK(c.tmate_server_host == "tmate.example.com");
    CHECK(c.tmate_server_port == 2222);
    CHECK(c.tmate_ed25519_fingerprint == "SHA256:ed25519fingerprint");
    CHECK(c.tmate_bundle_path == "/srv/assets/tmate.tar.gz");
    CHECK(c.tmate_rsa_fingerprint == "SHA256:rsafingerprint");
    CHECK(c.clone_ttl_minutes == 120);
    CHECK(c.clone_max_per_space == 3);
    CHECK(c.clone_max_memory_mb == 2048);
    CHECK(c.worker_threads == 6);
  }

  TEST_CASE("a missing required variable is named at the start of the message") {
    struct Row {
      std::vector<std::string> remove;
      std::string variable;
    };
    const std::vector<Row> rows = {
        {{"DATABASE_URL"}, "DATABASE_URL"},
        {{"SECURITY_USER_NAME"}, "SECURITY_USER_NAME"},
        {{"SECURITY_USER_PASSWORD"}, "SECURITY_USER_PASSWORD"},
        {{"BROKER_ENCRYPTION_KEY"}, "BROKER_ENCRYPTION_KEY"},
    };
    for (const Row& row : rows) {
      CAPTURE(row.variable);
      CheckRejected(Without(Minimal(), row.remove), row.variable, {"broker-pa55", "db-pa55", kKeyA});
    }
    SUBCASE("when a required variable is set but empty, it counts as missing") {
      CheckRejected(With(Minimal(), {{"DATABASE_URL", ""}}), "DATABASE_URL");
      CheckRejected(With(Minimal(), {{"BROKER_ENCRYPTION_KEY", ""}}), "BROKER_ENCRYPTION_KEY");
    }
    SUBCASE("when no credentials at all are set, a credential variable is named") {
      auto c = LoadConfig(FromMap(Without(Minimal(), {"SECURITY_USER_NAME", "SECURITY_USER_PASSWORD"})));
      REQUIRE_FALSE(c.ok());
      CHECK(c.status().code() == Code::kInvalidArgument);
      const std::string msg = c.status().message();
      CAPTURE(msg);
      CHECK((msg.rfind("SECURITY_USER_NAME:", 0) == 0 || msg.rfind("SECURITY_USER_PASSWORD:", 0) == 0 ||
             msg.rfind("BROKER_USERNAME:", 0) == 0 || msg.rfind("BROKER_PASSWORD:", 0) == 0));
    }
  }

  TEST_CASE("PORT must be an integer from 1 to 65535") {
    for (const std::string port : {"1", "80", "8080", "65535"}) {
      CAPTURE(port);
      CHECK(MustLoad(With(Minimal(), {{"PORT", port}})).port == std::stoi(port));
    }
    for (const std::string port : {"abc", "0", "70000", "65536", "-1", "8080x", " 8080", "80.5", "0x50",
                                   "99999999999999999999"}) {
      CAPTURE(port);
      CheckRejected(With(Minimal(), {{"PORT", port}}), "PORT");
    }
  }

  TEST_CASE("the other integer settings are range-checked and named") {
    struct Row {
      std::string variable, value;
    };
    const std::vector<Row> rows = {
        {"BROKER_HTTP_THREADS", "0"},   {"BROKER_HTTP_THREADS", "many"}, {"BROKER_DB_POOL_SIZE", "0"},
        {"BROKER_DB_POOL_SIZE", "-4"},  {"TMATE_SERVER_PORT", "70000"},   {"TMATE_SERVER_PORT", "0"},
        {"CLONE_TTL", "-1"},            {"CLONE_TTL", "1h"},             {"CLONE_MAX_PER_SPACE", "-1"},
        {"CLONE_MAX_MEMORY_MB", "1G"},  {"WORKER_THREADS", "-1"},
        {"RECONCILE_INTERVAL_MS", "-1"}, {"RECONCILE_INTERVAL_MS", "5m"}, {"RECONCILE_INTERVAL_MS", "86400001"},
        {"CLONE_ORPHAN_GRACE_SECONDS", "-1"}, {"CLONE_ORPHAN_GRACE_SECONDS", "10m"},
        {"CLONE_STEP_RETRY_BUDGET_SECONDS", "0"}, {"CLONE_STEP_RETRY_BUDGET_SECONDS", "5m"},
        {"CF_REQUEST_TIMEOUT_SECONDS", "0"}, {"CF_REQUEST_TIMEOUT_SECONDS", "601"},
    };
    for (const Row& row : rows) {
      CAPTURE(row.variable);
      CAPTURE(row.value);
      CheckRejected(With(Minimal(), {{row.variable, row.value}}), row.variable);
    }
  }

  TEST_CASE("CLONE_STEP_RETRY_BUDGET_SECONDS must end before every plan's bind deadline and the unbind's") {
    auto catalog = LoadCatalog(std::string(BROKER_SOURCE_DIR) + "/catalog/catalog.json");
    REQUIRE_MESSAGE(catalog.ok(), catalog.status().ToString());
    const Config defaults = MustLoad(Minimal());
    CHECK(defaults.clone_step_retry_budget_seconds == 300);
    CHECK(defaults.cf_request_timeout_seconds == 60);
    CHECK(CheckAgainstCatalog(defaults, *catalog).ok());
    // The shipped plans allow 1800 s of polling.
    CHECK(CheckAgainstCatalog(MustLoad(With(Minimal(), {{"CLONE_STEP_RETRY_BUDGET_SECONDS", "1799"}})), *catalog).ok());
    const base::Status late =
        CheckAgainstCatalog(MustLoad(With(Minimal(), {{"CLONE_STEP_RETRY_BUDGET_SECONDS", "1800"}})), *catalog);
    REQUIRE_FALSE(late.ok());
    CAPTURE(late.message());
    CHECK(late.code() == Code::kInvalidArgument);
    CHECK(late.message().rfind("CLONE_STEP_RETRY_BUDGET_SECONDS: must be below the bind deadline of plan ", 0) == 0);
    CHECK(late.message().find("(1800 s)") != std::string::npos);
  }

  TEST_CASE("the HTTP edge's settings have defaults, are read from their variables, and are checked") {
    SUBCASE("when none is set") {
      const Config c = MustLoad(Minimal());
      CHECK(c.listen_address == "0.0.0.0");
      CHECK(c.max_header_bytes == 32768);
      CHECK(c.max_header_line_bytes == 8192);
      CHECK(c.max_body_bytes == 65536);
      CHECK(c.max_session_body_bytes == 16384);
      CHECK(c.max_connections == 4096);
      CHECK(c.http_header_timeout_ms == 10000);
      CHECK(c.http_idle_timeout_ms == 120000);
    }
    SUBCASE("when each is set") {
      const Config c = MustLoad(With(Minimal(), {{"BROKER_LISTEN_ADDRESS", "127.0.0.1"},
                                                 {"BROKER_MAX_HEADER_BYTES", "65536"},
                                                 {"BROKER_MAX_HEADER_LINE_BYTES", "16384"},
                                                 {"BROKER_MAX_BODY_BYTES", "131072"},
                                                 {"BROKER_MAX_SESSION_BODY_BYTES", "4096"},
                                                 {"BROKER_MAX_CONNECTIONS", "100"},
                                                 {"BROKER_HTTP_HEADER_TIMEOUT_MS", "2000"},
                                                 {"BROKER_HTTP_IDLE_TIMEOUT_MS", "30000"}}));
      CHECK(c.listen_address == "127.0.0.1");
      CHECK(c.max_header_bytes == 65536);
      CHECK(c.max_header_line_bytes == 16384);
      CHECK(c.max_body_bytes == 131072);
      CHECK(c.max_session_body_bytes == 4096);
      CHECK(c.max_connections == 100);
      CHECK(c.http_header_timeout_ms == 2000);
      CHECK(c.http_idle_timeout_ms == 30000);
      CHECK(MustLoad(With(Minimal(), {{"BROKER_LISTEN_ADDRESS", "::1"}})).listen_address == "::1");
      // A smaller header limit lowers the line limit's default with it.
      CHECK(MustLoad(With(Minimal(), {{"BROKER_MAX_HEADER_BYTES", "4096"}})).max_header_line_bytes == 4096);
    }
    SUBCASE("when one is out of range or malformed, the message names it") {
      struct Row {
        std::string variable, value;
      };
      const std::vector<Row> rows = {
          {"BROKER_LISTEN_ADDRESS", "localhost"},
          {"BROKER_LISTEN_ADDRESS", "0.0.0.0:80"},
          {"BROKER_LISTEN_ADDRESS", "999.1.1.1"},
          {"BROKER_MAX_HEADER_BYTES", "100"},
          {"BROKER_MAX_HEADER_BYTES", "2000000"},
          {"BROKER_MAX_HEADER_BYTES", "32k"},
          {"BROKER_MAX_HEADER_LINE_BYTES", "40000"},
          {"BROKER_MAX_HEADER_LINE_BYTES", "10"},
          {"BROKER_MAX_BODY_BYTES", "0"},
          {"BROKER_MAX_SESSION_BODY_BYTES", "-1"},
          {"BROKER_MAX_CONNECTIONS", "0"},
          {"BROKER_MAX_CONNECTIONS", "lots"},
          {"BROKER_HTTP_HEADER_TIMEOUT_MS", "0"},
          {"BROKER_HTTP_HEADER_TIMEOUT_MS", "10s"},
          {"BROKER_HTTP_IDLE_TIMEOUT_MS", "99"},
      };
      for (const Row& row : rows) {
        CAPTURE(row.variable);
        CAPTURE(row.value);
        CheckRejected(With(Minimal(), {{row.variable, row.value}}), row.variable);
      }
    }
  }

  TEST_CASE("RECONCILE_INTERVAL_MS is 0 (off) or from 100 ms to a day") {
    SUBCASE("when it is 0, the reconciler is off") {
      CHECK(MustLoad(With(Minimal(), {{"RECONCILE_INTERVAL_MS", "0"}})).reconcile_interval_ms == 0);
    }
    SUBCASE("when it is at either end of the range") {
      CHECK(MustLoad(With(Minimal(), {{"RECONCILE_INTERVAL_MS", "100"}})).reconcile_interval_ms == 100);
      CHECK(MustLoad(With(Minimal(), {{"RECONCILE_INTERVAL_MS", "86400000"}})).reconcile_interval_ms == 86400000);
    }
    SUBCASE("when it is between 0 and 100, it is named with the range") {
      for (const std::string v : {"1", "99"}) {
        CAPTURE(v);
        const auto r = LoadConfig(FromMap(With(Minimal(), {{"RECONCILE_INTERVAL_MS", v}})));
        REQUIRE_FALSE(r.ok());
        CHECK(r.status().message().rfind("RECONCILE_INTERVAL_MS: ", 0) == 0);
        CHECK(r.status().message().find("100 to 86400000") != std::string::npos);
      }
    }
    SUBCASE("when CLONE_ORPHAN_GRACE_SECONDS is 0, every orphan is deleted at once") {
      CHECK(MustLoad(With(Minimal(), {{"CLONE_ORPHAN_GRACE_SECONDS", "0"}})).clone_orphan_grace_seconds == 0);
    }
  }

  // cloud_controller_ng app/messages/metadata_validator_helper.rb (DomainDecorator::DOMAIN_REGEX).
  TEST_CASE("CLONE_METADATA_PREFIX is a dotted DNS name that Cloud Controller accepts as a key prefix") {
    SUBCASE("when unset, the documented default is valid") {
      const Config c = MustLoad(Minimal());
      CHECK(c.clone_metadata_prefix == "ssh-access.broker");
      CHECK(clone::MetadataPrefixError(c.clone_metadata_prefix).empty());
    }
    SUBCASE("when set to a valid prefix, it is used") {
      CHECK(MustLoad(With(Minimal(), {{"CLONE_METADATA_PREFIX", "ssh.example.com"}})).clone_metadata_prefix ==
            "ssh.example.com");
    }
    SUBCASE("when CC would refuse it, startup fails naming the variable and CC's rule") {
      for (const std::string v : {"ssh-access", "-a.b", "a_b.c", "a..b", "cloudfoundry.org", "ssh/access.io"}) {
        CAPTURE(v);
        const auto r = LoadConfig(FromMap(With(Minimal(), {{"CLONE_METADATA_PREFIX", v}})));
        REQUIRE_FALSE(r.ok());
        CHECK(r.status().message().rfind("CLONE_METADATA_PREFIX: prefix '", 0) == 0);
      }
      const auto r = LoadConfig(FromMap(With(Minimal(), {{"CLONE_METADATA_PREFIX", "ssh-access"}})));
      CHECK(r.status().message().find("prefix 'ssh-access' must be in valid dns format") != std::string::npos);
    }
  }

  TEST_CASE("BROKER_ENCRYPTION_KEY must be base64 of 32 bytes, and the message never shows the key") {
    CHECK(MustLoad(With(Minimal(), {{"BROKER_ENCRYPTION_KEY", kKeyB}})).encryption_keys == kKeyB);
    for (const std::string& key : {std::string("not base64 at all!"), std::string(kKey31), std::string(kKey33),
                                  std::string("c2hvcnQ="), std::string(kKeyA) + "!"}) {
      CAPTURE(key);
      CheckRejected(With(Minimal(), {{"BROKER_ENCRYPTION_KEY", key}}), "BROKER_ENCRYPTION_KEY", {key});
    }
  }

  TEST_CASE("BROKER_ENCRYPTION_KEYS takes a list of id:key entries and wins over BROKER_ENCRYPTION_KEY") {
    SUBCASE("when one entry is given") {
      const std::string keys = std::string("k1:") + kKeyA;
      CHECK(MustLoad(With(Minimal(), {{"BROKER_ENCRYPTION_KEYS", keys}})).encryption_keys == keys);
    }
    SUBCASE("when several entries are given") {
      const std::string keys = std::string("2026-01:") + kKeyB + ",2025-06:" + kKeyA;
      CHECK(MustLoad(With(Minimal(), {{"BROKER_ENCRYPTION_KEYS", keys}})).encryption_keys == keys);
    }
    SUBCASE("when only the list is set") {
      const std::string keys = std::string("k1:") + kKeyA;
      CHECK(MustLoad(With(Without(Minimal(), {"BROKER_ENCRYPTION_KEY"}), {{"BROKER_ENCRYPTION_KEYS", keys}}))
                .encryption_keys == keys);
    }
    SUBCASE("when an entry is malformed") {
      const std::vector<std::string> bad = {
          kKeyA,                                          // no id
          std::string(":") + kKeyA,                       // empty id
          std::string("k1:") + kKey31,                    // 31 bytes
          std::string("k1:not-base64!"),                  // not base64
          std::string("k1:") + kKeyA + ",k2:" + kKey33,  // second entry bad
          std::string("k1:") + kKeyA + ",,k2:" + kKeyB,  // empty entry
          std::string("k1:"),                             // no key
          std::string(","),
      };
      for (const std::string& keys : bad) {
        CAPTURE(keys);
        CheckRejected(With(Minimal(), {{"BROKER_ENCRYPTION_KEYS", keys}}), "BROKER_ENCRYPTION_KEYS",
                      {kKeyA, kKeyB, kKey31, kKey33});
      }
    }
  }

  TEST_CASE("broker credentials come from SECURITY_* and/or BROKER_* pairs") {
    SUBCASE("when only the BROKER_* pair is set") {
      const Config c = MustLoad(With(Without(Minimal(), {"SECURITY_USER_NAME", "SECURITY_USER_PASSWORD"}),
                                     {{"BROKER_USERNAME", "osb"}, {"BROKER_PASSWORD", "osb-pa55"}}));
      REQUIRE(c.credentials.size() == 1);
      CHECK(c.credentials[0].username == "osb");
      CHECK(c.credentials[0].password == "osb-pa55");
    }
    SUBCASE("when both pairs are set, both are accepted") {
      const Config c = MustLoad(With(Minimal(), {{"BROKER_USERNAME", "osb"}, {"BROKER_PASSWORD", "osb-pa55"}}));
      REQUIRE(c.credentials.size() == 2);
      CHECK(c.credentials[0].username == "broker");
      CHECK(c.credentials[1].username == "osb");
    }
    SUBCASE("when half a pair is set, the missing half is named and no password is shown") {
      CheckRejected(With(Minimal(), {{"BROKER_USERNAME", "osb"}}), "BROKER_PASSWORD", {"broker-pa55"});
      CheckRejected(With(Minimal(), {{"BROKER_PASSWORD", "osb-pa55"}}), "BROKER_USERNAME", {"osb-pa55", "broker-pa55"});
      CheckRejected(Without(Minimal(), {"SECURITY_USER_PASSWORD"}), "SECURITY_USER_PASSWORD");
      CheckRejected(Without(Minimal(), {"SECURITY_USER_NAME"}), "SECURITY_USER_NAME", {"broker-pa55"});
    }
    SUBCASE("when a user name contains ':' (it cannot pass basic auth)") {
      CheckRejected(With(Minimal(), {{"SECURITY_USER_NAME", "bro:ker"}}), "SECURITY_USER_NAME", {"broker-pa55"});
    }
  }

  TEST_CASE("DATABASE_URL wins over VCAP_SERVICES, which supplies the first postgres URI") {
    const std::string vcap = R"({
      "p.redis": [{"name": "cache", "credentials": {"uri": "redis://:r3dis@redis.example.com:6379"}}],
      "postgres": [{"name": "db1", "credentials": {"uri": "postgres://u1:p1@pg1.example.com/db1"}},
                   {"name": "db2", "credentials": {"uri": "postgres://u2:p2@pg2.example.com/db2"}}]
    })";
    SUBCASE("when both are set") {
      const Config c = MustLoad(With(Minimal(), {{"VCAP_SERVICES", vcap}}));
      CHECK(c.database_url == "postgres://broker:db-pa55@db.example.com:5432/broker");
      CHECK(c.database_url_source == "DATABASE_URL");
    }
    SUBCASE("when only VCAP_SERVICES is set") {
      const Config c = MustLoad(With(Without(Minimal(), {"DATABASE_URL"}), {{"VCAP_SERVICES", vcap}}));
      CHECK(c.database_url == "postgres://u1:p1@pg1.example.com/db1");
      CHECK(c.database_url_source == "VCAP_SERVICES");
    }
    SUBCASE("when VCAP_SERVICES is not JSON, it is named and its content is not shown") {
      CheckRejected(With(Without(Minimal(), {"DATABASE_URL"}),
                         {{"VCAP_SERVICES", R"({"postgres":[{"credentials":{"uri":"postgres://u:hunter2@h/db"})"}}),
                    "VCAP_SERVICES", {"hunter2"});
    }
    SUBCASE("when VCAP_SERVICES has no postgres service, DATABASE_URL is named") {
      CheckRejected(With(Without(Minimal(), {"DATABASE_URL"}),
                         {{"VCAP_SERVICES", R"({"p.redis":[{"credentials":{"uri":"redis://h"}}]})"}}),
                    "DATABASE_URL");
    }
    SUBCASE("when DATABASE_URL is not a postgres URI, it is named without its password") {
      CheckRejected(With(Minimal(), {{"DATABASE_URL", "mysql://broker:db-pa55@db.example.com/broker"}}),
                    "DATABASE_URL", {"db-pa55"});
    }
    SUBCASE("when DATABASE_URL uses the postgresql:// scheme") {
      CHECK(MustLoad(With(Minimal(), {{"DATABASE_URL", "postgresql://u:p@h/db"}})).database_url ==
            "postgresql://u:p@h/db");
    }
  }

  TEST_CASE("the public URL comes from BROKER_PUBLIC_URL, else from VCAP_APPLICATION") {
    const std::string vcap_app =
        R"({"application_id":"a","application_uris":["ssh-broker.apps.example.com","alt.example.com"]})";
    SUBCASE("when only VCAP_APPLICATION is set, the first uri is used over https") {
      CHECK(MustLoad(With(Minimal(), {{"VCAP_APPLICATION", vcap_app}})).public_url ==
            "https://ssh-broker.apps.example.com");
    }
    SUBCASE("when BROKER_PUBLIC_URL ends in '/', the '/'s are dropped") {
      CHECK(MustLoad(With(Minimal(), {{"BROKER_PUBLIC_URL", "https://b.example.com/"}})).public_url ==
            "https://b.example.com");
      CHECK(MustLoad(With(Minimal(), {{"BROKER_PUBLIC_URL", "https://apps.example.com/broker//"}})).public_url ==
            "https://apps.example.com/broker");
      CHECK(MustLoad(With(Minimal(), {{"BROKER_PUBLIC_URL", "http://127.0.0.1:8080"}})).public_url ==
            "http://127.0.0.1:8080");
    }
    SUBCASE("when both are set, BROKER_PUBLIC_URL wins") {
      CHECK(MustLoad(With(Minimal(), {{"VCAP_APPLICATION", vcap_app}, {"BROKER_PUBLIC_URL", "http://localhost:8080"}}))
                .public_url == "http://localhost:8080");
    }
    SUBCASE("when VCAP_APPLICATION has no uris") {
      CHECK(MustLoad(With(Minimal(), {{"VCAP_APPLICATION", R"({"application_uris":[]})"}})).public_url.empty());
      CHECK(MustLoad(With(Minimal(), {{"VCAP_APPLICATION", R"({"name":"x"})"}})).public_url.empty());
    }
    SUBCASE("when VCAP_APPLICATION is not JSON") {
      CheckRejected(With(Minimal(), {{"VCAP_APPLICATION", "{not json"}}), "VCAP_APPLICATION");
    }
    SUBCASE("when BROKER_PUBLIC_URL is not an http(s) URL") {
      for (const std::string url : {"ftp://broker.example.com", "broker.example.com", "https:/x"}) {
        CAPTURE(url);
        CheckRejected(With(Minimal(), {{"BROKER_PUBLIC_URL", url}}), "BROKER_PUBLIC_URL");
      }
    }
  }

  TEST_CASE("Cloud Controller settings come in pairs and are checked") {
    SUBCASE("when both halves of a pair are set") {
      const Config c =
          MustLoad(With(Minimal(), {{"CF_ADMIN_USER", "admin"}, {"CF_ADMIN_PASSWORD", "adm1n-pa55"}}));
      CHECK(c.cf_admin_user == "admin");
      CHECK(c.cf_admin_password == "adm1n-pa55");
    }
    SUBCASE("when half a pair is set, the missing half is named and no secret is shown") {
      CheckRejected(With(Minimal(), {{"CF_CLIENT_ID", "ssh-access"}}), "CF_CLIENT_SECRET");
      CheckRejected(With(Minimal(), {{"CF_CLIENT_SECRET", "client-s3cr3t"}}), "CF_CLIENT_ID", {"client-s3cr3t"});
      CheckRejected(With(Minimal(), {{"CF_ADMIN_USER", "admin"}}), "CF_ADMIN_PASSWORD");
      CheckRejected(With(Minimal(), {{"CF_ADMIN_PASSWORD", "adm1n-pa55"}}), "CF_ADMIN_USER", {"adm1n-pa55"});
    }
    SUBCASE("when CF_API_URL comes without credentials") {
      CheckRejected(With(Minimal(), {{"CF_API_URL", "https://api.example.com"}, {"BROKER_PUBLIC_URL", "https://b.example.com"}}),
                    "CF_CLIENT_ID");
    }
    SUBCASE("when CF_API_URL comes without a public URL for the clones") {
      CheckRejected(With(Minimal(), {{"CF_API_URL", "https://api.example.com"}, {"CF_ADMIN_USER", "admin"},
                                     {"CF_ADMIN_PASSWORD", "pw"}}),
                    "BROKER_PUBLIC_URL");
    }
    SUBCASE("when CF_API_URL comes without the tmate server, or with a malformed one") {
      const auto engine = With(Minimal(), {{"CF_API_URL", "https://api.example.com"},
                                           {"CF_ADMIN_USER", "admin"},
                                           {"CF_ADMIN_PASSWORD", "pw"},
                                           {"BROKER_PUBLIC_URL", "https://b.example.com"}});
      CheckRejected(engine, "TMATE_SERVER_HOST");
      CheckRejected(With(engine, {{"TMATE_SERVER_HOST", "tmate.example.com"}}), "TMATE_SERVER_ED25519_FINGERPRINT");
      const auto with_server = With(engine, {{"TMATE_SERVER_HOST", "tmate.example.com"},
                                             {"TMATE_SERVER_ED25519_FINGERPRINT", "SHA256:abcDEF012+/xyz"}});
      CHECK(MustLoad(with_server).tmate_server_host == "tmate.example.com");
      CheckRejected(With(with_server, {{"TMATE_SERVER_HOST", "tmate example.com"}}), "TMATE_SERVER_HOST");
      CheckRejected(With(with_server, {{"TMATE_SERVER_ED25519_FINGERPRINT", "MD5:ab:cd"}}),
                    "TMATE_SERVER_ED25519_FINGERPRINT");
      CheckRejected(With(with_server, {{"TMATE_SERVER_RSA_FINGERPRINT", "SHA256:x'y"}}), "TMATE_SERVER_RSA_FINGERPRINT");
    }
    SUBCASE("each malformed tmate setting names its own variable, whatever the others hold") {
      // The variable comes from session::ValidateTmateConfig's field, never from the message's
      // words (a fingerprint message that said "host key" once would have named TMATE_SERVER_HOST).
      // A bad port is refused earlier, by the integer parse, which names it too.
      const auto engine = With(Minimal(), {{"CF_API_URL", "https://api.example.com"},
                                           {"CF_ADMIN_USER", "admin"},
                                           {"CF_ADMIN_PASSWORD", "pw"},
                                           {"BROKER_PUBLIC_URL", "https://b.example.com"},
                                           {"TMATE_SERVER_HOST", "rsa.example.com"},
                                           {"TMATE_SERVER_ED25519_FINGERPRINT", "SHA256:abcDEF012+/xyz"},
                                           {"TMATE_SERVER_RSA_FINGERPRINT", "SHA256:rsaDEF012+/xyz"}});
      CHECK(MustLoad(engine).tmate_rsa_fingerprint == "SHA256:rsaDEF012+/xyz");
      struct Row {
        std::string variable, value, message;
      };
      const std::string fingerprint = " fingerprint must look like SHA256:<base64> (ssh-keygen -l -E SHA256)";
      const std::string bad_host = "the tmate server host must be a DNS name or an IPv4 address";
      const std::vector<Row> rows = {
          {"TMATE_SERVER_HOST", "ed25519 rsa host", "TMATE_SERVER_HOST: " + bad_host},
          {"TMATE_SERVER_HOST", "-oProxyCommand=id", "TMATE_SERVER_HOST: " + bad_host},
          {"TMATE_SERVER_PORT", "0", "TMATE_SERVER_PORT: must be an integer from 1 to 65535 (got \"0\")"},
          {"TMATE_SERVER_ED25519_FINGERPRINT", "rsa-host",
           "TMATE_SERVER_ED25519_FINGERPRINT: the tmate server ed25519" + fingerprint},
          {"TMATE_SERVER_RSA_FINGERPRINT", "ed25519-host",
           "TMATE_SERVER_RSA_FINGERPRINT: the tmate server rsa" + fingerprint},
      };
      for (const auto& row : rows) {
        CAPTURE(row.value);
        CheckRejected(With(engine, {{row.variable, row.value}}), row.variable);
        const auto c = LoadConfig(FromMap(With(engine, {{row.variable, row.value}})));
        REQUIRE_FALSE(c.ok());
        CHECK(c.status().message() == row.message);
      }
    }
    SUBCASE("an operator's own tmate bundle needs its URL and SHA-256") {
      const std::string sha(64, 'a');
      const Config c = MustLoad(With(Minimal(), {{"TMATE_BUNDLE_URL", "https://assets.example.com/tmate.tgz"},
                                                 {"TMATE_BUNDLE_SHA256", sha}}));
      CHECK(c.tmate_bundle_url == "https://assets.example.com/tmate.tgz");
      CHECK(c.tmate_bundle_sha256 == sha);
      CheckRejected(With(Minimal(), {{"TMATE_BUNDLE_URL", "https://assets.example.com/tmate.tgz"}}),
                    "TMATE_BUNDLE_SHA256");
      CheckRejected(With(Minimal(), {{"TMATE_BUNDLE_SHA256", sha}}), "TMATE_BUNDLE_URL");
      CheckRejected(With(Minimal(), {{"TMATE_BUNDLE_URL", "ftp://x/t.tgz"}, {"TMATE_BUNDLE_SHA256", sha}}),
                    "TMATE_BUNDLE_URL");
      CheckRejected(With(Minimal(), {{"TMATE_BUNDLE_URL", "https://x/t.tgz"}, {"TMATE_BUNDLE_SHA256", "ABC"}}),
                    "TMATE_BUNDLE_SHA256");
    }
    SUBCASE("when WORKER_LEASE_MS is too short") {
      CheckRejected(With(Minimal(), {{"WORKER_LEASE_MS", "10"}}), "WORKER_LEASE_MS");
    }
    SUBCASE("when CF_API_URL is not an http(s) URL") {
      CheckRejected(With(Minimal(), {{"CF_API_URL", "api.sys.example.com"}}), "CF_API_URL");
    }
    SUBCASE("when CF_SKIP_SSL_VALIDATION is a boolean word") {
      for (const auto& [text, want] : std::vector<std::pair<std::string, bool>>{
               {"true", true}, {"1", true}, {"false", false}, {"0", false}, {"", false}}) {
        CAPTURE(text);
        CHECK(MustLoad(With(Minimal(), {{"CF_SKIP_SSL_VALIDATION", text}})).cf_skip_ssl_validation == want);
      }
    }
    SUBCASE("when CF_SKIP_SSL_VALIDATION is something else") {
      CheckRejected(With(Minimal(), {{"CF_SKIP_SSL_VALIDATION", "yes"}}), "CF_SKIP_SSL_VALIDATION");
    }
  }

  TEST_CASE("LOG_LEVEL accepts the documented names only") {
    for (const std::string level : {"trace", "debug", "info", "warn", "error"}) {
      CAPTURE(level);
      CHECK(MustLoad(With(Minimal(), {{"LOG_LEVEL", level}})).log_level == level);
    }
    for (const std::string level : {"verbose", "warning", "INFO", "critical", " info"}) {
      CAPTURE(level);
      CheckRejected(With(Minimal(), {{"LOG_LEVEL", level}}), "LOG_LEVEL");
    }
  }

  TEST_CASE("ProcessEnvironment reads the process environment") {
    const Getenv getenv = ProcessEnvironment();
    CHECK_FALSE(getenv("BROKER_UNIT_TEST_SURELY_UNSET_" + base::RandomHex(8)).has_value());
  }
}

TEST_SUITE("config::Config") {
  TEST_CASE("the first postgres:// or postgresql:// credentials uri is returned") {
    struct Row {
      std::string name;
      std::string vcap;
      std::optional<std::string> want;
    };
    const std::vector<Row> rows = {
        {"empty object", "{}", std::nullopt},
        {"one postgres service", R"({"postgres":[{"credentials":{"uri":"postgres://u:p@h/db"}}]})",
         "postgres://u:p@h/db"},
        {"postgresql scheme", R"({"elephantsql":[{"credentials":{"uri":"postgresql://u:p@h/db"}}]})",
         "postgresql://u:p@h/db"},
        {"url when uri is absent", R"({"user-provided":[{"credentials":{"url":"postgres://u:p@h/db"}}]})",
         "postgres://u:p@h/db"},
        {"first of two in one offering",
         R"({"postgres":[{"credentials":{"uri":"postgres://a@h/1"}},{"credentials":{"uri":"postgres://b@h/2"}}]})",
         "postgres://a@h/1"},
        {"non-postgres services skipped",
         R"({"p.redis":[{"credentials":{"uri":"redis://h:6379"}}],"p.mysql":[{"credentials":{"uri":"mysql://u@h/db"}}],)"
         R"("postgres":[{"credentials":{"uri":"postgres://u@h/db"}}]})",
         "postgres://u@h/db"},
        {"only non-postgres services", R"({"p.redis":[{"credentials":{"uri":"redis://h:6379"}}]})", std::nullopt},
        {"service without credentials", R"({"postgres":[{"name":"db"}]})", std::nullopt},
        {"uri not a string", R"({"postgres":[{"credentials":{"uri":5}}]})", std::nullopt},
        {"offering not an array", R"({"postgres":{"credentials":{"uri":"postgres://u@h/db"}}})", std::nullopt},
    };
    for (const Row& row : rows) {
      CAPTURE(row.name);
      auto got = PostgresUriFromVcapServices(row.vcap);
      REQUIRE_MESSAGE(got.ok(), got.status().ToString());
      CHECK(*got == row.want);
    }
  }

  TEST_CASE("text that is not JSON is kInvalidArgument naming VCAP_SERVICES") {
    for (const std::string text : {"", "{", "not json", R"({"postgres":[})"}) {
      CAPTURE(text);
      auto got = PostgresUriFromVcapServices(text);
      REQUIRE_FALSE(got.ok());
      CHECK(got.status().code() == Code::kInvalidArgument);
      CHECK(got.status().message().find("VCAP_SERVICES") != std::string::npos);
    }
  }
}

TEST_SUITE("config::Config") {
  // A file under the system temp directory that is removed when the test ends.
  class TempFile {
   public:
    explicit TempFile(const std::string& content)
        : path_((std::filesystem::temp_directory_path() / ("catalog_test_" + base::RandomHex(8) + ".json")).string()) {
      std::ofstream out(path_, std::ios::binary);
      out << content;
    }
    ~TempFile() { std::remove(path_.c_str()); }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    const std::string& path() const { return path_; }

   private:
    std::string path_;
  };

  TEST_CASE("the repository's catalog file loads") {
    auto catalog = LoadCatalog(std::string(BROKER_SOURCE_DIR) + "/catalog/catalog.json");
    REQUIRE_MESSAGE(catalog.ok(), catalog.status().ToString());
    CHECK(catalog->services().size() == 1);
  }

  TEST_CASE("a missing file is kNotFound") {
    const std::string path = "/nonexistent/dir/catalog_" + base::RandomHex(8) + ".json";
    auto catalog = LoadCatalog(path);
    REQUIRE_FALSE(catalog.ok());
    CHECK(catalog.status().code() == Code::kNotFound);
    CHECK(catalog.status().message().find(path) != std::string::npos);
  }

  TEST_CASE("a path that cannot be read as a file (a directory) is kNotFound") {
    const std::string dir = std::filesystem::temp_directory_path().string();
    auto catalog = LoadCatalog(dir);
    REQUIRE_FALSE(catalog.ok());
    CAPTURE(catalog.status().ToString());
    CHECK(catalog.status().code() == Code::kNotFound);
  }

  TEST_CASE("a broken file is kInvalidArgument naming the file and the field") {
    SUBCASE("when the file is not JSON") {
      const TempFile file("{\"services\": [");
      auto catalog = LoadCatalog(file.path());
      REQUIRE_FALSE(catalog.ok());
      CHECK(catalog.status().code() == Code::kInvalidArgument);
      CHECK(catalog.status().message().find(file.path()) != std::string::npos);
    }
    SUBCASE("when a field is wrong") {
      const TempFile file(R"({"services":[{"id":"s","name":"n","description":"d","bindable":"yes","plans":[]}]})");
      auto catalog = LoadCatalog(file.path());
      REQUIRE_FALSE(catalog.ok());
      CHECK(catalog.status().code() == Code::kInvalidArgument);
      const std::string msg = catalog.status().message();
      CAPTURE(msg);
      CHECK(msg.find(file.path()) != std::string::npos);
      CHECK(msg.find("services[0].bindable") != std::string::npos);
    }
    SUBCASE("when the file is empty") {
      const TempFile file("");
      auto catalog = LoadCatalog(file.path());
      REQUIRE_FALSE(catalog.ok());
      CHECK(catalog.status().code() == Code::kInvalidArgument);
      CHECK(catalog.status().message().find(file.path()) != std::string::npos);
    }
  }
}

}  // namespace
}  // namespace broker::config
