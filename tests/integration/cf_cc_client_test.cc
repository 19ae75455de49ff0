// cf::CcClient, the real libcurl Cloud Controller client, against the fake Cloud Controller (+ UAA
// + log-cache) over HTTP (cloud-controller.md §6): discovery, both UAA grants, token caching and
// refresh, 401/429/503 handling, pagination, the Location host check, every port method's happy
// path and documented errors, transport failures, and that nothing secret reaches the log.
//
// Every test runs with the "cf" logger captured at debug level; the fixture's destructor checks
// that no token, client secret, password or Authorization value appears in any captured line.
#include "broker/cf/cc_client.h"

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <spdlog/sinks/base_sink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "broker/base/clock.h"
#include "broker/base/encoding.h"
#include "broker/base/log.h"
#include "tests/support/fake_cloud_controller.h"
#include "tests/support/temp_dir.h"

namespace broker::cf {
namespace {

using Fake = testing::FakeCloudController;
using std::chrono::milliseconds;

constexpr char kClientId[] = "ssh-access-test-client";
constexpr char kClientSecret[] = "s3cr3t-Client-Zq9";
constexpr char kUser[] = "broker-operator";
constexpr char kPassword[] = "pa55-Word-Xy7";
constexpr char kLabelKey[] = "ssh-access.example.com/binding-guid";

// Collects the formatted lines of one logger.
class CaptureSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::vector<std::string> Lines() {
    std::lock_guard<std::mutex> lock(mutex_);
    return lines_;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    lines_.emplace_back(formatted.data(), formatted.size());
  }
  void flush_() override {}

 private:
  std::vector<std::string> lines_;
};

// Routes the "cf" logger to a CaptureSink at debug level while alive (and not to stdout).
class LogCapture {
 public:
  LogCapture() : logger_(base::Logger("cf")), sink_(std::make_shared<CaptureSink>()) {
    saved_sinks_ = logger_->sinks();
    saved_level_ = logger_->level();
    sink_->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %n %v");  // base::Logger's pattern
    logger_->sinks() = {sink_};
    logger_->set_level(spdlog::level::debug);
  }
  ~LogCapture() {
    logger_->sinks() = saved_sinks_;
    logger_->set_level(saved_level_);
  }
  std::vector<std::string> Lines() const { return sink_->Lines(); }
  bool Contains(const std::string& needle) const {
    for (const std::string& line : Lines()) {
      if (line.find(needle) != std::string::npos) return true;
    }
    return false;
  }

 private:
  std::shared_ptr<spdlog::logger> logger_;
  std::shared_ptr<CaptureSink> sink_;
  std::vector<spdlog::sink_ptr> saved_sinks_;
  spdlog::level::level_enum saved_level_;
};

class TestClock : public base::Clock {
 public:
  base::TimePoint Now() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return now_;
  }
  void Advance(std::chrono::seconds d) {
    std::lock_guard<std::mutex> lock(mu_);
    now_ += d;
  }

 private:
  mutable std::mutex mu_;
  base::TimePoint now_ = std::chrono::system_clock::now();
};

// A started fake with the demo foundation, a client_credentials client and a password user.
struct Env {
  LogCapture logs;
  Fake fake;
  Fake::DemoFoundation demo;
  std::mutex waits_mu;
  std::vector<milliseconds> waits;  // retry sleeps the HttpClient asked for (not slept)

  Env() {
    demo = fake.SeedDemoFoundation();
    fake.AddUaaClient({kClientId, kClientSecret, {"client_credentials"}, {"cloud_controller.admin"}});
    fake.AddUaaUser(kUser, kPassword, {"cloud_controller.admin", "openid"});
    fake.Start();
  }

  // After every test: nothing secret in any captured line, at any level.
  ~Env() {
    std::set<std::string> secrets = {kClientSecret, kPassword, demo.client_secret};
    for (const Fake::JournalEntry& e : fake.Journal()) {
      if (!e.authorization.empty()) {
        secrets.insert(e.authorization);
        const std::size_t space = e.authorization.find(' ');
        if (space != std::string::npos) secrets.insert(e.authorization.substr(space + 1));
      }
      const auto rt = e.query_params.find("refresh_token");
      if (rt != e.query_params.end()) secrets.insert(rt->second);
      std::smatch m;
      if (std::regex_search(e.body, m, std::regex("refresh_token=([^&]+)"))) secrets.insert(m[1]);
    }
    static const std::regex kTokenShape(R"((^|[^a-z])(tok|rt)-[0-9]+)");
    for (const std::string& line : logs.Lines()) {
      CAPTURE(line);
      for (const std::string& secret : secrets) {
        if (secret.size() >= 4) CHECK(line.find(secret) == std::string::npos);
      }
      CHECK_FALSE(std::regex_search(line, kTokenShape));
      CHECK(line.find("bearer") == std::string::npos);
      CHECK(line.find("Basic ") == std::string::npos);
    }
  }

  CcClientOptions Options() {
    CcClientOptions o;
    o.api_url = fake.base_url();
    o.credentials.client_id = kClientId;
    o.credentials.client_secret = kClientSecret;
    o.http.request_timeout = milliseconds(10'000);
    o.http.sleep_for = [this](milliseconds d) {
      std::lock_guard<std::mutex> lock(waits_mu);
      waits.push_back(d);
    };
    return o;
  }
  CcClientOptions PasswordOptions() {
    CcClientOptions o = Options();
    o.credentials = {};
    o.credentials.username = kUser;
    o.credentials.password = kPassword;
    return o;
  }
  std::vector<milliseconds> Waits() {
    std::lock_guard<std::mutex> lock(waits_mu);
    return waits;
  }
  std::size_t Count(const std::string& method, const std::string& route) { return fake.Calls(method, route).size(); }
  std::vector<std::string> TokenGrants() {
    std::vector<std::string> grants;
    for (const auto& e : fake.Calls("POST", "/oauth/token")) {
      std::smatch m;
      grants.push_back(std::regex_search(e.body, m, std::regex("grant_type=([a-z_]+)")) ? std::string(m[1]) : "?");
    }
    return grants;
  }
};

template <typename F>
auto PollUntil(F get, const std::set<std::string>& terminal, int max_polls = 20) {
  auto r = get();
  for (int i = 0; i < max_polls && r.ok() && !terminal.count(r->state); ++i) r = get();
  return r;
}


// ---- TLS material --------------------------------------------------------------------------------

// A self-signed certificate (its own CA) for `san` ("IP:127.0.0.1" or "DNS:localhost") with a fresh
// P-256 key, written as PEM files into a private temporary directory removed on destruction.
class SelfSignedCert {
 public:
  explicit SelfSignedCert(const std::string& san) {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    REQUIRE(key != nullptr);
    X509* cert = X509_new();
    REQUIRE(cert != nullptr);
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), static_cast<long>(++serial_));
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600);
    X509_set_pubkey(cert, key);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("fake-cc test"), -1, -1, 0);
    X509_set_issuer_name(cert, name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
    for (const auto& [nid, value] : std::vector<std::pair<int, std::string>>{
             {NID_basic_constraints, "critical,CA:TRUE"}, {NID_subject_alt_name, san}}) {
      X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
      REQUIRE(ext != nullptr);
      X509_add_ext(cert, ext, -1);
      X509_EXTENSION_free(ext);
    }
    REQUIRE(X509_sign(cert, key, EVP_sha256()) > 0);
    cert_file_ = (dir_.path() / "cert.pem").string();
    key_file_ = (dir_.path() / "key.pem").string();
    FILE* f = std::fopen(cert_file_.c_str(), "w");
    REQUIRE(f != nullptr);
    PEM_write_X509(f, cert);
    std::fclose(f);
    f = std::fopen(key_file_.c_str(), "w");
    REQUIRE(f != nullptr);
    PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
    X509_free(cert);
    EVP_PKEY_free(key);
    std::ifstream in(cert_file_);
    pem_.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const std::string& cert_file() const { return cert_file_; }
  const std::string& key_file() const { return key_file_; }
  const std::string& pem() const { return pem_; }

 private:
  static inline std::atomic<int> serial_{0};
  testing::TempDir dir_{"cf-tls"};
  std::string cert_file_, key_file_, pem_;
};

// A fake serving HTTPS with `cert`, seeded like Env's, for a client with `tls` options.
struct TlsEnv {
  Fake fake;
  Fake::DemoFoundation demo;
  explicit TlsEnv(const SelfSignedCert& cert) {
    demo = fake.SeedDemoFoundation();
    fake.StartTls(cert.cert_file(), cert.key_file());
  }
  CcClientOptions Options() const {
    CcClientOptions o;
    o.api_url = fake.base_url();
    o.credentials.client_id = demo.client_id;
    o.credentials.client_secret = demo.client_secret;
    o.http.request_timeout = milliseconds(10'000);
    return o;
  }
};

TEST_SUITE("cf::CcClient") {
  TEST_CASE("discovery reads the API root once and uses its login and log_cache links") {
    Env env;
    CcClient cc(env.Options());
    for (int i = 0; i < 3; ++i) REQUIRE(cc.GetApp(env.demo.app_guid).ok());
    const auto logs = cc.RecentLogs(env.demo.app_guid, 10);
    REQUIRE(logs.ok());
    CHECK(env.Count("GET", "/") == 1);
    CHECK(env.Count("GET", "/api/v1/read/:source_id") == 1);
    CHECK(env.Count("POST", "/oauth/token") == 1);
  }

  TEST_CASE("client_credentials: HTTP Basic with the client, one token shared by many calls on many threads") {
    Env env;
    CcClient cc(env.Options());
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < 5; ++i) {
          if (!cc.GetApp(env.demo.app_guid).ok()) ++failures;
        }
      });
    }
    for (auto& t : threads) t.join();
    CHECK(failures == 0);
    const auto token_calls = env.fake.Calls("POST", "/oauth/token");
    REQUIRE(token_calls.size() == 1);
    CHECK(token_calls[0].authorization ==
          "Basic " + base::Base64Encode(std::string(kClientId) + ":" + kClientSecret));
    CHECK(token_calls[0].body == "grant_type=client_credentials");
    const auto app_calls = env.fake.Calls("GET", "/v3/apps/:guid");
    CHECK(app_calls.size() == 40);
    std::set<std::string> auths;
    for (const auto& e : app_calls) auths.insert(e.authorization);
    CHECK(auths.size() == 1);
    CHECK(auths.begin()->rfind("bearer tok-", 0) == 0);
  }

  TEST_CASE("password grant: the cf client with an empty secret, and the token is reused") {
    Env env;
    CcClient cc(env.PasswordOptions());
    REQUIRE(cc.GetApp(env.demo.app_guid).ok());
    REQUIRE(cc.GetWebProcess(env.demo.app_guid).ok());
    const auto token_calls = env.fake.Calls("POST", "/oauth/token");
    REQUIRE(token_calls.size() == 1);
    CHECK(token_calls[0].authorization == "Basic " + base::Base64Encode("cf:"));
    CHECK(token_calls[0].body == std::string("grant_type=password&username=") + kUser + "&password=" + kPassword);
  }

  TEST_CASE("a 401 for an expired token causes one token fetch and one retry") {
    Env env;
    CcClient cc(env.Options());
    REQUIRE(cc.GetApp(env.demo.app_guid).ok());
    env.fake.AddFault({Fake::Fault::Kind::kExpiredToken, "GET", "/v3/apps/:guid", 1, 1});  // the next call
    const auto app = cc.GetApp(env.demo.app_guid);
    REQUIRE(app.ok());
    CHECK(app->name == "spring-music");
    const auto calls = env.fake.Calls("GET", "/v3/apps/:guid");
    REQUIRE(calls.size() == 3);
    CHECK(calls[1].status == 401);
    CHECK(calls[2].status == 200);
    CHECK(calls[1].authorization != calls[2].authorization);
    CHECK(env.TokenGrants() == std::vector<std::string>{"client_credentials", "client_credentials"});
  }

  TEST_CASE("a 401 that a fresh token does not cure is kUnauthenticated after exactly one retry") {
    Env env;
    CcClient cc(env.Options());
    env.fake.AddFault({Fake::Fault::Kind::kExpiredToken, "GET", "/v3/apps/:guid", 1, 0});
    const auto app = cc.GetApp(env.demo.app_guid);
    REQUIRE_FALSE(app.ok());
    CHECK(app.status().code() == base::Code::kUnauthenticated);
    CHECK(app.status().reason() == "CF-InvalidAuthToken");
    CHECK(env.Count("GET", "/v3/apps/:guid") == 2);
    CHECK(env.Count("POST", "/oauth/token") == 2);
  }

  // CC renders links.self.href and every Location from its configured external URL
  // (app/controllers/runtime/root_controller.rb, lib/cloud_controller/url_helpers or presenters).
  TEST_CASE("a CF_API_URL that is not the URL CC calls itself fails every call, at the first token and at each refresh") {
    Env env;
    TestClock clock;
    CcClient cc(env.PasswordOptions(), &clock);
    REQUIRE(cc.GetApp(env.demo.app_guid).ok());
    CHECK(cc.CheckApiUrl().ok());
    // CC's external URL changes (the operator moved the system domain): the next token fetch sees it.
    const std::string moved = "http://localhost:" + std::to_string(env.fake.port());
    env.fake.UpdateKnobs([&](Fake::Knobs& k) { k.location_base = moved; });
    const base::Status check = cc.CheckApiUrl();
    CHECK(check.reason() == "ApiUrlMismatch");
    CHECK(check.message().find("set CF_API_URL=" + moved) != std::string::npos);
    REQUIRE(cc.GetApp(env.demo.app_guid).ok());  // the token is still fresh
    clock.Advance(std::chrono::seconds(560));    // inside the margin: a refresh, which checks again
    const auto app = cc.GetApp(env.demo.app_guid);
    REQUIRE_FALSE(app.ok());
    CHECK(app.status().code() == base::Code::kFailedPrecondition);
    CHECK(app.status().reason() == "ApiUrlMismatch");
    CHECK(env.fake.Calls("GET", "/v3/apps/:guid").size() == 2);  // the refused call never reached CC
    CHECK(env.logs.Contains("cf.api_url_mismatch"));
  }

  TEST_CASE("password grant: an expired access token is renewed with the refresh token") {
    Env env;
    SUBCASE("when CC rejects it early (401)") {
      CcClient cc(env.PasswordOptions());
      REQUIRE(cc.GetApp(env.demo.app_guid).ok());
      env.fake.ExpireAllTokens();
      REQUIRE(cc.GetApp(env.demo.app_guid).ok());
      CHECK(env.TokenGrants() == std::vector<std::string>{"password", "refresh_token"});
      const auto calls = env.fake.Calls("GET", "/v3/apps/:guid");
      REQUIRE(calls.size() == 3);
      CHECK(calls[1].status == 401);
    }
    SUBCASE("when the client's clock says it is about to expire (no 401 at all)") {
      TestClock clock;
      CcClient cc(env.PasswordOptions(), &clock);
      REQUIRE(cc.GetApp(env.demo.app_guid).ok());
      clock.Advance(std::chrono::seconds(500));  // 600 s tokens, 60 s margin: still fresh
      REQUIRE(cc.GetApp(env.demo.app_guid).ok());
      CHECK(env.TokenGrants() == std::vector<std::string>{"password"});
      clock.Advance(std::chrono::seconds(41));  // 541 s: inside the margin
      REQUIRE(cc.GetApp(env.demo.app_guid).ok());
      CHECK(env.TokenGrants() == std::vector<std::string>{"password", "refresh_token"});
      for (const auto& e : env.fake.Calls("GET", "/v3/apps/:guid")) CHECK(e.status == 200);
    }
  }

  TEST_CASE("UAA refusing the credentials is kUnauthenticated with the OAuth error as reason") {
    Env env;
    CcClientOptions o = env.Options();
    o.credentials.client_secret = "wrong-secret-value";
    CcClient cc(o);
    const auto app = cc.GetApp(env.demo.app_guid);
    REQUIRE_FALSE(app.ok());
    CHECK(app.status().code() == base::Code::kUnauthenticated);
    CHECK(app.status().reason() == "unauthorized");
    CHECK(env.Count("GET", "/v3/apps/:guid") == 0);  // nothing sent to CC without a token
  }

  TEST_CASE("429 with Retry-After is waited out, then the call succeeds") {
    Env env;
    CcClient cc(env.Options());
    Fake::Fault f{Fake::Fault::Kind::kRateLimited, "GET", "/v3/apps/:guid", 1, 1};
    f.retry_after_seconds = 2;
    env.fake.AddFault(f);
    REQUIRE(cc.GetApp(env.demo.app_guid).ok());
    CHECK(env.Waits() == std::vector<milliseconds>{milliseconds(2000)});
    const auto calls = env.fake.Calls("GET", "/v3/apps/:guid");
    REQUIRE(calls.size() == 2);
    CHECK(calls[0].status == 429);
    CHECK(calls[1].status == 200);
  }

  TEST_CASE("a Retry-After beyond the bounded wait is not slept: kUnavailable at once") {
    Env env;
    CcClient cc(env.Options());
    Fake::Fault f{Fake::Fault::Kind::kRateLimited, "GET", "/v3/apps/:guid", 1, 1};
    f.retry_after_seconds = 3600;
    env.fake.AddFault(f);
    const auto app = cc.GetApp(env.demo.app_guid);
    REQUIRE_FALSE(app.ok());
    CHECK(app.status().code() == base::Code::kUnavailable);
    CHECK(app.status().reason() == "HTTP 429");
    CHECK(app.status().message().rfind("CF-RateLimitExceeded: ", 0) == 0);
    CHECK(env.Waits().empty());
    CHECK(env.Count("GET", "/v3/apps/:guid") == 1);
  }

  TEST_CASE("503 is retried a bounded number of times with backoff, then kUnavailable") {
    Env env;
    CcClient cc(env.Options());
    env.fake.AddFault({Fake::Fault::Kind::kServiceUnavailable, "GET", "/v3/apps/:guid", 1, 0});
    const auto app = cc.GetApp(env.demo.app_guid);
    REQUIRE_FALSE(app.ok());
    CHECK(app.status().code() == base::Code::kUnavailable);
    CHECK(app.status().reason() == "HTTP 503");
    CHECK(app.status().message().rfind("CF-ServiceUnavailable: ", 0) == 0);
    CHECK(env.Count("GET", "/v3/apps/:guid") == 3);
    CHECK(env.Waits() == std::vector<milliseconds>{milliseconds(500), milliseconds(1000)});
  }

  TEST_CASE("lists follow every page when the fake forces one item per page") {
    Env env;
    for (const char* name : {"one", "two", "three"}) {
      Fake::AppSpec spec;
      spec.name = name;
      spec.space_guid = env.demo.space_guid;
      spec.labels = {{kLabelKey, "b-page"}};
      env.fake.AddApp(spec);
    }
    env.fake.UpdateKnobs([](Fake::Knobs& k) { k.per_page_override = 1; });
    CcClient cc(env.Options());

    const auto apps = cc.FindAppsByLabel(std::string(kLabelKey) + "=b-page");
    REQUIRE(apps.ok());
    std::set<std::string> names;
    for (const auto& a : *apps) names.insert(a.name);
    CHECK(names == std::set<std::string>{"one", "two", "three"});
    const auto app_calls = env.fake.Calls("GET", "/v3/apps");
    REQUIRE(app_calls.size() == 3);
    CHECK(app_calls[0].query_params.at("label_selector") == std::string(kLabelKey) + "=b-page");
    CHECK(app_calls[0].query_params.at("per_page") == "5000");

    const auto bindings = cc.ListAppBindings(env.demo.app_guid);
    REQUIRE(bindings.ok());
    REQUIRE(bindings->size() == 3);
    CHECK(env.Count("GET", "/v3/service_credential_bindings") == 3);
    std::map<std::string, clone::ServiceBinding> by_instance;
    for (const auto& b : *bindings) by_instance[b.service_instance_guid] = b;
    CHECK(by_instance.at(env.demo.mysql_instance_guid).service_instance_type == "managed");
    CHECK(by_instance.at(env.demo.mysql_instance_guid).service_instance_name == "music-db");
    CHECK_FALSE(by_instance.at(env.demo.mysql_instance_guid).service_plan_guid.empty());
    CHECK(by_instance.at(env.demo.redis_instance_guid).name == "cache");
    CHECK(by_instance.at(env.demo.ups_instance_guid).service_instance_type == "user-provided");
    CHECK(by_instance.at(env.demo.ups_instance_guid).service_plan_guid.empty());
    for (const auto& b : *bindings) {
      CHECK(b.app_guid == env.demo.app_guid);
      CHECK(b.last_operation_type == "create");
      CHECK(b.last_operation_state == "succeeded");
    }

    const auto plans = cc.ListBrokerPlanGuids("ssh-access-broker");
    REQUIRE(plans.ok());
    CHECK(*plans == std::vector<std::string>{env.demo.ssh_plan_guid});
  }

  TEST_CASE("a Location on another host is refused and the token is never sent there") {
    Env env;
    Fake elsewhere;
    elsewhere.Start();
    const std::string own = env.fake.base_url();  // the root agrees with CF_API_URL: the Location guard alone
    env.fake.UpdateKnobs([&](Fake::Knobs& k) {
      k.location_base = elsewhere.base_url();
      k.root_self_href = own;
    });
    CcClient cc(env.Options());

    const auto job = cc.DeleteApp(env.demo.app_guid);
    REQUIRE_FALSE(job.ok());
    CHECK(job.status().code() == base::Code::kFailedPrecondition);
    CHECK(job.status().reason() == "ForeignHost");

    const auto binding = cc.CreateServiceBinding(env.demo.app_guid, env.demo.ssh_instance_guid, "");
    REQUIRE_FALSE(binding.ok());
    CHECK(binding.status().code() == base::Code::kFailedPrecondition);

    CHECK(elsewhere.Journal().empty());
    CHECK(env.Count("GET", "/v3/jobs/:guid") == 0);
    CHECK(env.logs.Contains("cf.location_refused"));
  }

  TEST_CASE("a pagination next link on another host is refused and the token is never sent there") {
    Env env;
    Fake elsewhere;
    elsewhere.Start();
    const std::string own = env.fake.base_url();
    env.fake.UpdateKnobs([&](Fake::Knobs& k) {
      k.per_page_override = 1;
      k.location_base = elsewhere.base_url();
      k.root_self_href = own;
    });
    CcClient cc(env.Options());
    const auto bindings = cc.ListAppBindings(env.demo.app_guid);
    REQUIRE_FALSE(bindings.ok());
    CHECK(bindings.status().code() == base::Code::kFailedPrecondition);
    CHECK(bindings.status().reason() == "ForeignHost");
    CHECK(env.Count("GET", "/v3/service_credential_bindings") == 1);
    CHECK(elsewhere.Journal().empty());
  }

  TEST_CASE("clone and teardown: every port method's happy path against the fake") {
    Env env;
    CcClient cc(env.Options());
    const std::string binding_label = std::string(kLabelKey) + "=b-flow";

    // Read the source.
    const auto source = cc.GetApp(env.demo.app_guid);
    REQUIRE(source.ok());
    CHECK(source->name == "spring-music");
    CHECK(source->state == "STARTED");
    CHECK(source->space_guid == env.demo.space_guid);
    CHECK(source->lifecycle_type == "buildpack");
    CHECK(source->buildpacks == std::vector<std::string>{"java_buildpack"});
    CHECK(source->stack == "cflinuxfs4");
    REQUIRE_FALSE(source->current_droplet_guid.empty());

    const auto env_vars = cc.GetEnvironmentVariables(env.demo.app_guid);
    REQUIRE(env_vars.ok());
    CHECK(env_vars->at("SPRING_PROFILES_ACTIVE") == "cloud");
    CHECK(env_vars->count("JBP_CONFIG_OPEN_JDK_JRE") == 1);

    const auto droplet = cc.GetCurrentDroplet(env.demo.app_guid);
    REQUIRE(droplet.ok());
    CHECK(droplet->guid == source->current_droplet_guid);
    CHECK(droplet->state == "STAGED");
    CHECK(droplet->stack == "cflinuxfs4");
    CHECK(droplet->process_types.count("web") == 1);

    const auto web = cc.GetWebProcess(env.demo.app_guid);
    REQUIRE(web.ok());
    CHECK(web->type == "web");
    CHECK(web->memory_in_mb == 1024);
    CHECK(web->disk_in_mb == 1024);
    CHECK(web->health_check_type == "http");
    CHECK(web->instances == 1);
    CHECK_FALSE(web->command.empty());

    const auto source_bindings = cc.ListAppBindings(env.demo.app_guid);
    REQUIRE(source_bindings.ok());
    REQUIRE(source_bindings->size() == 3);

    // Create the clone, labelled in the create call.
    clone::NewApp spec;
    spec.name = "spring-music-ssh";
    spec.space_guid = source->space_guid;
    spec.lifecycle_type = source->lifecycle_type;
    spec.buildpacks = source->buildpacks;
    spec.stack = droplet->stack;
    spec.environment_variables = *env_vars;
    spec.environment_variables["SSH_ACCESS_CALLBACK_URL"] = "https://broker.example.com/cb";
    spec.labels = {{kLabelKey, "b-flow"}};
    spec.annotations = {{"ssh-access.example.com/created-by", "user-1"}};
    const auto made = cc.CreateApp(spec);
    REQUIRE(made.ok());
    const std::string clone_guid = made->guid;
    CHECK(made->state == "STOPPED");
    CHECK(made->labels.at(kLabelKey) == "b-flow");
    const auto view = env.fake.App(clone_guid);
    REQUIRE(view.has_value());
    CHECK(view->labels.at(kLabelKey) == "b-flow");
    CHECK(view->annotations.at("ssh-access.example.com/created-by") == "user-1");
    CHECK(view->env.at("SSH_ACCESS_CALLBACK_URL") == "https://broker.example.com/cb");

    const auto found = cc.FindAppsByLabel(binding_label);
    REQUIRE(found.ok());
    REQUIRE(found->size() == 1);
    CHECK((*found)[0].guid == clone_guid);

    // Copy the droplet, wait for STAGED, make it current.
    const auto copy = cc.CopyDroplet(droplet->guid, clone_guid);
    REQUIRE(copy.ok());
    CHECK(copy->state == "COPYING");
    const auto staged = PollUntil([&] { return cc.GetDroplet(copy->guid); }, {"STAGED", "FAILED"});
    REQUIRE(staged.ok());
    CHECK(staged->state == "STAGED");
    REQUIRE(cc.SetCurrentDroplet(clone_guid, copy->guid).ok());
    CHECK(env.fake.App(clone_guid)->current_droplet_guid == copy->guid);

    // Re-purpose and size the web process (its guid is the app guid).
    const auto updated = cc.UpdateProcess(clone_guid, {"sleep 3600", "process"});
    REQUIRE(updated.ok());
    CHECK(updated->guid == clone_guid);
    CHECK(updated->command == "sleep 3600");
    CHECK(updated->health_check_type == "process");
    CHECK(updated->instances == env.fake.ProcessOf(clone_guid)->instances);
    CHECK(updated->memory_in_mb == env.fake.ProcessOf(clone_guid)->memory_in_mb);
    REQUIRE(cc.ScaleProcess(clone_guid, {1, 512, 2048, -1}).ok());
    const auto proc = env.fake.ProcessOf(clone_guid);
    REQUIRE(proc.has_value());
    CHECK(proc->command == "sleep 3600");
    CHECK(proc->health_check_type == "process");
    CHECK(proc->memory_in_mb == 512);
    CHECK(proc->disk_in_mb == 2048);

    // Re-create the bindings: managed ones give a job, the user-provided one is bound at once.
    std::vector<std::string> jobs;
    for (const auto& b : *source_bindings) {
      const auto created = cc.CreateServiceBinding(clone_guid, b.service_instance_guid, b.name);
      REQUIRE(created.ok());
      if (b.service_instance_type == "user-provided") {
        CHECK_FALSE(created->has_value());
      } else {
        REQUIRE(created->has_value());
        jobs.push_back(**created);
      }
    }
    CHECK(jobs.size() == 2);
    for (const std::string& j : jobs) {
      const auto job = PollUntil([&] { return cc.GetJob(j); }, {"COMPLETE", "FAILED"});
      REQUIRE(job.ok());
      CHECK(job->guid == j);
      CHECK(job->state == "COMPLETE");
    }
    CHECK(env.fake.BindingsOfApp(clone_guid).size() == 3);

    // Start and wait for RUNNING.
    REQUIRE(cc.StartApp(clone_guid).ok());
    CHECK(env.fake.App(clone_guid)->state == "STARTED");
    auto stats = cc.GetProcessStats(clone_guid);
    for (int i = 0; i < 10 && stats.ok() && !stats->empty() && (*stats)[0].state != "RUNNING"; ++i) {
      stats = cc.GetProcessStats(clone_guid);
    }
    REQUIRE(stats.ok());
    REQUIRE(stats->size() == 1);
    CHECK((*stats)[0].index == 0);
    CHECK((*stats)[0].state == "RUNNING");

    const auto clone_logs = cc.RecentLogs(clone_guid, 100);
    REQUIRE(clone_logs.ok());
    CHECK_FALSE(clone_logs->empty());

    // The health check was switched before the first start.
    const auto journal = env.fake.Journal();
    std::size_t patch_at = journal.size(), start_at = journal.size();
    for (std::size_t i = 0; i < journal.size(); ++i) {
      if (journal[i].method == "PATCH" && journal[i].route == "/v3/processes/:guid") patch_at = i;
      if (journal[i].route == "/v3/apps/:guid/actions/start" && start_at == journal.size()) start_at = i;
    }
    CHECK(patch_at < start_at);

    // Teardown: stop, unbind, delete.
    REQUIRE(cc.StopApp(clone_guid).ok());
    CHECK(env.fake.App(clone_guid)->state == "STOPPED");
    const auto clone_bindings = cc.ListAppBindings(clone_guid);
    REQUIRE(clone_bindings.ok());
    REQUIRE(clone_bindings->size() == 3);
    for (const auto& b : *clone_bindings) {
      const auto deleted = cc.DeleteServiceBinding(b.guid);
      REQUIRE(deleted.ok());
      if (b.service_instance_type == "user-provided") {
        CHECK_FALSE(deleted->has_value());
      } else {
        REQUIRE(deleted->has_value());
        CHECK(PollUntil([&] { return cc.GetJob(**deleted); }, {"COMPLETE", "FAILED"})->state == "COMPLETE");
      }
    }
    CHECK(env.fake.BindingsOfApp(clone_guid).empty());
    const auto delete_job = cc.DeleteApp(clone_guid);
    REQUIRE(delete_job.ok());
    CHECK(PollUntil([&] { return cc.GetJob(*delete_job); }, {"COMPLETE", "FAILED"})->state == "COMPLETE");
    CHECK(cc.GetApp(clone_guid).status().code() == base::Code::kNotFound);
    CHECK(cc.DeleteApp(clone_guid).status().code() == base::Code::kNotFound);
    CHECK(cc.FindAppsByLabel(binding_label)->empty());
  }

  TEST_CASE("documented CC errors come back as the port's codes with the CF title (a refusal's reason, a retryable one's message) and detail") {
    Env env;
    CcClient cc(env.Options());
    clone::NewApp spec;
    spec.name = "errors-app";
    spec.space_guid = env.demo.space_guid;
    spec.lifecycle_type = "buildpack";

    SUBCASE("404 CF-ResourceNotFound is kNotFound") {
      const auto app = cc.GetApp("no-such-app");
      CHECK(app.status().code() == base::Code::kNotFound);
      CHECK(app.status().reason() == "CF-ResourceNotFound");
      CHECK(app.status().message() == "App not found");
      CHECK(cc.GetJob("no-such-job").status().code() == base::Code::kNotFound);
      CHECK(cc.DeleteApp("no-such-app").status().code() == base::Code::kNotFound);
      CHECK(cc.DeleteServiceBinding("no-such-binding").status().code() == base::Code::kNotFound);
      CHECK(cc.GetDroplet("no-such-droplet").status().code() == base::Code::kNotFound);
      CHECK(cc.GetProcessStats("no-such-process").status().code() == base::Code::kNotFound);
      CHECK(cc.GetEnvironmentVariables("no-such-app").status().code() == base::Code::kNotFound);
    }
    SUBCASE("an app that was never staged has no current droplet") {
      Fake::AppSpec never;
      never.name = "never-staged";
      never.space_guid = env.demo.space_guid;
      never.has_droplet = false;
      never.started = false;
      const std::string guid = env.fake.AddApp(never);
      const auto d = cc.GetCurrentDroplet(guid);
      CHECK(d.status().code() == base::Code::kNotFound);
      // ... and cannot start: 422 10008.
      const base::Status start = cc.StartApp(guid);
      CHECK(start.code() == base::Code::kFailedPrecondition);
      CHECK(start.reason() == "CF-UnprocessableEntity");
      CHECK(start.message() == "Assign a droplet before starting this app.");
    }
    SUBCASE("422 10016 for a taken name is kAlreadyExists") {
      REQUIRE(cc.CreateApp(spec).ok());
      spec.name = "ERRORS-APP";  // unique ignoring case
      const auto again = cc.CreateApp(spec);
      CHECK(again.status().code() == base::Code::kAlreadyExists);
      CHECK(again.status().reason() == "CF-UniquenessError");
      CHECK(again.status().message() == "App with the name 'ERRORS-APP' already exists.");
    }
    SUBCASE("422 10008 refusals are kFailedPrecondition") {
      env.fake.UpdateKnobs([](Fake::Knobs& k) { k.start_quota_exceeded = true; });
      const base::Status quota = cc.StartApp(env.demo.app_guid);
      CHECK(quota.code() == base::Code::kFailedPrecondition);
      CHECK(quota.message() == "memory quota_exceeded");
      const auto bound = cc.CreateServiceBinding(env.demo.app_guid, env.demo.mysql_instance_guid, "");
      CHECK(bound.status().code() == base::Code::kFailedPrecondition);
      CHECK(bound.status().message() == "The app is already bound to the service instance");
      CHECK(cc.UpdateProcess(env.demo.app_guid, {"", "tcp"}).status().code() == base::Code::kFailedPrecondition);
      const auto wrong = cc.CopyDroplet(env.demo.app_guid, env.demo.app_guid);  // not a droplet guid
      CHECK(wrong.status().code() == base::Code::kNotFound);
    }
    SUBCASE("403 is kPermissionDenied: feature flags and missing scopes") {
      env.fake.UpdateKnobs([](Fake::Knobs& k) {
        k.docker_disabled = true;
        k.app_scaling_disabled = true;
      });
      spec.lifecycle_type = "docker";
      const auto docker = cc.CreateApp(spec);
      CHECK(docker.status().code() == base::Code::kPermissionDenied);
      CHECK(docker.status().reason() == "CF-FeatureDisabled");
      CHECK(docker.status().message() == "Feature Disabled: diego_docker");
      CHECK(cc.ScaleProcess(env.demo.app_guid, {1, 0, 0, -1}).code() == base::Code::kPermissionDenied);

      env.fake.AddUaaClient({"read-only-client", "read-only-secret", {"client_credentials"}, {"cloud_controller.read"}});
      CcClientOptions o = env.Options();
      o.credentials.client_id = "read-only-client";
      o.credentials.client_secret = "read-only-secret";
      CcClient reader(o);
      CHECK(reader.GetApp(env.demo.app_guid).ok());
      const base::Status stop = reader.StopApp(env.demo.app_guid);
      CHECK(stop.code() == base::Code::kPermissionDenied);
      CHECK(stop.reason() == "CF-NotAuthorized");
    }
    SUBCASE("503 220002 on stats is kUnavailable") {
      env.fake.AddFault({Fake::Fault::Kind::kInstancesUnavailable, "GET", "/v3/processes/:guid/stats", 1, 0});
      const auto stats = cc.GetProcessStats(env.demo.app_guid);
      CHECK(stats.status().code() == base::Code::kUnavailable);
      CHECK(stats.status().reason() == "HTTP 503");
      CHECK(stats.status().message().rfind("CF-InstancesUnavailable: ", 0) == 0);
    }
    SUBCASE("500 is kUnavailable") {
      env.fake.AddFault({Fake::Fault::Kind::kInternalError, "POST", "/v3/apps", 1, 1});
      const auto made = cc.CreateApp(spec);
      CHECK(made.status().code() == base::Code::kUnavailable);
      CHECK(made.status().reason() == "HTTP 500");
      CHECK(made.status().message().rfind("UnknownError: ", 0) == 0);
      CHECK(env.Count("POST", "/v3/apps") == 1);  // 500 is not retried by the transport
    }
  }

  TEST_CASE("a failed droplet copy and a failed binding job carry CC's error text") {
    Env env;
    env.fake.UpdateKnobs([&](Fake::Knobs& k) {
      k.droplet_copy_fails = true;
      k.binding_job_fails_for_instances = {env.demo.mysql_instance_guid};
    });
    CcClient cc(env.Options());
    clone::NewApp spec;
    spec.name = "failing-clone";
    spec.space_guid = env.demo.space_guid;
    spec.lifecycle_type = "buildpack";
    const auto made = cc.CreateApp(spec);
    REQUIRE(made.ok());
    const auto source_droplet = cc.GetCurrentDroplet(env.demo.app_guid);
    REQUIRE(source_droplet.ok());
    const auto copy = cc.CopyDroplet(source_droplet->guid, made->guid);
    REQUIRE(copy.ok());
    const auto failed = PollUntil([&] { return cc.GetDroplet(copy->guid); }, {"STAGED", "FAILED"});
    REQUIRE(failed.ok());
    CHECK(failed->state == "FAILED");
    CHECK(failed->error == "failed to copy - blobstore unavailable");

    const auto job = cc.CreateServiceBinding(made->guid, env.demo.mysql_instance_guid, "");
    REQUIRE(job.ok());
    REQUIRE(job->has_value());
    const auto done = PollUntil([&] { return cc.GetJob(**job); }, {"COMPLETE", "FAILED"});
    REQUIRE(done.ok());
    CHECK(done->state == "FAILED");
    CHECK_FALSE(done->error_title.empty());
    CHECK_FALSE(done->error_detail.empty());
  }

  TEST_CASE("X-Cf-Warnings are URL-decoded and logged at warn") {
    Env env;
    env.fake.UpdateKnobs([](Fake::Knobs& k) {
      k.warnings = {"Stack 'cflinuxfs3' is deprecated, and will be removed", "second warning"};
    });
    CcClient cc(env.Options());
    clone::NewApp spec;
    spec.name = "warned";
    spec.space_guid = env.demo.space_guid;
    REQUIRE(cc.CreateApp(spec).ok());
    int warnings = 0;
    for (const std::string& line : env.logs.Lines()) {
      if (line.find("cf.warning") == std::string::npos) continue;
      ++warnings;
      CHECK(line.find(" warning cf ") != std::string::npos);  // spdlog's %l name for warn
      CHECK(line.find("path=/v3/apps") != std::string::npos);
    }
    CHECK(warnings == 2);
    CHECK(env.logs.Contains(R"(detail="Stack 'cflinuxfs3' is deprecated, and will be removed")"));
    CHECK(env.logs.Contains(R"(detail="second warning")"));
  }

  TEST_CASE("a connection reset is kUnavailable") {
    Env env;
    CcClient cc(env.Options());
    REQUIRE(cc.GetApp(env.demo.app_guid).ok());
    env.fake.AddFault({Fake::Fault::Kind::kConnectionReset, "GET", "/v3/apps/:guid", 1, 0});
    const auto app = cc.GetApp(env.demo.app_guid);
    REQUIRE_FALSE(app.ok());
    CHECK(app.status().code() == base::Code::kUnavailable);
    env.fake.ClearFaults();
    CHECK(cc.GetApp(env.demo.app_guid).ok());  // the client recovers on a new connection
  }

  TEST_CASE("a slow response is kDeadlineExceeded under a short timeout") {
    Env env;
    CcClientOptions o = env.Options();
    o.http.request_timeout = milliseconds(300);
    CcClient cc(o);
    REQUIRE(cc.GetApp(env.demo.app_guid).ok());
    Fake::Fault slow{Fake::Fault::Kind::kSlowResponse, "GET", "/v3/apps/:guid", 1, 1};
    slow.delay = milliseconds(3000);
    env.fake.AddFault(slow);
    const auto started = std::chrono::steady_clock::now();
    const auto app = cc.GetApp(env.demo.app_guid);
    const auto took = std::chrono::steady_clock::now() - started;
    REQUIRE_FALSE(app.ok());
    CHECK(app.status().code() == base::Code::kDeadlineExceeded);
    CHECK(took < milliseconds(2000));
    CHECK(cc.GetApp(env.demo.app_guid).ok());
  }

  TEST_CASE("a refused connection is kUnavailable") {
    Env env;
    int port = 0;
    {
      Fake gone;
      gone.Start();
      port = gone.port();
    }  // stopped: nothing listens there any more
    CcClientOptions o = env.Options();
    o.api_url = "http://127.0.0.1:" + std::to_string(port);
    CcClient cc(o);
    CHECK(cc.GetApp(env.demo.app_guid).status().code() == base::Code::kUnavailable);
  }

  TEST_CASE("RecentLogs asks log-cache for the newest LOG envelopes and returns them oldest first") {
    Env env;
    // An hour ahead, so these are newer than the demo app's own line.
    const std::int64_t base_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     (std::chrono::system_clock::now() + std::chrono::hours(1)).time_since_epoch())
                                     .count();
    env.fake.AddLogLine(env.demo.app_guid, {"line one", "APP/PROC/WEB", "0", false, base_ns + 1000});
    env.fake.AddLogLine(env.demo.app_guid, {"line two", "APP/PROC/WEB", "0", true, base_ns + 2000});
    env.fake.AddLogLine(env.demo.app_guid, {"line three", "CELL", "0", false, base_ns + 3000});
    CcClient cc(env.Options());
    const auto lines = cc.RecentLogs(env.demo.app_guid, 2);
    REQUIRE(lines.ok());
    CHECK(*lines == std::vector<std::string>{"line two", "line three"});
    const auto calls = env.fake.Calls("GET", "/api/v1/read/:source_id");
    REQUIRE(calls.size() == 1);
    CHECK(calls[0].query_params.at("descending") == "true");
    CHECK(calls[0].query_params.at("limit") == "2");
    CHECK(calls[0].query_params.at("envelope_types") == "LOG");
    CHECK(calls[0].authorization.rfind("bearer tok-", 0) == 0);

    const auto all = cc.RecentLogs(env.demo.app_guid, 5000);  // clamped to log-cache's 1000
    REQUIRE(all.ok());
    CHECK(all->size() == 4);  // the demo app's own line plus ours
    CHECK(env.fake.Calls("GET", "/api/v1/read/:source_id")[1].query_params.at("limit") == "1000");
    CHECK(cc.RecentLogs("no-such-app", 10).status().code() == base::Code::kNotFound);
  }

  TEST_CASE("debug lines carry method, path, status and ms, and nothing secret") {
    Env env;
    {
      CcClient cc(env.PasswordOptions());
      REQUIRE(cc.FindAppsByLabel(std::string(kLabelKey) + "=secret-looking-selector").ok());
      env.fake.ExpireAllTokens();
      REQUIRE(cc.GetApp(env.demo.app_guid).ok());  // 401, refresh grant, retry
      CHECK_FALSE(cc.GetApp("missing").ok());
    }
    {
      CcClientOptions o = env.Options();
      o.credentials.client_secret = "definitely-wrong-secret";
      CcClient bad(o);
      CHECK_FALSE(bad.GetApp(env.demo.app_guid).ok());
    }
    static const std::regex kRequestLine(R"(debug cf cf\.request method=GET path=/v3/apps/[0-9a-f-]+ status=200 ms=\d+$)");
    bool saw_request = false;
    for (const std::string& line : env.logs.Lines()) {
      std::string trimmed = line;
      while (!trimmed.empty() && (trimmed.back() == '\n' || trimmed.back() == '\r')) trimmed.pop_back();
      if (std::regex_search(trimmed, kRequestLine)) saw_request = true;
      CHECK(line.find("secret-looking-selector") == std::string::npos);  // no queries in logs
      CHECK(line.find("definitely-wrong-secret") == std::string::npos);
    }
    CHECK(saw_request);
    CHECK(env.logs.Contains("cf.token_fetched grant=refresh_token"));
    CHECK(env.logs.Contains("cf.token_fetch_failed grant=client_credentials status=401 error=unauthorized"));
    // The Env destructor checks every token, secret and password on top of this.
  }

  TEST_CASE("consecutive calls reuse one keep-alive connection, token fetch and discovery included") {
    Env env;
    CcClient cc(env.Options());
    for (int i = 0; i < 5; ++i) REQUIRE(cc.GetApp(env.demo.app_guid).ok());
    REQUIRE(cc.ListAppBindings(env.demo.app_guid).ok());
    const auto journal = env.fake.Journal();
    REQUIRE(journal.size() == 8);  // GET /, POST /oauth/token, 5 apps, 1 list
    std::set<int> ports;
    for (const auto& e : journal) ports.insert(e.client_port);
    CHECK(ports.size() == 1);
    CHECK(*ports.begin() != 0);
  }

  TEST_CASE("503 with Retry-After is waited out as asked, then the call succeeds") {
    Env env;
    CcClient cc(env.Options());
    Fake::Fault f{Fake::Fault::Kind::kServiceUnavailable, "GET", "/v3/apps/:guid", 1, 1};
    f.retry_after_seconds = 3;
    env.fake.AddFault(f);
    REQUIRE(cc.GetApp(env.demo.app_guid).ok());
    CHECK(env.Waits() == std::vector<milliseconds>{milliseconds(3000)});
    const auto calls = env.fake.Calls("GET", "/v3/apps/:guid");
    REQUIRE(calls.size() == 2);
    CHECK(calls[0].status == 503);
    CHECK(calls[1].status == 200);
  }

  TEST_CASE("the connect timeout bounds a connection that is never accepted") {
    // A listener whose accept queue is full: the kernel drops further SYNs, so connect() hangs.
    const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(listener >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(listener, 0) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    std::vector<int> fillers;
    for (int i = 0; i < 4; ++i) {
      const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      (void)::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
      fillers.push_back(fd);
    }
    std::this_thread::sleep_for(milliseconds(100));

    HttpClientOptions o;
    o.connect_timeout = milliseconds(300);
    o.request_timeout = milliseconds(20'000);
    HttpClient http(o);
    HttpRequest req;
    req.url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/";
    const auto started = std::chrono::steady_clock::now();
    const auto resp = http.Send(req);
    const auto took = std::chrono::steady_clock::now() - started;
    for (const int fd : fillers) ::close(fd);
    ::close(listener);
    REQUIRE_FALSE(resp.ok());
    CHECK(resp.status().code() == base::Code::kDeadlineExceeded);
    CHECK(took < milliseconds(5000));
  }
}

TEST_SUITE("cf::CcClient TLS") {
  TEST_CASE("TLS verification is on by default: a certificate the system does not trust is refused") {
    const SelfSignedCert cert("IP:127.0.0.1");
    TlsEnv env(cert);
    CcClient cc(env.Options());
    const auto app = cc.GetApp(env.demo.app_guid);
    REQUIRE_FALSE(app.ok());
    CHECK(app.status().code() == base::Code::kFailedPrecondition);
    CHECK(app.status().reason() == "TlsVerificationFailed");
    CHECK(env.fake.Journal().empty());  // not even discovery got through
  }

  TEST_CASE("CF_CA_CERT adds trust in a private CA, given as PEM text or as a file path") {
    const SelfSignedCert cert("IP:127.0.0.1");
    TlsEnv env(cert);
    CcClientOptions o = env.Options();
    SUBCASE("PEM text") { o.http.ca_cert = cert.pem(); }
    SUBCASE("a path to a PEM file") { o.http.ca_cert = cert.cert_file(); }
    CcClient cc(o);
    const auto app = cc.GetApp(env.demo.app_guid);
    REQUIRE(app.ok());
    CHECK(app->name == "spring-music");
    CHECK(env.fake.Calls("POST", "/oauth/token").size() == 1);
  }

  TEST_CASE("CF_CA_CERT trusts only that CA, and the host name is still checked") {
    const SelfSignedCert cert("IP:127.0.0.1");
    TlsEnv env(cert);
    CcClientOptions o = env.Options();
    SUBCASE("another CA's certificate") {
      const SelfSignedCert other("IP:127.0.0.1");
      o.http.ca_cert = other.pem();
      CcClient cc(o);
      CHECK(cc.GetApp(env.demo.app_guid).status().code() == base::Code::kFailedPrecondition);
    }
    SUBCASE("a trusted certificate for another host name") {
      const SelfSignedCert localhost_only("DNS:localhost");
      TlsEnv wrong_host(localhost_only);
      CcClientOptions w = wrong_host.Options();
      w.http.ca_cert = localhost_only.pem();
      CcClient cc(w);
      const auto app = cc.GetApp(wrong_host.demo.app_guid);
      CHECK(app.status().code() == base::Code::kFailedPrecondition);
      CHECK(app.status().reason() == "TlsVerificationFailed");
    }
    SUBCASE("an unreadable CF_CA_CERT path") {
      o.http.ca_cert = "/nonexistent/ca.pem";
      CcClient cc(o);
      CHECK(cc.GetApp(env.demo.app_guid).status().code() == base::Code::kFailedPrecondition);
    }
    CHECK(env.fake.Journal().empty());
  }

  TEST_CASE("CF_SKIP_SSL_VALIDATION is an explicit opt-out that accepts any certificate") {
    const SelfSignedCert cert("DNS:not-this-host.example");
    TlsEnv env(cert);
    CcClientOptions o = env.Options();
    o.http.skip_tls_verification = true;
    CcClient cc(o);
    REQUIRE(cc.GetApp(env.demo.app_guid).ok());
  }
}

}  // namespace
}  // namespace broker::cf
