// Fuzz harness: OSB request bodies (broker/http/codec.h) and canonical JSON (broker/osb/json_util.h).
//
// Each input is a request body, given to ParseJson, ValidateJsonObject and the provision, update
// and bind decoders. Findings, besides sanitizer reports:
//   - the canonical text of a parsed document does not parse again, is not valid UTF-8, or changes
//     when canonicalised again (it must be a fixed point: it is the request hash's input);
//   - ValidateJsonObject and ParseJson disagree about whether the body is one JSON object;
//   - a decoder accepts the body but a decoded id holds NUL or invalid UTF-8, or a decoded
//     context/parameters text is not the canonical text of an object.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "broker/http/codec.h"
#include "broker/osb/json_util.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using broker::fuzz::CleanId;
using broker::fuzz::Require;
using broker::fuzz::ValidUtf8;

// `canon` is the canonical text of some JSON value: valid UTF-8, parses, and canonicalises to itself.
void RequireFixedPoint(const std::string& canon) {
  Require(ValidUtf8(canon), "canonical JSON is not valid UTF-8", canon);
  auto again = broker::osb::ParseJson(canon, "canonical JSON");
  Require(again.ok(), "canonical JSON does not parse again", canon);
  Require(broker::osb::CanonicalJson(*again) == canon, "canonical JSON is not a fixed point", canon);
}

void RequireCanonicalObject(const std::string& json) {
  RequireFixedPoint(json);
  Require(json.starts_with('{'), "a decoded context or parameters text is not an object", json);
}

void RequireCleanIds(std::initializer_list<const std::string*> ids) {
  for (const std::string* id : ids) Require(CleanId(*id), "a decoded id holds NUL or invalid UTF-8", *id);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  broker::fuzz::QuietLogs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body = broker::fuzz::Text(data, size);

  auto doc = broker::osb::ParseJson(body, "the request body");
  if (doc.ok()) RequireFixedPoint(broker::osb::CanonicalJson(*doc));
  const bool is_object = doc.ok() && doc->IsObject();
  Require(broker::osb::ValidateJsonObject(body, "the request body").ok() == is_object,
          "ValidateJsonObject and ParseJson disagree on whether this is a JSON object", body);

  broker::osb::ProvisionRequest provision;
  if (broker::http::DecodeProvision(body, &provision).ok()) {
    Require(is_object, "DecodeProvision accepted what ParseJson refuses", body);
    RequireCleanIds({&provision.service_id, &provision.plan_id, &provision.organization_guid, &provision.space_guid});
    RequireCanonicalObject(provision.context_json);
    RequireCanonicalObject(provision.parameters_json);
    if (provision.maintenance_version) RequireCleanIds({&*provision.maintenance_version});
  }

  broker::osb::UpdateRequest update;
  if (broker::http::DecodeUpdate(body, &update).ok()) {
    Require(is_object, "DecodeUpdate accepted what ParseJson refuses", body);
    RequireCleanIds({&update.service_id});
    if (update.plan_id) RequireCleanIds({&*update.plan_id});
    if (update.context_json) RequireCanonicalObject(*update.context_json);
    if (update.parameters_json) RequireCanonicalObject(*update.parameters_json);
    if (update.maintenance_version) RequireCleanIds({&*update.maintenance_version});
  }

  broker::osb::BindRequest bind;
  if (broker::http::DecodeBind(body, &bind).ok()) {
    Require(is_object, "DecodeBind accepted what ParseJson refuses", body);
    RequireCleanIds({&bind.service_id, &bind.plan_id, &bind.app_guid, &bind.space_guid});
    RequireCanonicalObject(bind.context_json);
    RequireCanonicalObject(bind.parameters_json);
  }
  return 0;
}
