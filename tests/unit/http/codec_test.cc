// Tests for broker/http/codec.h: decoding provision, update and bind bodies and encoding the
// response bodies.
#include "broker/http/codec.h"

#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <chrono>
#include <string_view>
#include <string>
#include <vector>

namespace broker::http {
namespace {

using base::Code;

rapidjson::Document Json(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.c_str(), text.size());
  REQUIRE_MESSAGE(!doc.HasParseError(), "not JSON: " << text);
  return doc;
}

std::string Str(const rapidjson::Value& v) { return std::string(v.GetString(), v.GetStringLength()); }

// Bodies that are not a JSON object, for every decoder.
const std::vector<std::string> kNotAnObject = {
    "", "   ", "\n", "[]", "[{}]", "\"{}\"", "1", "null", "true", "{", "{\"service_id\":", "{} x", "{}{}",
    "{'service_id':'s'}",
};

TEST_SUITE("http::Codec") {
  TEST_CASE("DecodeProvision reads a full Cloud Foundry body") {
    const std::string body = R"({
      "service_id": "svc", "plan_id": "plan",
      "organization_guid": "org-top", "space_guid": "space-top",
      "context": {"platform": "cloudfoundry", "organization_guid": "org-ctx", "space_guid": "space-ctx",
                  "organization_name": "o", "space_name": "s", "instance_name": "i"},
      "parameters": {"b": 1, "a": {"d": 2, "c": 3}},
      "maintenance_info": {"version": "1.0.0", "description": "ignored"}
    })";
    osb::ProvisionRequest req;
    req.instance_id = "from-the-path";
    const base::Status s = DecodeProvision(body, &req);
    REQUIRE_MESSAGE(s.ok(), s.ToString());
    CHECK(req.instance_id == "from-the-path");  // path fields are the caller's
    CHECK(req.service_id == "svc");
    CHECK(req.plan_id == "plan");
    CHECK(req.organization_guid == "org-top");
    CHECK(req.space_guid == "space-top");
    CHECK(req.parameters_json == R"({"a":{"c":3,"d":2},"b":1})");
    CHECK(req.context_json ==
          R"({"instance_name":"i","organization_guid":"org-ctx","organization_name":"o","platform":"cloudfoundry",)"
          R"("space_guid":"space-ctx","space_name":"s"})");
    REQUIRE(req.maintenance_version.has_value());
    CHECK(*req.maintenance_version == "1.0.0");
  }

  TEST_CASE("DecodeProvision takes the guids from the context when the top-level ones are absent") {
    osb::ProvisionRequest req;
    const base::Status s = DecodeProvision(
        R"({"service_id":"svc","plan_id":"plan","context":{"platform":"cloudfoundry",
            "organization_guid":"org-ctx","space_guid":"space-ctx"}})",
        &req);
    REQUIRE_MESSAGE(s.ok(), s.ToString());
    CHECK(req.organization_guid == "org-ctx");
    CHECK(req.space_guid == "space-ctx");
  }

  TEST_CASE("DecodeProvision accepts empty objects and an empty body object") {
    SUBCASE("when every object is empty") {
      osb::ProvisionRequest req;
      const base::Status s = DecodeProvision(
          R"({"service_id":"svc","plan_id":"plan","context":{},"parameters":{},"maintenance_info":{}})", &req);
      REQUIRE_MESSAGE(s.ok(), s.ToString());
      CHECK(req.context_json == "{}");
      CHECK(req.parameters_json == "{}");
      CHECK_FALSE(req.maintenance_version.has_value());
      CHECK(req.organization_guid.empty());
    }
    SUBCASE("when the body is {}") {
      osb::ProvisionRequest req;
      const base::Status s = DecodeProvision("{}", &req);
      REQUIRE_MESSAGE(s.ok(), s.ToString());  // missing ids are the Broker's 400, not the codec's
      CHECK(req.service_id.empty());
      CHECK(req.plan_id.empty());
      CHECK(req.context_json == "{}");
      CHECK(req.parameters_json == "{}");
      CHECK_FALSE(req.maintenance_version.has_value());
    }
  }

  TEST_CASE("DecodeProvision ignores unknown fields") {
    osb::ProvisionRequest req;
    const base::Status s = DecodeProvision(
        R"({"service_id":"svc","plan_id":"plan","x-vendor":{"a":[1,2]},"future_field":7,"space_guid":"sp",
            "maintenance_info":{"version":"1.0.0","future":true}})",
        &req);
    REQUIRE_MESSAGE(s.ok(), s.ToString());
    CHECK(req.service_id == "svc");
    CHECK(req.space_guid == "sp");
    CHECK(*req.maintenance_version == "1.0.0");
  }

  TEST_CASE("DecodeProvision rejects each wrong type, naming the field") {
    struct Row {
      std::string body;
      std::string field;
    };
    const std::vector<Row> rows = {
        {R"({"service_id":5})", "service_id"},
        {R"({"service_id":{"id":"s"}})", "service_id"},
        {R"({"plan_id":["p"]})", "plan_id"},
        {R"({"plan_id":true})", "plan_id"},
        {R"({"organization_guid":1})", "organization_guid"},
        {R"({"space_guid":[]})", "space_guid"},
        {R"({"context":"cloudfoundry"})", "context"},
        {R"({"context":[]})", "context"},
        {R"({"parameters":[]})", "parameters"},
        {R"({"parameters":"{}"})", "parameters"},
        {R"({"parameters":5})", "parameters"},
        {R"({"maintenance_info":"1.0.0"})", "maintenance_info"},
        {R"({"maintenance_info":{"version":1}})", "version"},
        {R"({"context":{"space_guid":5}})", "space_guid"},
        {R"({"context":{"organization_guid":false}})", "organization_guid"},
    };
    for (const Row& row : rows) {
      CAPTURE(row.body);
      osb::ProvisionRequest req;
      const base::Status s = DecodeProvision(row.body, &req);
      REQUIRE_FALSE(s.ok());
      CHECK(s.code() == Code::kInvalidArgument);
      CAPTURE(s.message());
      CHECK(s.message().find(row.field) != std::string::npos);
    }
  }

  TEST_CASE("every decoder rejects a body that is not a JSON object") {
    for (const std::string& body : kNotAnObject) {
      CAPTURE(body);
      osb::ProvisionRequest p;
      CHECK(DecodeProvision(body, &p).code() == Code::kInvalidArgument);
      osb::UpdateRequest u;
      CHECK(DecodeUpdate(body, &u).code() == Code::kInvalidArgument);
      osb::BindRequest b;
      CHECK(DecodeBind(body, &b).code() == Code::kInvalidArgument);
    }
  }

  TEST_CASE("parameters are canonical: key order and whitespace do not matter") {
    const std::string a = R"({"service_id":"s","plan_id":"p","parameters":{"ttl_minutes":60,"authorized_keys":["k"],"o":{"y":1,"x":2}}})";
    const std::string b =
        "{ \"plan_id\" : \"p\",\n \"parameters\" : { \"o\" : {\"x\":2, \"y\":1}, \"authorized_keys\" : [ \"k\" ], "
        "\"ttl_minutes\" : 60 }, \"service_id\":\"s\" }";
    osb::ProvisionRequest pa, pb;
    REQUIRE(DecodeProvision(a, &pa).ok());
    REQUIRE(DecodeProvision(b, &pb).ok());
    CHECK(pa.parameters_json == pb.parameters_json);
    CHECK(pa.parameters_json == R"({"authorized_keys":["k"],"o":{"x":2,"y":1},"ttl_minutes":60})");
    osb::BindRequest ba, bb;
    REQUIRE(DecodeBind(a, &ba).ok());
    REQUIRE(DecodeBind(b, &bb).ok());
    CHECK(ba.parameters_json == bb.parameters_json);
    CHECK(ba.parameters_json == pa.parameters_json);
    osb::UpdateRequest ua, ub;
    REQUIRE(DecodeUpdate(a, &ua).ok());
    REQUIRE(DecodeUpdate(b, &ub).ok());
    REQUIRE(ua.parameters_json.has_value());
    CHECK(*ua.parameters_json == *ub.parameters_json);
    SUBCASE("when the parameters differ in value, the canonical text differs") {
      osb::BindRequest other;
      REQUIRE(DecodeBind(R"({"parameters":{"ttl_minutes":61,"authorized_keys":["k"],"o":{"y":1,"x":2}}})", &other).ok());
      CHECK(other.parameters_json != ba.parameters_json);
    }
  }

  TEST_CASE("DecodeUpdate sets only what the body carries") {
    SUBCASE("when the body has every field") {
      osb::UpdateRequest req;
      const base::Status s = DecodeUpdate(
          R"({"service_id":"svc","plan_id":"plan","parameters":{"b":1,"a":2},
              "context":{"platform":"cloudfoundry","space_guid":"sp"},
              "previous_values":{"plan_id":"old","service_id":"svc"},
              "maintenance_info":{"version":"1.0.0"}})",
          &req);
      REQUIRE_MESSAGE(s.ok(), s.ToString());
      CHECK(req.service_id == "svc");
      REQUIRE(req.plan_id.has_value());
      CHECK(*req.plan_id == "plan");
      REQUIRE(req.parameters_json.has_value());
      CHECK(*req.parameters_json == R"({"a":2,"b":1})");
      REQUIRE(req.context_json.has_value());
      CHECK(*req.context_json == R"({"platform":"cloudfoundry","space_guid":"sp"})");
      REQUIRE(req.maintenance_version.has_value());
      CHECK(*req.maintenance_version == "1.0.0");
    }
    SUBCASE("when the body has only service_id") {
      osb::UpdateRequest req;
      REQUIRE(DecodeUpdate(R"({"service_id":"svc"})", &req).ok());
      CHECK(req.service_id == "svc");
      CHECK_FALSE(req.plan_id.has_value());
      CHECK_FALSE(req.parameters_json.has_value());
      CHECK_FALSE(req.context_json.has_value());
      CHECK_FALSE(req.maintenance_version.has_value());
    }
    SUBCASE("when the objects are empty") {
      osb::UpdateRequest req;
      const base::Status s = DecodeUpdate(
          R"({"service_id":"svc","parameters":{},"context":{},"previous_values":{},"maintenance_info":{}})", &req);
      REQUIRE_MESSAGE(s.ok(), s.ToString());
      REQUIRE(req.parameters_json.has_value());
      CHECK(*req.parameters_json == "{}");
      REQUIRE(req.context_json.has_value());
      CHECK(*req.context_json == "{}");
      CHECK_FALSE(req.maintenance_version.has_value());
    }
    SUBCASE("when the body has unknown fields") {
      osb::UpdateRequest req;
      REQUIRE(DecodeUpdate(R"({"service_id":"svc","unknown":[1],"x-extension":{"y":null}})", &req).ok());
      CHECK(req.service_id == "svc");
    }
  }

  TEST_CASE("DecodeUpdate rejects each wrong type, naming the field") {
    struct Row {
      std::string body;
      std::string field;
    };
    const std::vector<Row> rows = {
        {R"({"service_id":1})", "service_id"},
        {R"({"plan_id":2})", "plan_id"},
        {R"({"parameters":[]})", "parameters"},
        {R"({"context":"x"})", "context"},
        {R"({"previous_values":"x"})", "previous_values"},
        {R"({"previous_values":[]})", "previous_values"},
        {R"({"maintenance_info":[]})", "maintenance_info"},
        {R"({"maintenance_info":{"version":false}})", "version"},
    };
    for (const Row& row : rows) {
      CAPTURE(row.body);
      osb::UpdateRequest req;
      const base::Status s = DecodeUpdate(row.body, &req);
      REQUIRE_FALSE(s.ok());
      CHECK(s.code() == Code::kInvalidArgument);
      CAPTURE(s.message());
      CHECK(s.message().find(row.field) != std::string::npos);
    }
  }

  TEST_CASE("DecodeBind reads the app from bind_resource, else from the top level") {
    struct Row {
      std::string name;
      std::string body;
      std::string app_guid;
      std::string space_guid;
    };
    const std::vector<Row> rows = {
        {"only bind_resource.app_guid", R"({"bind_resource":{"app_guid":"app-br"}})", "app-br", ""},
        {"only top-level app_guid", R"({"app_guid":"app-top"})", "app-top", ""},
        {"empty bind_resource plus top-level app_guid", R"({"bind_resource":{},"app_guid":"app-top"})", "app-top", ""},
        {"both: bind_resource wins", R"({"app_guid":"app-top","bind_resource":{"app_guid":"app-br"}})", "app-br", ""},
        {"empty bind_resource.app_guid counts as missing",
         R"({"app_guid":"app-top","bind_resource":{"app_guid":""}})", "app-top", ""},
        {"neither", R"({"bind_resource":{}})", "", ""},
        {"space from bind_resource", R"({"bind_resource":{"app_guid":"a","space_guid":"sp-br"}})", "a", "sp-br"},
        {"space from context", R"({"bind_resource":{"app_guid":"a"},"context":{"space_guid":"sp-ctx"}})", "a", "sp-ctx"},
        {"space: bind_resource wins",
         R"({"bind_resource":{"app_guid":"a","space_guid":"sp-br"},"context":{"space_guid":"sp-ctx"}})", "a", "sp-br"},
        {"service key (credential_client_id, no app)", R"({"bind_resource":{"credential_client_id":"cc"}})", "", ""},
    };
    for (const Row& row : rows) {
      CAPTURE(row.name);
      osb::BindRequest req;
      const base::Status s = DecodeBind(row.body, &req);
      REQUIRE_MESSAGE(s.ok(), s.ToString());
      CHECK(req.app_guid == row.app_guid);
      CHECK(req.space_guid == row.space_guid);
    }
  }

  TEST_CASE("DecodeBind reads a full Cloud Foundry body") {
    osb::BindRequest req;
    req.instance_id = "iid";
    req.binding_id = "bid";
    req.accepts_incomplete = true;
    const base::Status s = DecodeBind(
        R"({"service_id":"svc","plan_id":"plan","app_guid":"app",
            "bind_resource":{"app_guid":"app","space_guid":"sp"},
            "context":{"platform":"cloudfoundry","space_guid":"sp","organization_guid":"org"},
            "parameters":{"ttl_minutes":30},"x-unknown":1})",
        &req);
    REQUIRE_MESSAGE(s.ok(), s.ToString());
    CHECK(req.instance_id == "iid");
    CHECK(req.binding_id == "bid");
    CHECK(req.accepts_incomplete);
    CHECK(req.service_id == "svc");
    CHECK(req.plan_id == "plan");
    CHECK(req.app_guid == "app");
    CHECK(req.space_guid == "sp");
    CHECK(req.parameters_json == R"({"ttl_minutes":30})");
    CHECK(req.context_json == R"({"organization_guid":"org","platform":"cloudfoundry","space_guid":"sp"})");
  }

  TEST_CASE("DecodeBind accepts empty objects") {
    osb::BindRequest req;
    const base::Status s =
        DecodeBind(R"({"service_id":"s","plan_id":"p","bind_resource":{},"context":{},"parameters":{}})", &req);
    REQUIRE_MESSAGE(s.ok(), s.ToString());
    CHECK(req.context_json == "{}");
    CHECK(req.parameters_json == "{}");
    CHECK(req.app_guid.empty());
  }

  TEST_CASE("DecodeBind rejects each wrong type, naming the field") {
    struct Row {
      std::string body;
      std::string field;
    };
    const std::vector<Row> rows = {
        {R"({"service_id":1})", "service_id"},
        {R"({"plan_id":null})", "plan_id"},
        {R"({"app_guid":7})", "app_guid"},
        {R"({"bind_resource":"app"})", "bind_resource"},
        {R"({"bind_resource":[]})", "bind_resource"},
        {R"({"bind_resource":{"app_guid":7}})", "app_guid"},
        {R"({"bind_resource":{"space_guid":[]}})", "space_guid"},
        {R"({"context":"x"})", "context"},
        {R"({"context":{"space_guid":1}})", "space_guid"},
        {R"({"parameters":[1]})", "parameters"},
        {R"({"parameters":"{\"a\":1}"})", "parameters"},
    };
    for (const Row& row : rows) {
      CAPTURE(row.body);
      osb::BindRequest req;
      const base::Status s = DecodeBind(row.body, &req);
      REQUIRE_FALSE(s.ok());
      CHECK(s.code() == Code::kInvalidArgument);
      CAPTURE(s.message());
      CHECK(s.message().find(row.field) != std::string::npos);
    }
  }

  TEST_CASE("DecodeBind rejects predecessor_binding_id (bindings are not rotatable)") {
    for (const std::string value : {R"("b-0")", R"("")", "1", "null"}) {
      CAPTURE(value);
      osb::BindRequest req;
      const base::Status s = DecodeBind(
          R"({"service_id":"s","plan_id":"p","bind_resource":{"app_guid":"a"},"predecessor_binding_id":)" + value + "}",
          &req);
      REQUIRE_FALSE(s.ok());
      CHECK(s.code() == Code::kInvalidArgument);
      CHECK(s.message().find("predecessor_binding_id") != std::string::npos);
    }
  }

  TEST_CASE("EncodeOperation writes {\"operation\": ...} only") {
    for (const std::string op : {"bind-42", "unbind-43", "quote\"and\\slash", ""}) {
      CAPTURE(op);
      const rapidjson::Document doc = Json(EncodeOperation(op));
      REQUIRE(doc.IsObject());
      CHECK(doc.MemberCount() == 1);
      CHECK(Str(doc["operation"]) == op);
    }
  }

  TEST_CASE("EncodeLastOperation writes the state and a description only when there is one") {
    struct Row {
      osb::OperationState state;
      std::string description;
      std::string state_name;
    };
    const std::vector<Row> rows = {
        {osb::OperationState::kInProgress, "", "in progress"},
        {osb::OperationState::kInProgress, "cloning app", "in progress"},
        {osb::OperationState::kSucceeded, "", "succeeded"},
        {osb::OperationState::kFailed, "the app \"web\" has no droplet\nretry", "failed"},
    };
    for (const Row& row : rows) {
      CAPTURE(row.state_name);
      CAPTURE(row.description);
      osb::LastOperation op;
      op.state = row.state;
      op.description = row.description;
      const std::string text = EncodeLastOperation(op);
      const rapidjson::Document doc = Json(text);
      CHECK(Str(doc["state"]) == row.state_name);
      if (row.description.empty()) {
        CHECK_FALSE(doc.HasMember("description"));
        CHECK(doc.MemberCount() == 1);
      } else {
        CHECK(Str(doc["description"]) == row.description);
        CHECK(doc.MemberCount() == 2);
      }
    }
  }

  TEST_CASE("EncodeInstance writes service_id, plan_id, parameters and maintenance_info when set") {
    SUBCASE("when a maintenance version is set") {
      const osb::InstanceView view{"svc", "plan", R"({"a":1})", "1.0.0"};
      const rapidjson::Document doc = Json(EncodeInstance(view));
      CHECK(Str(doc["service_id"]) == "svc");
      CHECK(Str(doc["plan_id"]) == "plan");
      CHECK(doc["parameters"] == Json(R"({"a":1})"));
      CHECK(Str(doc["maintenance_info"]["version"]) == "1.0.0");
    }
    SUBCASE("when no maintenance version is set") {
      const osb::InstanceView view{"svc", "plan", "{}", ""};
      const rapidjson::Document doc = Json(EncodeInstance(view));
      CHECK(doc["parameters"].IsObject());
      CHECK(doc["parameters"].MemberCount() == 0);
      CHECK_FALSE(doc.HasMember("maintenance_info"));
    }
  }

  TEST_CASE("EncodeBinding writes credentials, parameters and metadata.expires_at") {
    SUBCASE("when the binding expires") {
      osb::BindingView view;
      view.credentials_json = R"({"ssh_command":"ssh abc@tmate.example.com","web_url":"https://x"})";
      view.parameters_json = R"({"ttl_minutes":60})";
      view.expires_at = base::TimePoint(std::chrono::seconds(1795626340)) + std::chrono::milliseconds(123);
      const rapidjson::Document doc = Json(EncodeBinding(view));
      CHECK(doc["credentials"] == Json(view.credentials_json));
      CHECK(doc["parameters"] == Json(view.parameters_json));
      REQUIRE(doc.HasMember("metadata"));
      const std::string at = Str(doc["metadata"]["expires_at"]);
      CHECK(at == "2026-11-25T17:05:40.123Z");
    }
    SUBCASE("when the binding has no expiry") {
      osb::BindingView view;
      view.credentials_json = R"({"k":"v"})";
      view.parameters_json = "{}";
      const rapidjson::Document doc = Json(EncodeBinding(view));
      CHECK(Str(doc["credentials"]["k"]) == "v");
      CHECK_FALSE(doc.HasMember("metadata"));
    }
    SUBCASE("when the credentials are empty, credentials is still an object") {
      osb::BindingView view;
      view.parameters_json = "{}";
      const rapidjson::Document doc = Json(EncodeBinding(view));
      CHECK(doc["credentials"].IsObject());
    }
  }

  TEST_CASE("EncodeBinding and EncodeInstance always produce JSON, even from default-constructed views") {
    // OSB: every 2xx body must parse as JSON.
    for (const std::string& text : {EncodeBinding(osb::BindingView{}), EncodeInstance(osb::InstanceView{})}) {
      CAPTURE(text);
      rapidjson::Document doc;
      doc.Parse(text.c_str(), text.size());
      CHECK_FALSE(doc.HasParseError());
    }
  }
}

}  // namespace
}  // namespace broker::http
