// Tests for broker/cf/cc_json.h: the CC V3 / log-cache wire codec (cloud-controller.md §2.1,
// §2.2, §4.2). Table-driven where the input is a table.
#include "broker/cf/cc_json.h"

#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <map>
#include <string>
#include <vector>

#include "broker/base/encoding.h"

namespace broker::cf {
namespace {

rapidjson::Document Json(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str(), text.size());
  REQUIRE_FALSE(d.HasParseError());
  return d;
}

std::string CcError(int code, const std::string& title, const std::string& detail) {
  return R"({"errors":[{"code":)" + std::to_string(code) + R"(,"title":")" + title + R"(","detail":")" + detail + R"("}]})";
}

TEST_SUITE("cf::CcJson") {
  TEST_CASE("StatusFromCcResponse maps CC errors per the port's table, title in reason, detail in message") {
    struct Row {
      long http;
      std::string body;
      base::Code code;
      std::string reason;
      std::string message;
    };
    const std::vector<Row> rows = {
        {404, CcError(10010, "CF-ResourceNotFound", "App not found"), base::Code::kNotFound, "CF-ResourceNotFound",
         "App not found"},
        {422, CcError(10016, "CF-UniquenessError", "App with the name 'x' already exists."), base::Code::kAlreadyExists,
         "CF-UniquenessError", "App with the name 'x' already exists."},
        {422, CcError(10008, "CF-UnprocessableEntity", "memory quota_exceeded"), base::Code::kFailedPrecondition,
         "CF-UnprocessableEntity", "memory quota_exceeded"},
        {422, CcError(10008, "CF-UnprocessableEntity", "Assign a droplet before starting this app."),
         base::Code::kFailedPrecondition, "CF-UnprocessableEntity", "Assign a droplet before starting this app."},
        {409, CcError(90008, "CF-AsyncServiceBindingOperationInProgress", "in progress"), base::Code::kFailedPrecondition,
         "CF-AsyncServiceBindingOperationInProgress", "in progress"},
        {403, CcError(10003, "CF-NotAuthorized", "You are not authorized to perform the requested action"),
         base::Code::kPermissionDenied, "CF-NotAuthorized", "You are not authorized to perform the requested action"},
        {403, CcError(330002, "CF-FeatureDisabled", "Feature Disabled: diego_docker"), base::Code::kPermissionDenied,
         "CF-FeatureDisabled", "Feature Disabled: diego_docker"},
        {401, CcError(1000, "CF-InvalidAuthToken", "Invalid Auth Token"), base::Code::kUnauthenticated,
         "CF-InvalidAuthToken", "Invalid Auth Token"},
        {400, CcError(10005, "CF-BadQueryParameter", "The query parameter is invalid"), base::Code::kInvalidArgument,
         "CF-BadQueryParameter", "The query parameter is invalid"},
        {400, CcError(290004, "CF-CustomBuildpacksDisabled", "Custom buildpacks are disabled"),
         base::Code::kInvalidArgument, "CF-CustomBuildpacksDisabled", "Custom buildpacks are disabled"},
        // Retryable answers: reason() says what kept failing, the title leads the message.
        {429, CcError(10013, "CF-RateLimitExceeded", "Rate Limit Exceeded"), base::Code::kUnavailable, "HTTP 429",
         "CF-RateLimitExceeded: Rate Limit Exceeded"},
        {503, CcError(220002, "CF-InstancesUnavailable", "Instances information unavailable"), base::Code::kUnavailable,
         "HTTP 503", "CF-InstancesUnavailable: Instances information unavailable"},
        {500, CcError(10001, "UnknownError", "An unknown error occurred."), base::Code::kUnavailable, "HTTP 500",
         "UnknownError: An unknown error occurred."},
        {502, CcError(10001, "CF-ServiceBrokerBadResponse", "The service broker returned an invalid response"),
         base::Code::kUnavailable, "HTTP 502",
         "CF-ServiceBrokerBadResponse: The service broker returned an invalid response"},
        {408, "", base::Code::kDeadlineExceeded, "HTTP 408", "HTTP 408"},
        // Bodies that are not CC errors.
        {502, "<html>Bad Gateway</html>", base::Code::kUnavailable, "HTTP 502", "HTTP 502"},
        {404, R"({"error":"not found"})", base::Code::kNotFound, "", "HTTP 404"},  // log-cache's shape
        {418, "", base::Code::kFailedPrecondition, "", "HTTP 418"},
        {302, "", base::Code::kInvalidArgument, "", "unexpected HTTP 302"},
        // Several errors: the first title, every detail.
        {422, R"({"errors":[{"code":10008,"title":"CF-UnprocessableEntity","detail":"a"},{"code":10008,"title":"X","detail":"b"}]})",
         base::Code::kFailedPrecondition, "CF-UnprocessableEntity", "a; b"},
        // 10016 is recognised by code or by title.
        {422, R"({"errors":[{"code":10016,"detail":"taken"}]})", base::Code::kAlreadyExists, "", "taken"},
    };
    for (const Row& row : rows) {
      CAPTURE(row.http);
      CAPTURE(row.body);
      const base::Status s = StatusFromCcResponse(row.http, row.body);
      CHECK(s.code() == row.code);
      CHECK(s.reason() == row.reason);
      CHECK(s.message() == row.message);
    }
  }

  TEST_CASE("DecodeWarnings URL-decodes comma-joined warnings across header lines") {
    struct Row {
      std::vector<std::string> headers;
      std::vector<std::string> want;
    };
    const std::vector<Row> rows = {
        {{}, {}},
        {{""}, {}},
        {{"Stack%20cflinuxfs3%20is%20deprecated"}, {"Stack cflinuxfs3 is deprecated"}},
        {{"Stack+cflinuxfs3+is+deprecated"}, {"Stack cflinuxfs3 is deprecated"}},  // CGI.escape form
        {{"first%2C%20with%20comma,second"}, {"first, with comma", "second"}},
        {{"a, b ,,c"}, {"a", "b", "c"}},
        {{"one", "two%21"}, {"one", "two!"}},
        {{"100%25%20sure"}, {"100% sure"}},
    };
    for (const Row& row : rows) {
      CAPTURE(row.headers.size());
      CHECK(DecodeWarnings(row.headers) == row.want);
    }
  }

  TEST_CASE("JobGuidFromLocation accepts only /v3/jobs URLs on the API origin") {
    const std::string api = "https://api.sys.example.com:443";
    struct Row {
      std::string location;
      base::Code code;
      std::string guid;
    };
    const std::vector<Row> rows = {
        {"https://api.sys.example.com/v3/jobs/0b1c-22", base::Code::kOk, "0b1c-22"},
        {"https://API.sys.example.com:443/v3/jobs/0b1c-22", base::Code::kOk, "0b1c-22"},
        {"https://api.sys.example.com/v3/jobs/0b1c-22/", base::Code::kOk, "0b1c-22"},
        {"/v3/jobs/rel-1", base::Code::kOk, "rel-1"},
        // Another origin: refused before anything is sent there.
        {"https://evil.example.com/v3/jobs/0b1c-22", base::Code::kFailedPrecondition, ""},
        {"http://api.sys.example.com/v3/jobs/0b1c-22", base::Code::kFailedPrecondition, ""},
        {"https://api.sys.example.com:8443/v3/jobs/0b1c-22", base::Code::kFailedPrecondition, ""},
        {"https://api.sys.example.com@evil.example.com/v3/jobs/x", base::Code::kFailedPrecondition, ""},
        {"//evil.example.com/v3/jobs/x", base::Code::kFailedPrecondition, ""},
        // Same origin, not a job.
        {"https://api.sys.example.com/v3/apps/a1", base::Code::kInvalidArgument, ""},
        {"https://api.sys.example.com/v3/jobs/", base::Code::kInvalidArgument, ""},
        {"https://api.sys.example.com/v3/jobs/a/b", base::Code::kInvalidArgument, ""},
        // A guid that is no printable ASCII word (tests/fuzz/regressions/cc_json/job_guid_with_nul).
        {"/v3/jobs/a%00b", base::Code::kInvalidArgument, ""},
        {"/v3/jobs/%ff%fe", base::Code::kInvalidArgument, ""},
        {"/v3/jobs/a%20b", base::Code::kInvalidArgument, ""},
        {"", base::Code::kInvalidArgument, ""},
    };
    for (const Row& row : rows) {
      CAPTURE(row.location);
      const auto r = JobGuidFromLocation(row.location, api);
      CHECK(r.status().code() == row.code);
      if (r.ok()) CHECK(*r == row.guid);
    }
    CHECK(JobGuidFromLocation("https://evil.example.com/v3/jobs/x", api).status().reason() == "ForeignHost");
  }

  TEST_CASE("list pages give their resources and the next link, or none on the last page") {
    SUBCASE("when next is an href") {
      const auto page = ParseGuidPage(R"({"pagination":{"total_results":3,"total_pages":3,
          "first":{"href":"https://api.example.com/v3/service_plans?page=1&per_page=1"},
          "next":{"href":"https://api.example.com/v3/service_plans?page=2&per_page=1"},"previous":null},
          "resources":[{"guid":"p1","name":"standard"}]})");
      REQUIRE(page.ok());
      CHECK(page->items == std::vector<std::string>{"p1"});
      CHECK(page->next_url == "https://api.example.com/v3/service_plans?page=2&per_page=1");
    }
    SUBCASE("when next is null") {
      const auto page = ParseGuidPage(R"({"pagination":{"next":null},"resources":[{"guid":"p1"},{"guid":"p2"}]})");
      REQUIRE(page.ok());
      CHECK(page->items.size() == 2);
      CHECK_FALSE(page->next_url.has_value());
    }
    SUBCASE("when there is no pagination at all") {
      const auto page = ParseGuidPage(R"({"resources":[]})");
      REQUIRE(page.ok());
      CHECK(page->items.empty());
      CHECK_FALSE(page->next_url.has_value());
    }
    SUBCASE("when the body is broken") {
      // Not a JSON object: the answer is broken, not our request (retried).
      CHECK(ParseGuidPage("not json").status().code() == base::Code::kUnavailable);
      CHECK(ParseGuidPage("not json").status().reason() == kMalformedResponse);
      CHECK(ParseAppPage(R"([1,2])").status().code() == base::Code::kUnavailable);
      // A JSON object without what the resource requires.
      CHECK(ParseGuidPage(R"({"pagination":{}})").status().code() == base::Code::kInvalidArgument);
      CHECK(ParseGuidPage(R"({"resources":[{"name":"no guid"}]})").status().code() == base::Code::kInvalidArgument);
    }
  }

  TEST_CASE("ParseApp reads the documented fields of a CC app") {
    SUBCASE("a buildpack app with a droplet and labels") {
      const auto app = ParseApp(R"({
        "guid":"a1","name":"spring-music","state":"STARTED","created_at":"2026-01-01T00:00:00Z",
        "lifecycle":{"type":"buildpack","data":{"buildpacks":["java_buildpack","nodejs"],"stack":"cflinuxfs4"}},
        "relationships":{"space":{"data":{"guid":"s1"}},"current_droplet":{"data":{"guid":"d1"}}},
        "metadata":{"labels":{"ssh-access.example.com/binding-guid":"b1"},"annotations":{"x":"y"}},
        "links":{"self":{"href":"https://api/v3/apps/a1"}},"unknown_future_field":[1,2,3]})");
      REQUIRE(app.ok());
      CHECK(app->guid == "a1");
      CHECK(app->name == "spring-music");
      CHECK(app->state == "STARTED");
      CHECK(app->space_guid == "s1");
      CHECK(app->lifecycle_type == "buildpack");
      CHECK(app->buildpacks == std::vector<std::string>{"java_buildpack", "nodejs"});
      CHECK(app->stack == "cflinuxfs4");
      CHECK(app->current_droplet_guid == "d1");
      CHECK(app->labels == std::map<std::string, std::string>{{"ssh-access.example.com/binding-guid", "b1"}});
    }
    SUBCASE("a docker app that was never staged, with a historic null stack") {
      const auto app = ParseApp(R"({"guid":"a2","name":"d","state":"STOPPED",
        "lifecycle":{"type":"docker","data":{}},
        "relationships":{"space":{"data":{"guid":"s1"}},"current_droplet":{"data":{"guid":null}}},
        "metadata":{"labels":{},"annotations":{}}})");
      REQUIRE(app.ok());
      CHECK(app->lifecycle_type == "docker");
      CHECK(app->buildpacks.empty());
      CHECK(app->stack.empty());
      CHECK(app->current_droplet_guid.empty());
    }
    SUBCASE("current_droplet data null and stack null") {
      const auto app = ParseApp(R"({"guid":"a3","lifecycle":{"type":"buildpack","data":{"buildpacks":[],"stack":null}},
        "relationships":{"current_droplet":{"data":null}}})");
      REQUIRE(app.ok());
      CHECK(app->stack.empty());
      CHECK(app->current_droplet_guid.empty());
    }
    SUBCASE("no guid") { CHECK(ParseApp(R"({"name":"x"})").status().code() == base::Code::kInvalidArgument); }
  }

  TEST_CASE("ParseAppPage reads each app of a page") {
    const auto page = ParseAppPage(R"({"pagination":{"next":{"href":"https://api/v3/apps?page=2"}},
        "resources":[{"guid":"a1","name":"one"},{"guid":"a2","name":"two"}]})");
    REQUIRE(page.ok());
    REQUIRE(page->items.size() == 2);
    CHECK(page->items[1].name == "two");
    CHECK(page->next_url == "https://api/v3/apps?page=2");
  }

  TEST_CASE("ParseEnvironmentVariables returns var, non-strings as JSON text") {
    const auto env = ParseEnvironmentVariables(
        R"({"var":{"A":"1","JBP":"{ jre: { version: 17.+ } }","N":42,"B":true,"GONE":null},"links":{}})");
    REQUIRE(env.ok());
    CHECK(*env == std::map<std::string, std::string>{{"A", "1"}, {"JBP", "{ jre: { version: 17.+ } }"}, {"N", "42"}, {"B", "true"}});
    CHECK(ParseEnvironmentVariables(R"({"links":{}})").status().code() == base::Code::kInvalidArgument);
  }

  TEST_CASE("ParseDroplet reads state, stack, error and process types") {
    SUBCASE("a copy in progress") {
      const auto d = ParseDroplet(R"({"guid":"d1","state":"COPYING","error":null,"stack":"cflinuxfs4",
          "process_types":{"web":"bin/run","worker":"bin/work"},"image":null})");
      REQUIRE(d.ok());
      CHECK(d->state == "COPYING");
      CHECK(d->error.empty());
      CHECK(d->stack == "cflinuxfs4");
      CHECK(d->process_types == std::map<std::string, std::string>{{"web", "bin/run"}, {"worker", "bin/work"}});
    }
    SUBCASE("a failed copy") {
      const auto d = ParseDroplet(R"({"guid":"d2","state":"FAILED","error":"failed to copy - blobstore unavailable",
          "stack":null,"process_types":{}})");
      REQUIRE(d.ok());
      CHECK(d->state == "FAILED");
      CHECK(d->error == "failed to copy - blobstore unavailable");
      CHECK(d->stack.empty());
    }
  }

  TEST_CASE("ParseProcess reads sizing and health check, tolerating a null command") {
    const auto p = ParseProcess(R"({"guid":"a1","type":"web","command":null,"instances":2,"memory_in_mb":1024,
        "disk_in_mb":2048,"log_rate_limit_in_bytes_per_second":-1,
        "health_check":{"type":"http","data":{"timeout":null,"endpoint":"/health"}}})");
    REQUIRE(p.ok());
    CHECK(p->guid == "a1");
    CHECK(p->type == "web");
    CHECK(p->command.empty());
    CHECK(p->instances == 2);
    CHECK(p->memory_in_mb == 1024);
    CHECK(p->disk_in_mb == 2048);
    CHECK(p->log_rate_limit_in_bytes_per_second == -1);
    CHECK(p->health_check_type == "http");

    const auto q = ParseProcess(R"({"guid":"p2","type":"web","command":"bin/run","log_rate_limit_in_bytes_per_second":16384})");
    REQUIRE(q.ok());
    CHECK(q->command == "bin/run");
    CHECK(q->log_rate_limit_in_bytes_per_second == 16384);
    CHECK(q->instances == 0);
  }

  TEST_CASE("ParseProcessStats reads index, state and placement details") {
    const auto s = ParseProcessStats(R"({"resources":[
        {"type":"web","index":0,"state":"RUNNING","details":null,"uptime":12},
        {"type":"web","index":1,"state":"DOWN","details":"insufficient resources: memory","uptime":0}]})");
    REQUIRE(s.ok());
    REQUIRE(s->size() == 2);
    CHECK((*s)[0].index == 0);
    CHECK((*s)[0].state == "RUNNING");
    CHECK((*s)[0].details.empty());
    CHECK((*s)[1].index == 1);
    CHECK((*s)[1].details == "insufficient resources: memory");
    CHECK(ParseProcessStats("{}").status().code() == base::Code::kInvalidArgument);
  }

  TEST_CASE("ParseBindingPage joins each binding with its included service instance") {
    const auto page = ParseBindingPage(R"({
      "pagination":{"next":null},
      "resources":[
        {"guid":"b1","name":null,"type":"app","last_operation":{"type":"create","state":"succeeded"},
         "relationships":{"app":{"data":{"guid":"a1"}},"service_instance":{"data":{"guid":"i-mysql"}}}},
        {"guid":"b2","name":"config","type":"app","last_operation":{"type":"create","state":"in progress"},
         "relationships":{"app":{"data":{"guid":"a1"}},"service_instance":{"data":{"guid":"i-ups"}}}},
        {"guid":"b3","name":"orphan","relationships":{"app":{"data":{"guid":"a1"}},"service_instance":{"data":{"guid":"i-gone"}}}}
      ],
      "included":{"service_instances":[
        {"guid":"i-mysql","name":"music-db","type":"managed","relationships":{"space":{"data":{"guid":"s"}},"service_plan":{"data":{"guid":"plan-1"}}}},
        {"guid":"i-ups","name":"music-config","type":"user-provided","relationships":{"space":{"data":{"guid":"s"}}}}
      ]}})");
    REQUIRE(page.ok());
    REQUIRE(page->items.size() == 3);
    const clone::ServiceBinding& b1 = page->items[0];
    CHECK(b1.guid == "b1");
    CHECK(b1.name.empty());
    CHECK(b1.app_guid == "a1");
    CHECK(b1.service_instance_guid == "i-mysql");
    CHECK(b1.service_instance_name == "music-db");
    CHECK(b1.service_instance_type == "managed");
    CHECK(b1.service_plan_guid == "plan-1");
    CHECK(b1.last_operation_type == "create");
    CHECK(b1.last_operation_state == "succeeded");
    const clone::ServiceBinding& b2 = page->items[1];
    CHECK(b2.name == "config");
    CHECK(b2.service_instance_type == "user-provided");
    CHECK(b2.service_plan_guid.empty());
    CHECK(b2.last_operation_state == "in progress");
    const clone::ServiceBinding& b3 = page->items[2];
    CHECK(b3.service_instance_name.empty());  // not included: left empty, not an error
    CHECK(b3.last_operation_type.empty());
  }

  TEST_CASE("ParseJob reads the state and the first error") {
    const auto done = ParseJob(R"({"guid":"j1","operation":"app.delete","state":"COMPLETE","errors":[],"warnings":[]})");
    REQUIRE(done.ok());
    CHECK(done->guid == "j1");
    CHECK(done->state == "COMPLETE");
    CHECK(done->error_title.empty());
    const auto failed = ParseJob(R"({"guid":"j2","state":"FAILED","errors":[
        {"code":10008,"title":"CF-UnprocessableEntity","detail":"bind failed: broker said no"},
        {"code":1,"title":"second","detail":"ignored"}]})");
    REQUIRE(failed.ok());
    CHECK(failed->state == "FAILED");
    CHECK(failed->error_title == "CF-UnprocessableEntity");
    CHECK(failed->error_detail == "bind failed: broker said no");
    CHECK(ParseJob(R"({"state":"COMPLETE"})").status().code() == base::Code::kInvalidArgument);
  }

  TEST_CASE("ParseLogEnvelopes decodes LOG payloads and returns them oldest first") {
    const auto envelope = [](const std::string& ts, const std::string& text, const std::string& type) {
      return R"({"timestamp":")" + ts + R"(","source_id":"a1","instance_id":"0","deprecated_tags":{},
          "tags":{"source_type":")" + type + R"("},"log":{"payload":")" + base::Base64Encode(text) + R"(","type":"OUT"}})";
    };
    SUBCASE("a descending batch with a non-log envelope and a broken payload") {
      const std::string body = R"({"envelopes":{"batch":[)" + envelope("1700000000000000300", "third\n", "APP/PROC/WEB") + "," +
                               R"({"timestamp":"1700000000000000250","source_id":"a1","counter":{"name":"x","total":"1"}},)" +
                               envelope("1700000000000000200", "second", "CELL") + "," +
                               R"({"timestamp":"1700000000000000150","log":{"payload":"!!!not base64","type":"ERR"}},)" +
                               envelope("1700000000000000100", "first\r\n", "APP/PROC/WEB") + "]}}";
      const auto lines = ParseLogEnvelopes(body);
      REQUIRE(lines.ok());
      CHECK(*lines == std::vector<std::string>{"first", "second", "third"});
    }
    SUBCASE("equal timestamps keep log-cache's order, reversed") {
      const std::string body = R"({"envelopes":{"batch":[)" + envelope("5", "b", "APP/PROC/WEB") + "," +
                               envelope("5", "a", "APP/PROC/WEB") + "]}}";
      const auto lines = ParseLogEnvelopes(body);
      REQUIRE(lines.ok());
      CHECK(*lines == std::vector<std::string>{"a", "b"});
    }
    SUBCASE("a timestamp past int64 is no timestamp, never an exception (tests/fuzz regression)") {
      const std::string body = R"({"envelopes":{"batch":[)" + envelope("9999999999999999999", "late", "APP/PROC/WEB") +
                               "," + envelope("7", "early", "APP/PROC/WEB") + "]}}";
      const auto lines = ParseLogEnvelopes(body);
      REQUIRE(lines.ok());
      CHECK(*lines == std::vector<std::string>{"late", "early"});  // 0 sorts before 7
    }
    SUBCASE("an empty batch, in both shapes") {
      CHECK(ParseLogEnvelopes(R"({"envelopes":{"batch":[]}})")->empty());
      CHECK(ParseLogEnvelopes(R"({"envelopes":{}})")->empty());
    }
    SUBCASE("not a log-cache answer") {
      CHECK(ParseLogEnvelopes("<html>").status().code() == base::Code::kUnavailable);
      CHECK(ParseLogEnvelopes(R"({"error":"x"})").status().code() == base::Code::kInvalidArgument);
    }
  }

  TEST_CASE("a malformed Cloud Controller answer is kUnavailable naming the reason, never quoting the body") {
    struct Row {
      std::string name;
      std::string body;
      const char* reason;
    };
    const std::vector<Row> rows = {
        {"150k-deep nesting", R"({"guid":"a1","metadata":)" + std::string(150000, '['), "nested more than 64 deep"},
        {"an infinite number", R"({"guid":"a1","instances":1e400})", "outside the range of a double"},
        {"a lone low surrogate", R"({"guid":"a1","name":"\udc00"})", "not valid UTF-8"},
        {"NUL in a guid", R"({"guid":"a1\u0000x"})", "NUL"},
        {"a leading byte-order mark", "\xEF\xBB\xBF{\"guid\":\"a1\"}", "byte-order mark"},
        {"a duplicate guid", R"({"guid":"a1","guid":"a2"})", "appears twice"},
        {"a token after the value", R"({"guid":"a1"} {"access_token":"secret-token"})", "whitespace"},
    };
    for (const Row& row : rows) {
      CAPTURE(row.name);
      const auto app = ParseApp(row.body);
      REQUIRE_FALSE(app.ok());
      CHECK(app.status().code() == base::Code::kUnavailable);
      CHECK(app.status().reason() == kMalformedResponse);
      CAPTURE(app.status().message());
      CHECK(app.status().message().find(row.reason) != std::string::npos);
      CHECK(app.status().message().rfind("cf: the Cloud Controller's app answer is not valid JSON", 0) == 0);
      CHECK(app.status().message().find("secret-token") == std::string::npos);
    }
  }

  TEST_CASE("numbers out of a field's range are no value, never an undefined conversion") {
    // 1e300 once went through static_cast<int64_t>(double): undefined behaviour (UBSan reports it).
    const auto p = ParseProcess(
        R"({"guid":"p1","instances":1e300,"memory_in_mb":4294967297,"disk_in_mb":-1e19,)"
        R"("log_rate_limit_in_bytes_per_second":18446744073709551615})");
    REQUIRE(p.ok());
    CHECK(p->instances == 0);
    CHECK(p->memory_in_mb == 0);
    CHECK(p->disk_in_mb == 0);
    CHECK(p->log_rate_limit_in_bytes_per_second == -1);
    const auto q = ParseProcess(R"({"guid":"p1","instances":2.0,"memory_in_mb":1.5})");
    REQUIRE(q.ok());
    CHECK(q->instances == 2);
    CHECK(q->memory_in_mb == 0);
    const base::Status s = StatusFromCcResponse(422, R"({"errors":[{"code":1e300,"title":"CF-X","detail":"d"}]})");
    CHECK(s.code() == base::Code::kFailedPrecondition);
    CHECK(s.reason() == "CF-X");
  }

  TEST_CASE("NewAppBody writes the create-app request with labels set in the same call") {
    SUBCASE("a buildpack clone") {
      clone::NewApp app;
      app.name = "spring-music-ssh";
      app.space_guid = "s1";
      app.lifecycle_type = "buildpack";
      app.buildpacks = {"java_buildpack"};
      app.stack = "cflinuxfs4";
      app.environment_variables = {{"SSH_ACCESS_CALLBACK_URL", "https://broker/x"}, {"QUOTE", "a\"b"}};
      app.labels = {{"ssh-access.example.com/binding-guid", "b1"}};
      app.annotations = {{"ssh-access.example.com/created-by", "user-1"}};
      const rapidjson::Document d = Json(NewAppBody(app));
      CHECK(std::string(d["name"].GetString()) == "spring-music-ssh");
      CHECK(std::string(d["relationships"]["space"]["data"]["guid"].GetString()) == "s1");
      CHECK(std::string(d["lifecycle"]["type"].GetString()) == "buildpack");
      CHECK(std::string(d["lifecycle"]["data"]["buildpacks"][0].GetString()) == "java_buildpack");
      CHECK(std::string(d["lifecycle"]["data"]["stack"].GetString()) == "cflinuxfs4");
      CHECK(std::string(d["environment_variables"]["QUOTE"].GetString()) == "a\"b");
      CHECK(std::string(d["metadata"]["labels"]["ssh-access.example.com/binding-guid"].GetString()) == "b1");
      CHECK(std::string(d["metadata"]["annotations"]["ssh-access.example.com/created-by"].GetString()) == "user-1");
    }
    SUBCASE("a docker clone sends empty lifecycle data and omits what is empty") {
      clone::NewApp app;
      app.name = "d-ssh";
      app.space_guid = "s1";
      app.lifecycle_type = "docker";
      app.buildpacks = {"ignored"};
      app.stack = "ignored";
      const rapidjson::Document d = Json(NewAppBody(app));
      CHECK(d["lifecycle"]["data"].IsObject());
      CHECK(d["lifecycle"]["data"].MemberCount() == 0);
      CHECK_FALSE(d.HasMember("environment_variables"));
      CHECK_FALSE(d.HasMember("metadata"));
    }
  }

  TEST_CASE("the small request bodies have CC's shapes") {
    CHECK(CopyDropletBody("a1") == R"({"relationships":{"app":{"data":{"guid":"a1"}}}})");
    CHECK(CurrentDropletBody("d1") == R"({"data":{"guid":"d1"}})");
    CHECK(ProcessUpdateBody({"./bootstrap.sh", "process"}) == R"({"command":"./bootstrap.sh","health_check":{"type":"process"}})");
    CHECK(ProcessUpdateBody({"", "process"}) == R"({"health_check":{"type":"process"}})");
    CHECK(ScaleBody({1, 512, 2048, -1}) ==
          R"({"instances":1,"memory_in_mb":512,"disk_in_mb":2048,"log_rate_limit_in_bytes_per_second":-1})");
    CHECK(ScaleBody({1, 0, 0, 1024}) == R"({"instances":1,"log_rate_limit_in_bytes_per_second":1024})");
    CHECK(NewAppBindingBody("a1", "i1", "cache") ==
          R"({"type":"app","name":"cache","relationships":{"service_instance":{"data":{"guid":"i1"}},"app":{"data":{"guid":"a1"}}}})");
    CHECK(NewAppBindingBody("a1", "i1", "") ==
          R"({"type":"app","relationships":{"service_instance":{"data":{"guid":"i1"}},"app":{"data":{"guid":"a1"}}}})");
  }
}

}  // namespace
}  // namespace broker::cf
