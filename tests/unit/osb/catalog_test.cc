// Tests for broker/osb/catalog.h: parsing the real catalog, rejecting broken ones with a
// message naming the field, and the lookups.
#include "broker/osb/catalog.h"

#include <doctest/doctest.h>
#include <rapidjson/pointer.h>

#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "broker/osb/json_util.h"

namespace broker::osb {
namespace {

constexpr const char* kServiceId = "647a5929-f551-403c-b5c3-d587684999fd";
constexpr const char* kStandardPlanId = "e87ec4cb-9b71-4136-a471-6904dbc038e9";
constexpr const char* kSecurePlanId = "8a67632f-bb6b-4e1c-a812-1f6bff6b53a2";

const std::string& CatalogText() {
  static const std::string text = [] {
    std::ifstream in(std::string(BROKER_SOURCE_DIR) + "/catalog/catalog.json");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }();
  return text;
}

rapidjson::Document CatalogDoc() {
  rapidjson::Document doc;
  doc.Parse(CatalogText().c_str(), CatalogText().size());
  REQUIRE(!doc.HasParseError());
  return doc;
}

Catalog MustParse(std::string_view json) {
  auto c = Catalog::Parse(json);
  REQUIRE_MESSAGE(c.ok(), c.status().ToString());
  return std::move(c).value();
}

using Mutation = std::function<void(rapidjson::Document&)>;

// Helpers that edit the real catalog through JSON pointers.
Mutation Set(const char* pointer, const std::string& json_value) {
  return [pointer, json_value](rapidjson::Document& doc) {
    rapidjson::Document v(&doc.GetAllocator());
    v.Parse(json_value.c_str());
    REQUIRE_MESSAGE(!v.HasParseError(), json_value);
    rapidjson::Pointer(pointer).Set(doc, v);
  };
}

Mutation Erase(const char* pointer) {
  return [pointer](rapidjson::Document& doc) { REQUIRE(rapidjson::Pointer(pointer).Erase(doc)); };
}

Mutation Then(Mutation a, Mutation b) {
  return [a, b](rapidjson::Document& doc) {
    a(doc);
    b(doc);
  };
}

// Appends a copy of services[0] (with its id and plan ids changed unless told otherwise).
Mutation DuplicateService(bool same_id, bool same_name) {
  return [same_id, same_name](rapidjson::Document& doc) {
    auto& a = doc.GetAllocator();
    rapidjson::Value copy(doc["services"][0], a);
    if (!same_id) copy["id"].SetString("11111111-1111-4111-8111-111111111111", a);
    if (!same_name) copy["name"].SetString("ssh-access-2", a);
    copy["plans"][0]["id"].SetString("22222222-2222-4222-8222-222222222222", a);
    copy["plans"][1]["id"].SetString("33333333-3333-4333-8333-333333333333", a);
    doc["services"].PushBack(copy, a);
  };
}

TEST_SUITE("osb::Catalog") {
  TEST_CASE("the real catalog.json parses") {
    const Catalog catalog = MustParse(CatalogText());
    REQUIRE(catalog.services().size() == 1);
    const Service& svc = catalog.services()[0];
    CHECK(svc.id == kServiceId);
    CHECK(svc.name == "ssh-access");
    CHECK(svc.bindable);
    CHECK_FALSE(svc.plan_updateable);
    REQUIRE(svc.plans.size() == 2);

    const Plan& standard = svc.plans[0];
    CHECK(standard.id == kStandardPlanId);
    CHECK(standard.name == "standard");
    CHECK(standard.bindable);
    CHECK_FALSE(standard.plan_updateable);
    CHECK(standard.maintenance_version == "1.0.0");
    CHECK(standard.maximum_polling_duration == 1800);
    CHECK(standard.settings.session == "read-write");
    CHECK(standard.settings.ttl_minutes_default == 480);
    CHECK(standard.settings.ttl_minutes_max == 480);
    CHECK(standard.settings.clone_memory_mb_max == 1024);
    CHECK_FALSE(standard.settings.authorized_keys_required);
    CHECK(standard.instance_create_schema != nullptr);
    CHECK(standard.instance_update_schema != nullptr);
    CHECK(standard.binding_create_schema != nullptr);

    const Plan& secure = svc.plans[1];
    CHECK(secure.id == kSecurePlanId);
    CHECK(secure.name == "secure");
    CHECK(secure.settings.ttl_minutes_default == 60);
    CHECK(secure.settings.ttl_minutes_max == 60);
    CHECK(secure.settings.authorized_keys_required);
    CHECK(secure.binding_create_schema != nullptr);
  }

  TEST_CASE("a plan's settings json is the canonical JSON of metadata.settings") {
    const Catalog catalog = MustParse(CatalogText());
    const rapidjson::Document doc = CatalogDoc();
    for (int i = 0; i < 2; ++i) {
      const std::string ptr = "/services/0/plans/" + std::to_string(i) + "/metadata/settings";
      const rapidjson::Value* settings = rapidjson::Pointer(ptr.c_str()).Get(doc);
      REQUIRE(settings != nullptr);
      CHECK(catalog.services()[0].plans[i].settings.json == CanonicalJson(*settings));
    }
  }

  TEST_CASE("json() is valid JSON equal in content to the file") {
    const Catalog catalog = MustParse(CatalogText());
    rapidjson::Document served;
    served.Parse(catalog.json().c_str(), catalog.json().size());
    REQUIRE_FALSE(served.HasParseError());
    CHECK(served == CatalogDoc());
    CHECK(CanonicalJson(served) == CanonicalJson(CatalogDoc()));
    SUBCASE("when the catalog is copied, the copy serves the same body") {
      const Catalog copy = catalog;  // NOLINT(performance-unnecessary-copy-initialization)
      CHECK(copy.json() == catalog.json());
      CHECK(copy.services().size() == catalog.services().size());
    }
  }

  TEST_CASE("FindService and FindPlan find by id and return null otherwise") {
    const Catalog catalog = MustParse(CatalogText());
    const Service* svc = catalog.FindService(kServiceId);
    REQUIRE(svc != nullptr);
    CHECK(svc->name == "ssh-access");
    CHECK(catalog.FindService("") == nullptr);
    CHECK(catalog.FindService("no-such-service") == nullptr);
    CHECK(catalog.FindService(kStandardPlanId) == nullptr);  // a plan id is not a service id
    CHECK(catalog.FindService(std::string(kServiceId) + "x") == nullptr);

    const Plan* standard = catalog.FindPlan(*svc, kStandardPlanId);
    REQUIRE(standard != nullptr);
    CHECK(standard->name == "standard");
    const Plan* secure = catalog.FindPlan(*svc, kSecurePlanId);
    REQUIRE(secure != nullptr);
    CHECK(secure->name == "secure");
    CHECK(catalog.FindPlan(*svc, "") == nullptr);
    CHECK(catalog.FindPlan(*svc, "standard") == nullptr);  // by id, not by name
    CHECK(catalog.FindPlan(*svc, kServiceId) == nullptr);
  }

  TEST_CASE("FindPlan looks only at the given service's plans") {
    rapidjson::Document doc = CatalogDoc();
    DuplicateService(false, false)(doc);
    const Catalog catalog = MustParse(WriteJson(doc));
    const Service* first = catalog.FindService(kServiceId);
    const Service* second = catalog.FindService("11111111-1111-4111-8111-111111111111");
    REQUIRE(first != nullptr);
    REQUIRE(second != nullptr);
    CHECK(catalog.FindPlan(*first, "22222222-2222-4222-8222-222222222222") == nullptr);
    CHECK(catalog.FindPlan(*second, kStandardPlanId) == nullptr);
    CHECK(catalog.FindPlan(*second, "22222222-2222-4222-8222-222222222222") != nullptr);
  }

  TEST_CASE("a plan without bindable or plan_updateable inherits the service's value") {
    rapidjson::Document doc = CatalogDoc();
    Erase("/services/0/plans/0/bindable")(doc);
    Erase("/services/0/plans/0/plan_updateable")(doc);
    Set("/services/0/bindable", "false")(doc);
    Set("/services/0/plan_updateable", "true")(doc);
    const Catalog catalog = MustParse(WriteJson(doc));
    const Plan& plan = catalog.services()[0].plans[0];
    CHECK_FALSE(plan.bindable);
    CHECK(plan.plan_updateable);
    CHECK(catalog.services()[0].plans[1].bindable);  // explicit true wins
  }

  TEST_CASE("optional plan fields may be absent") {
    rapidjson::Document doc = CatalogDoc();
    Erase("/services/0/plans/0/maintenance_info")(doc);
    Erase("/services/0/plans/0/maximum_polling_duration")(doc);
    Erase("/services/0/plans/0/schemas")(doc);
    Erase("/services/0/plans/0/metadata/settings/authorized_keys_required")(doc);
    const Catalog catalog = MustParse(WriteJson(doc));
    const Plan& plan = catalog.services()[0].plans[0];
    CHECK(plan.maintenance_version.empty());
    CHECK(plan.maximum_polling_duration == 0);
    CHECK(plan.instance_create_schema == nullptr);
    CHECK(plan.instance_update_schema == nullptr);
    CHECK(plan.binding_create_schema == nullptr);
    CHECK_FALSE(plan.settings.authorized_keys_required);
  }

  TEST_CASE("a broken catalog is rejected with a message naming the field") {
    struct Row {
      std::string name;
      Mutation mutate;
      std::string field;  // must appear in the message
    };
    const std::vector<Row> rows = {
        // The document and the services array.
        {"services missing", Erase("/services"), "services"},
        {"services empty", Set("/services", "[]"), "services"},
        {"services not an array", Set("/services", "{}"), "services"},
        {"service not an object", Set("/services/0", "\"x\""), "services[0]"},
        // Service fields.
        {"service id missing", Erase("/services/0/id"), "services[0].id"},
        {"service id empty", Set("/services/0/id", "\"\""), "services[0].id"},
        {"service id a number", Set("/services/0/id", "5"), "services[0].id"},
        {"service name missing", Erase("/services/0/name"), "services[0].name"},
        {"service name empty", Set("/services/0/name", "\"\""), "services[0].name"},
        {"service description missing", Erase("/services/0/description"), "services[0].description"},
        {"service description empty", Set("/services/0/description", "\"\""), "services[0].description"},
        {"service bindable missing", Erase("/services/0/bindable"), "services[0].bindable"},
        {"service bindable a string", Set("/services/0/bindable", "\"true\""), "services[0].bindable"},
        {"service bindable a number", Set("/services/0/bindable", "1"), "services[0].bindable"},
        {"service plan_updateable a string", Set("/services/0/plan_updateable", "\"no\""),
         "services[0].plan_updateable"},
        {"plans missing", Erase("/services/0/plans"), "services[0].plans"},
        {"plans empty", Set("/services/0/plans", "[]"), "services[0].plans"},
        {"plans not an array", Set("/services/0/plans", "{}"), "services[0].plans"},
        {"duplicate service ids", DuplicateService(true, false), "services[1].id"},
        {"duplicate service names", DuplicateService(false, true), "services[1].name"},
        // Plan fields.
        {"plan not an object", Set("/services/0/plans/1", "[]"), "services[0].plans[1]"},
        {"plan id missing", Erase("/services/0/plans/1/id"), "services[0].plans[1].id"},
        {"plan id empty", Set("/services/0/plans/1/id", "\"\""), "services[0].plans[1].id"},
        {"plan name missing", Erase("/services/0/plans/1/name"), "services[0].plans[1].name"},
        {"plan name empty", Set("/services/0/plans/1/name", "\"\""), "services[0].plans[1].name"},
        {"plan description missing", Erase("/services/0/plans/0/description"), "services[0].plans[0].description"},
        {"plan description empty", Set("/services/0/plans/0/description", "\"\""),
         "services[0].plans[0].description"},
        {"plan bindable a string", Set("/services/0/plans/0/bindable", "\"yes\""), "services[0].plans[0].bindable"},
        {"plan plan_updateable a number", Set("/services/0/plans/0/plan_updateable", "0"),
         "services[0].plans[0].plan_updateable"},
        {"duplicate plan ids", Set("/services/0/plans/1/id", std::string("\"") + kStandardPlanId + "\""),
         "services[0].plans[1].id"},
        {"plan id equal to the service id", Set("/services/0/plans/0/id", std::string("\"") + kServiceId + "\""),
         "services[0].plans[0].id"},
        {"duplicate plan names", Set("/services/0/plans/1/name", "\"standard\""), "services[0].plans[1].name"},
        // maintenance_info and maximum_polling_duration.
        {"maintenance_info without version", Set("/services/0/plans/0/maintenance_info", R"({"description":"x"})"),
         "services[0].plans[0].maintenance_info.version"},
        {"maintenance_info version empty", Set("/services/0/plans/0/maintenance_info/version", "\"\""),
         "services[0].plans[0].maintenance_info.version"},
        {"maintenance_info version a number", Set("/services/0/plans/0/maintenance_info/version", "1"),
         "services[0].plans[0].maintenance_info.version"},
        {"maintenance_info not an object", Set("/services/0/plans/0/maintenance_info", "\"1.0.0\""),
         "services[0].plans[0].maintenance_info"},
        {"maximum_polling_duration 0", Set("/services/0/plans/0/maximum_polling_duration", "0"),
         "services[0].plans[0].maximum_polling_duration"},
        {"maximum_polling_duration negative", Set("/services/0/plans/0/maximum_polling_duration", "-60"),
         "services[0].plans[0].maximum_polling_duration"},
        {"maximum_polling_duration \"x\"", Set("/services/0/plans/0/maximum_polling_duration", "\"x\""),
         "services[0].plans[0].maximum_polling_duration"},
        {"maximum_polling_duration fractional", Set("/services/0/plans/0/maximum_polling_duration", "1.5"),
         "services[0].plans[0].maximum_polling_duration"},
        // Schemas.
        {"bind schema with type 5",
         Set("/services/0/plans/0/schemas/service_binding/create/parameters/properties/ttl_minutes/type", "5"),
         "services[0].plans[0].schemas.service_binding.create.parameters"},
        {"bind schema with minimum \"x\"",
         Set("/services/0/plans/1/schemas/service_binding/create/parameters/properties/memory_mb/minimum", "\"x\""),
         "services[0].plans[1].schemas.service_binding.create.parameters"},
        {"bind schema with required []", Set("/services/0/plans/1/schemas/service_binding/create/parameters/required", "[]"),
         "services[0].plans[1].schemas.service_binding.create.parameters"},
        {"bind schema without $schema", Erase("/services/0/plans/0/schemas/service_binding/create/parameters/$schema"),
         "services[0].plans[0].schemas.service_binding.create.parameters"},
        {"bind schema with an unsupported pattern",
         Set("/services/0/plans/0/schemas/service_binding/create/parameters/properties/authorized_keys/items/pattern",
             "\"(\""),
         "services[0].plans[0].schemas.service_binding.create.parameters"},
        {"instance create schema not an object", Set("/services/0/plans/0/schemas/service_instance/create/parameters", "[]"),
         "services[0].plans[0].schemas.service_instance.create.parameters"},
        {"instance update schema with type 5",
         Set("/services/0/plans/0/schemas/service_instance/update/parameters/type", "5"),
         "services[0].plans[0].schemas.service_instance.update.parameters"},
        {"schemas not an object", Set("/services/0/plans/0/schemas", "[]"), "services[0].plans[0].schemas"},
        // metadata.settings.
        {"metadata missing", Erase("/services/0/plans/0/metadata"), "services[0].plans[0].metadata"},
        {"metadata.settings missing", Erase("/services/0/plans/0/metadata/settings"),
         "services[0].plans[0].metadata.settings"},
        {"metadata.settings not an object", Set("/services/0/plans/0/metadata/settings", "[]"),
         "services[0].plans[0].metadata.settings"},
        {"session missing", Erase("/services/0/plans/0/metadata/settings/session"),
         "services[0].plans[0].metadata.settings.session"},
        {"session unknown", Set("/services/0/plans/0/metadata/settings/session", "\"root\""),
         "services[0].plans[0].metadata.settings.session"},
        {"session a number", Set("/services/0/plans/0/metadata/settings/session", "1"),
         "services[0].plans[0].metadata.settings.session"},
        {"ttl_minutes_max missing", Erase("/services/0/plans/0/metadata/settings/ttl_minutes_max"),
         "services[0].plans[0].metadata.settings.ttl_minutes_max"},
        {"ttl_minutes_max 0", Set("/services/0/plans/0/metadata/settings/ttl_minutes_max", "0"),
         "services[0].plans[0].metadata.settings.ttl_minutes_max"},
        {"ttl_minutes_max a string", Set("/services/0/plans/0/metadata/settings/ttl_minutes_max", "\"480\""),
         "services[0].plans[0].metadata.settings.ttl_minutes_max"},
        {"ttl_minutes_max over a week", Set("/services/0/plans/0/metadata/settings/ttl_minutes_max", "100000"),
         "services[0].plans[0].metadata.settings.ttl_minutes_max"},
        {"ttl_minutes_default missing", Erase("/services/0/plans/0/metadata/settings/ttl_minutes_default"),
         "services[0].plans[0].metadata.settings.ttl_minutes_default"},
        {"ttl_minutes_default above the max", Set("/services/0/plans/1/metadata/settings/ttl_minutes_default", "61"),
         "services[0].plans[1].metadata.settings.ttl_minutes_default"},
        {"ttl_minutes_default 0", Set("/services/0/plans/1/metadata/settings/ttl_minutes_default", "0"),
         "services[0].plans[1].metadata.settings.ttl_minutes_default"},
        {"ttl_minutes_default fractional", Set("/services/0/plans/1/metadata/settings/ttl_minutes_default", "30.5"),
         "services[0].plans[1].metadata.settings.ttl_minutes_default"},
        {"clone_memory_mb_max missing", Erase("/services/0/plans/0/metadata/settings/clone_memory_mb_max"),
         "services[0].plans[0].metadata.settings.clone_memory_mb_max"},
        {"clone_memory_mb_max too small", Set("/services/0/plans/0/metadata/settings/clone_memory_mb_max", "10"),
         "services[0].plans[0].metadata.settings.clone_memory_mb_max"},
        {"clone_memory_mb_max a string", Set("/services/0/plans/0/metadata/settings/clone_memory_mb_max", "\"1G\""),
         "services[0].plans[0].metadata.settings.clone_memory_mb_max"},
        {"authorized_keys_required a string",
         Set("/services/0/plans/1/metadata/settings/authorized_keys_required", "\"yes\""),
         "services[0].plans[1].metadata.settings.authorized_keys_required"},
        // The second service is checked as thoroughly as the first.
        {"second service's plan without settings",
         Then(DuplicateService(false, false), Erase("/services/1/plans/0/metadata/settings")),
         "services[1].plans[0].metadata.settings"},
        {"plan id repeated across services",
         Then(DuplicateService(false, false),
              Set("/services/1/plans/1/id", std::string("\"") + kSecurePlanId + "\"")),
         "services[1].plans[1].id"},
    };
    for (const Row& row : rows) {
      CAPTURE(row.name);
      rapidjson::Document doc = CatalogDoc();
      row.mutate(doc);
      const std::string text = WriteJson(doc);
      auto parsed = Catalog::Parse(text);
      REQUIRE_FALSE(parsed.ok());
      CHECK(parsed.status().code() == base::Code::kInvalidArgument);
      const std::string msg = parsed.status().message();
      CAPTURE(msg);
      CHECK(msg.find(row.field) != std::string::npos);
    }
  }

  TEST_CASE("a document that is not a JSON object with services is rejected") {
    for (const std::string text : {"", "{", "[]", "\"catalog\"", "null", "{}", R"({"services":null})",
                                   R"({"services":[]} trailing)"}) {
      CAPTURE(text);
      auto parsed = Catalog::Parse(text);
      REQUIRE_FALSE(parsed.ok());
      CHECK(parsed.status().code() == base::Code::kInvalidArgument);
      CHECK_FALSE(parsed.status().message().empty());
    }
  }
}

}  // namespace
}  // namespace broker::osb
