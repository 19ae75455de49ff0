// What the fake Cloud Controller refuses, over real HTTP, for every request body and list the
// broker sends: each case names the cloud_controller_ng file the rule mirrors and checks CC's exact
// status, code, title and detail - and that the valid forms next to each rule are still accepted.
#include <doctest/doctest.h>
#include <rapidjson/document.h>
#include <rapidjson/pointer.h>

#include <string>
#include <utility>

#include "tests/support/fake_cloud_controller.h"
#include "tests/support/http_client.h"

namespace broker::testing {
namespace {

using Fake = FakeCloudController;

std::string Str(const std::string& body, const char* pointer) {
  rapidjson::Document d;
  d.Parse(body.c_str(), body.size());
  const rapidjson::Value* v = d.HasParseError() ? nullptr : rapidjson::Pointer(pointer).Get(d);
  return v != nullptr && v->IsString() ? v->GetString() : "<missing " + std::string(pointer) + ">";
}

long long Int(const std::string& body, const char* pointer) {
  rapidjson::Document d;
  d.Parse(body.c_str(), body.size());
  const rapidjson::Value* v = d.HasParseError() ? nullptr : rapidjson::Pointer(pointer).Get(d);
  return v != nullptr && v->IsInt64() ? v->GetInt64() : -999999;
}

// A started fake with the demo foundation ("demo-org" / "demo-space", spring-music) and a token.
struct Cc {
  Fake fake;
  Fake::DemoFoundation demo;
  HttpClient http{"", "", ""};
  std::string token;

  Cc() {
    demo = fake.SeedDemoFoundation();
    fake.Start();
    http = HttpClient(fake.base_url(), "", "");
    token = fake.IssueToken(demo.client_id);
  }

  Response Call(const std::string& method, const std::string& path, std::optional<std::string> body = std::nullopt) const {
    Request r;
    r.method = method;
    r.path = path;
    r.body = std::move(body);
    r.auth = Auth::None();
    r.api_version = std::nullopt;
    r.headers = {{"Authorization", "bearer " + token}};
    return http.Send(r);
  }
  Response Get(const std::string& path) const { return Call("GET", path); }
  Response Post(const std::string& path, const std::string& body) const { return Call("POST", path, body); }
  Response Patch(const std::string& path, const std::string& body) const { return Call("PATCH", path, body); }

  // POST /v3/apps {name, space, extra...}.
  Response CreateApp(const std::string& name, const std::string& extra = "") const {
    return Post("/v3/apps", R"({"name":")" + name + R"(","relationships":{"space":{"data":{"guid":")" + demo.space_guid +
                                R"("}}})" + extra + "}");
  }
  std::string NewApp(const std::string& name, const std::string& lifecycle = "buildpack") const {
    const std::string data = lifecycle == "docker" ? "{}" : R"({"buildpacks":["java_buildpack"],"stack":"cflinuxfs4"})";
    const Response r = CreateApp(name, R"(,"lifecycle":{"type":")" + lifecycle + R"(","data":)" + data + "}");
    INFO(r.Describe());
    REQUIRE(r.status == 201);
    return Str(r.body, "/guid");
  }
  std::string CurrentDroplet(const std::string& app) const {
    return Str(Get("/v3/apps/" + app + "/droplets/current").body, "/guid");
  }
  Response Copy(const std::string& source, const std::string& app) const {
    return Post("/v3/droplets?source_guid=" + source, R"({"relationships":{"app":{"data":{"guid":")" + app + R"("}}}})");
  }
  // Copies spring-music's droplet to `app`, GETs it to STAGED and assigns it.
  void Stage(const std::string& app) const {
    const std::string droplet = Str(Copy(CurrentDroplet(demo.app_guid), app).body, "/guid");
    for (int i = 0; i < 10 && Str(Get("/v3/droplets/" + droplet).body, "/state") != "STAGED"; ++i) {
    }
    REQUIRE(Patch("/v3/apps/" + app + "/relationships/current_droplet", R"({"data":{"guid":")" + droplet + R"("}})")
                .status == 200);
  }
};

// The whole CC error: status, code, title and detail.
void Refused(const Response& r, long status, long long code, const std::string& title, const std::string& detail) {
  INFO(r.Describe());
  CHECK(r.status == status);
  CHECK(Int(r.body, "/errors/0/code") == code);
  CHECK(Str(r.body, "/errors/0/title") == title);
  CHECK(Str(r.body, "/errors/0/detail") == detail);
}

void Unprocessable(const Response& r, const std::string& detail) {
  Refused(r, 422, 10008, "CF-UnprocessableEntity", detail);
}

void BadQuery(const Response& r, const std::string& detail) {
  Refused(r, 400, 10005, "CF-BadQueryParameter", "The query parameter is invalid: " + detail);
}

void Accepted(const Response& r, long status) {
  INFO(r.Describe());
  CHECK(r.status == status);
}

std::string Labels(const std::string& labels_json) { return R"(,"metadata":{"labels":)" + labels_json + "}"; }

TEST_SUITE("testing::FakeCloudController") {
  // ---- a. metadata keys and values ----

  TEST_CASE("fake CC refuses metadata keys as app/messages/metadata_validator_helper.rb does: a prefix needs a dot") {
    Cc t;
    const std::string p = "Metadata label key error: ";
    Unprocessable(t.CreateApp("m", Labels(R"({"ssh-access/binding-guid":"b1"})")),
                  p + "prefix 'ssh-access' must be in valid dns format");
    Unprocessable(t.CreateApp("m", Labels(R"({"a.b/c/d":"v"})")), p + "key has more than one '/'");
    Unprocessable(t.CreateApp("m", Labels(R"({"CloudFoundry.ORG/x":"v"})")), p + "prefix 'cloudfoundry.org' is reserved");
    const std::string long_prefix = std::string(60, 'a') + "." + std::string(60, 'b') + "." + std::string(60, 'c') + "." +
                                    std::string(60, 'd') + "." + std::string(10, 'e');  // 254, valid DNS
    Unprocessable(t.CreateApp("m", Labels(R"({")" + long_prefix + R"(/x":"v"})")),
                  p + "prefix 'aaaaaaaa...' is greater than 253 characters");
    Unprocessable(t.CreateApp("m", Labels(R"({"-bad.example/x":"v"})")), p + "prefix '-bad.example' must be in valid dns format");
    Unprocessable(t.CreateApp("m", Labels(R"({"ex.com/)" + std::string(64, 'n') + R"(":"v"})")),
                  p + "'nnnnnnnn...' is greater than 63 characters");
    Unprocessable(t.CreateApp("m", Labels(R"({"-x":"v"})")), p + "'-x' starts or ends with invalid characters");
    Unprocessable(t.CreateApp("m", Labels(R"({"bad key!":"v"})")), p + "'bad key!' contains invalid characters");
    Unprocessable(t.CreateApp("m", Labels(R"({"":"v"})")), p + "key cannot be empty string");
    Unprocessable(t.CreateApp("m", Labels(R"({"ex.com/":"v"})")), p + "key cannot be empty string");
    // Values (MetadataValidatorHelper#value_error); every error of the message, joined with ", ".
    Unprocessable(t.CreateApp("m", Labels(R"({"k":"-v"})")),
                  "Metadata label value error: '-v' starts or ends with invalid characters");
    Unprocessable(t.CreateApp("m", Labels(R"({"k":")" + std::string(64, 'v') + R"("})")),
                  "Metadata label value error: 'vvvvvvvv...' is greater than 63 characters");
    Unprocessable(t.CreateApp("m", Labels(R"({"ssh-access/x":"a b"})")),
                  p + "prefix 'ssh-access' must be in valid dns format, Metadata label value error: 'a b' contains invalid characters");
    // app/messages/validators/metadata_validator.rb: the metadata object itself.
    Unprocessable(t.CreateApp("m", R"(,"metadata":{"labels":{},"tags":[]})"), "Metadata has unexpected field(s): 'tags'");
    Unprocessable(t.CreateApp("m", R"(,"metadata":{"labels":["a"]})"), "Metadata 'labels' is not an object");
    Unprocessable(t.CreateApp("m", R"(,"metadata":[])"), "Metadata must be an object");
    CHECK(t.fake.Apps().size() == 1);  // nothing was created

    SUBCASE("a dotted prefix, an empty value and the longest forms are accepted") {
      const Response ok = t.CreateApp(
          "ok", Labels(R"({"ssh-access.broker/binding-guid":"b1","ssh-access.broker/managed-by":"","a.b/)" +
                       std::string(63, 'n') + R"(":")" + std::string(63, 'v') + R"("})"));
      Accepted(ok, 201);
      CHECK(t.fake.App(Str(ok.body, "/guid"))->labels.at("ssh-access.broker/binding-guid") == "b1");
    }
  }

  TEST_CASE("fake CC refuses annotation keys and values over 5000 as app/messages/validators/metadata_validator.rb does") {
    Cc t;
    Unprocessable(t.CreateApp("m", R"(,"metadata":{"annotations":{"ssh-access/x":"v"}})"),
                  "Metadata annotation key error: prefix 'ssh-access' must be in valid dns format");
    Unprocessable(t.CreateApp("m", R"(,"metadata":{"annotations":{"k":")" + std::string(5001, 'x') + R"("}})"),
                  "Metadata annotation value error: 'xxxxxxxx...' is greater than 5000 characters");
    // The key of an annotation without a value is not checked (a null deletes).
    Accepted(t.CreateApp("a1", R"(,"metadata":{"annotations":{"ssh-access/x":null,"k":")" + std::string(5000, 'x') + R"("}})"),
             201);
  }

  TEST_CASE("fake CC checks metadata on PATCH /v3/apps before the app, as app/messages/app_update_message.rb does") {
    Cc t;
    const std::string path = "/v3/apps/" + t.demo.app_guid;
    Unprocessable(t.Patch(path, R"({"metadata":{"labels":{"ssh-access/binding-guid":"b"}}})"),
                  "Metadata label key error: prefix 'ssh-access' must be in valid dns format");
    Unprocessable(t.Patch("/v3/apps/nope", R"({"metadata":{"labels":{"ssh-access/binding-guid":"b"}}})"),
                  "Metadata label key error: prefix 'ssh-access' must be in valid dns format");
    const Response ok = t.Patch(path, R"({"metadata":{"labels":{"ssh-access.broker/binding-guid":"b"}}})");
    Accepted(ok, 200);
    CHECK(t.fake.App(t.demo.app_guid)->labels.at("ssh-access.broker/binding-guid") == "b");
  }

  TEST_CASE("fake CC answers a bad label_selector 400 10005 as app/messages/validators/label_selector_requirement_validator.rb does") {
    Cc t;
    t.fake.AddApp({.name = "c1", .space_guid = t.demo.space_guid, .labels = {{"ssh-access.broker/binding-guid", "b1"}}});
    BadQuery(t.Get("/v3/apps?label_selector=ssh-access%2Fbinding-guid%3Db1"), "prefix 'ssh-access' must be in valid dns format");
    BadQuery(t.Get("/v3/apps?label_selector=ssh-access.broker%2Fbinding-guid%3D-b1"), "'-b1' starts or ends with invalid characters");
    BadQuery(t.Get("/v3/apps?label_selector="), "Missing label_selector value");
    BadQuery(t.Get("/v3/apps?label_selector=a%20%3D%20b"), "Invalid label_selector value");
    // app/messages/list_message.rb parse_requirement: set values are split on ',' and never trimmed.
    BadQuery(t.Get("/v3/apps?label_selector=k%20in%20%28a%2C%20b%29"), "' b' contains invalid characters");
    BadQuery(t.Get("/v3/apps?label_selector=cloudfoundry.org%2Fx,ssh-access%2Fy"),
             "prefix 'cloudfoundry.org' is reserved, prefix 'ssh-access' must be in valid dns format");
    // Every list the broker sends one to, and the process list.
    BadQuery(t.Get("/v3/service_credential_bindings?label_selector=ssh-access%2Fx"), "prefix 'ssh-access' must be in valid dns format");
    BadQuery(t.Get("/v3/apps/" + t.demo.app_guid + "/processes?label_selector=ssh-access%2Fx"),
             "prefix 'ssh-access' must be in valid dns format");
    for (const char* list : {"/v3/service_instances", "/v3/service_plans", "/v3/service_offerings"}) {
      BadQuery(t.Get(std::string(list) + "?label_selector=ssh-access%2Fx"), "prefix 'ssh-access' must be in valid dns format");
      const Response none = t.Get(std::string(list) + "?label_selector=ssh-access.broker%2Fx");
      Accepted(none, 200);
      CHECK(Int(none.body, "/pagination/total_results") == 0);  // the fake's services carry no labels
    }
    CHECK_THROWS_AS(t.fake.AppsWithLabel("ssh-access/binding-guid=b1"), std::invalid_argument);

    SUBCASE("a dotted prefix is accepted and selects") {
      const Response r = t.Get("/v3/apps?label_selector=ssh-access.broker%2Fbinding-guid%3Db1");
      Accepted(r, 200);
      CHECK(Str(r.body, "/resources/0/name") == "c1");
      CHECK(Int(r.body, "/pagination/total_results") == 1);
      Accepted(t.Get("/v3/apps?label_selector=ssh-access.broker%2Fbinding-guid%20in%20%28b1%2Cb2%29,%21other"), 200);
      CHECK(t.fake.AppsWithLabel("ssh-access.broker/binding-guid=b1").size() == 1);
    }
  }

  // ---- b. unknown body fields ----

  TEST_CASE("fake CC refuses unknown fields in every body the broker sends as NoAdditionalKeysValidator (app/messages/base_message.rb)") {
    Cc t;
    const std::string clone = t.NewApp("clone");
    const std::string app = "/v3/apps/" + t.demo.app_guid;
    // app/messages/app_create_message.rb (and its Relationships message).
    Unprocessable(t.CreateApp("u", R"(,"no_route":true,"stack":"cflinuxfs4")"), "Unknown field(s): 'no_route', 'stack'");
    Unprocessable(t.Post("/v3/apps", R"({"name":"u","relationships":{"space":{"data":{"guid":")" + t.demo.space_guid +
                                         R"("}},"app":{"data":{"guid":"x"}}}})"),
                  "Relationships Unknown field(s): 'app'");
    // buildpack_lifecycle_data_message.rb / empty_lifecycle_data_message.rb, through LifecycleValidator.
    Unprocessable(t.CreateApp("u", R"(,"lifecycle":{"type":"buildpack","data":{"image":"x"}})"), "Lifecycle Unknown field(s): 'image'");
    Unprocessable(t.CreateApp("u", R"(,"lifecycle":{"type":"docker","data":{"buildpacks":["b"]}})"),
                  "Lifecycle Unknown field(s): 'buildpacks'");
    // app_update_message.rb, update_environment_variables_message.rb, droplet_copy_message.rb,
    // process_update_message.rb, process_scale_message.rb, service_credential_binding_create_message.rb.
    Unprocessable(t.Patch(app, R"({"state":"STARTED"})"), "Unknown field(s): 'state'");
    Unprocessable(t.Patch(app + "/environment_variables", R"({"var":{},"environment_variables":{}})"),
                  "Unknown field(s): 'environment_variables'");
    Unprocessable(t.Post("/v3/droplets?source_guid=" + t.CurrentDroplet(t.demo.app_guid),
                         R"({"relationships":{"app":{"data":{"guid":")" + clone + R"("}}},"state":"STAGED"})"),
                  "Unknown field(s): 'state'");
    Unprocessable(t.Patch("/v3/processes/" + clone, R"({"command":"x","instances":2})"), "Unknown field(s): 'instances'");
    Unprocessable(t.Post("/v3/processes/" + clone + "/actions/scale", R"({"instances":1,"state":"STARTED"})"),
                  "Unknown field(s): 'state'");
    const std::string rel = R"("relationships":{"service_instance":{"data":{"guid":")" + t.demo.ssh_instance_guid +
                            R"("}},"app":{"data":{"guid":")" + clone + R"("}})";
    Unprocessable(t.Post("/v3/service_credential_bindings", R"({"type":"app","credentials":{},)" + rel + "}}"),
                  "Unknown field(s): 'credentials'");
    Unprocessable(t.Post("/v3/service_credential_bindings",
                         R"({"type":"app","relationships":{"service_instance":{"data":{"guid":")" + t.demo.ssh_instance_guid +
                             R"("}},"app":{"data":{"guid":")" + clone + R"("}},"space":{"data":{"guid":"s"}}}})"),
                  "Relationships Unknown field(s): 'space'");

    SUBCASE("where CC has no message for a nested object, its other keys are accepted") {
      // health_check / readiness_health_check are read by digging (process_update_message.rb).
      Accepted(t.Patch("/v3/processes/" + clone, R"({"health_check":{"type":"process","data":{"timeout":60,"x":1},"y":2}})"), 200);
      // The droplet copy's relationships object and the lifecycle object are not messages.
      Accepted(t.Post("/v3/droplets?source_guid=" + t.CurrentDroplet(t.demo.app_guid),
                      R"({"relationships":{"app":{"data":{"guid":")" + clone + R"("}},"space":{}}})"),
               201);
      Accepted(t.CreateApp("lc", R"(,"lifecycle":{"type":"buildpack","data":{},"extra":1})"), 201);
      // Binding create also knows `strategy` (service_credential_app_binding_create_message.rb).
      Accepted(t.Post("/v3/service_credential_bindings", R"({"type":"app","strategy":"single",)" + rel + "}}"), 202);
    }
  }

  // ---- c. environment variable names ----

  TEST_CASE("fake CC refuses env names on app create as app/models/runtime/app_model.rb validate_environment_variables words them") {
    Cc t;
    // EnvironmentVariablesValidator (app/messages/validators.rb) run on the Sequel model.
    Unprocessable(t.CreateApp("e", R"(,"environment_variables":{"VCAP_SERVICES":"x"})"),
                  R"(environment_variables {:message=>"cannot start with VCAP_"})");
    Unprocessable(t.CreateApp("e", R"(,"environment_variables":{"vmcx":"x"})"),
                  R"(environment_variables {:message=>"cannot start with VMC_"})");
    Unprocessable(t.CreateApp("e", R"(,"environment_variables":{"port":"1","":"2"})"),
                  R"(environment_variables {:message=>"cannot set PORT"}, environment_variables {:message=>"key must be a minimum length of 1"})");
    Unprocessable(t.CreateApp("e", R"(,"environment_variables":"A=1")"), "Environment variables must be an object");
    Accepted(t.CreateApp("e", R"(,"environment_variables":{"PORTS":"1","MY_VCAP_X":"2","N":3})"), 201);
  }

  TEST_CASE("fake CC refuses env names on PATCH environment_variables as app/messages/update_environment_variables_message.rb does") {
    Cc t;
    const std::string path = "/v3/apps/" + t.demo.app_guid + "/environment_variables";
    Unprocessable(t.Patch(path, R"({"var":{"VCAP_APPLICATION":"x"}})"), "Var cannot start with VCAP_");
    Unprocessable(t.Patch(path, R"({"var":{"VMC_X":"x","Port":"1"}})"), "Var cannot start with VMC_, Var cannot set PORT");
    Unprocessable(t.Patch(path, R"({"var":{"":"x"}})"), "Var key must be a minimum length of 1");
    Unprocessable(t.Patch(path, R"({"var":{"N":2}})"), "Non-string value in environment variable for key 'N', value '2'");
    Unprocessable(t.Patch(path, R"({})"), "Var must be an object");
    Refused(t.Patch("/v3/apps/nope/environment_variables", R"({"var":{"VCAP_X":"1"}})"), 404, 10010, "CF-ResourceNotFound",
            "App not found");
    Accepted(t.Patch(path, R"({"var":{"SSH_ACCESS_TOKEN":"t","GONE":null}})"), 200);
  }

  // ---- d. app names ----

  TEST_CASE("fake CC refuses app names as app/messages/app_create_message.rb and app/models/runtime/app_model.rb do") {
    Cc t;
    Unprocessable(t.Post("/v3/apps", R"({"relationships":{"space":{"data":{"guid":")" + t.demo.space_guid + R"("}}}})"),
                  "Name must be a string");
    Unprocessable(t.CreateApp(std::string(256, 'a')), "Name is too long (maximum is 255 characters)");
    // The model's Sequel validations (lib/cloud_controller/db.rb makes each message its type).
    Unprocessable(t.CreateApp(""), "name presence, name format");
    Unprocessable(t.CreateApp("   "), "name presence, name format");
    Unprocessable(t.CreateApp("a\\tb"), "name format");
    // The unique name: 10016 on create (app_create.rb), 422 10008 on update (app_update.rb).
    Refused(t.CreateApp("SPRING-music"), 422, 10016, "CF-UniquenessError", "App with the name 'SPRING-music' already exists.");
    const std::string other = t.NewApp("other");
    Unprocessable(t.Patch("/v3/apps/" + other, R"({"name":"spring-music"})"), "App with the name 'spring-music' already exists.");
    Unprocessable(t.Patch("/v3/apps/" + other, R"({"name":""})"), "name presence, name format");
    // Stripped (strip_attributes :name), 255 characters, any printable text.
    const Response ok = t.CreateApp("  spring-music-ssh Ω " + std::string(230, 'x') + " ");
    Accepted(ok, 201);
    CHECK(Str(ok.body, "/name") == "spring-music-ssh Ω " + std::string(230, 'x'));
  }

  // ---- e. lifecycle type and data ----

  TEST_CASE("fake CC refuses lifecycle types and data as app/messages/validators.rb LifecycleValidator and buildpack_lifecycle_data_message.rb do") {
    Cc t;
    const auto lc = [&](const std::string& lifecycle) { return t.CreateApp("l", R"(,"lifecycle":)" + lifecycle); };
    Unprocessable(lc(R"({"type":"kpack","data":{}})"), "Lifecycle type is not included in the list: buildpack, docker, cnb");
    Unprocessable(lc(R"({"type":5,"data":{}})"),
                  "Lifecycle type is not included in the list: buildpack, docker, cnb, Lifecycle type must be a string");
    Unprocessable(lc(R"({"type":"buildpack"})"), "Lifecycle data must be an object");
    Unprocessable(lc(R"({"type":"buildpack","data":{"stack":5}})"), "Lifecycle Stack must be a string");
    Unprocessable(lc(R"({"type":"buildpack","data":{"stack":""}})"), "Lifecycle Stack must be between 1 and 4096 characters");
    Unprocessable(lc(R"({"type":"cnb","data":{"buildpacks":"java"}})"), "Lifecycle Buildpacks must be an array");
    Unprocessable(lc(R"({"type":"buildpack","data":{"buildpacks":[1,""]}})"),
                  "Lifecycle Buildpacks can only contain strings, Lifecycle Buildpacks entries must be between 1 and 4096 characters");
    Unprocessable(lc(R"({"type":"cnb","data":{"credentials":{"registry":"secret"}}})"),
                  "Lifecycle Credentials credentials value must be a hash");
    // lifecycles/buildpack_lifecycle_data_validator.rb, stack_state_validator.rb.
    Unprocessable(lc(R"({"type":"buildpack","data":{"stack":"windows"}})"), "Stack must be an existing stack");
    t.fake.UpdateKnobs([](Fake::Knobs& k) {
      k.unknown_buildpacks = {"custom_bp"};
      k.restricted_stacks = {"cflinuxfs3"};
    });
    Unprocessable(lc(R"({"type":"buildpack","data":{"buildpacks":["custom_bp"]}})"),
                  R"(Buildpack "custom_bp" for stack "cflinuxfs4" must be an existing admin buildpack or a valid git URI)");
    Unprocessable(lc(R"({"type":"buildpack","data":{"stack":"cflinuxfs3"}})"),
                  "ERROR: Staging failed. The stack 'cflinuxfs3' is 'RESTRICTED' and cannot be used for staging.");
    // app/actions/app_update.rb: the type never changes.
    Unprocessable(t.Patch("/v3/apps/" + t.demo.app_guid, R"({"lifecycle":{"type":"docker","data":{}}})"),
                  "Lifecycle type cannot be changed from buildpack to docker");
    Accepted(lc(R"({"type":"cnb","data":{"buildpacks":["docker://paketo/java"],"stack":"cflinuxfs4","credentials":{"r":{"u":"p"}}}})"),
             201);
    Accepted(t.CreateApp("d", R"(,"lifecycle":{"type":"docker","data":{}})"), 201);
  }

  // ---- f. droplet copy across lifecycle types ----

  TEST_CASE("fake CC refuses a droplet copy across lifecycle types as app/actions/droplet_copy.rb does") {
    Cc t;
    const std::string docker_app = t.NewApp("docker-clone", "docker");
    const std::string buildpack_app = t.NewApp("buildpack-clone");
    const std::string docker_src = t.fake.AddApp({.name = "dock", .space_guid = t.demo.space_guid,
                                                  .lifecycle = Fake::Lifecycle::kDocker, .process_types = {{"web", "/run"}}});
    Unprocessable(t.Copy(t.CurrentDroplet(t.demo.app_guid), docker_app), "source and destination lifecycle types do not match");
    Unprocessable(t.Copy(t.CurrentDroplet(docker_src), buildpack_app), "source and destination lifecycle types do not match");
    // A source still COPYING is not staged.
    const std::string copying = Str(t.Copy(t.CurrentDroplet(t.demo.app_guid), buildpack_app).body, "/guid");
    Unprocessable(t.Copy(copying, t.NewApp("third")), "source droplet is not staged");
    // app/controllers/v3/droplets_controller.rb#create_copy: 404s; droplet_copy_message.rb.
    Refused(t.Copy("nope", buildpack_app), 404, 10010, "CF-ResourceNotFound", "Droplet not found");
    Refused(t.Copy(t.CurrentDroplet(t.demo.app_guid), "nope"), 404, 10010, "CF-ResourceNotFound", "App not found");
    Unprocessable(t.Post("/v3/droplets?source_guid=" + copying, R"({"relationships":{}})"),
                  "App must be an object, App guid must be a string, App guid must be between 1 and 200 characters");
    Accepted(t.Copy(t.CurrentDroplet(docker_src), docker_app), 201);
  }

  // ---- g. current droplet that is not STAGED ----

  TEST_CASE("fake CC refuses a current droplet that is not STAGED as app/actions/app_assign_droplet.rb and app_model.rb do") {
    Cc t;
    const std::string clone = t.NewApp("clone");
    const std::string path = "/v3/apps/" + clone + "/relationships/current_droplet";
    const std::string droplet = Str(t.Copy(t.CurrentDroplet(t.demo.app_guid), clone).body, "/guid");
    Unprocessable(t.Patch(path, R"({"data":{"guid":")" + droplet + R"("}})"), "droplet must be in staged state");
    Unprocessable(t.Patch(path, R"({"data":{"guid":")" + t.CurrentDroplet(t.demo.app_guid) + R"("}})"),
                  "Unable to assign current droplet. Ensure the droplet exists and belongs to this app.");
    // apps_controller.rb#assign_current_droplet: a null guid, before the app is looked up.
    Unprocessable(t.Patch("/v3/apps/nope/relationships/current_droplet", R"({"data":null})"),
                  "Current droplet cannot be removed. Replace it with a preferred droplet.");
    Refused(t.Patch("/v3/apps/nope/relationships/current_droplet", R"({"data":{"guid":")" + droplet + R"("}})"), 404, 10010,
            "CF-ResourceNotFound", "App not found");
    SUBCASE("FAILED is not STAGED either") {
      t.fake.UpdateKnobs([](Fake::Knobs& k) {
        k.droplet_copy_fails = true;
        k.droplet_copy_ticks = 1;
      });
      const std::string failed = Str(t.Copy(t.CurrentDroplet(t.demo.app_guid), clone).body, "/guid");
      CHECK(Str(t.Get("/v3/droplets/" + failed).body, "/state") == "FAILED");
      Unprocessable(t.Patch(path, R"({"data":{"guid":")" + failed + R"("}})"), "droplet must be in staged state");
    }
    SUBCASE("once STAGED it is assigned; other keys of the body are ignored (no message class)") {
      for (int i = 0; i < 5; ++i) t.Get("/v3/droplets/" + droplet);
      Accepted(t.Patch(path, R"({"data":{"guid":")" + droplet + R"("},"x":1})"), 200);
    }
  }

  // ---- h. process command ----

  TEST_CASE("fake CC refuses a process command over 4096 characters as app/messages/process_update_message.rb does") {
    Cc t;
    const std::string clone = t.NewApp("clone");
    const std::string path = "/v3/processes/" + clone;
    Unprocessable(t.Patch(path, R"({"command":")" + std::string(4097, 'x') + R"("})"), "Command must be between 1 and 4096 characters");
    Unprocessable(t.Patch(path, R"({"command":""})"), "Command must be between 1 and 4096 characters");
    Unprocessable(t.Patch(path, R"({"command":5})"), "Command must be a string");
    Unprocessable(t.Patch(path, R"({"health_check":{"type":"none"}})"), R"(Health check type must be "port", "process", or "http")");
    Unprocessable(t.Patch(path, R"({"health_check":{"type":"http","data":{"timeout":0,"invocation_timeout":1.5,"endpoint":"health"}}})"),
                  "Health check timeout must be greater than or equal to 1, Health check invocation timeout must be an integer, "
                  "Health check endpoint must be a valid URI path");
    Accepted(t.Patch(path, R"({"command":")" + std::string(4096, 'x') + R"(","health_check":{"type":"process"}})"), 200);
    CHECK(t.fake.ProcessOf(clone)->command->size() == 4096);
  }

  // ---- i. log rate limits under quotas ----

  TEST_CASE("fake CC refuses to start an unlimited log rate under a space or org quota as app/models/runtime/constraints/max_log_rate_limit_policy.rb does") {
    Cc t;
    const std::string clone = t.NewApp("clone");
    t.Stage(clone);
    const std::string start = "/v3/apps/" + clone + "/actions/start";
    t.fake.SetSpaceLogRateLimit(t.demo.space_guid, 1024);
    Unprocessable(t.Post(start, ""), "log_rate_limit cannot be unlimited in space 'demo-space'.");
    CHECK(t.fake.App(clone)->state == "STOPPED");
    t.fake.SetOrgLogRateLimit(t.demo.org_guid, 4096);
    Unprocessable(t.Post(start, ""),
                  "log_rate_limit cannot be unlimited in space 'demo-space'., "
                  "log_rate_limit cannot be unlimited in organization 'demo-org'.");
    t.fake.SetSpaceLogRateLimit(t.demo.space_guid, -1);
    Unprocessable(t.Post(start, ""), "log_rate_limit cannot be unlimited in organization 'demo-org'.");

    // A stopped process may be scaled to anything; a limited rate past the quota is refused too.
    const std::string scale = "/v3/processes/" + clone + "/actions/scale";
    Accepted(t.Post(scale, R"({"log_rate_limit_in_bytes_per_second":8192})"), 202);
    Unprocessable(t.Post(start, ""), "log_rate_limit exceeds organization log rate quota");
    Accepted(t.Post(scale, R"({"log_rate_limit_in_bytes_per_second":1024})"), 202);
    // The web process, then the task process (0 instances but unlimited) - ProcessLogRateLimitCalculator.
    const auto task = t.fake.ProcessOf(clone, "task");
    REQUIRE(task.has_value());
    Unprocessable(t.Post(start, ""), "log_rate_limit cannot be unlimited in organization 'demo-org'.");
    Accepted(t.Post("/v3/processes/" + task->guid + "/actions/scale", R"({"log_rate_limit_in_bytes_per_second":0})"), 202);
    Accepted(t.Post(start, ""), 200);

    SUBCASE("a STARTED process is not scaled to unlimited nor past the quota") {
      Unprocessable(t.Post(scale, R"({"log_rate_limit_in_bytes_per_second":-1})"),
                    "log_rate_limit cannot be unlimited in organization 'demo-org'.");
      Unprocessable(t.Post(scale, R"({"instances":5})"), "log_rate_limit exceeds organization log rate quota");
      Accepted(t.Post(scale, R"({"instances":2})"), 202);
    }
  }

  TEST_CASE("fake CC refuses scale values as app/messages/process_scale_message.rb does") {
    Cc t;
    const std::string clone = t.NewApp("clone");
    const std::string scale = "/v3/processes/" + clone + "/actions/scale";
    Unprocessable(t.Post(scale, R"({"instances":-1,"memory_in_mb":0,"disk_in_mb":1.5,"log_rate_limit_in_bytes_per_second":-2})"),
                  "Instances must be greater than or equal to 0, Memory in mb must be greater than 0, "
                  "Disk in mb must be an integer, Log rate limit in bytes per second must be greater than or equal to -1");
    Unprocessable(t.Post(scale, R"({"instances":"many","memory_in_mb":2147483648})"),
                  "Instances is not a number, Memory in mb must be less than or equal to 2147483647");
    Accepted(t.Post(scale, R"({"instances":0,"memory_in_mb":1,"disk_in_mb":2147483647,"log_rate_limit_in_bytes_per_second":-1})"),
             202);
  }

  // ---- credential binding create ----

  TEST_CASE("fake CC refuses credential binding bodies as app/messages/service_credential_binding_create_message.rb and its app message do") {
    Cc t;
    const std::string clone = t.NewApp("clone");
    const std::string si = R"("service_instance":{"data":{"guid":")" + t.demo.ssh_instance_guid + R"("}})";
    const std::string app = R"("app":{"data":{"guid":")" + clone + R"("}})";
    const std::string path = "/v3/service_credential_bindings";
    Unprocessable(t.Post(path, R"({"relationships":{)" + si + "," + app + "}}"), "Type must be 'app' or 'key'");
    Unprocessable(t.Post(path, R"({"type":"app"})"), "Relationships 'relationships' is not an object");
    Unprocessable(t.Post(path, R"({"type":"app","relationships":{)" + si + "}}"),
                  R"(Relationships App can't be blank, Relationships App must be structured like this: "app: {"data": {"guid": "valid-guid"}}")");
    Unprocessable(t.Post(path, R"({"type":"app","strategy":"all","relationships":{)" + si + "," + app + "}}"),
                  "Strategy must be 'single' or 'multiple'");
    Unprocessable(t.Post(path, R"({"type":"app","relationships":{"service_instance":{"data":{"guid":"nope"}},)" + app + "}}"),
                  "The service instance could not be found: 'nope'");
    Unprocessable(t.Post(path, R"({"type":"app","relationships":{)" + si + R"(,"app":{"data":{"guid":"nope"}}}})"),
                  "The app could not be found: 'nope'");
    Accepted(t.Post(path, R"({"type":"app","name":"ssh","relationships":{)" + si + "," + app + "}}"), 202);
    Unprocessable(t.Post(path, R"({"type":"app","relationships":{)" + si + "," + app + "}}"),
                  "The app is already bound to the service instance");
  }
}

}  // namespace
}  // namespace broker::testing
