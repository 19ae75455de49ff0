// The fake Cloud Controller (+ UAA + log-cache) over real HTTP, as the broker's libcurl client will
// see it: auth, each endpoint's happy path and documented errors, ticks, pagination, label
// selectors, jobs, knobs, faults and the journal (cloud-controller.md §6).
#include <curl/curl.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <rapidjson/document.h>
#include <rapidjson/pointer.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/support/fake_cloud_controller.h"
#include "tests/support/temp_dir.h"

namespace broker::testing {
namespace {

using Fake = FakeCloudController;
using std::chrono::milliseconds;

// ---- A minimal libcurl client ---------------------------------------------------------------------

struct Answer {
  long status = 0;
  CURLcode code = CURLE_OK;
  std::string error;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  long new_connections = -1;  // CURLINFO_NUM_CONNECTS

  std::optional<std::string> Header(const std::string& name) const {
    for (const auto& [k, v] : headers) {
      if (k.size() == name.size() && std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
          })) {
        return v;
      }
    }
    return std::nullopt;
  }
  rapidjson::Document Json() const {
    rapidjson::Document d;
    d.Parse(body.c_str(), body.size());
    return d;
  }
  std::string Describe() const {
    return std::to_string(status) + " " + body + (error.empty() ? "" : " (curl: " + error + ")");
  }
};

size_t Append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

size_t CollectHeader(char* data, size_t size, size_t n, void* out) {
  std::string line(data, size * n);
  const auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ')) value.erase(value.begin());
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.pop_back();
    static_cast<std::vector<std::pair<std::string, std::string>>*>(out)->emplace_back(line.substr(0, colon), value);
  }
  return size * n;
}

struct Req {
  std::string method = "GET";
  std::string url;  // absolute
  std::optional<std::string> body;
  std::vector<std::string> headers;  // "Name: value"
  milliseconds timeout{10000};
};

// Sends on `curl` (reused when given, so keep-alive can be observed).
Answer Send(const Req& r, CURL* reuse = nullptr) {
  Answer a;
  CURL* curl = reuse != nullptr ? reuse : curl_easy_init();
  curl_easy_reset(curl);
  curl_slist* headers = nullptr;
  for (const std::string& h : r.headers) headers = curl_slist_append(headers, h.c_str());
  if (r.body) headers = curl_slist_append(headers, "Content-Type: application/json");
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_URL, r.url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, r.method.c_str());
  if (r.body) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, r.body->c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(r.body->size()));
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(r.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &a.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &CollectHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &a.headers);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  a.code = curl_easy_perform(curl);
  if (a.code == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &a.status);
    curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &a.new_connections);
  } else {
    a.error = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(a.code);
  }
  curl_slist_free_all(headers);
  if (reuse == nullptr) curl_easy_cleanup(curl);
  return a;
}

// ---- JSON access ------------------------------------------------------------------------------------

const rapidjson::Value* Ptr(const rapidjson::Value& root, const char* pointer) {
  return rapidjson::Pointer(pointer).Get(root);
}

std::string Str(const rapidjson::Value& root, const char* pointer) {
  const rapidjson::Value* v = Ptr(root, pointer);
  return v != nullptr && v->IsString() ? v->GetString() : "<missing " + std::string(pointer) + ">";
}

long long Int(const rapidjson::Value& root, const char* pointer) {
  const rapidjson::Value* v = Ptr(root, pointer);
  return v != nullptr && v->IsInt64() ? v->GetInt64() : -999999;
}

bool IsNull(const rapidjson::Value& root, const char* pointer) {
  const rapidjson::Value* v = Ptr(root, pointer);
  return v != nullptr && v->IsNull();
}

size_t Size(const rapidjson::Value& root, const char* pointer) {
  const rapidjson::Value* v = Ptr(root, pointer);
  return v != nullptr && v->IsArray() ? v->Size() : 0;
}

// The CC error triple of the first error.
void CheckCcError(const Answer& a, long status, long long code, const std::string& title) {
  INFO(a.Describe());
  CHECK(a.status == status);
  const auto d = a.Json();
  REQUIRE(d.IsObject());
  CHECK(Int(d, "/errors/0/code") == code);
  CHECK(Str(d, "/errors/0/title") == title);
  CHECK(Ptr(d, "/errors/0/detail") != nullptr);
}

std::string Base64(const std::string& in) {
  static const char kChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kChars[(acc >> bits) & 63];
    }
  }
  if (bits > 0) out += kChars[(acc << (6 - bits)) & 63];
  while (out.size() % 4) out += '=';
  return out;
}

// ---- Fixture ----------------------------------------------------------------------------------------

// A started fake seeded with the demo foundation and a valid admin token.
struct FakeCc {
  Fake fake;
  Fake::DemoFoundation demo;
  std::string base;
  std::string token;

  FakeCc() {
    demo = fake.SeedDemoFoundation();
    fake.Start();
    base = fake.base_url();
    token = fake.IssueToken(demo.client_id);
  }

  Answer Call(const std::string& method, const std::string& path, std::optional<std::string> body = std::nullopt,
              std::vector<std::string> headers = {}) const {
    Req r;
    r.method = method;
    r.url = path.rfind("http", 0) == 0 ? path : base + path;
    r.body = std::move(body);
    r.headers = std::move(headers);
    r.headers.push_back("Authorization: bearer " + token);
    return Send(r);
  }
  Answer Get(const std::string& path) const { return Call("GET", path); }
  Answer Post(const std::string& path, const std::string& body) const { return Call("POST", path, body); }
  Answer Patch(const std::string& path, const std::string& body) const { return Call("PATCH", path, body); }
  Answer Delete(const std::string& path) const { return Call("DELETE", path); }

  // POST /v3/apps for a clone of spring-music; returns its guid.
  std::string CreateClone(const std::string& name = "spring-music-ssh", const std::string& lifecycle = "buildpack") {
    const std::string data = lifecycle == "docker" ? "{}" : R"({"buildpacks":["java_buildpack"],"stack":"cflinuxfs4"})";
    const Answer a = Post("/v3/apps", R"({"name":")" + name + R"(","relationships":{"space":{"data":{"guid":")" +
                                          demo.space_guid + R"("}}},"lifecycle":{"type":")" + lifecycle +
                                          R"(","data":)" + data +
                                          R"(},"metadata":{"labels":{"ssh-access.example.com/binding-guid":"B-1"}}})");
    INFO(a.Describe());
    REQUIRE(a.status == 201);
    return Str(a.Json(), "/guid");
  }

  std::string SourceDroplet() const {
    const auto a = Get("/v3/apps/" + demo.app_guid + "/droplets/current");
    return Str(a.Json(), "/guid");
  }

  // Copies the source droplet to `app`, polls it to STAGED and assigns it.
  std::string CopyAndAssignDroplet(const std::string& app, const std::string& source) {
    const Answer copy = Post("/v3/droplets?source_guid=" + source,
                             R"({"relationships":{"app":{"data":{"guid":")" + app + R"("}}}})");
    INFO(copy.Describe());
    REQUIRE(copy.status == 201);
    const std::string droplet = Str(copy.Json(), "/guid");
    for (int i = 0; i < 20 && Str(Get("/v3/droplets/" + droplet).Json(), "/state") != "STAGED"; ++i) {
    }
    REQUIRE(Patch("/v3/apps/" + app + "/relationships/current_droplet", R"({"data":{"guid":")" + droplet + R"("}})")
                .status == 200);
    return droplet;
  }

  // Polls GET /v3/jobs/<guid> from a Location until a terminal state; returns the last body.
  rapidjson::Document PollJob(const std::string& location, int* polls = nullptr) {
    rapidjson::Document d;
    for (int i = 1; i <= 50; ++i) {
      d = Get(location).Json();
      const std::string state = Str(d, "/state");
      if (state == "COMPLETE" || state == "FAILED") {
        if (polls != nullptr) *polls = i;
        break;
      }
    }
    return d;
  }
};

std::string AppBody(const std::string& name, const std::string& space, const std::string& extra = "") {
  return R"({"name":")" + name + R"(","relationships":{"space":{"data":{"guid":")" + space + R"("}}})" + extra + "}";
}

TEST_SUITE("testing::FakeCloudController") {
  // ---- Root and UAA ----

  TEST_CASE("fake CC root needs no token and links CC V3, login, uaa and log_cache back to the fake") {
    FakeCc t;
    Req r;
    r.url = t.base + "/";
    const Answer a = Send(r);
    INFO(a.Describe());
    REQUIRE(a.status == 200);
    const auto d = a.Json();
    CHECK(Str(d, "/links/cloud_controller_v3/href") == t.base + "/v3");
    CHECK(Ptr(d, "/links/cloud_controller_v3/meta/version") != nullptr);
    CHECK(Str(d, "/links/login/href") == t.base);
    CHECK(Str(d, "/links/uaa/href") == t.base);
    CHECK(Str(d, "/links/log_cache/href") == t.base);
  }

  TEST_CASE("fake UAA issues a client_credentials token with expires_in and scopes but no refresh_token") {
    FakeCc t;
    t.fake.UpdateKnobs([](Fake::Knobs& k) { k.token_expires_in_seconds = 1234; });
    Req r;
    r.method = "POST";
    r.url = t.base + "/oauth/token";
    r.body = "grant_type=client_credentials";
    r.headers = {"Content-Type: application/x-www-form-urlencoded", "Accept: application/json",
                 "Authorization: Basic " + Base64(t.demo.client_id + ":" + t.demo.client_secret)};
    const Answer a = Send(r);
    INFO(a.Describe());
    REQUIRE(a.status == 200);
    const auto d = a.Json();
    CHECK(Str(d, "/token_type") == "bearer");
    CHECK(Int(d, "/expires_in") == 1234);
    CHECK(Str(d, "/scope").find("cloud_controller.admin") != std::string::npos);
    CHECK(Ptr(d, "/refresh_token") == nullptr);
    CHECK(Ptr(d, "/jti") != nullptr);

    const std::string token = Str(d, "/access_token");
    Req get;
    get.url = t.base + "/v3/apps/" + t.demo.app_guid;
    get.headers = {"Authorization: bearer " + token};
    CHECK(Send(get).status == 200);

    SUBCASE("client credentials in the form body work too") {
      Req form = r;
      form.headers = {"Content-Type: application/x-www-form-urlencoded"};
      form.body = "grant_type=client_credentials&client_id=" + t.demo.client_id + "&client_secret=" + t.demo.client_secret;
      CHECK(Send(form).status == 200);
    }
    SUBCASE("a wrong secret is 401 unauthorized") {
      Req bad = r;
      bad.headers = {"Authorization: Basic " + Base64(t.demo.client_id + ":nope")};
      const Answer b = Send(bad);
      CHECK(b.status == 401);
      CHECK(Str(b.Json(), "/error") == "unauthorized");
    }
    SUBCASE("a grant type the client may not use is 401 invalid_client") {
      Req bad = r;
      bad.body = "grant_type=password&username=admin&password=admin";
      const Answer b = Send(bad);
      CHECK(b.status == 401);
      CHECK(Str(b.Json(), "/error") == "invalid_client");
    }
    SUBCASE("a missing grant type is 400 invalid_request") {
      Req bad = r;
      bad.body = "";
      CHECK(Send(bad).status == 400);
    }
  }

  TEST_CASE("fake UAA password grant with the cf client returns a refresh token the refresh_token grant exchanges") {
    FakeCc t;
    Req r;
    r.method = "POST";
    r.url = t.base + "/oauth/token";
    r.headers = {"Content-Type: application/x-www-form-urlencoded", "Authorization: Basic " + Base64("cf:")};
    r.body = "grant_type=password&username=admin&password=admin&login_hint=%7B%22origin%22%3A%22uaa%22%7D";
    const Answer a = Send(r);
    INFO(a.Describe());
    REQUIRE(a.status == 200);
    const std::string refresh = Str(a.Json(), "/refresh_token");
    CHECK(refresh.rfind("rt-", 0) == 0);

    r.body = "grant_type=refresh_token&refresh_token=" + refresh;
    const Answer b = Send(r);
    INFO(b.Describe());
    REQUIRE(b.status == 200);
    CHECK(Str(b.Json(), "/access_token") != Str(a.Json(), "/access_token"));
    CHECK(Str(b.Json(), "/refresh_token") == refresh);

    r.body = "grant_type=password&username=admin&password=wrong";
    CHECK(Send(r).status == 401);
    r.body = "grant_type=refresh_token&refresh_token=rt-unknown";
    const Answer c = Send(r);
    CHECK(c.status == 401);
    CHECK(Str(c.Json(), "/error") == "invalid_token");
  }

  TEST_CASE("fake CC answers /v3 without a token with 401 10002 and with a bad or expired token with 401 1000") {
    FakeCc t;
    Req r;
    r.url = t.base + "/v3/apps";
    CheckCcError(Send(r), 401, 10002, "CF-NotAuthenticated");
    r.headers = {"Authorization: bearer tok-unknown"};
    CheckCcError(Send(r), 401, 1000, "CF-InvalidAuthToken");

    SUBCASE("ExpireToken") {
      t.fake.ExpireToken(t.token);
      CheckCcError(t.Get("/v3/apps"), 401, 1000, "CF-InvalidAuthToken");
    }
    SUBCASE("a zero expires_in") {
      t.fake.UpdateKnobs([](Fake::Knobs& k) { k.token_expires_in_seconds = 0; });
      t.token = t.fake.IssueToken(t.demo.client_id);
      CheckCcError(t.Get("/v3/apps"), 401, 1000, "CF-InvalidAuthToken");
    }
  }

  TEST_CASE("fake CC answers 403 10003 to a write with a read-only token") {
    FakeCc t;
    t.fake.AddUaaClient({"reader", "s", {"client_credentials"}, {"cloud_controller.read"}});
    t.token = t.fake.IssueToken("reader");
    CHECK(t.Get("/v3/apps/" + t.demo.app_guid).status == 200);
    CheckCcError(t.Post("/v3/apps/" + t.demo.app_guid + "/actions/stop", ""), 403, 10003, "CF-NotAuthorized");
  }

  // ---- Apps ----

  TEST_CASE("fake CC GET app returns the documented fields and 404 10010 for an unknown guid") {
    FakeCc t;
    const Answer a = t.Get("/v3/apps/" + t.demo.app_guid);
    INFO(a.Describe());
    REQUIRE(a.status == 200);
    const auto d = a.Json();
    CHECK(Str(d, "/name") == "spring-music");
    CHECK(Str(d, "/state") == "STARTED");
    CHECK(Str(d, "/lifecycle/type") == "buildpack");
    CHECK(Str(d, "/lifecycle/data/buildpacks/0") == "java_buildpack");
    CHECK(Str(d, "/lifecycle/data/stack") == "cflinuxfs4");
    CHECK(Str(d, "/relationships/space/data/guid") == t.demo.space_guid);
    CHECK(Str(d, "/relationships/current_droplet/data/guid") == t.SourceDroplet());
    CHECK(Ptr(d, "/metadata/labels") != nullptr);

    CheckCcError(t.Get("/v3/apps/no-such-app"), 404, 10010, "CF-ResourceNotFound");

    const auto inc = t.Get("/v3/apps/" + t.demo.app_guid + "?include=space.organization").Json();
    CHECK(Str(inc, "/included/spaces/0/guid") == t.demo.space_guid);
    CHECK(Str(inc, "/included/organizations/0/guid") == t.demo.org_guid);
  }

  TEST_CASE("fake CC lists apps page by page and the next links reach every app exactly once") {
    FakeCc t;
    for (int i = 0; i < 4; ++i) t.fake.AddApp({.name = "app-" + std::to_string(i), .space_guid = t.demo.space_guid});
    std::vector<std::string> names;
    std::string url = t.base + "/v3/apps?space_guids=" + t.demo.space_guid + "&per_page=2";
    int pages = 0;
    while (!url.empty() && pages < 10) {
      const Answer a = t.Get(url);
      INFO(a.Describe());
      REQUIRE(a.status == 200);
      const auto d = a.Json();
      ++pages;
      CHECK(Int(d, "/pagination/total_results") == 5);
      CHECK(Int(d, "/pagination/total_pages") == 3);
      CHECK(Str(d, "/pagination/first/href").find("page=1") != std::string::npos);
      for (const auto& r : Ptr(d, "/resources")->GetArray()) names.push_back(r["name"].GetString());
      url = IsNull(d, "/pagination/next") ? "" : Str(d, "/pagination/next/href");
      if (pages == 1) CHECK(IsNull(d, "/pagination/previous"));
    }
    CHECK(pages == 3);
    CHECK(names == std::vector<std::string>{"spring-music", "app-0", "app-1", "app-2", "app-3"});

    SUBCASE("per_page out of range is 400 10005") {
      CheckCcError(t.Get("/v3/apps?per_page=5001"), 400, 10005, "CF-BadQueryParameter");
      CheckCcError(t.Get("/v3/apps?page=0"), 400, 10005, "CF-BadQueryParameter");
    }
    SUBCASE("order_by=-name reverses by name") {
      const auto d = t.Get("/v3/apps?order_by=-name").Json();
      CHECK(Str(d, "/resources/0/name") == "spring-music");
      CHECK(Str(d, "/resources/4/name") == "app-0");
    }
  }

  TEST_CASE("fake CC per_page_override forces small pages on every list, whatever per_page asks") {
    FakeCc t;
    t.fake.UpdateKnobs([](Fake::Knobs& k) { k.per_page_override = 1; });
    const auto d = t.Get("/v3/service_credential_bindings?app_guids=" + t.demo.app_guid + "&per_page=5000").Json();
    CHECK(Size(d, "/resources") == 1);
    CHECK(Int(d, "/pagination/total_pages") == 3);
    CHECK(Str(d, "/pagination/next/href").find("per_page=1") != std::string::npos);
    CHECK(Str(d, "/pagination/next/href").find("app_guids=" + t.demo.app_guid) != std::string::npos);
  }

  TEST_CASE("fake CC filters apps by label selector: key=value, key, !key, in and notin") {
    FakeCc t;
    const std::string k = "ssh-access.example.com/binding-guid";
    const std::string a1 = t.fake.AddApp({.name = "c1", .space_guid = t.demo.space_guid, .labels = {{k, "b1"}}});
    const std::string a2 = t.fake.AddApp({.name = "c2", .space_guid = t.demo.space_guid, .labels = {{k, "b2"}}});
    const auto names = [&](const std::string& selector_encoded) {
      const Answer a = t.Get("/v3/apps?label_selector=" + selector_encoded);
      INFO(a.Describe());
      std::vector<std::string> out;
      const auto d = a.Json();
      if (const auto* r = Ptr(d, "/resources")) {
        for (const auto& app : r->GetArray()) out.push_back(app["name"].GetString());
      }
      return out;
    };
    using V = std::vector<std::string>;
    CHECK(names("ssh-access.example.com%2Fbinding-guid%3Db1") == V{"c1"});
    CHECK(names("ssh-access.example.com/binding-guid=b2") == V{"c2"});  // raw '=' and '/' too
    CHECK(names("ssh-access.example.com%2Fbinding-guid") == V{"c1", "c2"});
    CHECK(names("%21ssh-access.example.com%2Fbinding-guid") == V{"spring-music"});
    CHECK(names("ssh-access.example.com%2Fbinding-guid%20in%20%28b1%2Cb3%29") == V{"c1"});
    CHECK(names("ssh-access.example.com%2Fbinding-guid%20notin%20%28b1%29") == V{"spring-music", "c2"});
    CHECK(names("ssh-access.example.com%2Fbinding-guid%21%3Db1") == V{"spring-music", "c2"});
    CHECK(t.fake.AppsWithLabel(k + "=b2").size() == 1);
    (void)a1;
    (void)a2;

    SUBCASE("a malformed selector is 400 10005") {
      CheckCcError(t.Get("/v3/apps?label_selector=%3Dx"), 400, 10005, "CF-BadQueryParameter");
      CheckCcError(t.Get("/v3/apps?label_selector=a%20in%20%28b"), 400, 10005, "CF-BadQueryParameter");
    }
  }

  TEST_CASE("fake CC rejects unknown query parameters with 400 10005 and unknown routes with 404 10000") {
    FakeCc t;
    CheckCcError(t.Get("/v3/apps?name=spring-music"), 400, 10005, "CF-BadQueryParameter");
    CheckCcError(t.Get("/v3/no_such_thing"), 404, 10000, "CF-NotFound");
  }

  TEST_CASE("fake CC creates an app STOPPED with labels and a web process whose guid is the app guid") {
    FakeCc t;
    const std::string guid = t.CreateClone();
    const auto app = t.fake.App(guid);
    REQUIRE(app.has_value());
    CHECK(app->state == "STOPPED");
    CHECK(app->created_through_api);
    CHECK(app->labels.at("ssh-access.example.com/binding-guid") == "B-1");
    const auto web = t.Get("/v3/apps/" + guid + "/processes/web").Json();
    CHECK(Str(web, "/guid") == guid);
    CHECK(Int(web, "/instances") == 1);
    CHECK(Str(web, "/health_check/type") == "port");
    CHECK(IsNull(web, "/command"));
    CHECK(IsNull(t.Get("/v3/apps/" + guid).Json(), "/relationships/current_droplet/data/guid"));
    CheckCcError(t.Get("/v3/apps/" + guid + "/droplets/current"), 404, 10010, "CF-ResourceNotFound");
  }

  TEST_CASE("fake CC refuses a taken app name in the space, in any case, with 422 10016") {
    FakeCc t;
    CheckCcError(t.Post("/v3/apps", AppBody("Spring-Music", t.demo.space_guid)), 422, 10016, "CF-UniquenessError");
    const std::string other_space = t.fake.AddSpace("other", t.demo.org_guid);
    CHECK(t.Post("/v3/apps", AppBody("spring-music", other_space)).status == 201);
  }

  TEST_CASE("fake CC validates app creation with 422 10008: name, space, env keys, labels and unknown fields") {
    FakeCc t;
    const std::string s = t.demo.space_guid;
    CheckCcError(t.Post("/v3/apps", AppBody("", s)), 422, 10008, "CF-UnprocessableEntity");
    CheckCcError(t.Post("/v3/apps", AppBody(std::string(256, 'a'), s)), 422, 10008, "CF-UnprocessableEntity");
    CHECK(t.Post("/v3/apps", AppBody(std::string(255, 'a'), s)).status == 201);
    CheckCcError(t.Post("/v3/apps", AppBody("x", "no-space")), 422, 10008, "CF-UnprocessableEntity");
    CheckCcError(t.Post("/v3/apps", AppBody("x", s, R"(,"environment_variables":{"VCAP_SERVICES":"x"})")), 422, 10008,
                 "CF-UnprocessableEntity");
    CheckCcError(t.Post("/v3/apps", AppBody("x", s, R"(,"environment_variables":{"PORT":"1"})")), 422, 10008,
                 "CF-UnprocessableEntity");
    CheckCcError(t.Post("/v3/apps", AppBody("x", s, R"(,"metadata":{"labels":{"bad key!":"v"}})")), 422, 10008,
                 "CF-UnprocessableEntity");
    CheckCcError(t.Post("/v3/apps", AppBody("x", s, R"(,"no_route":true)")), 422, 10008, "CF-UnprocessableEntity");
    CheckCcError(t.Post("/v3/apps", AppBody("x", s, R"(,"lifecycle":{"type":"kpack","data":{}})")), 422, 10008,
                 "CF-UnprocessableEntity");
    CheckCcError(t.Post("/v3/apps", "{not json"), 400, 1001, "CF-MessageParseError");
    const Answer ok = t.Post("/v3/apps", AppBody("y", s, R"(,"environment_variables":{"A":"1","N":2})"));
    CHECK(ok.status == 201);
    const auto env = t.Get("/v3/apps/" + Str(ok.Json(), "/guid") + "/environment_variables").Json();
    CHECK(Str(env, "/var/A") == "1");
    CHECK(Str(env, "/var/N") == "2");
  }

  TEST_CASE("fake CC app-create knobs: docker and cnb feature flags, unknown buildpack, restricted stack, warnings") {
    FakeCc t;
    const std::string s = t.demo.space_guid;
    t.fake.UpdateKnobs([](Fake::Knobs& k) {
      k.docker_disabled = true;
      k.cnb_disabled = true;
      k.unknown_buildpacks = {"custom_bp"};
      k.restricted_stacks = {"cflinuxfs3"};
      k.warnings = {"Stack 'cflinuxfs4' is deprecated, soon", "second, warning"};
    });
    CheckCcError(t.Post("/v3/apps", AppBody("d", s, R"(,"lifecycle":{"type":"docker","data":{}})")), 403, 330002,
                 "CF-FeatureDisabled");
    CheckCcError(t.Post("/v3/apps", AppBody("c", s, R"(,"lifecycle":{"type":"cnb","data":{}})")), 403, 330002,
                 "CF-FeatureDisabled");
    CheckCcError(t.Post("/v3/apps", AppBody("b", s, R"(,"lifecycle":{"type":"buildpack","data":{"buildpacks":["custom_bp"]}})")),
                 422, 10008, "CF-UnprocessableEntity");
    CheckCcError(t.Post("/v3/apps", AppBody("b", s, R"(,"lifecycle":{"type":"buildpack","data":{"stack":"cflinuxfs3"}})")),
                 422, 10008, "CF-UnprocessableEntity");
    const Answer a = t.Post("/v3/apps", AppBody("w", s));
    REQUIRE(a.status == 201);
    CHECK(a.Header("X-Cf-Warnings") ==
          std::optional<std::string>("Stack%20%27cflinuxfs4%27%20is%20deprecated%2C%20soon,second%2C%20warning"));
  }

  TEST_CASE("fake CC environment variables PATCH merges and a null value deletes") {
    FakeCc t;
    const std::string path = "/v3/apps/" + t.demo.app_guid + "/environment_variables";
    const Answer a = t.Patch(path, R"({"var":{"NEW":"v","SPRING_PROFILES_ACTIVE":null}})");
    INFO(a.Describe());
    REQUIRE(a.status == 200);
    const auto d = t.Get(path).Json();
    CHECK(Str(d, "/var/NEW") == "v");
    CHECK(Ptr(d, "/var/SPRING_PROFILES_ACTIVE") == nullptr);
    CHECK(Str(d, "/var/JBP_CONFIG_OPEN_JDK_JRE") == "{ jre: { version: 17.+ } }");
    CheckCcError(t.Patch(path, R"({"var":{"VCAP_APPLICATION":"x"}})"), 422, 10008, "CF-UnprocessableEntity");
  }

  // ---- Droplets ----

  TEST_CASE("fake CC buildpack droplet copy stays COPYING until droplet_copy_ticks GETs, then STAGED") {
    FakeCc t;
    t.fake.UpdateKnobs([](Fake::Knobs& k) {
      k.droplet_copy_ticks = 3;
      k.warnings = {"copy warning"};
    });
    const std::string clone = t.CreateClone();
    const Answer copy = t.Post("/v3/droplets?source_guid=" + t.SourceDroplet(),
                               R"({"relationships":{"app":{"data":{"guid":")" + clone + R"("}}}})");
    INFO(copy.Describe());
    REQUIRE(copy.status == 201);
    CHECK(copy.Header("X-Cf-Warnings") == std::optional<std::string>("copy%20warning"));
    const auto d = copy.Json();
    CHECK(Str(d, "/state") == "COPYING");
    CHECK(Str(d, "/process_types/web").find("JarLauncher") != std::string::npos);
    const std::string droplet = Str(d, "/guid");
    CHECK(Str(t.Get("/v3/droplets/" + droplet).Json(), "/state") == "COPYING");
    CHECK(Str(t.Get("/v3/droplets/" + droplet).Json(), "/state") == "COPYING");
    const auto staged = t.Get("/v3/droplets/" + droplet).Json();
    CHECK(Str(staged, "/state") == "STAGED");
    CHECK(IsNull(staged, "/error"));
    CHECK(Str(staged, "/stack") == "cflinuxfs4");
    CheckCcError(t.Get("/v3/droplets/nope"), 404, 10010, "CF-ResourceNotFound");
  }

  TEST_CASE("fake CC droplet copy knob FAILED ends the copy with a 'failed to copy' error") {
    FakeCc t;
    t.fake.UpdateKnobs([](Fake::Knobs& k) {
      k.droplet_copy_ticks = 1;
      k.droplet_copy_fails = true;
    });
    const std::string clone = t.CreateClone();
    const auto copy = t.Post("/v3/droplets?source_guid=" + t.SourceDroplet(),
                             R"({"relationships":{"app":{"data":{"guid":")" + clone + R"("}}}})")
                          .Json();
    const auto d = t.Get("/v3/droplets/" + Str(copy, "/guid")).Json();
    CHECK(Str(d, "/state") == "FAILED");
    CHECK(Str(d, "/error").rfind("failed to copy - ", 0) == 0);
    CheckCcError(t.Patch("/v3/apps/" + clone + "/relationships/current_droplet",
                         R"({"data":{"guid":")" + Str(copy, "/guid") + R"("}})"),
                 422, 10008, "CF-UnprocessableEntity");
  }

  // Unknown source or app: 404 (app/controllers/v3/droplets_controller.rb create_copy); lifecycle
  // mismatch: 422 (app/actions/droplet_copy.rb).
  TEST_CASE("fake CC droplet copy errors: unknown source 404, unknown app 404, lifecycle mismatch 422") {
    FakeCc t;
    const std::string docker_clone = t.CreateClone("docker-clone", "docker");
    const std::string body = R"({"relationships":{"app":{"data":{"guid":")" + docker_clone + R"("}}}})";
    CheckCcError(t.Post("/v3/droplets?source_guid=nope", body), 404, 10010, "CF-ResourceNotFound");
    CheckCcError(t.Post("/v3/droplets?source_guid=" + t.SourceDroplet(), body), 422, 10008, "CF-UnprocessableEntity");
    CheckCcError(t.Post("/v3/droplets?source_guid=" + t.SourceDroplet(), R"({"relationships":{"app":{"data":{"guid":"nope"}}}})"),
                 404, 10010, "CF-ResourceNotFound");
  }

  TEST_CASE("fake CC docker droplet copy is STAGED at once and carries the image") {
    FakeCc t;
    const std::string src = t.fake.AddApp({.name = "dock", .space_guid = t.demo.space_guid, .lifecycle = Fake::Lifecycle::kDocker,
                                           .process_types = {{"web", "/start"}}, .docker_image = "nginx:1.25"});
    const std::string src_droplet = Str(t.Get("/v3/apps/" + src + "/droplets/current").Json(), "/guid");
    const std::string clone = t.CreateClone("dock-ssh", "docker");
    const auto d = t.Post("/v3/droplets?source_guid=" + src_droplet,
                          R"({"relationships":{"app":{"data":{"guid":")" + clone + R"("}}}})")
                       .Json();
    CHECK(Str(d, "/state") == "STAGED");
    CHECK(Str(d, "/image") == "nginx:1.25");
    CHECK(Str(d, "/lifecycle/type") == "docker");
  }

  TEST_CASE("fake CC cnb droplet copy follows the cnb_droplet_copy knob") {
    FakeCc t;
    const std::string src = t.fake.AddApp({.name = "cnb-app", .space_guid = t.demo.space_guid, .lifecycle = Fake::Lifecycle::kCnb,
                                           .buildpacks = {"docker://paketo/java"}});
    const std::string src_droplet = Str(t.Get("/v3/apps/" + src + "/droplets/current").Json(), "/guid");
    const std::string clone = t.CreateClone("cnb-ssh", "cnb");
    const std::string body = R"({"relationships":{"app":{"data":{"guid":")" + clone + R"("}}}})";
    SUBCASE("stuck COPYING by default (the reading of current CC code)") {
      const auto copy = t.Post("/v3/droplets?source_guid=" + src_droplet, body).Json();
      for (int i = 0; i < 5; ++i) CHECK(Str(t.Get("/v3/droplets/" + Str(copy, "/guid")).Json(), "/state") == "COPYING");
    }
    SUBCASE("rejected") {
      t.fake.UpdateKnobs([](Fake::Knobs& k) { k.cnb_droplet_copy = Fake::CnbDropletCopy::kRejected; });
      CheckCcError(t.Post("/v3/droplets?source_guid=" + src_droplet, body), 422, 10008, "CF-UnprocessableEntity");
    }
    SUBCASE("like buildpack") {
      t.fake.UpdateKnobs([](Fake::Knobs& k) {
        k.cnb_droplet_copy = Fake::CnbDropletCopy::kLikeBuildpack;
        k.droplet_copy_ticks = 1;
      });
      const auto copy = t.Post("/v3/droplets?source_guid=" + src_droplet, body).Json();
      CHECK(Str(t.Get("/v3/droplets/" + Str(copy, "/guid")).Json(), "/state") == "STAGED");
    }
  }

  TEST_CASE("fake CC assigning a STAGED droplet creates one process per process type: web 1 instance, others 0") {
    FakeCc t;
    const std::string clone = t.CreateClone();
    const Answer before = t.Patch("/v3/apps/" + clone + "/relationships/current_droplet", R"({"data":{"guid":"nope"}})");
    CheckCcError(before, 422, 10008, "CF-UnprocessableEntity");
    const std::string droplet = t.CopyAndAssignDroplet(clone, t.SourceDroplet());
    CHECK(Str(t.Get("/v3/apps/" + clone).Json(), "/relationships/current_droplet/data/guid") == droplet);
    const auto list = t.Get("/v3/apps/" + clone + "/processes").Json();
    REQUIRE(Size(list, "/resources") == 2);
    CHECK(Str(list, "/resources/0/type") == "web");
    CHECK(Int(list, "/resources/0/instances") == 1);
    CHECK(Str(list, "/resources/1/type") == "task");
    CHECK(Int(list, "/resources/1/instances") == 0);
    // Lists hide commands; the one process shows the droplet's detected command.
    CHECK(Str(list, "/resources/0/command") == "[PRIVATE DATA HIDDEN IN LISTS]");
    CHECK(Str(t.Get("/v3/processes/" + clone).Json(), "/command").find("JarLauncher") != std::string::npos);
  }

  // ---- Processes ----

  TEST_CASE("fake CC process PATCH validates command length and health check type, then applies both") {
    FakeCc t;
    const std::string clone = t.CreateClone();
    const std::string path = "/v3/processes/" + clone;
    CheckCcError(t.Patch(path, R"({"command":""})"), 422, 10008, "CF-UnprocessableEntity");
    CheckCcError(t.Patch(path, R"({"command":")" + std::string(4097, 'x') + R"("})"), 422, 10008, "CF-UnprocessableEntity");
    CheckCcError(t.Patch(path, R"({"health_check":{"type":"none"}})"), 422, 10008, "CF-UnprocessableEntity");
    CheckCcError(t.Patch(path, R"({"instances":2})"), 422, 10008, "CF-UnprocessableEntity");
    const Answer a = t.Patch(path, R"({"command":"bash bootstrap.sh","health_check":{"type":"process","data":{"timeout":120}}})");
    INFO(a.Describe());
    REQUIRE(a.status == 200);
    const auto d = a.Json();
    CHECK(Str(d, "/command") == "bash bootstrap.sh");
    CHECK(Str(d, "/health_check/type") == "process");
    CHECK(Int(d, "/health_check/data/timeout") == 120);
    const auto view = t.fake.ProcessOf(clone);
    REQUIRE(view.has_value());
    CHECK(view->command == std::optional<std::string>("bash bootstrap.sh"));
    CHECK(view->health_check_type == "process");
  }

  TEST_CASE("fake CC scale answers 202 with the process body, and 403 330002 when app_scaling is off") {
    FakeCc t;
    const std::string clone = t.CreateClone();
    const Answer a = t.Post("/v3/processes/" + clone + "/actions/scale",
                            R"({"instances":1,"memory_in_mb":512,"disk_in_mb":2048,"log_rate_limit_in_bytes_per_second":-1})");
    INFO(a.Describe());
    REQUIRE(a.status == 202);
    CHECK(Int(a.Json(), "/memory_in_mb") == 512);
    CHECK(Int(a.Json(), "/disk_in_mb") == 2048);
    CHECK(!a.Header("Location").has_value());
    CheckCcError(t.Post("/v3/processes/" + clone + "/actions/scale", R"({"memory_in_mb":0})"), 422, 10008,
                 "CF-UnprocessableEntity");
    CHECK(t.Post("/v3/apps/" + clone + "/processes/web/actions/scale", R"({"instances":1})").status == 202);
    t.fake.UpdateKnobs([](Fake::Knobs& k) { k.app_scaling_disabled = true; });
    CheckCcError(t.Post("/v3/processes/" + clone + "/actions/scale", R"({"instances":1})"), 403, 330002, "CF-FeatureDisabled");
    CHECK(Str(t.Get("/v3/feature_flags/app_scaling").Json(), "/name") == "app_scaling");
    CHECK(Ptr(t.Get("/v3/feature_flags/app_scaling").Json(), "/enabled")->GetBool() == false);
  }

  TEST_CASE("fake CC start needs a droplet; then stats tick STARTING to RUNNING and stop makes instances DOWN") {
    FakeCc t;
    t.fake.UpdateKnobs([](Fake::Knobs& k) { k.instance_start_ticks = 2; });
    const std::string clone = t.CreateClone();
    CheckCcError(t.Post("/v3/apps/" + clone + "/actions/start", ""), 422, 10008, "CF-UnprocessableEntity");
    t.CopyAndAssignDroplet(clone, t.SourceDroplet());
    const Answer start = t.Post("/v3/apps/" + clone + "/actions/start", "");
    INFO(start.Describe());
    REQUIRE(start.status == 200);
    CHECK(Str(start.Json(), "/state") == "STARTED");
    CHECK(t.fake.ProcessOf(clone)->instance_state == "STARTING");
    const auto s1 = t.Get("/v3/processes/" + clone + "/stats").Json();
    CHECK(Str(s1, "/resources/0/state") == "STARTING");
    CHECK(Int(s1, "/resources/0/index") == 0);
    const auto s2 = t.Get("/v3/apps/" + clone + "/processes/web/stats").Json();
    CHECK(Str(s2, "/resources/0/state") == "RUNNING");
    CHECK(Ptr(s2, "/resources/0/uptime") != nullptr);
    CHECK(Size(t.Get("/v3/processes/" + t.fake.ProcessOf(clone, "task")->guid + "/stats").Json(), "/resources") == 0);
    const Answer stop = t.Post("/v3/apps/" + clone + "/actions/stop", "");
    CHECK(Str(stop.Json(), "/state") == "STOPPED");
    CHECK(Str(t.Get("/v3/processes/" + clone + "/stats").Json(), "/resources/0/state") == "DOWN");
  }

  TEST_CASE("fake CC start knobs: quota refusal 422 and a placement error reported in details") {
    FakeCc t;
    const std::string clone = t.CreateClone();
    t.CopyAndAssignDroplet(clone, t.SourceDroplet());
    t.fake.UpdateKnobs([](Fake::Knobs& k) { k.start_quota_exceeded = true; });
    const Answer refused = t.Post("/v3/apps/" + clone + "/actions/start", "");
    CheckCcError(refused, 422, 10008, "CF-UnprocessableEntity");
    CHECK(Str(refused.Json(), "/errors/0/detail") == "memory quota_exceeded");
    CHECK(t.fake.App(clone)->state == "STOPPED");

    t.fake.UpdateKnobs([](Fake::Knobs& k) {
      k.start_quota_exceeded = false;
      k.placement_error = "insufficient resources: memory";
    });
    REQUIRE(t.Post("/v3/apps/" + clone + "/actions/start", "").status == 200);
    for (int i = 0; i < 3; ++i) {
      const auto s = t.Get("/v3/processes/" + clone + "/stats").Json();
      CHECK(Str(s, "/resources/0/state") == "DOWN");
      CHECK(Str(s, "/resources/0/details") == "insufficient resources: memory");
    }
  }

  TEST_CASE("fake CC crashed instance leaves log-cache lines the fake log-cache returns base64-encoded") {
    FakeCc t;
    t.fake.UpdateKnobs([](Fake::Knobs& k) {
      k.instance_start_ticks = 1;
      k.instance_crashes = true;
      k.crash_log = {Fake::LogLine{"tmate: cannot connect to tmate.example.com:2222", "APP/PROC/WEB", "0", true, std::nullopt}};
    });
    const std::string clone = t.CreateClone();
    t.CopyAndAssignDroplet(clone, t.SourceDroplet());
    REQUIRE(t.Post("/v3/apps/" + clone + "/actions/start", "").status == 200);
    CHECK(Str(t.Get("/v3/processes/" + clone + "/stats").Json(), "/resources/0/state") == "CRASHED");
    CHECK(t.fake.ProcessOf(clone)->instance_state == "CRASHED");

    const Answer logs = t.Get("/api/v1/read/" + clone + "?envelope_types=LOG&start_time=0&descending=true&limit=1000");
    INFO(logs.Describe());
    REQUIRE(logs.status == 200);
    const auto d = logs.Json();
    bool found = false;
    for (const auto& e : Ptr(d, "/envelopes/batch")->GetArray()) {
      CHECK(e["timestamp"].IsString());
      CHECK(e["source_id"].GetString() == clone);
      if (std::string(e["log"]["payload"].GetString()) == Base64("tmate: cannot connect to tmate.example.com:2222")) {
        found = true;
        CHECK(std::string(e["tags"]["source_type"].GetString()) == "APP/PROC/WEB");
        CHECK(std::string(e["log"]["type"].GetString()) == "ERR");
        CHECK(std::string(e["instance_id"].GetString()) == "0");
      }
    }
    CHECK(found);
  }

  TEST_CASE("fake log-cache answers 404 without a valid token and honours start_time, end_time, descending and limit") {
    FakeCc t;
    const std::string app = t.demo.app_guid;
    for (int i = 1; i <= 5; ++i) {
      t.fake.AddLogLine(app, {"line " + std::to_string(i), "APP/PROC/WEB", "0", false, 1000 + i});
    }
    Req r;
    r.url = t.base + "/api/v1/read/" + app;
    CHECK(Send(r).status == 404);
    r.headers = {"Authorization: bearer tok-unknown"};
    CHECK(Send(r).status == 404);
    CHECK(t.Get("/api/v1/read/unknown-app").status == 404);

    const auto d = t.Get("/api/v1/read/" + app + "?start_time=1002&end_time=1005&descending=true&limit=2").Json();
    REQUIRE(Size(d, "/envelopes/batch") == 2);
    CHECK(Str(d, "/envelopes/batch/0/timestamp") == "1004");
    CHECK(Str(d, "/envelopes/batch/1/timestamp") == "1003");
    CHECK(Str(d, "/envelopes/batch/0/log/payload") == Base64("line 4"));
    const auto asc = t.Get("/api/v1/read/" + app + "?start_time=1002&end_time=1005").Json();
    CHECK(Str(asc, "/envelopes/batch/0/timestamp") == "1002");
    CHECK(t.Get("/api/v1/read/" + app + "?limit=1001").status == 400);
  }

  // ---- Service credential bindings and jobs ----

  TEST_CASE("fake CC lists an app's bindings with include=service_instance and the instance types") {
    FakeCc t;
    const Answer a = t.Get("/v3/service_credential_bindings?app_guids=" + t.demo.app_guid +
                           "&type=app&include=service_instance&per_page=5000");
    INFO(a.Describe());
    REQUIRE(a.status == 200);
    const auto d = a.Json();
    REQUIRE(Size(d, "/resources") == 3);
    CHECK(Str(d, "/resources/0/last_operation/type") == "create");
    CHECK(Str(d, "/resources/0/last_operation/state") == "succeeded");
    CHECK(Str(d, "/resources/0/relationships/service_instance/data/guid") == t.demo.mysql_instance_guid);
    CHECK(Str(d, "/resources/1/name") == "cache");
    REQUIRE(Size(d, "/included/service_instances") == 3);
    CHECK(Str(d, "/included/service_instances/0/type") == "managed");
    CHECK(Ptr(d, "/included/service_instances/0/relationships/service_plan/data/guid") != nullptr);
    CHECK(Str(d, "/included/service_instances/2/type") == "user-provided");

    const auto plans = t.Get("/v3/service_plans?service_broker_names=ssh-access-broker").Json();
    REQUIRE(Size(plans, "/resources") == 1);
    CHECK(Str(plans, "/resources/0/guid") == t.demo.ssh_plan_guid);
    const auto by_plan = t.Get("/v3/service_credential_bindings?service_plan_guids=" + t.demo.ssh_plan_guid).Json();
    CHECK(Size(by_plan, "/resources") == 0);
  }

  TEST_CASE("fake CC managed binding create is 202 + Location to a job PROCESSING, POLLING, COMPLETE in step with the binding") {
    FakeCc t;
    t.fake.UpdateKnobs([](Fake::Knobs& k) {
      k.binding_create_job_ticks = 3;
      k.warnings = {"bind warning"};
    });
    const std::string clone = t.CreateClone();
    const Answer a = t.Post("/v3/service_credential_bindings",
                            R"({"type":"app","name":"db","relationships":{"service_instance":{"data":{"guid":")" +
                                t.demo.mysql_instance_guid + R"("}},"app":{"data":{"guid":")" + clone +
                                R"("}}},"parameters":{"role":"ro"}})");
    INFO(a.Describe());
    REQUIRE(a.status == 202);
    CHECK(a.body.empty());
    CHECK(a.Header("X-Cf-Warnings") == std::optional<std::string>("bind%20warning"));
    const auto location = a.Header("Location");
    REQUIRE(location.has_value());
    CHECK(location->rfind(t.base + "/v3/jobs/", 0) == 0);

    // The record exists at once, in create/initial.
    const auto bindings = t.fake.BindingsOfApp(clone);
    REQUIRE(bindings.size() == 1);
    CHECK(bindings[0].last_operation_state == "initial");

    const auto j1 = t.Get(*location).Json();
    CHECK(Str(j1, "/state") == "POLLING");
    CHECK(Str(j1, "/operation") == "service_bindings.create");
    CHECK(Str(j1, "/links/self/href") == *location);
    CHECK(t.fake.Binding(bindings[0].guid)->last_operation_state == "in progress");
    // A look at the binding itself moves its job on as well (the platform does not wait for the
    // job's creator to poll it): listing it is the second tick.
    const auto listed = t.Get("/v3/service_credential_bindings?app_guids=" + clone).Json();
    CHECK(Str(listed, "/resources/0/last_operation/state") == "in progress");
    CHECK(Str(t.Get(*location).Json(), "/state") == "COMPLETE");
    const auto j3 = t.Get(*location).Json();
    CHECK(Str(j3, "/state") == "COMPLETE");
    CHECK(Size(j3, "/errors") == 0);
    CHECK(t.fake.Binding(bindings[0].guid)->last_operation_state == "succeeded");
    CHECK(Str(t.Get("/v3/service_credential_bindings/" + bindings[0].guid + "/parameters").Json(), "/role") == "ro");
    CheckCcError(t.Get("/v3/jobs/nope"), 404, 10010, "CF-ResourceNotFound");
  }

  TEST_CASE("fake CC user-provided binding create is 201 with the binding body") {
    FakeCc t;
    const std::string clone = t.CreateClone();
    const Answer a = t.Post("/v3/service_credential_bindings",
                            R"({"type":"app","relationships":{"service_instance":{"data":{"guid":")" +
                                t.demo.ups_instance_guid + R"("}},"app":{"data":{"guid":")" + clone + R"("}}}})");
    INFO(a.Describe());
    REQUIRE(a.status == 201);
    const auto d = a.Json();
    CHECK(Str(d, "/last_operation/state") == "succeeded");
    CHECK(Str(d, "/relationships/app/data/guid") == clone);
    CHECK(!a.Header("Location").has_value());
    const auto details = t.Get("/v3/service_credential_bindings/" + Str(d, "/guid") + "/details").Json();
    CHECK(Str(details, "/credentials/api_key") == "demo-key");
    CheckCcError(t.Get("/v3/service_credential_bindings/" + Str(d, "/guid") + "/parameters"), 422, 10008,
                 "CF-UnprocessableEntity");
  }

  TEST_CASE("fake CC binding create refusals: already bound, unknown instance, other space, not bindable, unknown fields") {
    FakeCc t;
    const auto bind = [&](const std::string& instance, const std::string& app) {
      return t.Post("/v3/service_credential_bindings",
                    R"({"type":"app","relationships":{"service_instance":{"data":{"guid":")" + instance +
                        R"("}},"app":{"data":{"guid":")" + app + R"("}}}})");
    };
    CheckCcError(bind(t.demo.mysql_instance_guid, t.demo.app_guid), 422, 10008, "CF-UnprocessableEntity");
    CHECK(Str(bind(t.demo.mysql_instance_guid, t.demo.app_guid).Json(), "/errors/0/detail") ==
          "The app is already bound to the service instance");  // app/actions/service_credential_binding_app_create.rb
    CheckCcError(bind("nope", t.demo.app_guid), 422, 10008, "CF-UnprocessableEntity");
    const std::string other_space = t.fake.AddSpace("other", t.demo.org_guid);
    const std::string far_app = t.fake.AddApp({.name = "far", .space_guid = other_space});
    CheckCcError(bind(t.demo.mysql_instance_guid, far_app), 422, 10008, "CF-UnprocessableEntity");
    const std::string nb = t.fake.AddServiceOffering({"nb", "nb-broker", false, false});
    const std::string nb_instance =
        t.fake.AddServiceInstance({"nb-1", t.demo.space_guid, t.fake.AddServicePlan(nb, "p"), false, "{}"});
    CheckCcError(bind(nb_instance, t.demo.app_guid), 422, 10008, "CF-UnprocessableEntity");
    CheckCcError(t.Post("/v3/service_credential_bindings", R"({"type":"app","bogus":1})"), 422, 10008,
                 "CF-UnprocessableEntity");
  }

  TEST_CASE("fake CC binding job knobs: FAILED for one instance, stuck in POLLING for another") {
    FakeCc t;
    t.fake.UpdateKnobs([&](Fake::Knobs& k) {
      k.binding_create_job_ticks = 1;
      k.binding_job_fails_for_instances = {t.demo.mysql_instance_guid};
      k.binding_job_stuck_for_instances = {t.demo.redis_instance_guid};
    });
    const std::string clone = t.CreateClone();
    const auto bind = [&](const std::string& instance) {
      const Answer a = t.Post("/v3/service_credential_bindings",
                              R"({"type":"app","relationships":{"service_instance":{"data":{"guid":")" + instance +
                                  R"("}},"app":{"data":{"guid":")" + clone + R"("}}}})");
      REQUIRE(a.status == 202);
      return *a.Header("Location");
    };
    const auto failed = t.Get(bind(t.demo.mysql_instance_guid)).Json();
    CHECK(Str(failed, "/state") == "FAILED");
    CHECK(Int(failed, "/errors/0/code") == 10009);
    CHECK(Str(failed, "/errors/0/title") == "CF-UnableToPerform");
    const std::string stuck = bind(t.demo.redis_instance_guid);
    for (int i = 0; i < 5; ++i) CHECK(Str(t.Get(stuck).Json(), "/state") == "POLLING");
    std::map<std::string, std::string> states;
    for (const auto& b : t.fake.BindingsOfApp(clone)) states[b.service_instance_guid] = b.last_operation_state;
    CHECK(states[t.demo.mysql_instance_guid] == "failed");
    CHECK(states[t.demo.redis_instance_guid] == "in progress");

    // A retry replaces the failed binding, as CC does.
    t.fake.UpdateKnobs([](Fake::Knobs& k) { k.binding_job_fails_for_instances.clear(); });
    CHECK(Str(t.Get(bind(t.demo.mysql_instance_guid)).Json(), "/state") == "COMPLETE");
    CHECK(t.fake.BindingsOfApp(clone).size() == 2);
  }

  TEST_CASE("fake CC binding delete: user-provided 204, managed 202 job then gone, in-progress 409 90008") {
    FakeCc t;
    t.fake.UpdateKnobs([](Fake::Knobs& k) {
      k.binding_create_job_ticks = 2;
      k.binding_delete_job_ticks = 2;
    });
    const std::string ups = t.demo.binding_guids[2];
    CHECK(t.Delete("/v3/service_credential_bindings/" + ups).status == 204);
    CheckCcError(t.Get("/v3/service_credential_bindings/" + ups), 404, 10010, "CF-ResourceNotFound");
    CheckCcError(t.Delete("/v3/service_credential_bindings/" + ups), 404, 10010, "CF-ResourceNotFound");

    const std::string managed = t.demo.binding_guids[0];
    const Answer del = t.Delete("/v3/service_credential_bindings/" + managed);
    REQUIRE(del.status == 202);
    CHECK(t.fake.Binding(managed)->last_operation_type == "delete");
    CHECK(Str(t.Get(*del.Header("Location")).Json(), "/state") == "POLLING");
    CHECK(t.Get("/v3/service_credential_bindings/" + managed).status == 200);
    const auto done = t.Get(*del.Header("Location")).Json();
    CHECK(Str(done, "/state") == "COMPLETE");
    CHECK(Str(done, "/operation") == "service_bindings.delete");
    CHECK(t.Get("/v3/service_credential_bindings/" + managed).status == 404);

    const std::string clone = t.CreateClone();
    const Answer create = t.Post("/v3/service_credential_bindings",
                                 R"({"type":"app","relationships":{"service_instance":{"data":{"guid":")" +
                                     t.demo.redis_instance_guid + R"("}},"app":{"data":{"guid":")" + clone + R"("}}}})");
    REQUIRE(create.status == 202);
    CheckCcError(t.Delete("/v3/service_credential_bindings/" + t.fake.BindingsOfApp(clone)[0].guid), 409, 90008,
                 "CF-AsyncServiceBindingOperationInProgress");
  }

  TEST_CASE("fake CC binding parameters: 200, 400 90007 when not retrievable, 502 on the broker-error knob") {
    FakeCc t;
    const std::string mysql = t.demo.binding_guids[0];
    const std::string redis = t.demo.binding_guids[1];  // p.redis is not bindings_retrievable
    CHECK(t.Get("/v3/service_credential_bindings/" + mysql + "/parameters").status == 200);
    CheckCcError(t.Get("/v3/service_credential_bindings/" + redis + "/parameters"), 400, 90007,
                 "CF-ServiceFetchBindingParametersNotSupported");
    t.fake.UpdateKnobs([](Fake::Knobs& k) { k.binding_parameters_broker_error = true; });
    CHECK(t.Get("/v3/service_credential_bindings/" + mysql + "/parameters").status == 502);
  }

  TEST_CASE("fake CC app delete is a job; the app stays readable until COMPLETE and then 404s, bindings included") {
    FakeCc t;
    t.fake.UpdateKnobs([](Fake::Knobs& k) { k.app_delete_job_ticks = 2; });
    const std::string clone = t.CreateClone();
    t.CopyAndAssignDroplet(clone, t.SourceDroplet());
    REQUIRE(t.Post("/v3/service_credential_bindings",
                   R"({"type":"app","relationships":{"service_instance":{"data":{"guid":")" + t.demo.ups_instance_guid +
                       R"("}},"app":{"data":{"guid":")" + clone + R"("}}}})")
                .status == 201);
    const Answer del = t.Delete("/v3/apps/" + clone);
    REQUIRE(del.status == 202);
    const std::string job = *del.Header("Location");
    CHECK(t.fake.App(clone)->delete_in_progress);
    CHECK(Str(t.Get(job).Json(), "/state") == "PROCESSING");
    CHECK(t.Get("/v3/apps/" + clone).status == 200);
    const auto done = t.Get(job).Json();
    CHECK(Str(done, "/state") == "COMPLETE");
    CHECK(Str(done, "/operation") == "app.delete");
    CheckCcError(t.Get("/v3/apps/" + clone), 404, 10010, "CF-ResourceNotFound");
    CHECK(t.fake.BindingsOfApp(clone).empty());
    CHECK(t.fake.DropletsOf(clone).empty());
    CHECK(!t.fake.ProcessOf(clone).has_value());
    CheckCcError(t.Delete("/v3/apps/" + clone), 404, 10010, "CF-ResourceNotFound");
  }

  TEST_CASE("fake CC legacy app delete fails while a managed binding exists, and succeeds once it is unbound") {
    FakeCc t;
    t.fake.UpdateKnobs([](Fake::Knobs& k) {
      k.legacy_app_delete = true;
      k.app_delete_job_ticks = 1;
      k.binding_create_job_ticks = 1;
      k.binding_delete_job_ticks = 1;
    });
    const std::string clone = t.CreateClone();
    const Answer bind = t.Post("/v3/service_credential_bindings",
                               R"({"type":"app","relationships":{"service_instance":{"data":{"guid":")" +
                                   t.demo.mysql_instance_guid + R"("}},"app":{"data":{"guid":")" + clone + R"("}}}})");
    REQUIRE(Str(t.Get(*bind.Header("Location")).Json(), "/state") == "COMPLETE");
    const auto failed = t.Get(*t.Delete("/v3/apps/" + clone).Header("Location")).Json();
    CHECK(Str(failed, "/state") == "FAILED");
    CHECK(Str(failed, "/errors/0/detail").find("is in progress") != std::string::npos);
    CHECK(t.Get("/v3/apps/" + clone).status == 200);

    const std::string binding = t.fake.BindingsOfApp(clone)[0].guid;
    CHECK(Str(t.Get(*t.Delete("/v3/service_credential_bindings/" + binding).Header("Location")).Json(), "/state") == "COMPLETE");
    CHECK(Str(t.Get(*t.Delete("/v3/apps/" + clone).Header("Location")).Json(), "/state") == "COMPLETE");
    CHECK(t.fake.AppsWithLabel("ssh-access.example.com/binding-guid=B-1").empty());
  }

  TEST_CASE("fake CC location_base knob puts a foreign host in Location headers, job links and page links") {
    FakeCc t;
    t.fake.UpdateKnobs([](Fake::Knobs& k) { k.location_base = "http://evil.example.com:1234"; });
    const Answer del = t.Delete("/v3/apps/" + t.demo.app_guid);
    REQUIRE(del.status == 202);
    const std::string location = *del.Header("Location");
    CHECK(location.rfind("http://evil.example.com:1234/v3/jobs/", 0) == 0);
    // The path still works against the real host.
    const auto job = t.Get(location.substr(std::string("http://evil.example.com:1234").size())).Json();
    CHECK(Str(job, "/links/self/href") == location);
    const auto page = t.Get("/v3/service_credential_bindings?per_page=1").Json();
    CHECK(Str(page, "/pagination/next/href").rfind("http://evil.example.com:1234/v3/service_credential_bindings?", 0) == 0);
    CHECK(Str(page, "/pagination/first/href").rfind("http://evil.example.com:1234/", 0) == 0);
  }

  // ---- Faults ----

  TEST_CASE("fake CC fault: 429 with Retry-After and X-RateLimit headers on exactly the Nth call to a route") {
    FakeCc t;
    Fake::Fault f;
    f.kind = Fake::Fault::Kind::kRateLimited;
    f.method = "GET";
    f.route = "/v3/apps/:guid";
    f.nth = 2;
    f.retry_after_seconds = 7;
    t.fake.AddFault(f);
    CHECK(t.Get("/v3/apps/" + t.demo.app_guid).status == 200);
    CHECK(t.Get("/v3/apps").status == 200);  // another route: not counted
    const Answer limited = t.Get("/v3/apps/" + t.demo.app_guid);
    CheckCcError(limited, 429, 10013, "CF-RateLimitExceeded");
    CHECK(limited.Header("Retry-After") == std::optional<std::string>("7"));
    CHECK(limited.Header("X-RateLimit-Limit").has_value());
    CHECK(limited.Header("X-RateLimit-Remaining") == std::optional<std::string>("0"));
    CHECK(limited.Header("X-RateLimit-Reset").has_value());
    CHECK(t.Get("/v3/apps/" + t.demo.app_guid).status == 200);
    const auto journal = t.fake.Calls("GET", "/v3/apps/:guid");
    REQUIRE(journal.size() == 3);
    CHECK(journal[1].fault == "rate_limited");
    CHECK(journal[1].status == 429);
  }

  TEST_CASE("fake CC fault: an expired-token 401 really expires the presented token, so only a new one works") {
    FakeCc t;
    Fake::Fault f;
    f.kind = Fake::Fault::Kind::kExpiredToken;
    f.route = "/v3/*";
    t.fake.AddFault(f);
    CheckCcError(t.Get("/v3/apps"), 401, 1000, "CF-InvalidAuthToken");
    CheckCcError(t.Get("/v3/apps"), 401, 1000, "CF-InvalidAuthToken");  // no fault now: the token is dead
    t.token = t.fake.IssueToken(t.demo.client_id);
    CHECK(t.Get("/v3/apps").status == 200);
  }

  TEST_CASE("fake CC fault: 500, 503 and 503 220002 on stats, for `count` calls from the nth") {
    FakeCc t;
    Fake::Fault a{.kind = Fake::Fault::Kind::kInternalError, .route = "/v3/spaces/*"};
    Fake::Fault b{.kind = Fake::Fault::Kind::kServiceUnavailable, .route = "/v3/organizations/:guid", .count = 2};
    Fake::Fault c{.kind = Fake::Fault::Kind::kInstancesUnavailable, .method = "GET", .route = "/v3/processes/:guid/stats"};
    t.fake.AddFault(a);
    t.fake.AddFault(b);
    t.fake.AddFault(c);
    CheckCcError(t.Get("/v3/spaces/" + t.demo.space_guid), 500, 10001, "UnknownError");
    CHECK(t.Get("/v3/spaces/" + t.demo.space_guid).status == 200);
    CheckCcError(t.Get("/v3/organizations/" + t.demo.org_guid), 503, 10015, "CF-ServiceUnavailable");
    CheckCcError(t.Get("/v3/organizations/" + t.demo.org_guid), 503, 10015, "CF-ServiceUnavailable");
    CHECK(t.Get("/v3/organizations/" + t.demo.org_guid).status == 200);
    CheckCcError(t.Get("/v3/processes/" + t.demo.app_guid + "/stats"), 503, 220002, "CF-InstancesUnavailable");
    CHECK(Str(t.Get("/v3/processes/" + t.demo.app_guid + "/stats").Json(), "/resources/0/state") == "RUNNING");
  }

  TEST_CASE("fake CC fault: a 503 carries Retry-After only when the rule sets one") {
    FakeCc t;
    Fake::Fault plain{.kind = Fake::Fault::Kind::kServiceUnavailable, .route = "/v3/spaces/:guid"};
    Fake::Fault timed{.kind = Fake::Fault::Kind::kServiceUnavailable, .route = "/v3/organizations/:guid"};
    timed.retry_after_seconds = 4;
    t.fake.AddFault(plain);
    t.fake.AddFault(timed);
    const Answer a = t.Get("/v3/spaces/" + t.demo.space_guid);
    CHECK(a.status == 503);
    CHECK_FALSE(a.Header("Retry-After").has_value());
    const Answer b = t.Get("/v3/organizations/" + t.demo.org_guid);
    CHECK(b.status == 503);
    CHECK(b.Header("Retry-After") == std::optional<std::string>("4"));
  }

  TEST_CASE("fake CC fault: connection reset closes the socket without an answer, and the next call works") {
    FakeCc t;
    t.fake.AddFault({.kind = Fake::Fault::Kind::kConnectionReset, .method = "POST", .route = "/v3/apps"});
    const Answer a = t.Post("/v3/apps", AppBody("lost", t.demo.space_guid));
    INFO(a.Describe());
    CHECK(a.status == 0);
    CHECK((a.code == CURLE_RECV_ERROR || a.code == CURLE_GOT_NOTHING));
    CHECK(t.fake.AppsWithLabel("!x").size() == 1);  // nothing was created
    CHECK(t.fake.Calls("POST", "/v3/apps")[0].fault == "connection_reset");
    CHECK(t.fake.Calls("POST", "/v3/apps")[0].status == 0);
    CHECK(t.Post("/v3/apps", AppBody("found", t.demo.space_guid)).status == 201);
  }

  TEST_CASE("fake CC fault: a slow response outlasts a client timeout, then answers normally") {
    FakeCc t;
    Fake::Fault f{.kind = Fake::Fault::Kind::kSlowResponse, .method = "GET", .route = "/v3/apps/:guid"};
    f.delay = milliseconds(1500);
    t.fake.AddFault(f);
    Req r;
    r.url = t.base + "/v3/apps/" + t.demo.app_guid;
    r.headers = {"Authorization: bearer " + t.token};
    r.timeout = milliseconds(300);
    const auto start = std::chrono::steady_clock::now();
    const Answer a = Send(r);
    CHECK(a.code == CURLE_OPERATION_TIMEDOUT);
    CHECK(std::chrono::steady_clock::now() - start < milliseconds(1400));
    r.timeout = milliseconds(5000);
    CHECK(Send(r).status == 200);
  }

  TEST_CASE("fake CC Stop() returns promptly while a slow response is pending") {
    auto t = std::make_unique<FakeCc>();
    Fake::Fault f{.kind = Fake::Fault::Kind::kSlowResponse};
    f.delay = milliseconds(30000);
    t->fake.AddFault(f);
    Req r;
    r.url = t->base + "/v3/apps";
    r.headers = {"Authorization: bearer " + t->token};
    r.timeout = milliseconds(20000);
    Answer answer;
    std::thread client([r, &answer] { answer = Send(r); });
    std::this_thread::sleep_for(milliseconds(200));
    const auto start = std::chrono::steady_clock::now();
    t->fake.Stop();
    CHECK(std::chrono::steady_clock::now() - start < milliseconds(5000));
    client.join();
    // The pending client is let go at once rather than left to its own 20 s timeout.
    CHECK(std::chrono::steady_clock::now() - start < milliseconds(5000));
    INFO(answer.Describe());
    CHECK(answer.code != CURLE_OPERATION_TIMEDOUT);
    t.reset();
  }

  TEST_CASE("fake CC Stop() returns promptly while an hour-long hang is pending and its client was killed") {
    auto t = std::make_unique<FakeCc>();
    Fake::Fault hang{.kind = Fake::Fault::Kind::kSlowResponse, .method = "GET", .route = "/v3/apps/:guid"};
    hang.delay = std::chrono::hours(1);
    t->fake.AddFault(hang);
    // "The broker": a raw connection that sends one request, then dies without reading.
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(t->fake.port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    const std::string request = "GET /v3/apps/" + t->demo.app_guid +
                                " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: bearer " + t->token + "\r\n\r\n";
    REQUIRE(::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size()));
    std::this_thread::sleep_for(milliseconds(300));
    ::close(fd);
    std::this_thread::sleep_for(milliseconds(100));
    const auto start = std::chrono::steady_clock::now();
    t->fake.Stop();
    CHECK(std::chrono::steady_clock::now() - start < milliseconds(3000));
    const auto calls = t->fake.Calls("GET", "/v3/apps/:guid");
    REQUIRE(calls.size() == 1);
    CHECK(calls[0].status == 0);  // never answered
    CHECK(calls[0].fault == "slow_response");
    t.reset();
  }

  // ---- Journal, connections ----

  TEST_CASE("fake CC journal records method, path, decoded query, body, Authorization, time and status in order") {
    FakeCc t;
    const auto before = std::chrono::system_clock::now() - std::chrono::seconds(1);
    t.Get("/v3/apps?label_selector=a.example%2Fb%3Dc&per_page=10");
    const std::string clone = t.CreateClone();
    t.Patch("/v3/processes/" + clone, R"({"health_check":{"type":"process"}})");
    const auto j = t.fake.Journal();
    REQUIRE(j.size() == 3);
    CHECK(j[0].method == "GET");
    CHECK(j[0].path == "/v3/apps");
    CHECK(j[0].route == "/v3/apps");
    CHECK(j[0].query == "label_selector=a.example%2Fb%3Dc&per_page=10");
    CHECK(j[0].query_params.at("label_selector") == "a.example/b=c");
    CHECK(j[0].authorization == "bearer " + t.token);
    CHECK(j[0].status == 200);
    CHECK(j[0].at >= before);
    CHECK(j[1].method == "POST");
    CHECK(j[1].body.find("ssh-access.example.com/binding-guid") != std::string::npos);
    CHECK(j[1].status == 201);
    CHECK(j[2].route == "/v3/processes/:guid");
    CHECK(j[2].path == "/v3/processes/" + clone);
    CHECK(t.fake.Calls("PATCH", "/v3/processes/*").size() == 1);
    t.fake.ClearJournal();
    CHECK(t.fake.Journal().empty());
  }

  TEST_CASE("fake CC keeps HTTP/1.1 connections alive across requests") {
    FakeCc t;
    CURL* curl = curl_easy_init();
    Req r;
    r.url = t.base + "/v3/apps/" + t.demo.app_guid;
    r.headers = {"Authorization: bearer " + t.token};
    const Answer first = Send(r, curl);
    const Answer second = Send(r, curl);
    curl_easy_cleanup(curl);
    CHECK(first.status == 200);
    CHECK(second.status == 200);
    CHECK(first.new_connections == 1);
    CHECK(second.new_connections == 0);
    CHECK(second.Header("Connection") == std::optional<std::string>("Keep-Alive"));
  }

  TEST_CASE("fake CC Stop() closes idle keep-alive connections, so a client fails fast instead of hanging") {
    FakeCc t;
    CURL* curl = curl_easy_init();
    Req r;
    r.url = t.base + "/v3/apps";
    r.headers = {"Authorization: bearer " + t.token};
    REQUIRE(Send(r, curl).status == 200);
    t.fake.Stop();
    r.timeout = milliseconds(10000);
    const auto start = std::chrono::steady_clock::now();
    const Answer after = Send(r, curl);
    curl_easy_cleanup(curl);
    INFO(after.Describe());
    CHECK(after.status == 0);
    CHECK(std::chrono::steady_clock::now() - start < milliseconds(3000));
  }

  // ---- Features ----

  TEST_CASE("fake CC app features list and PATCH, and the missing-feature knob of older CCs answers 404") {
    FakeCc t;
    const std::string path = "/v3/apps/" + t.demo.app_guid + "/features";
    CHECK(Size(t.Get(path).Json(), "/resources") == 4);
    const Answer p = t.Patch(path + "/file-based-vcap-services", R"({"enabled":true})");
    INFO(p.Describe());
    CHECK(p.status == 200);
    CHECK(Ptr(t.Get(path + "/file-based-vcap-services").Json(), "/enabled")->GetBool());
    t.fake.UpdateKnobs([](Fake::Knobs& k) { k.missing_app_features = {"service-binding-k8s"}; });
    CHECK(Size(t.Get(path).Json(), "/resources") == 3);
    CheckCcError(t.Get(path + "/service-binding-k8s"), 404, 10010, "CF-ResourceNotFound");
  }

  // ---- Session report ----

  TEST_CASE("fake CC POSTs the configured session report when a clone's web instance reaches RUNNING") {
    // A second fake plays the broker: its journal shows what arrived (it answers 404 to /session).
    Fake receiver;
    receiver.Start();
    FakeCc t;
    Fake::SessionReport report;
    report.url = "{env:SSH_ACCESS_CALLBACK_URL}";
    report.bearer_token = "{env:SSH_ACCESS_CALLBACK_TOKEN}";
    report.body = R"({"ssh":"ssh -p2222 tok@tmate.example.com","binding":"{label:ssh-access.example.com/binding-guid}","app":"{app_guid}"})";
    t.fake.UpdateKnobs([&](Fake::Knobs& k) {
      k.instance_start_ticks = 2;
      k.session_report = report;
    });
    const Answer created = t.Post(
        "/v3/apps",
        AppBody("spring-music-ssh", t.demo.space_guid,
                R"(,"environment_variables":{"SSH_ACCESS_CALLBACK_URL":")" + receiver.base_url() +
                    R"(/session","SSH_ACCESS_CALLBACK_TOKEN":"cb-secret"},"metadata":{"labels":{"ssh-access.example.com/binding-guid":"B-7"}})"));
    REQUIRE(created.status == 201);
    const std::string clone = Str(created.Json(), "/guid");
    t.CopyAndAssignDroplet(clone, t.SourceDroplet());
    REQUIRE(t.Post("/v3/apps/" + clone + "/actions/start", "").status == 200);
    CHECK(Str(t.Get("/v3/processes/" + clone + "/stats").Json(), "/resources/0/state") == "STARTING");
    CHECK(t.fake.SessionReports().empty());
    CHECK(Str(t.Get("/v3/processes/" + clone + "/stats").Json(), "/resources/0/state") == "RUNNING");

    const auto results = t.fake.AwaitSessionReports(1, milliseconds(5000));
    REQUIRE(results.size() == 1);
    CHECK(results[0].app_guid == clone);
    CHECK(results[0].url == receiver.base_url() + "/session");
    CHECK(results[0].status == 404);
    const auto arrived = receiver.Calls("POST", "/session");
    REQUIRE(arrived.size() == 1);
    CHECK(arrived[0].authorization == "Bearer cb-secret");
    CHECK(arrived[0].body == R"({"ssh":"ssh -p2222 tok@tmate.example.com","binding":"B-7","app":")" + clone + R"("})");

    // Once per start: more stats GETs do not report again; seeded (non-clone) apps never report.
    t.Get("/v3/processes/" + clone + "/stats");
    t.Get("/v3/processes/" + t.demo.app_guid + "/stats");
    std::this_thread::sleep_for(milliseconds(100));
    CHECK(t.fake.SessionReports().size() == 1);

    SUBCASE("the kOnStart trigger reports right after actions/start") {
      report.trigger = Fake::SessionReport::Trigger::kOnStart;
      report.url = receiver.base_url() + "/session-on-start";
      t.fake.UpdateKnobs([&](Fake::Knobs& k) { k.session_report = report; });
      REQUIRE(t.Post("/v3/apps/" + clone + "/actions/restart", "").status == 200);
      CHECK(t.fake.AwaitSessionReports(2, milliseconds(5000)).size() == 2);
      CHECK(receiver.Calls("POST", "/session-on-start").size() == 1);
    }
  }

  TEST_CASE("fake CC clone flow leaves exactly one labelled clone and the inspectors see its whole state") {
    FakeCc t;
    t.fake.UpdateKnobs([](Fake::Knobs& k) {
      k.binding_create_job_ticks = 1;
      k.instance_start_ticks = 1;
    });
    const std::string clone = t.CreateClone();
    t.CopyAndAssignDroplet(clone, t.SourceDroplet());
    for (const std::string& instance : {t.demo.mysql_instance_guid, t.demo.redis_instance_guid, t.demo.ups_instance_guid}) {
      const Answer a = t.Post("/v3/service_credential_bindings",
                              R"({"type":"app","relationships":{"service_instance":{"data":{"guid":")" + instance +
                                  R"("}},"app":{"data":{"guid":")" + clone + R"("}}}})");
      if (a.status == 202) {
        CHECK(Str(t.PollJob(*a.Header("Location")), "/state") == "COMPLETE");
      } else {
        CHECK(a.status == 201);
      }
    }
    REQUIRE(t.Post("/v3/apps/" + clone + "/actions/start", "").status == 200);
    t.Get("/v3/processes/" + clone + "/stats");
    const auto clones = t.fake.AppsWithLabel("ssh-access.example.com/binding-guid=B-1");
    REQUIRE(clones.size() == 1);
    CHECK(clones[0].guid == clone);
    CHECK(clones[0].state == "STARTED");
    CHECK(t.fake.BindingsOfApp(clone).size() == 3);
    for (const auto& b : t.fake.BindingsOfApp(clone)) CHECK(b.last_operation_state == "succeeded");
    CHECK(t.fake.ProcessOf(clone)->instance_state == "RUNNING");
    CHECK(t.fake.DropletsOf(clone).size() == 1);
    // The excluded instance (ours) was never bound.
    for (const auto& e : t.fake.Calls("POST", "/v3/service_credential_bindings")) {
      CHECK(e.body.find(t.demo.ssh_instance_guid) == std::string::npos);
    }
  }
}

// ---- Local containers (Knobs::local_containers) ------------------------------------------------

namespace fs = std::filesystem;

// Whether `pid` is a live process (a zombie, or a gone pid, is not).
bool Alive(int pid) {
  if (pid <= 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  const std::size_t close = line.rfind(')');
  if (close == std::string::npos || close + 2 >= line.size()) return false;
  const char state = line[close + 2];
  return state != 'Z' && state != 'X';
}

// Polls `done` every 10 ms until it holds or `deadline` passes; returns its last value.
template <typename F>
bool Eventually(F done, milliseconds deadline = milliseconds(10000)) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= until) return done();
    std::this_thread::sleep_for(milliseconds(10));
  }
  return true;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Chomp(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

int ReadPid(const fs::path& p) {
  const std::string s = ReadFile(p);
  return s.empty() ? -1 : std::atoi(s.c_str());
}

// A started fake in local-container mode under a fresh directory, removed at the end (after the
// fake, and so every container, has stopped).
struct LocalCc : FakeCc {
  TempDir root{"fake-cc-local", "/tmp"};  // the containers' root

  explicit LocalCc(milliseconds stop_grace = milliseconds(2000)) {
    fake.UpdateKnobs([&](Fake::Knobs& k) {
      k.instance_start_ticks = 1;
      k.binding_create_job_ticks = 1;
      k.app_delete_job_ticks = 2;
      k.local_containers = Fake::LocalContainers{root.path().string(), {{"FAKE_TMATE_MODE", "ok"}}, stop_grace};
    });
  }
  ~LocalCc() { fake.Stop(); }  // then root goes

  // A clone of spring-music (env FROM_CREATE set at create) with a copied droplet and `command`.
  std::string Clone(const std::string& command, const std::string& name = "spring-music-ssh") {
    const Answer a = Post("/v3/apps", AppBody(name, demo.space_guid,
                                              R"(,"lifecycle":{"type":"buildpack","data":{"buildpacks":["java_buildpack"],"stack":"cflinuxfs4"}},)"
                                              R"("environment_variables":{"FROM_CREATE":"created"})"));
    INFO(a.Describe());
    REQUIRE(a.status == 201);
    const std::string clone = Str(a.Json(), "/guid");
    CopyAndAssignDroplet(clone, SourceDroplet());
    const Answer p = Patch("/v3/processes/" + clone, R"({"command":")" + Escape(command) + R"("})");
    INFO(p.Describe());
    REQUIRE(p.status == 200);
    return clone;
  }

  static std::string Escape(const std::string& s) {
    std::string out;
    for (char c : s) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    return out;
  }

  void Start(const std::string& app) {
    const Answer a = Post("/v3/apps/" + app + "/actions/start", "");
    INFO(a.Describe());
    REQUIRE(a.status == 200);
  }

  std::string StatsState(const std::string& app) const {
    return Str(Get("/v3/processes/" + app + "/stats").Json(), "/resources/0/state");
  }

  // Whether the fake log-cache has `text` as a LOG envelope of `app` with this source and stream.
  bool HasLogLine(const std::string& app, const std::string& text, bool is_stderr,
                  const std::string& source_type = "APP/PROC/WEB") const {
    const Answer logs = Get("/api/v1/read/" + app + "?envelope_types=LOG&start_time=0&limit=1000");
    const auto d = logs.Json();
    const rapidjson::Value* batch = Ptr(d, "/envelopes/batch");
    if (batch == nullptr || !batch->IsArray()) return false;
    for (const auto& e : batch->GetArray()) {
      if (std::string(e["log"]["payload"].GetString()) == Base64(text) &&
          std::string(e["log"]["type"].GetString()) == (is_stderr ? "ERR" : "OUT") &&
          std::string(e["tags"]["source_type"].GetString()) == source_type) {
        return true;
      }
    }
    return false;
  }
};

// NAME=value lines of an `env` dump.
std::map<std::string, std::string> ParseEnvDump(const std::string& dump) {
  std::map<std::string, std::string> out;
  std::stringstream in(dump);
  std::string line;
  while (std::getline(in, line)) {
    const std::size_t eq = line.find('=');
    if (eq != std::string::npos && eq > 0) out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

TEST_SUITE("testing::FakeCloudController") {
  TEST_CASE("fake CC local container runs the web command in the app folder with the CF environment, RUNNING while it lives") {
    LocalCc t;
    const std::string clone = t.Clone(
        "pwd > pwd.txt; env > env.txt; echo hello from stdout; echo hello from stderr >&2; exec sleep 1000");
    REQUIRE(t.Patch("/v3/apps/" + clone + "/environment_variables", R"({"var":{"FROM_PATCH":"patched"}})").status == 200);
    std::map<std::string, std::string> binding_of;  // instance guid -> binding guid
    for (const std::string& instance : {t.demo.mysql_instance_guid, t.demo.redis_instance_guid, t.demo.ups_instance_guid}) {
      const Answer a = t.Post("/v3/service_credential_bindings",
                              R"({"type":"app","relationships":{"service_instance":{"data":{"guid":")" + instance +
                                  R"("}},"app":{"data":{"guid":")" + clone + R"("}}}})");
      if (a.status == 202) {
        REQUIRE(Str(t.PollJob(*a.Header("Location")), "/state") == "COMPLETE");
      } else {
        REQUIRE(a.status == 201);
      }
    }
    for (const auto& b : t.fake.BindingsOfApp(clone)) binding_of[b.service_instance_guid] = b.guid;
    REQUIRE(binding_of.size() == 3);

    t.Start(clone);
    const auto view = t.fake.LocalContainer(clone);
    REQUIRE(view.has_value());
    CHECK(view->pid > 0);
    CHECK(view->running);
    CHECK_FALSE(view->exit_status.has_value());
    CHECK(view->app_dir == (t.root.path() / clone / "app").string());
    CHECK(view->stdout_path == (t.root.path() / clone / "stdout.log").string());
    CHECK(view->stderr_path == (t.root.path() / clone / "stderr.log").string());
    CHECK(::getpgid(view->pid) == view->pid);  // its own process group
    CHECK(t.StatsState(clone) == "RUNNING");
    CHECK(t.fake.ProcessOf(clone)->instance_state == "RUNNING");

    const fs::path app_dir = view->app_dir;
    REQUIRE(Eventually([&] {
      return t.HasLogLine(clone, "hello from stderr", true) && t.HasLogLine(clone, "hello from stdout", false);
    }));
    CHECK(ReadFile(view->stdout_path) == "hello from stdout\n");
    CHECK(ReadFile(view->stderr_path) == "hello from stderr\n");
    CHECK(fs::equivalent(Chomp(ReadFile(app_dir / "pwd.txt")), app_dir));
    CHECK(ReadFile(app_dir / "ssh-access-fake-droplet.txt") == "spring-music\n");

    const auto seen = ParseEnvDump(ReadFile(app_dir / "env.txt"));
    // Exactly the environment it was started with (bash adds PWD, SHLVL and _), nothing of ours.
    for (const auto& [name, value] : seen) {
      if (name == "PWD" || name == "SHLVL" || name == "_" || name == "OLDPWD") continue;
      INFO(name);
      REQUIRE(view->env.count(name) == 1);
      CHECK(view->env.at(name) == value);
    }
    for (const auto& [name, value] : view->env) {
      INFO(name);
      CHECK(seen.count(name) == 1);
    }
    const auto& env = view->env;
    CHECK(env.at("FROM_CREATE") == "created");
    CHECK(env.at("FROM_PATCH") == "patched");
    CHECK(env.at("FAKE_TMATE_MODE") == "ok");
    CHECK(env.at("HOME") == view->app_dir);
    CHECK(env.at("TMPDIR") == (t.root.path() / clone / "tmp").string());
    CHECK(fs::is_directory(env.at("TMPDIR")));
    CHECK(env.at("LANG") == "C.UTF-8");
    CHECK(env.at("INSTANCE_INDEX") == "0");
    CHECK_FALSE(env.at("CF_INSTANCE_GUID").empty());
    CHECK(std::atoi(env.at("PORT").c_str()) > 0);
    CHECK_FALSE(env.at("PATH").empty());
    CHECK(env.count("BROKER_TEST_DATABASE_URL") == 0);

    rapidjson::Document app;
    app.Parse(env.at("VCAP_APPLICATION").c_str());
    REQUIRE(app.IsObject());
    CHECK(Str(app, "/application_id") == clone);
    CHECK(Str(app, "/application_name") == "spring-music-ssh");
    CHECK(Str(app, "/name") == "spring-music-ssh");
    CHECK(Str(app, "/space_id") == t.demo.space_guid);
    CHECK(Str(app, "/space_name") == "demo-space");
    CHECK(Str(app, "/organization_id") == t.demo.org_guid);
    CHECK(Str(app, "/organization_name") == "demo-org");
    CHECK(Ptr(app, "/application_uris")->IsArray());
    CHECK(Int(app, "/limits/mem") == 1024);
    CHECK(Int(app, "/limits/disk") == 1024);
    CHECK(Int(app, "/instance_index") == 0);

    rapidjson::Document services;
    services.Parse(env.at("VCAP_SERVICES").c_str());
    REQUIRE(services.IsObject());
    CHECK(services.MemberCount() == 3);
    CHECK(Size(services, "/p.mysql") == 1);
    CHECK(Str(services, "/p.mysql/0/name") == "music-db");
    CHECK(Str(services, "/p.mysql/0/label") == "p.mysql");
    CHECK(Str(services, "/p.mysql/0/plan") == "db-small");
    CHECK(Str(services, "/p.mysql/0/instance_guid") == t.demo.mysql_instance_guid);
    CHECK(Str(services, "/p.mysql/0/binding_guid") == binding_of[t.demo.mysql_instance_guid]);
    CHECK(Str(services, "/p.mysql/0/credentials/uri") == "mysql://music:secret@10.0.0.5:3306/music");
    CHECK(Ptr(services, "/p.mysql/0/tags")->IsArray());
    CHECK(Str(services, "/p.redis/0/binding_guid") == binding_of[t.demo.redis_instance_guid]);
    CHECK(Str(services, "/p.redis/0/credentials/host") == "10.0.0.6");
    CHECK(Str(services, "/user-provided/0/label") == "user-provided");
    CHECK(Str(services, "/user-provided/0/name") == "music-config");
    CHECK(Str(services, "/user-provided/0/instance_guid") == t.demo.ups_instance_guid);
    CHECK(Str(services, "/user-provided/0/binding_guid") == binding_of[t.demo.ups_instance_guid]);
    CHECK(Str(services, "/user-provided/0/credentials/api_key") == "demo-key");

    // Still running: stats stay RUNNING.
    CHECK(t.StatsState(clone) == "RUNNING");
    CHECK(Alive(view->pid));
  }

  TEST_CASE("fake CC local container that exits 3 is CRASHED, with its stderr lines in log-cache") {
    LocalCc t;
    const std::string clone =
        t.Clone("echo 'tmate: cannot connect to tmate.example.com:2222' >&2; printf 'last words' >&2; exit 3");
    t.Start(clone);
    REQUIRE(Eventually([&] { return t.StatsState(clone) == "CRASHED"; }));
    CHECK(t.fake.ProcessOf(clone)->instance_state == "CRASHED");
    const auto view = t.fake.LocalContainer(clone);
    REQUIRE(view.has_value());
    CHECK_FALSE(view->running);
    CHECK(view->exit_status == 3);
    CHECK_FALSE(view->stop_requested);
    CHECK_FALSE(Alive(view->pid));
    CHECK(t.HasLogLine(clone, "tmate: cannot connect to tmate.example.com:2222", true));
    CHECK(t.HasLogLine(clone, "last words", true));  // the unterminated last line too
    CHECK(t.HasLogLine(clone, "Exit status 3", false, "CELL"));
    CHECK(ReadFile(view->stderr_path) == "tmate: cannot connect to tmate.example.com:2222\nlast words");
    CHECK(t.StatsState(clone) == "CRASHED");  // it stays crashed
  }

  TEST_CASE("fake CC local container stop SIGTERMs the whole process group, and a restart runs a fresh process") {
    // SIGTERM blocked in the threads that fork (as fake_cc blocks it for sigwait) must not reach
    // the container: with a 60 s grace, only a SIGTERM that works ends it in time.
    sigset_t term, old;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    REQUIRE(::pthread_sigmask(SIG_BLOCK, &term, &old) == 0);
    std::optional<LocalCc> made;
    made.emplace(milliseconds(60000));
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    LocalCc& t = *made;

    const std::string clone = t.Clone("sleep 1000 & echo $! > bg.pid; echo started; wait");
    t.Start(clone);
    const auto first = t.fake.LocalContainer(clone);
    REQUIRE(first.has_value());
    const fs::path bg_file = fs::path(first->app_dir) / "bg.pid";
    REQUIRE(Eventually([&] { return ReadPid(bg_file) > 0; }));
    const int bg = ReadPid(bg_file);
    CHECK(Alive(first->pid));
    CHECK(Alive(bg));
    CHECK(::getpgid(bg) == first->pid);
    CHECK(t.StatsState(clone) == "RUNNING");

    const Answer stop = t.Post("/v3/apps/" + clone + "/actions/stop", "");
    REQUIRE(stop.status == 200);
    CHECK(t.StatsState(clone) == "DOWN");
    REQUIRE(Eventually([&] { return !t.fake.LocalContainer(clone)->running; }));
    CHECK(Eventually([&] { return !Alive(bg); }));
    CHECK_FALSE(Alive(first->pid));
    const auto stopped = t.fake.LocalContainer(clone);
    CHECK(stopped->stop_requested);
    CHECK(stopped->exit_status == 128 + SIGTERM);
    CHECK(t.StatsState(clone) == "DOWN");

    t.Start(clone);
    const auto second = t.fake.LocalContainer(clone);
    REQUIRE(second.has_value());
    CHECK(second->running);
    CHECK(second->pid != first->pid);
    CHECK_FALSE(second->stop_requested);
    CHECK(Alive(second->pid));
    CHECK(t.StatsState(clone) == "RUNNING");
    // The new container starts from a fresh copy of the droplet's folder.
    CHECK(Eventually([&] { return ReadPid(bg_file) > 0 && ReadPid(bg_file) != bg; }));
  }

  TEST_CASE("fake CC local container that ignores SIGTERM is SIGKILLed with its group after stop_grace") {
    LocalCc t(milliseconds(200));
    const std::string clone = t.Clone("trap '' TERM; sleep 1000 & echo $! > bg.pid; wait");
    t.Start(clone);
    const auto view = t.fake.LocalContainer(clone);
    REQUIRE(view.has_value());
    const fs::path bg_file = fs::path(view->app_dir) / "bg.pid";
    REQUIRE(Eventually([&] { return ReadPid(bg_file) > 0; }));
    const int bg = ReadPid(bg_file);
    const auto stop_at = std::chrono::steady_clock::now();
    REQUIRE(t.Post("/v3/apps/" + clone + "/actions/stop", "").status == 200);
    REQUIRE(Eventually([&] { return !t.fake.LocalContainer(clone)->running; }));
    CHECK(std::chrono::steady_clock::now() - stop_at >= milliseconds(200));
    CHECK(t.fake.LocalContainer(clone)->exit_status == 128 + SIGKILL);
    CHECK(Eventually([&] { return !Alive(bg); }));
  }

  TEST_CASE("fake CC local container dies with its app when the delete job completes") {
    LocalCc t;
    const std::string clone = t.Clone("sleep 1000 & echo $! > bg.pid; wait");
    t.Start(clone);
    const auto view = t.fake.LocalContainer(clone);
    REQUIRE(view.has_value());
    const fs::path bg_file = fs::path(view->app_dir) / "bg.pid";
    REQUIRE(Eventually([&] { return ReadPid(bg_file) > 0; }));
    const int bg = ReadPid(bg_file);

    const Answer del = t.Delete("/v3/apps/" + clone);
    REQUIRE(del.status == 202);
    CHECK(t.fake.LocalContainer(clone)->running);  // the job has not run yet
    CHECK(Str(t.PollJob(*del.Header("Location")), "/state") == "COMPLETE");
    CHECK_FALSE(t.fake.App(clone).has_value());
    REQUIRE(Eventually([&] { return !t.fake.LocalContainer(clone)->running; }));
    CHECK(t.fake.LocalContainer(clone)->stop_requested);
    CHECK_FALSE(Alive(view->pid));
    CHECK(Eventually([&] { return !Alive(bg); }));
  }

  TEST_CASE("fake CC Stop() stops and reaps the local containers before it returns") {
    LocalCc t;
    const std::string clone = t.Clone("sleep 1000 & echo $! > bg.pid; wait");
    t.Start(clone);
    const auto view = t.fake.LocalContainer(clone);
    REQUIRE(view.has_value());
    const fs::path bg_file = fs::path(view->app_dir) / "bg.pid";
    REQUIRE(Eventually([&] { return ReadPid(bg_file) > 0; }));
    const int bg = ReadPid(bg_file);

    const auto before = std::chrono::steady_clock::now();
    t.fake.Stop();
    CHECK(std::chrono::steady_clock::now() - before < milliseconds(2000));  // SIGTERM worked, no grace
    const auto after = t.fake.LocalContainer(clone);
    REQUIRE(after.has_value());
    CHECK_FALSE(after->running);
    CHECK(after->exit_status == 128 + SIGTERM);
    CHECK_FALSE(Alive(view->pid));
    CHECK(::waitpid(view->pid, nullptr, WNOHANG) == -1);  // already reaped: not our child any more
    CHECK(Eventually([&] { return !Alive(bg); }));
  }

  TEST_CASE("fake CC local container of a clone runs in a copy of the source droplet's app folder") {
    LocalCc t;
    const std::string first = t.Clone("exec sleep 1000", "first-ssh");
    // The first copy made the source droplet's folder (the seeded marker); add a file to it.
    const fs::path source_dir = t.root.path() / "droplets" / t.SourceDroplet() / "app";
    REQUIRE(ReadFile(source_dir / "ssh-access-fake-droplet.txt") == "spring-music\n");
    std::ofstream(source_dir / "Procfile") << "web: bin/run\n";
    const std::string second = t.Clone("cat ssh-access-fake-droplet.txt Procfile; exec sleep 1000", "second-ssh");
    t.Start(first);
    t.Start(second);

    const auto a = t.fake.LocalContainer(first);
    const auto b = t.fake.LocalContainer(second);
    REQUIRE(a.has_value());
    REQUIRE(b.has_value());
    CHECK(ReadFile(fs::path(a->app_dir) / "ssh-access-fake-droplet.txt") == "spring-music\n");
    CHECK_FALSE(fs::exists(fs::path(a->app_dir) / "Procfile"));  // copied before the file existed
    CHECK(ReadFile(fs::path(b->app_dir) / "Procfile") == "web: bin/run\n");
    CHECK(Eventually([&] {
      return t.HasLogLine(second, "spring-music", false) && t.HasLogLine(second, "web: bin/run", false);
    }));
    // Each droplet has its own folder.
    for (const auto& d : t.fake.DropletsOf(second)) {
      CHECK(fs::exists(t.root.path() / "droplets" / d.guid / "app" / "Procfile"));
    }
  }

  TEST_CASE("fake CC local containers: no process for a placement error, a crash knob stops the process, a launch failure crashes") {
    LocalCc t;
    SUBCASE("when the placement error knob is set, nothing runs and the instance stays DOWN") {
      t.fake.UpdateKnobs([](Fake::Knobs& k) { k.placement_error = "insufficient resources: memory"; });
      const std::string clone = t.Clone("exec sleep 1000");
      t.Start(clone);
      CHECK_FALSE(t.fake.LocalContainer(clone).has_value());
      CHECK(t.StatsState(clone) == "DOWN");
    }
    SUBCASE("when instance_crashes is set, the instance is CRASHED and its process stopped") {
      t.fake.UpdateKnobs([](Fake::Knobs& k) { k.instance_crashes = true; });
      const std::string clone = t.Clone("exec sleep 1000");
      t.Start(clone);
      CHECK(t.StatsState(clone) == "CRASHED");
      CHECK(Eventually([&] { return !t.fake.LocalContainer(clone)->running; }));
    }
    SUBCASE("when the app folder cannot be made, the start crashes with a CELL line") {
      const std::string clone = t.Clone("exec sleep 1000");
      std::ofstream(t.root.path() / clone) << "a file where the app's directory should be\n";
      t.Start(clone);
      const auto view = t.fake.LocalContainer(clone);
      REQUIRE(view.has_value());
      CHECK(view->pid == -1);
      CHECK(view->exit_status == 127);
      CHECK(t.StatsState(clone) == "CRASHED");
    }
  }
}


// The standalone program (tests/support/programs/fake_cc_main.cc) as an operator runs it.
TEST_SUITE("fake_cc program") {
  TEST_CASE("fake_cc starts, prints its URL and demo credentials, serves them, and exits 0 on SIGTERM") {
    int out[2];
    REQUIRE(::pipe(out) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    char arg0[] = FAKE_CC_BINARY_PATH;
    char* argv[] = {arg0, nullptr};
    char* envp[] = {nullptr};
    pid_t pid = -1;
    REQUIRE(posix_spawn(&pid, FAKE_CC_BINARY_PATH, &actions, nullptr, argv, envp) == 0);
    posix_spawn_file_actions_destroy(&actions);
    struct Reaper {  // kills the child if a REQUIRE below ends the test early
      pid_t* pid;
      ~Reaper() {
        if (*pid > 0 && ::kill(*pid, SIGKILL) == 0) ::waitpid(*pid, nullptr, 0);
      }
    } reaper{&pid};
    ::close(out[1]);
    // Read what it prints up to the app line (the last of the banner).
    std::string banner;
    FILE* f = ::fdopen(out[0], "r");
    REQUIRE(f != nullptr);
    char line[512];
    while (banner.find("app spring-music") == std::string::npos && std::fgets(line, sizeof line, f) != nullptr) {
      banner += line;
    }
    INFO(banner);
    const auto field = [&](const std::string& name) {
      const std::size_t at = banner.find(name + "=");
      if (at == std::string::npos) return std::string();
      const std::size_t start = at + name.size() + 1;
      return banner.substr(start, banner.find('\n', start) - start);
    };
    const std::string base = field("CF_API_URL");
    const std::string client_id = field("CF_CLIENT_ID");
    const std::string secret = field("CF_CLIENT_SECRET");
    CHECK(base.rfind("http://127.0.0.1:", 0) == 0);
    CHECK_FALSE(client_id.empty());

    Req root;
    root.url = base + "/";
    const Answer r = Send(root);
    CHECK(r.status == 200);
    CHECK(Str(r.Json(), "/links/cloud_controller_v3/href") == base + "/v3");
    Req token;
    token.method = "POST";
    token.url = base + "/oauth/token";
    token.body = "grant_type=client_credentials";
    token.headers = {"Authorization: Basic " + Base64(client_id + ":" + secret)};
    const Answer tok = Send(token);
    INFO(tok.Describe());
    REQUIRE(tok.status == 200);
    Req apps;
    apps.url = base + "/v3/apps?names=spring-music";
    apps.headers = {"Authorization: bearer " + Str(tok.Json(), "/access_token")};
    const Answer listed = Send(apps);
    INFO(listed.Describe());
    CHECK(Int(listed.Json(), "/pagination/total_results") == 1);

    REQUIRE(::kill(pid, SIGTERM) == 0);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    pid = -1;
    std::fclose(f);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }

  TEST_CASE("fake_cc --help lists every option, and --container-env without --local-containers is a usage error") {
    // Runs fake_cc with `args`; returns its exit status and what it wrote to stderr.
    const auto run = [](std::vector<std::string> args) {
      int err[2];
      REQUIRE(::pipe(err) == 0);
      posix_spawn_file_actions_t actions;
      posix_spawn_file_actions_init(&actions);
      posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
      posix_spawn_file_actions_addclose(&actions, err[0]);
      args.insert(args.begin(), FAKE_CC_BINARY_PATH);
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      char* envp[] = {nullptr};
      pid_t pid = -1;
      REQUIRE(posix_spawn(&pid, FAKE_CC_BINARY_PATH, &actions, nullptr, argv.data(), envp) == 0);
      posix_spawn_file_actions_destroy(&actions);
      ::close(err[1]);
      std::string text;
      char buf[512];
      for (ssize_t n; (n = ::read(err[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<size_t>(n));
      ::close(err[0]);
      int status = 0;
      REQUIRE(::waitpid(pid, &status, 0) == pid);
      REQUIRE(WIFEXITED(status));
      return std::make_pair(WEXITSTATUS(status), text);
    };
    const auto [help_status, help] = run({"--help"});
    INFO(help);
    CHECK(help_status == 0);
    for (const char* option : {"--port", "--seed", "--local-containers", "--container-env"}) {
      CHECK(help.find(option) != std::string::npos);
    }
    CHECK(run({"--container-env", "A=1"}).first == 2);
    CHECK(run({"--local-containers", "/tmp/x", "--container-env", "no-equals-sign"}).first == 2);
  }
}

}  // namespace
}  // namespace broker::testing
