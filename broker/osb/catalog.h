// Catalog: the broker's OSB catalog (services, plans, plan settings, parameter schemas), parsed
// and validated once at startup. A catalog that fails validation stops the broker with a message
// naming the offending field ("services[0].plans[1].id: must be a non-empty string").
//
// Immutable after Parse(); thread-safe.
#ifndef BROKER_OSB_CATALOG_H_
#define BROKER_OSB_CATALOG_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/base/result.h"
#include "broker/osb/parameter_schema.h"

namespace broker::osb {

// Operator-facing knobs of a plan, kept in the plan's metadata.settings.
struct PlanSettings {
  std::string session;             // "read-write" or "read-only"
  int ttl_minutes_default = 0;
  int ttl_minutes_max = 0;
  int clone_memory_mb_max = 0;
  // The clone's log rate in bytes per second, at most: a source with an unlimited (-1) or higher
  // rate is cloned with this one, since CC refuses to start an unlimited process under a quota
  // with a log rate limit. 0 (absent): the source's rate is kept.
  int clone_log_rate_limit_max = 0;
  bool authorized_keys_required = false;
  std::string json;                // canonical JSON of the settings object (snapshotted per binding)
};

struct Plan {
  std::string id;
  std::string name;
  bool bindable = true;
  bool plan_updateable = false;
  std::string maintenance_version;  // empty when the plan has no maintenance_info
  int maximum_polling_duration = 0; // seconds; 0 when absent
  PlanSettings settings;
  std::shared_ptr<const ParameterSchema> instance_create_schema;  // null: any object accepted
  std::shared_ptr<const ParameterSchema> instance_update_schema;
  std::shared_ptr<const ParameterSchema> binding_create_schema;
};

struct Service {
  std::string id;
  std::string name;
  bool bindable = true;
  bool plan_updateable = false;
  std::vector<Plan> plans;
};

class Catalog {
 public:
  // Parses and validates the catalog document. kInvalidArgument naming the field when: the
  // document is not JSON or has no non-empty "services" array; a required field (id, name,
  // description, bindable, plans) is missing, empty or of the wrong type; service ids, plan ids,
  // service names, or plan names within a service repeat; a schema is not well-formed draft-04;
  // maintenance_info lacks a version; maximum_polling_duration is not a positive integer; a plan
  // lacks metadata.settings or a setting has the wrong type or range.
  static base::Result<Catalog> Parse(std::string_view json);

  // The body of GET /v2/catalog, serialized once.
  const std::string& json() const { return *json_; }
  const std::vector<Service>& services() const { return *services_; }

  // nullptr when no service / no plan of that service has the id.
  const Service* FindService(std::string_view service_id) const;
  const Plan* FindPlan(const Service& service, std::string_view plan_id) const;

 private:
  std::shared_ptr<const std::string> json_;
  std::shared_ptr<const std::vector<Service>> services_;
};

}  // namespace broker::osb

#endif  // BROKER_OSB_CATALOG_H_
