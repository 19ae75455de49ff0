#include "broker/http/codec.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "broker/osb/json_util.h"

namespace broker::http {
namespace {

using base::Status;
using rapidjson::Value;

base::Result<rapidjson::Document> ParseObject(std::string_view body) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return Status::InvalidArgument("the request body must be a JSON object");
  }
  auto doc = osb::ParseJson(body, "the request body");
  if (!doc.ok()) return doc.status();
  if (!doc->IsObject()) return Status::InvalidArgument("the request body must be a JSON object");
  return doc;
}

// Reads an optional string member. Absent leaves *out untouched and returns OK.
Status GetString(const Value& obj, const char* key, const std::string& where, std::string* out,
                 bool* present = nullptr) {
  if (present) *present = false;
  const auto it = obj.FindMember(key);
  if (it == obj.MemberEnd()) return Status::Ok();
  if (!it->value.IsString()) return Status::InvalidArgument(where + key + " must be a string");
  out->assign(it->value.GetString(), it->value.GetStringLength());
  if (present) *present = true;
  return Status::Ok();
}

// Reads an optional object member; `*out` points at it, or stays null when absent.
Status GetObject(const Value& obj, const char* key, const std::string& where, const Value** out) {
  *out = nullptr;
  const auto it = obj.FindMember(key);
  if (it == obj.MemberEnd()) return Status::Ok();
  if (!it->value.IsObject()) return Status::InvalidArgument(where + key + " must be a JSON object");
  *out = &it->value;
  return Status::Ok();
}

// maintenance_info: {} and {"version": "x"} are both fine; the version must be a string.
Status GetMaintenanceVersion(const Value& body, std::optional<std::string>* out) {
  const Value* mi = nullptr;
  BROKER_RETURN_IF_ERROR(GetObject(body, "maintenance_info", "", &mi));
  if (mi == nullptr) return Status::Ok();
  std::string version;
  bool present = false;
  BROKER_RETURN_IF_ERROR(GetString(*mi, "version", "maintenance_info.", &version, &present));
  if (present) *out = version;
  return Status::Ok();
}

std::string CanonicalOrEmpty(const Value* v) { return v ? osb::CanonicalJson(*v) : std::string("{}"); }

// Writes stored canonical JSON as is; an empty text stands for {}.
void WriteRaw(rapidjson::Writer<rapidjson::StringBuffer>& w, const std::string& json) {
  if (json.empty()) {
    w.StartObject();
    w.EndObject();
    return;
  }
  w.RawValue(json.c_str(), json.size(), rapidjson::kObjectType);
}

std::string Finish(const rapidjson::StringBuffer& buf) { return std::string(buf.GetString(), buf.GetSize()); }

}  // namespace

Status DecodeProvision(std::string_view body, osb::ProvisionRequest* req) {
  BROKER_ASSIGN_OR_RETURN(rapidjson::Document doc, ParseObject(body));
  BROKER_RETURN_IF_ERROR(GetString(doc, "service_id", "", &req->service_id));
  BROKER_RETURN_IF_ERROR(GetString(doc, "plan_id", "", &req->plan_id));
  BROKER_RETURN_IF_ERROR(GetString(doc, "organization_guid", "", &req->organization_guid));
  BROKER_RETURN_IF_ERROR(GetString(doc, "space_guid", "", &req->space_guid));
  const Value* context = nullptr;
  const Value* parameters = nullptr;
  BROKER_RETURN_IF_ERROR(GetObject(doc, "context", "", &context));
  BROKER_RETURN_IF_ERROR(GetObject(doc, "parameters", "", &parameters));
  // The top-level guids are deprecated; Cloud Foundry also sends them in the context.
  if (context != nullptr) {
    if (req->organization_guid.empty()) {
      BROKER_RETURN_IF_ERROR(GetString(*context, "organization_guid", "context.", &req->organization_guid));
    }
    if (req->space_guid.empty()) {
      BROKER_RETURN_IF_ERROR(GetString(*context, "space_guid", "context.", &req->space_guid));
    }
  }
  req->context_json = CanonicalOrEmpty(context);
  req->parameters_json = CanonicalOrEmpty(parameters);
  return GetMaintenanceVersion(doc, &req->maintenance_version);
}

Status DecodeUpdate(std::string_view body, osb::UpdateRequest* req) {
  BROKER_ASSIGN_OR_RETURN(rapidjson::Document doc, ParseObject(body));
  BROKER_RETURN_IF_ERROR(GetString(doc, "service_id", "", &req->service_id));
  std::string plan_id;
  bool has_plan = false;
  BROKER_RETURN_IF_ERROR(GetString(doc, "plan_id", "", &plan_id, &has_plan));
  if (has_plan) req->plan_id = plan_id;
  const Value* context = nullptr;
  const Value* parameters = nullptr;
  const Value* previous = nullptr;
  BROKER_RETURN_IF_ERROR(GetObject(doc, "context", "", &context));
  BROKER_RETURN_IF_ERROR(GetObject(doc, "parameters", "", &parameters));
  BROKER_RETURN_IF_ERROR(GetObject(doc, "previous_values", "", &previous));
  if (context != nullptr) req->context_json = osb::CanonicalJson(*context);
  if (parameters != nullptr) req->parameters_json = osb::CanonicalJson(*parameters);
  return GetMaintenanceVersion(doc, &req->maintenance_version);
}

Status DecodeBind(std::string_view body, osb::BindRequest* req) {
  BROKER_ASSIGN_OR_RETURN(rapidjson::Document doc, ParseObject(body));
  BROKER_RETURN_IF_ERROR(GetString(doc, "service_id", "", &req->service_id));
  BROKER_RETURN_IF_ERROR(GetString(doc, "plan_id", "", &req->plan_id));
  const Value* bind_resource = nullptr;
  const Value* context = nullptr;
  const Value* parameters = nullptr;
  BROKER_RETURN_IF_ERROR(GetObject(doc, "bind_resource", "", &bind_resource));
  BROKER_RETURN_IF_ERROR(GetObject(doc, "context", "", &context));
  BROKER_RETURN_IF_ERROR(GetObject(doc, "parameters", "", &parameters));
  std::string top_app_guid;
  BROKER_RETURN_IF_ERROR(GetString(doc, "app_guid", "", &top_app_guid));
  if (bind_resource != nullptr) {
    BROKER_RETURN_IF_ERROR(GetString(*bind_resource, "app_guid", "bind_resource.", &req->app_guid));
    BROKER_RETURN_IF_ERROR(GetString(*bind_resource, "space_guid", "bind_resource.", &req->space_guid));
  }
  // bind_resource.app_guid is the current field; the top-level one is its deprecated twin.
  if (req->app_guid.empty()) req->app_guid = top_app_guid;
  if (req->space_guid.empty() && context != nullptr) {
    BROKER_RETURN_IF_ERROR(GetString(*context, "space_guid", "context.", &req->space_guid));
  }
  std::string predecessor;
  bool has_predecessor = false;
  BROKER_RETURN_IF_ERROR(GetString(doc, "predecessor_binding_id", "", &predecessor, &has_predecessor));
  if (has_predecessor) {
    return Status::InvalidArgument("predecessor_binding_id: ssh-access bindings are not rotatable");
  }
  req->context_json = CanonicalOrEmpty(context);
  req->parameters_json = CanonicalOrEmpty(parameters);
  return Status::Ok();
}

std::string EncodeOperation(const std::string& operation) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("operation");
  w.String(operation.c_str(), static_cast<rapidjson::SizeType>(operation.size()));
  w.EndObject();
  return Finish(buf);
}

std::string EncodeLastOperation(const osb::LastOperation& op) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("state");
  const auto state = osb::OperationStateName(op.state);
  w.String(state.data(), static_cast<rapidjson::SizeType>(state.size()));
  // OSB: description is optional but must not be empty when present.
  if (!op.description.empty()) {
    w.Key("description");
    w.String(op.description.c_str(), static_cast<rapidjson::SizeType>(op.description.size()));
  }
  w.EndObject();
  return Finish(buf);
}

std::string EncodeInstance(const osb::InstanceView& view) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("service_id");
  w.String(view.service_id.c_str(), static_cast<rapidjson::SizeType>(view.service_id.size()));
  w.Key("plan_id");
  w.String(view.plan_id.c_str(), static_cast<rapidjson::SizeType>(view.plan_id.size()));
  w.Key("parameters");
  WriteRaw(w, view.parameters_json);
  if (!view.maintenance_version.empty()) {
    w.Key("maintenance_info");
    w.StartObject();
    w.Key("version");
    w.String(view.maintenance_version.c_str(), static_cast<rapidjson::SizeType>(view.maintenance_version.size()));
    w.EndObject();
  }
  w.EndObject();
  return Finish(buf);
}

std::string EncodeBinding(const osb::BindingView& view) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("credentials");
  WriteRaw(w, view.credentials_json);
  w.Key("parameters");
  WriteRaw(w, view.parameters_json);
  if (view.expires_at.has_value()) {
    const std::string at = base::FormatIso8601(*view.expires_at);
    w.Key("metadata");
    w.StartObject();
    w.Key("expires_at");
    w.String(at.c_str(), static_cast<rapidjson::SizeType>(at.size()));
    w.EndObject();
  }
  w.EndObject();
  return Finish(buf);
}

}  // namespace broker::http
