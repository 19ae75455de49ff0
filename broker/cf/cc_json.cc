#include "broker/cf/cc_json.h"

#include <charconv>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <utility>

#include "broker/base/encoding.h"
#include "broker/base/json.h"
#include "broker/base/log.h"
#include "broker/cf/url.h"

namespace broker::cf {
namespace {

using rapidjson::Value;

// An answer that is not a JSON object (cut short by a proxy, an HTML error page sent with 200, a
// corrupt body) is a failure of the call, not of what we asked: kUnavailable, so the step is
// retried with backoff. The body may hold credentials or tokens: only what was being read, the
// reason and the offset reach the Status and the log.
base::Status ParseObject(std::string_view body, const char* what, rapidjson::Document* d) {
  return ParseAnswerObject(body, what, std::string("the Cloud Controller's ") + what + " answer", d);
}

// The member `key` of `v` when `v` is an object that has it; nullptr otherwise.
const Value* Member(const Value& v, const char* key) {
  if (!v.IsObject()) return nullptr;
  const auto it = v.FindMember(key);
  return it == v.MemberEnd() ? nullptr : &it->value;
}

const Value* At(const Value& v, std::initializer_list<const char*> path) {
  const Value* cur = &v;
  for (const char* key : path) {
    cur = Member(*cur, key);
    if (cur == nullptr) return nullptr;
  }
  return cur;
}

// The string at `path`, "" when absent, null or not a string.
std::string Str(const Value& v, std::initializer_list<const char*> path) {
  const Value* s = At(v, path);
  return s != nullptr && s->IsString() ? std::string(s->GetString(), s->GetStringLength()) : std::string();
}

// The integer at `key`; `fallback` when absent, not a number, or not an integer within [lo, hi]
// (checked before any conversion: casting an out-of-range double is undefined behaviour).
std::int64_t Int(const Value& v, const char* key, std::int64_t fallback,
                 std::int64_t lo = std::numeric_limits<std::int64_t>::min(),
                 std::int64_t hi = std::numeric_limits<std::int64_t>::max()) {
  const Value* n = Member(v, key);
  if (n == nullptr || !n->IsNumber()) return fallback;
  std::int64_t i;
  if (n->IsInt64()) {
    i = n->GetInt64();
  } else if (n->IsDouble()) {
    const double d = n->GetDouble();
    constexpr double kTwo63 = 9223372036854775808.0;
    if (!(d >= -kTwo63 && d < kTwo63) || std::trunc(d) != d) return fallback;
    i = static_cast<std::int64_t>(d);
  } else {
    return fallback;  // a uint64 above int64's range
  }
  return i < lo || i > hi ? fallback : i;
}

// Int within int's range.
int Int32(const Value& v, const char* key, int fallback) {
  return static_cast<int>(
      Int(v, key, fallback, std::numeric_limits<int>::min(), std::numeric_limits<int>::max()));
}

std::string Serialize(const Value& v) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  v.Accept(w);
  return std::string(sb.GetString(), sb.GetSize());
}

std::map<std::string, std::string> StringMap(const Value* obj) {
  std::map<std::string, std::string> out;
  if (obj == nullptr || !obj->IsObject()) return out;
  for (auto it = obj->MemberBegin(); it != obj->MemberEnd(); ++it) {
    std::string key(it->name.GetString(), it->name.GetStringLength());
    if (it->value.IsString()) {
      out[std::move(key)] = std::string(it->value.GetString(), it->value.GetStringLength());
    } else if (!it->value.IsNull()) {
      out[std::move(key)] = Serialize(it->value);
    }
  }
  return out;
}

base::Status RequireGuid(const Value& v, const char* what) {
  if (Str(v, {"guid"}).empty()) return base::Status::InvalidArgument(std::string("cf: ") + what + " without a guid");
  return base::Status::Ok();
}

base::Result<clone::App> AppFrom(const Value& v) {
  BROKER_RETURN_IF_ERROR(RequireGuid(v, "app"));
  clone::App a;
  a.guid = Str(v, {"guid"});
  a.name = Str(v, {"name"});
  a.state = Str(v, {"state"});
  a.space_guid = Str(v, {"relationships", "space", "data", "guid"});
  a.lifecycle_type = Str(v, {"lifecycle", "type"});
  if (const Value* bps = At(v, {"lifecycle", "data", "buildpacks"}); bps != nullptr && bps->IsArray()) {
    for (const Value& bp : bps->GetArray()) {
      if (bp.IsString()) a.buildpacks.emplace_back(bp.GetString(), bp.GetStringLength());
    }
  }
  a.stack = Str(v, {"lifecycle", "data", "stack"});
  a.current_droplet_guid = Str(v, {"relationships", "current_droplet", "data", "guid"});
  a.labels = StringMap(At(v, {"metadata", "labels"}));
  a.annotations = StringMap(At(v, {"metadata", "annotations"}));
  return a;
}

base::Result<clone::Droplet> DropletFrom(const Value& v) {
  BROKER_RETURN_IF_ERROR(RequireGuid(v, "droplet"));
  clone::Droplet d;
  d.guid = Str(v, {"guid"});
  d.state = Str(v, {"state"});
  d.stack = Str(v, {"stack"});
  d.error = Str(v, {"error"});
  d.process_types = StringMap(Member(v, "process_types"));
  return d;
}

base::Result<clone::Process> ProcessFrom(const Value& v) {
  BROKER_RETURN_IF_ERROR(RequireGuid(v, "process"));
  clone::Process p;
  p.guid = Str(v, {"guid"});
  p.type = Str(v, {"type"});
  p.command = Str(v, {"command"});
  p.instances = Int32(v, "instances", 0);
  p.memory_in_mb = Int32(v, "memory_in_mb", 0);
  p.disk_in_mb = Int32(v, "disk_in_mb", 0);
  p.log_rate_limit_in_bytes_per_second = Int(v, "log_rate_limit_in_bytes_per_second", -1);
  p.health_check_type = Str(v, {"health_check", "type"});
  return p;
}

const Value* Resources(const Value& doc) {
  const Value* r = Member(doc, "resources");
  return r != nullptr && r->IsArray() ? r : nullptr;
}

std::optional<std::string> NextUrl(const Value& doc) {
  const std::string next = Str(doc, {"pagination", "next", "href"});
  if (next.empty()) return std::nullopt;
  return next;
}

// Writes a std::map as a JSON object of strings.
template <typename Writer>
void WriteStringMap(Writer& w, const std::map<std::string, std::string>& m) {
  w.StartObject();
  for (const auto& [k, v] : m) {
    w.Key(k.c_str(), static_cast<rapidjson::SizeType>(k.size()));
    w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
  }
  w.EndObject();
}

template <typename Writer>
void WriteString(Writer& w, const std::string& s) {
  w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size()));
}

// {"data":{"guid":"<guid>"}}
template <typename Writer>
void WriteToOne(Writer& w, const std::string& guid) {
  w.StartObject();
  w.Key("data");
  w.StartObject();
  w.Key("guid");
  WriteString(w, guid);
  w.EndObject();
  w.EndObject();
}

}  // namespace

namespace {
// A failure worth retrying: reason() says what kept failing ("HTTP 503"), the title leads the
// message, which is for the log.
base::Status RetryableStatus(base::Code code, long http_status, const std::string& title, const std::string& detail) {
  return {code, title.empty() ? detail : title + ": " + detail, "HTTP " + std::to_string(http_status)};
}
}  // namespace

base::Status ParseAnswerObject(std::string_view body, std::string_view log_what, const std::string& what,
                               rapidjson::Document* d) {
  auto parsed = base::ParseJson(body, "cf: " + what);
  base::Status refused;
  if (!parsed.ok()) {
    refused = {base::Code::kUnavailable, parsed.status().message(), std::string(kMalformedResponse)};
  } else if (!parsed->IsObject()) {
    refused = {base::Code::kUnavailable, "cf: " + what + " is not a JSON object", std::string(kMalformedResponse)};
  } else {
    *d = std::move(parsed).value();
    return base::Status::Ok();
  }
  base::Logger("cf")->warn("cf.malformed_response what={} bytes={} detail={}", base::LogQuote(log_what), body.size(),
                           base::LogQuote(refused.message()));
  return refused;
}

base::Status StatusFromCcResponse(long http_status, std::string_view body) {
  std::string title;
  std::string detail;
  std::int64_t code = 0;
  // An error body that does not parse just has no title or detail.
  auto d = base::ParseJson(body, "cf: the Cloud Controller's error answer");
  if (d.ok() && d->IsObject()) {
    if (const Value* errors = Member(*d, "errors"); errors != nullptr && errors->IsArray()) {
      for (const Value& e : errors->GetArray()) {
        if (title.empty()) {
          title = Str(e, {"title"});
          code = Int(e, "code", 0);
        }
        const std::string one = Str(e, {"detail"});
        if (one.empty()) continue;
        if (!detail.empty()) detail += "; ";
        detail += one;
      }
    }
  }
  if (detail.empty()) detail = "HTTP " + std::to_string(http_status);

  base::Code c;
  if (http_status == 401) {
    c = base::Code::kUnauthenticated;
  } else if (http_status == 403) {
    c = base::Code::kPermissionDenied;
  } else if (http_status == 404) {
    c = base::Code::kNotFound;
  } else if (http_status == 400) {
    c = base::Code::kInvalidArgument;
  } else if (http_status == 408) {
    return RetryableStatus(base::Code::kDeadlineExceeded, http_status, title, detail);
  } else if (http_status == 422 && (code == 10016 || title == "CF-UniquenessError")) {
    c = base::Code::kAlreadyExists;
  } else if (http_status == 429 || http_status >= 500) {
    return RetryableStatus(base::Code::kUnavailable, http_status, title, detail);
  } else if (http_status >= 400) {
    c = base::Code::kFailedPrecondition;
  } else {
    // A 1xx/2xx/3xx the caller did not expect (a redirect we do not follow, a 202 where a 201
    // was documented): the adapter cannot make sense of it.
    c = base::Code::kInvalidArgument;
    detail = "unexpected HTTP " + std::to_string(http_status);
  }
  return {c, std::move(detail), std::move(title)};
}

std::vector<std::string> DecodeWarnings(const std::vector<std::string>& header_values) {
  std::vector<std::string> out;
  for (const std::string& value : header_values) {
    std::size_t start = 0;
    while (start <= value.size()) {
      std::size_t comma = value.find(',', start);
      if (comma == std::string::npos) comma = value.size();
      std::string_view piece(value.data() + start, comma - start);
      while (!piece.empty() && std::isspace(static_cast<unsigned char>(piece.front()))) piece.remove_prefix(1);
      while (!piece.empty() && std::isspace(static_cast<unsigned char>(piece.back()))) piece.remove_suffix(1);
      if (!piece.empty()) out.push_back(PercentDecode(piece, true));
      start = comma + 1;
    }
  }
  return out;
}

base::Status CheckSameOrigin(std::string_view url, std::string_view api_origin) {
  if (!url.empty() && url.front() == '/' && (url.size() < 2 || url[1] != '/')) return base::Status::Ok();
  const auto origin = OriginOf(url);
  if (!origin || *origin != api_origin) {
    return base::Status::FailedPrecondition("cf: refusing a link to " + origin.value_or("a non-http(s) URL") +
                                                ", which is not the Cloud Controller API " + std::string(api_origin),
                                            "ForeignHost");
  }
  return base::Status::Ok();
}

base::Result<std::string> JobGuidFromLocation(std::string_view location, std::string_view api_origin) {
  if (location.empty()) return base::Status::InvalidArgument("cf: 202 without a Location header");
  BROKER_RETURN_IF_ERROR(CheckSameOrigin(location, api_origin));
  std::string path = PathForLog(location);
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  static constexpr std::string_view kPrefix = "/v3/jobs/";
  if (path.rfind(kPrefix, 0) != 0) return base::Status::InvalidArgument("cf: Location is not a /v3/jobs URL");
  std::string guid = PercentDecode(std::string_view(path).substr(kPrefix.size()), false);
  // A job guid is a word of printable ASCII (CC's are UUIDs): no '/', NUL, control or non-ASCII byte.
  if (guid.empty() || !std::all_of(guid.begin(), guid.end(), [](char c) { return c > ' ' && c <= '~' && c != '/'; })) {
    return base::Status::InvalidArgument("cf: Location has no job guid");
  }
  return guid;
}

base::Result<clone::App> ParseApp(std::string_view body) {
  rapidjson::Document d;
  BROKER_RETURN_IF_ERROR(ParseObject(body, "app", &d));
  return AppFrom(d);
}

base::Result<Page<clone::App>> ParseAppPage(std::string_view body) {
  rapidjson::Document d;
  BROKER_RETURN_IF_ERROR(ParseObject(body, "app list", &d));
  const Value* resources = Resources(d);
  if (resources == nullptr) return base::Status::InvalidArgument("cf: list without resources");
  Page<clone::App> page;
  for (const Value& r : resources->GetArray()) {
    BROKER_ASSIGN_OR_RETURN(clone::App app, AppFrom(r));
    page.items.push_back(std::move(app));
  }
  page.next_url = NextUrl(d);
  return page;
}

base::Result<std::map<std::string, std::string>> ParseEnvironmentVariables(std::string_view body) {
  rapidjson::Document d;
  BROKER_RETURN_IF_ERROR(ParseObject(body, "environment variables", &d));
  const Value* var = Member(d, "var");
  if (var == nullptr || !var->IsObject()) return base::Status::InvalidArgument("cf: environment_variables without var");
  return StringMap(var);
}

base::Result<clone::Droplet> ParseDroplet(std::string_view body) {
  rapidjson::Document d;
  BROKER_RETURN_IF_ERROR(ParseObject(body, "droplet", &d));
  return DropletFrom(d);
}

base::Result<clone::Process> ParseProcess(std::string_view body) {
  rapidjson::Document d;
  BROKER_RETURN_IF_ERROR(ParseObject(body, "process", &d));
  return ProcessFrom(d);
}

base::Result<Page<clone::Process>> ParseProcessPage(std::string_view body) {
  rapidjson::Document d;
  BROKER_RETURN_IF_ERROR(ParseObject(body, "process list", &d));
  const Value* resources = Resources(d);
  if (resources == nullptr) return base::Status::InvalidArgument("cf: list without resources");
  Page<clone::Process> page;
  for (const Value& r : resources->GetArray()) {
    BROKER_ASSIGN_OR_RETURN(clone::Process p, ProcessFrom(r));
    page.items.push_back(std::move(p));
  }
  page.next_url = NextUrl(d);
  return page;
}

base::Result<std::vector<clone::InstanceStats>> ParseProcessStats(std::string_view body) {
  rapidjson::Document d;
  BROKER_RETURN_IF_ERROR(ParseObject(body, "process stats", &d));
  const Value* resources = Resources(d);
  if (resources == nullptr) return base::Status::InvalidArgument("cf: stats without resources");
  std::vector<clone::InstanceStats> out;
  for (const Value& r : resources->GetArray()) {
    clone::InstanceStats s;
    s.index = Int32(r, "index", 0);
    s.state = Str(r, {"state"});
    s.details = Str(r, {"details"});
    out.push_back(std::move(s));
  }
  return out;
}

base::Result<Page<clone::ServiceBinding>> ParseBindingPage(std::string_view body) {
  rapidjson::Document d;
  BROKER_RETURN_IF_ERROR(ParseObject(body, "service credential binding list", &d));
  const Value* resources = Resources(d);
  if (resources == nullptr) return base::Status::InvalidArgument("cf: list without resources");
  struct InstanceInfo {
    std::string name, type, plan_guid;
  };
  std::map<std::string, InstanceInfo> instances;
  if (const Value* inc = At(d, {"included", "service_instances"}); inc != nullptr && inc->IsArray()) {
    for (const Value& i : inc->GetArray()) {
      const std::string guid = Str(i, {"guid"});
      if (guid.empty()) continue;
      instances[guid] = {Str(i, {"name"}), Str(i, {"type"}), Str(i, {"relationships", "service_plan", "data", "guid"})};
    }
  }
  Page<clone::ServiceBinding> page;
  for (const Value& r : resources->GetArray()) {
    BROKER_RETURN_IF_ERROR(RequireGuid(r, "service credential binding"));
    clone::ServiceBinding b;
    b.guid = Str(r, {"guid"});
    b.name = Str(r, {"name"});
    b.app_guid = Str(r, {"relationships", "app", "data", "guid"});
    b.service_instance_guid = Str(r, {"relationships", "service_instance", "data", "guid"});
    b.last_operation_type = Str(r, {"last_operation", "type"});
    b.last_operation_state = Str(r, {"last_operation", "state"});
    if (const auto it = instances.find(b.service_instance_guid); it != instances.end()) {
      b.service_instance_name = it->second.name;
      b.service_instance_type = it->second.type;
      b.service_plan_guid = it->second.plan_guid;
    }
    page.items.push_back(std::move(b));
  }
  page.next_url = NextUrl(d);
  return page;
}

base::Result<Page<std::string>> ParseGuidPage(std::string_view body) {
  rapidjson::Document d;
  BROKER_RETURN_IF_ERROR(ParseObject(body, "list", &d));
  const Value* resources = Resources(d);
  if (resources == nullptr) return base::Status::InvalidArgument("cf: list without resources");
  Page<std::string> page;
  for (const Value& r : resources->GetArray()) {
    BROKER_RETURN_IF_ERROR(RequireGuid(r, "resource"));
    page.items.push_back(Str(r, {"guid"}));
  }
  page.next_url = NextUrl(d);
  return page;
}

base::Result<clone::Job> ParseJob(std::string_view body) {
  rapidjson::Document d;
  BROKER_RETURN_IF_ERROR(ParseObject(body, "job", &d));
  BROKER_RETURN_IF_ERROR(RequireGuid(d, "job"));
  clone::Job j;
  j.guid = Str(d, {"guid"});
  j.state = Str(d, {"state"});
  if (const Value* errors = Member(d, "errors"); errors != nullptr && errors->IsArray() && !errors->Empty()) {
    j.error_title = Str((*errors)[0], {"title"});
    j.error_detail = Str((*errors)[0], {"detail"});
  }
  return j;
}

base::Result<std::vector<std::string>> ParseLogEnvelopes(std::string_view body) {
  rapidjson::Document d;
  BROKER_RETURN_IF_ERROR(ParseObject(body, "log-cache", &d));
  const Value* batch = At(d, {"envelopes", "batch"});
  if (batch == nullptr) {
    // log-cache leaves out an empty batch ({"envelopes":{}}).
    if (Member(d, "envelopes") != nullptr) return std::vector<std::string>{};
    return base::Status::InvalidArgument("cf: log-cache answer without envelopes");
  }
  if (!batch->IsArray()) return base::Status::InvalidArgument("cf: log-cache batch is not a list");
  std::vector<std::pair<std::int64_t, std::string>> lines;
  for (const Value& e : batch->GetArray()) {
    const Value* log = Member(e, "log");
    if (log == nullptr || !log->IsObject()) continue;
    auto text = base::Base64Decode(Str(*log, {"payload"}));
    if (!text) continue;
    if (!text->empty() && text->back() == '\n') text->pop_back();
    if (!text->empty() && text->back() == '\r') text->pop_back();
    std::int64_t ts = 0;
    if (const Value* t = Member(e, "timestamp"); t != nullptr) {
      if (t->IsString()) {
        const std::string s(t->GetString(), t->GetStringLength());
        // Digits only, and a value past int64 is no timestamp (left 0): from_chars never throws.
        std::int64_t parsed = 0;
        const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), parsed);
        if (!s.empty() && s.front() != '-' && ec == std::errc() && end == s.data() + s.size()) ts = parsed;
      } else if (t->IsInt64()) {
        ts = t->GetInt64();
      }
    }
    lines.emplace_back(ts, std::move(*text));
  }
  // The request asks for the newest first; answer oldest first. Stable, so equal timestamps keep
  // the order log-cache gave (reversed).
  std::reverse(lines.begin(), lines.end());
  std::stable_sort(lines.begin(), lines.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> out;
  out.reserve(lines.size());
  for (auto& [ts, text] : lines) out.push_back(std::move(text));
  return out;
}

std::string NewAppBody(const clone::NewApp& app) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.StartObject();
  w.Key("name");
  WriteString(w, app.name);
  w.Key("relationships");
  w.StartObject();
  w.Key("space");
  WriteToOne(w, app.space_guid);
  w.EndObject();
  if (!app.lifecycle_type.empty()) {
    w.Key("lifecycle");
    w.StartObject();
    w.Key("type");
    WriteString(w, app.lifecycle_type);
    w.Key("data");
    w.StartObject();
    if (app.lifecycle_type != "docker") {
      if (!app.buildpacks.empty()) {
        w.Key("buildpacks");
        w.StartArray();
        for (const std::string& bp : app.buildpacks) WriteString(w, bp);
        w.EndArray();
      }
      if (!app.stack.empty()) {
        w.Key("stack");
        WriteString(w, app.stack);
      }
    }
    w.EndObject();
    w.EndObject();
  }
  if (!app.environment_variables.empty()) {
    w.Key("environment_variables");
    WriteStringMap(w, app.environment_variables);
  }
  if (!app.labels.empty() || !app.annotations.empty()) {
    w.Key("metadata");
    w.StartObject();
    w.Key("labels");
    WriteStringMap(w, app.labels);
    w.Key("annotations");
    WriteStringMap(w, app.annotations);
    w.EndObject();
  }
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
}

std::string CopyDropletBody(const std::string& target_app_guid) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.StartObject();
  w.Key("relationships");
  w.StartObject();
  w.Key("app");
  WriteToOne(w, target_app_guid);
  w.EndObject();
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
}

std::string CurrentDropletBody(const std::string& droplet_guid) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  WriteToOne(w, droplet_guid);
  return std::string(sb.GetString(), sb.GetSize());
}

std::string ProcessUpdateBody(const clone::ProcessUpdate& update) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.StartObject();
  if (!update.command.empty()) {
    w.Key("command");
    WriteString(w, update.command);
  }
  if (!update.health_check_type.empty()) {
    w.Key("health_check");
    w.StartObject();
    w.Key("type");
    WriteString(w, update.health_check_type);
    w.EndObject();
  }
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
}

std::string ScaleBody(const clone::Scale& scale) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.StartObject();
  w.Key("instances");
  w.Int(scale.instances);
  if (scale.memory_in_mb > 0) {
    w.Key("memory_in_mb");
    w.Int(scale.memory_in_mb);
  }
  if (scale.disk_in_mb > 0) {
    w.Key("disk_in_mb");
    w.Int(scale.disk_in_mb);
  }
  w.Key("log_rate_limit_in_bytes_per_second");
  w.Int64(scale.log_rate_limit_in_bytes_per_second < -1 ? -1 : scale.log_rate_limit_in_bytes_per_second);
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
}

std::string NewAppBindingBody(const std::string& app_guid, const std::string& service_instance_guid,
                              const std::string& name) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.StartObject();
  w.Key("type");
  w.String("app");
  if (!name.empty()) {
    w.Key("name");
    WriteString(w, name);
  }
  w.Key("relationships");
  w.StartObject();
  w.Key("service_instance");
  WriteToOne(w, service_instance_guid);
  w.Key("app");
  WriteToOne(w, app_guid);
  w.EndObject();
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
}

}  // namespace broker::cf
