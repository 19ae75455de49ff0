#include "broker/osb/catalog.h"

#include <set>

#include "broker/osb/json_util.h"

namespace broker::osb {
namespace {

using base::Status;

Status Bad(const std::string& where, std::string_view what) {
  return Status::InvalidArgument("catalog: " + where + ": " + std::string(what));
}

base::Result<std::string> RequiredString(const rapidjson::Value& obj, const char* key, const std::string& where) {
  const auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsString() || it->value.GetStringLength() == 0) {
    return Bad(where + "." + key, "must be a non-empty string");
  }
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

base::Result<bool> OptionalBool(const rapidjson::Value& obj, const char* key, bool fallback,
                                const std::string& where) {
  const auto it = obj.FindMember(key);
  if (it == obj.MemberEnd()) return fallback;
  if (!it->value.IsBool()) return Bad(where + "." + key, "must be a boolean");
  return it->value.GetBool();
}

base::Result<int> RequiredInt(const rapidjson::Value& obj, const char* key, int min, int max,
                              const std::string& where) {
  const auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsInt() || it->value.GetInt() < min || it->value.GetInt() > max) {
    return Bad(where + "." + key, "must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
  }
  return it->value.GetInt();
}

base::Result<std::shared_ptr<const ParameterSchema>> SchemaAt(const rapidjson::Value& plan,
                                                              const char* resource, const char* action,
                                                              const std::string& where) {
  const auto schemas = plan.FindMember("schemas");
  if (schemas == plan.MemberEnd()) return std::shared_ptr<const ParameterSchema>();
  if (!schemas->value.IsObject()) return Bad(where + ".schemas", "must be an object");
  const auto res = schemas->value.FindMember(resource);
  if (res == schemas->value.MemberEnd()) return std::shared_ptr<const ParameterSchema>();
  const std::string res_where = where + ".schemas." + resource;
  if (!res->value.IsObject()) return Bad(res_where, "must be an object");
  const auto act = res->value.FindMember(action);
  if (act == res->value.MemberEnd()) return std::shared_ptr<const ParameterSchema>();
  if (!act->value.IsObject()) return Bad(res_where + "." + action, "must be an object");
  const auto params = act->value.FindMember("parameters");
  if (params == act->value.MemberEnd()) return std::shared_ptr<const ParameterSchema>();
  auto compiled = ParameterSchema::Compile(params->value, res_where + "." + action + ".parameters");
  if (!compiled.ok()) return Status::InvalidArgument("catalog: " + compiled.status().message());
  return compiled;
}

base::Result<PlanSettings> ParseSettings(const rapidjson::Value& plan, const std::string& where) {
  const auto md = plan.FindMember("metadata");
  if (md == plan.MemberEnd() || !md->value.IsObject()) return Bad(where + ".metadata", "must be an object with settings");
  const auto st = md->value.FindMember("settings");
  const std::string sw = where + ".metadata.settings";
  if (st == md->value.MemberEnd() || !st->value.IsObject()) return Bad(sw, "must be an object");
  const rapidjson::Value& s = st->value;
  PlanSettings out;
  BROKER_ASSIGN_OR_RETURN(out.session, RequiredString(s, "session", sw));
  if (out.session != "read-write" && out.session != "read-only") {
    return Bad(sw + ".session", "must be \"read-write\" or \"read-only\"");
  }
  BROKER_ASSIGN_OR_RETURN(out.ttl_minutes_max, RequiredInt(s, "ttl_minutes_max", 1, 7 * 24 * 60, sw));
  BROKER_ASSIGN_OR_RETURN(out.ttl_minutes_default, RequiredInt(s, "ttl_minutes_default", 1, out.ttl_minutes_max, sw));
  BROKER_ASSIGN_OR_RETURN(out.clone_memory_mb_max, RequiredInt(s, "clone_memory_mb_max", 64, 65536, sw));
  if (s.HasMember("clone_log_rate_limit_max")) {
    BROKER_ASSIGN_OR_RETURN(out.clone_log_rate_limit_max,
                            RequiredInt(s, "clone_log_rate_limit_max", 1, 1 << 30, sw));
  }
  BROKER_ASSIGN_OR_RETURN(out.authorized_keys_required, OptionalBool(s, "authorized_keys_required", false, sw));
  out.json = CanonicalJson(s);
  return out;
}

base::Result<Plan> ParsePlan(const rapidjson::Value& p, const Service& service, const std::string& where) {
  if (!p.IsObject()) return Bad(where, "must be an object");
  Plan plan;
  BROKER_ASSIGN_OR_RETURN(plan.id, RequiredString(p, "id", where));
  BROKER_ASSIGN_OR_RETURN(plan.name, RequiredString(p, "name", where));
  BROKER_ASSIGN_OR_RETURN(std::string description, RequiredString(p, "description", where));
  (void)description;
  BROKER_ASSIGN_OR_RETURN(plan.bindable, OptionalBool(p, "bindable", service.bindable, where));
  BROKER_ASSIGN_OR_RETURN(plan.plan_updateable, OptionalBool(p, "plan_updateable", service.plan_updateable, where));
  if (const auto mpd = p.FindMember("maximum_polling_duration"); mpd != p.MemberEnd()) {
    if (!mpd->value.IsInt() || mpd->value.GetInt() <= 0) {
      return Bad(where + ".maximum_polling_duration", "must be a positive integer (seconds)");
    }
    plan.maximum_polling_duration = mpd->value.GetInt();
  }
  if (const auto mi = p.FindMember("maintenance_info"); mi != p.MemberEnd()) {
    if (!mi->value.IsObject()) return Bad(where + ".maintenance_info", "must be an object");
    BROKER_ASSIGN_OR_RETURN(plan.maintenance_version, RequiredString(mi->value, "version", where + ".maintenance_info"));
  }
  BROKER_ASSIGN_OR_RETURN(plan.settings, ParseSettings(p, where));
  BROKER_ASSIGN_OR_RETURN(plan.instance_create_schema, SchemaAt(p, "service_instance", "create", where));
  BROKER_ASSIGN_OR_RETURN(plan.instance_update_schema, SchemaAt(p, "service_instance", "update", where));
  BROKER_ASSIGN_OR_RETURN(plan.binding_create_schema, SchemaAt(p, "service_binding", "create", where));
  return plan;
}

}  // namespace

base::Result<Catalog> Catalog::Parse(std::string_view json) {
  auto parsed = ParseJson(json, "catalog");
  if (!parsed.ok()) return parsed.status();
  const rapidjson::Document& doc = parsed.value();
  if (!doc.IsObject()) return Bad("(root)", "must be an object");
  const auto svcs = doc.FindMember("services");
  if (svcs == doc.MemberEnd() || !svcs->value.IsArray() || svcs->value.Empty()) {
    return Bad("services", "must be a non-empty array");
  }

  auto services = std::make_shared<std::vector<Service>>();
  std::set<std::string> ids, service_names;
  for (rapidjson::SizeType i = 0; i < svcs->value.Size(); ++i) {
    const rapidjson::Value& s = svcs->value[i];
    const std::string where = "services[" + std::to_string(i) + "]";
    if (!s.IsObject()) return Bad(where, "must be an object");
    Service svc;
    BROKER_ASSIGN_OR_RETURN(svc.id, RequiredString(s, "id", where));
    BROKER_ASSIGN_OR_RETURN(svc.name, RequiredString(s, "name", where));
    BROKER_ASSIGN_OR_RETURN(std::string description, RequiredString(s, "description", where));
    (void)description;
    const auto bindable = s.FindMember("bindable");
    if (bindable == s.MemberEnd() || !bindable->value.IsBool()) return Bad(where + ".bindable", "must be a boolean");
    svc.bindable = bindable->value.GetBool();
    BROKER_ASSIGN_OR_RETURN(svc.plan_updateable, OptionalBool(s, "plan_updateable", false, where));
    if (!ids.insert(svc.id).second) return Bad(where + ".id", "repeats another id in the catalog");
    if (!service_names.insert(svc.name).second) return Bad(where + ".name", "repeats another service's name");

    const auto plans = s.FindMember("plans");
    if (plans == s.MemberEnd() || !plans->value.IsArray() || plans->value.Empty()) {
      return Bad(where + ".plans", "must be a non-empty array");
    }
    std::set<std::string> plan_names;
    for (rapidjson::SizeType j = 0; j < plans->value.Size(); ++j) {
      const std::string pw = where + ".plans[" + std::to_string(j) + "]";
      BROKER_ASSIGN_OR_RETURN(Plan plan, ParsePlan(plans->value[j], svc, pw));
      if (!ids.insert(plan.id).second) return Bad(pw + ".id", "repeats another id in the catalog");
      if (!plan_names.insert(plan.name).second) return Bad(pw + ".name", "repeats another plan's name in this service");
      svc.plans.push_back(std::move(plan));
    }
    services->push_back(std::move(svc));
  }

  Catalog out;
  out.json_ = std::make_shared<const std::string>(WriteJson(doc));
  out.services_ = std::move(services);
  return out;
}

const Service* Catalog::FindService(std::string_view service_id) const {
  for (const auto& s : *services_) {
    if (s.id == service_id) return &s;
  }
  return nullptr;
}

const Plan* Catalog::FindPlan(const Service& service, std::string_view plan_id) const {
  for (const auto& p : service.plans) {
    if (p.id == plan_id) return &p;
  }
  return nullptr;
}

}  // namespace broker::osb
