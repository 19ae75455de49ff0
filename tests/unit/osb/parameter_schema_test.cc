// Tests for broker/osb/parameter_schema.h: compiling draft-04 schemas and validating request
// parameters against the real catalog's binding schemas.
#include "broker/osb/parameter_schema.h"

#include <doctest/doctest.h>
#include <rapidjson/pointer.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace broker::osb {
namespace {

// Public keys made with ssh-keygen for these tests (comment "dev@laptop").
constexpr const char* kEd25519 =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAULiHocITKkCsT7tEOAg4nYQaD13JYfw5byGXg2Appw";
constexpr const char* kEcdsa =
    "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBFlHfvQbh83214spee17tQk8qoBjfgFA4e2/"
    "TK18DmiSjeQ62iqN67/V0hiFTynkv+lHjIhfqAHvhMlqdYGo+vA=";
constexpr const char* kRsa =
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQCbGDOSYfiik0DZRqPHOPE5ITZP93v54+VElROafF2QbesCZorAQgpKDCOPqTCRtsdd45FLib39"
    "JivjtNdhGWaCQ22X3KkCaGacLzJhn3bNrBsGCXAWOnqF891AfEdertDHKbwu+0K3JBVFBfwYwHpGNnniWDYyhr5OYcPbtnirg4dqYsWN21MrnBQQ9"
    "Zb/ylqc5yEc7qQGUZ9lnR7MxrqoY5wSLvzEK9eh0DHV1/iA8L0Up2TbcT1SZAH6CNku1nsi+t6oJHEWf1jljVGeAJpYYU2nz3/2/hcB0+Ch+YUOA/"
    "qHUMl7jDH4vnBrYu6V5dHAGVCYQT/KqjKuhSsYHhs2NzYaQeeubGaUCNjnCi9H/mIg2hnandZykV7Vk0OoBxffXsEyMN9tBTHSIFSPTGVJh6S4AoEB+"
    "0nmCUO0kXXati1ph3xW+/ky3w+yk0Z/ZVux3+OJGeLd0GCnIQlGIfO29CpNnBMJoajhUBFgyV6gFjyX7rAfRH93+4/IJnXWzLE=";

rapidjson::Document Json(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.c_str(), text.size());
  REQUIRE_MESSAGE(!doc.HasParseError(), "test input is not JSON: " << text);
  return doc;
}

const rapidjson::Document& CatalogDocument() {
  static const rapidjson::Document doc = [] {
    std::ifstream in(std::string(BROKER_SOURCE_DIR) + "/catalog/catalog.json");
    std::stringstream ss;
    ss << in.rdbuf();
    rapidjson::Document d;
    d.Parse(ss.str().c_str());
    return d;
  }();
  return doc;
}

// The compiled service_binding.create schema of the catalog's plan `plan_index`
// (0: standard, 1: secure).
std::shared_ptr<const ParameterSchema> BindSchema(int plan_index) {
  const std::string ptr =
      "/services/0/plans/" + std::to_string(plan_index) + "/schemas/service_binding/create/parameters";
  const rapidjson::Value* schema = rapidjson::Pointer(ptr.c_str()).Get(CatalogDocument());
  REQUIRE_MESSAGE(schema != nullptr, "catalog.json has no " << ptr);
  auto compiled = ParameterSchema::Compile(*schema, ptr);
  REQUIRE_MESSAGE(compiled.ok(), compiled.status().ToString());
  return *compiled;
}

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
  }
  return out + "\"";
}

base::Status Validate(const ParameterSchema& schema, const std::string& params) {
  return schema.Validate(Json(params));
}

TEST_SUITE("osb::ParameterSchema") {
  TEST_CASE("Compile accepts a well-formed draft-04 schema and keeps the document") {
    const auto schema = Json(R"({"$schema":"http://json-schema.org/draft-04/schema#","type":"object",
        "properties":{"n":{"type":"integer","minimum":1}},"required":["n"],"additionalProperties":false})");
    auto compiled = ParameterSchema::Compile(schema, "here");
    REQUIRE_MESSAGE(compiled.ok(), compiled.status().ToString());
    CHECK((*compiled)->document() == schema);
    CHECK((*compiled)->Validate(Json(R"({"n":3})")).ok());
    CHECK_FALSE((*compiled)->Validate(Json(R"({"n":0})")).ok());
  }

  TEST_CASE("Compile rejects schemas that are not well-formed draft-04, naming where") {
    struct Row {
      std::string name;
      std::string schema;
    };
    const std::vector<Row> rows = {
        {"an array", R"([])"},
        {"a string", R"("schema")"},
        {"a boolean", R"(true)"},
        {"null", R"(null)"},
        {"missing $schema", R"({"type":"object"})"},
        {"$schema not a string", R"({"$schema":4,"type":"object"})"},
        {"type 5", R"({"$schema":"http://json-schema.org/draft-04/schema#","type":5})"},
        {"unknown type name", R"({"$schema":"http://json-schema.org/draft-04/schema#","type":"int"})"},
        {"minimum \"x\"", R"({"$schema":"http://json-schema.org/draft-04/schema#","minimum":"x"})"},
        {"empty required", R"({"$schema":"http://json-schema.org/draft-04/schema#","required":[]})"},
        {"required of numbers", R"({"$schema":"http://json-schema.org/draft-04/schema#","required":[1]})"},
        {"properties not an object", R"({"$schema":"http://json-schema.org/draft-04/schema#","properties":[]})"},
        {"nested bad type",
         R"({"$schema":"http://json-schema.org/draft-04/schema#","properties":{"a":{"type":5}}})"},
        {"negative maxLength", R"({"$schema":"http://json-schema.org/draft-04/schema#","maxLength":-1})"},
        {"exclusiveMinimum without minimum",
         R"({"$schema":"http://json-schema.org/draft-04/schema#","exclusiveMinimum":true})"},
        {"empty enum", R"({"$schema":"http://json-schema.org/draft-04/schema#","enum":[]})"},
    };
    for (const Row& row : rows) {
      CAPTURE(row.name);
      auto compiled = ParameterSchema::Compile(Json(row.schema), "plans[0].schema");
      REQUIRE_FALSE(compiled.ok());
      CHECK(compiled.status().code() == base::Code::kInvalidArgument);
      CAPTURE(compiled.status().message());
      CHECK(compiled.status().message().rfind("plans[0].schema", 0) == 0);
    }
  }

  TEST_CASE("Compile rejects a pattern the validator does not understand") {
    for (const std::string pattern : {"(", "[a-", "a{2,1}", "(?=x)", "\\\\1"}) {
      CAPTURE(pattern);
      const auto schema = Json(R"({"$schema":"http://json-schema.org/draft-04/schema#",
          "properties":{"k":{"type":"string","pattern":")" + pattern + R"("}}})");
      auto compiled = ParameterSchema::Compile(schema, "where");
      REQUIRE_FALSE(compiled.ok());
      CHECK(compiled.status().code() == base::Code::kInvalidArgument);
      CAPTURE(compiled.status().message());
      CHECK(compiled.status().message().rfind("where", 0) == 0);
      CHECK(compiled.status().message().find("pattern") != std::string::npos);
    }
  }

  TEST_CASE("the catalog's binding schemas compile") {
    CHECK(BindSchema(0) != nullptr);
    CHECK(BindSchema(1) != nullptr);
  }

  TEST_CASE("the standard plan's bind schema accepts valid parameters") {
    const auto schema = BindSchema(0);
    const std::vector<std::string> good = {
        R"({})",
        R"({"ttl_minutes":5})",
        R"({"ttl_minutes":480})",
        R"({"ttl_minutes":60,"memory_mb":512,"strict":true})",
        R"({"memory_mb":64})",
        R"({"memory_mb":1024})",
        R"({"strict":false})",
        R"({"authorized_keys":[]})",
        R"({"authorized_keys":[)" + Quote(kEd25519) + "]}",
        R"({"authorized_keys":[)" + Quote(std::string(kEd25519) + " dev@laptop") + "]}",
        R"({"authorized_keys":[)" + Quote(kRsa) + "]}",
        R"({"authorized_keys":[)" + Quote(std::string(kRsa) + " dev@laptop") + "]}",
        R"({"authorized_keys":[)" + Quote(kEcdsa) + "]}",
        R"({"authorized_keys":[)" + Quote(std::string(kEcdsa) + " ci key (2026)") + "]}",
        R"({"authorized_keys":[)" + Quote(kEd25519) + "," + Quote(kRsa) + "," + Quote(kEcdsa) + "]}",
    };
    for (const std::string& params : good) {
      CAPTURE(params.substr(0, 120));
      const base::Status s = Validate(*schema, params);
      CHECK_MESSAGE(s.ok(), s.ToString());
    }
  }

  TEST_CASE("the standard plan's bind schema rejects bad parameters, naming the parameter and rule") {
    const auto schema = BindSchema(0);
    struct Row {
      std::string params;
      std::vector<std::string> mentions;  // every one must appear in the message
    };
    const std::vector<Row> rows = {
        {R"({"ttl_minutes":481})", {"ttl_minutes", "480"}},
        {R"({"ttl_minutes":100000})", {"ttl_minutes", "480"}},
        {R"({"ttl_minutes":4})", {"ttl_minutes", "5"}},
        {R"({"ttl_minutes":0})", {"ttl_minutes"}},
        {R"({"ttl_minutes":-10})", {"ttl_minutes"}},
        {R"({"ttl_minutes":60.5})", {"ttl_minutes", "integer"}},
        {R"({"ttl_minutes":"60"})", {"ttl_minutes", "integer"}},
        {R"({"ttl_minutes":null})", {"ttl_minutes"}},
        {R"({"memory_mb":1025})", {"memory_mb", "1024"}},
        {R"({"memory_mb":63})", {"memory_mb", "64"}},
        {R"({"memory_mb":"512"})", {"memory_mb"}},
        {R"({"strict":"yes"})", {"strict"}},
        {R"({"foo":1})", {"foo"}},
        {R"({"ttl_minutes":60,"ssh_port":22})", {"ssh_port"}},
        {R"({"authorized_keys":"ssh-ed25519 AAAA"})", {"authorized_keys"}},
        {R"({"authorized_keys":{}})", {"authorized_keys"}},
        {R"({"authorized_keys":[1]})", {"authorized_keys"}},
        {R"({"authorized_keys":["not a key"]})", {"authorized_keys"}},
        {R"({"authorized_keys":["ssh-ed25519"]})", {"authorized_keys"}},
        {R"({"authorized_keys":["ssh-ed25519 "]})", {"authorized_keys"}},
        {R"({"authorized_keys":["ssh-dss AAAAB3NzaC1kc3MAAACBAP"]})", {"authorized_keys"}},
        {R"({"authorized_keys":["ssh-ed25519 AAAA$$$$"]})", {"authorized_keys"}},
        {R"({"authorized_keys":["ssh-ed25519  AAAAC3NzaC1lZDI1NTE5"]})", {"authorized_keys"}},
        {R"({"authorized_keys":[)" + Quote(std::string(kEd25519) + " a\nssh-rsa AAAA evil") + "]}",
         {"authorized_keys"}},
        {R"({"authorized_keys":[)" + Quote(std::string(kEd25519) + "\r") + "]}", {"authorized_keys"}},
        {R"({"authorized_keys":[)" + Quote(kRsa + std::string(" ") + std::string(17000, 'c')) + "]}",
         {"authorized_keys"}},
    };
    for (const Row& row : rows) {
      CAPTURE(row.params.substr(0, 120));
      const base::Status s = Validate(*schema, row.params);
      REQUIRE_FALSE(s.ok());
      CHECK(s.code() == base::Code::kInvalidArgument);
      CAPTURE(s.message());
      for (const std::string& m : row.mentions) CHECK(s.message().find(m) != std::string::npos);
    }
  }

  TEST_CASE("at most 32 authorized keys are accepted") {
    const auto schema = BindSchema(0);
    auto keys = [](int n) {
      std::string params = R"({"authorized_keys":[)";
      for (int i = 0; i < n; ++i) params += (i ? "," : "") + Quote(kEd25519);
      return params + "]}";
    };
    CHECK(Validate(*schema, keys(32)).ok());
    const base::Status s = Validate(*schema, keys(33));
    REQUIRE_FALSE(s.ok());
    CHECK(s.message().find("authorized_keys") != std::string::npos);
  }

  TEST_CASE("parameters that are not an object are rejected") {
    const auto schema = BindSchema(0);
    for (const std::string params : {"[]", "\"x\"", "1", "null"}) {
      CAPTURE(params);
      const base::Status s = Validate(*schema, params);
      CHECK_FALSE(s.ok());
      CHECK(s.code() == base::Code::kInvalidArgument);
    }
  }

  TEST_CASE("the secure plan's bind schema requires authorized_keys") {
    const auto schema = BindSchema(1);
    SUBCASE("when authorized_keys is missing") {
      for (const std::string params : {R"({})", R"({"ttl_minutes":30})"}) {
        CAPTURE(params);
        const base::Status s = Validate(*schema, params);
        REQUIRE_FALSE(s.ok());
        CHECK(s.code() == base::Code::kInvalidArgument);
        CAPTURE(s.message());
        CHECK(s.message().find("authorized_keys") != std::string::npos);
      }
    }
    SUBCASE("when authorized_keys is empty") {
      const base::Status s = Validate(*schema, R"({"authorized_keys":[]})");
      REQUIRE_FALSE(s.ok());
      CHECK(s.message().find("authorized_keys") != std::string::npos);
    }
    SUBCASE("when authorized_keys holds valid keys") {
      for (const std::string& key : {std::string(kEd25519), std::string(kEd25519) + " dev@laptop",
                                    std::string(kRsa), std::string(kEcdsa) + " dev@laptop"}) {
        CAPTURE(key.substr(0, 40));
        const base::Status s = Validate(*schema, R"({"authorized_keys":[)" + Quote(key) + "]}");
        CHECK_MESSAGE(s.ok(), s.ToString());
      }
    }
    SUBCASE("when ttl_minutes exceeds the secure plan's hour") {
      const base::Status s =
          Validate(*schema, R"({"authorized_keys":[)" + Quote(kEd25519) + R"(],"ttl_minutes":61})");
      REQUIRE_FALSE(s.ok());
      CHECK(s.message().find("ttl_minutes") != std::string::npos);
      CHECK(s.message().find("60") != std::string::npos);
    }
  }

  // parameter_schema.h promises a thread-safe Validate(). RapidJSON 1.1.0's regex keeps its match
  // state in members of the compiled schema, so without the lock concurrent checks of "pattern"
  // race and crash (every time under ASan).
  TEST_CASE("one compiled schema validates from several threads at once") {
    const auto schema = BindSchema(1);
    const std::string good = R"({"authorized_keys":[)" + Quote(kEd25519) + R"(],"ttl_minutes":30})";
    const std::string bad = R"({"ttl_minutes":30})";
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&] {
        const rapidjson::Document g = [&] { rapidjson::Document d; d.Parse(good.c_str()); return d; }();
        const rapidjson::Document b = [&] { rapidjson::Document d; d.Parse(bad.c_str()); return d; }();
        for (int i = 0; i < 1000; ++i) {
          if (!schema->Validate(g).ok()) ++wrong;
          if (schema->Validate(b).ok()) ++wrong;
        }
      });
    }
    for (auto& th : threads) th.join();
    CHECK(wrong.load() == 0);
  }

  TEST_CASE("a plan whose schema allows no properties names the unknown key") {
    const rapidjson::Value* schema =
        rapidjson::Pointer("/services/0/plans/0/schemas/service_instance/create/parameters").Get(CatalogDocument());
    REQUIRE(schema != nullptr);
    auto compiled = ParameterSchema::Compile(*schema, "instance");
    REQUIRE(compiled.ok());
    CHECK((*compiled)->Validate(Json("{}")).ok());
    const base::Status s = (*compiled)->Validate(Json(R"({"size":"large"})"));
    REQUIRE_FALSE(s.ok());
    CHECK(s.message().find("size") != std::string::npos);
  }
}

}  // namespace
}  // namespace broker::osb
