// The JSON codec between OSB wire bodies and broker/osb's value types. Wire field names live
// here and nowhere else. Decoding is strict about types (a string field that holds a number is a
// 400) and lenient about unknown fields (OSB: ignore them). Pure; thread-safe.
#ifndef BROKER_HTTP_CODEC_H_
#define BROKER_HTTP_CODEC_H_

#include <string>
#include <string_view>

#include "broker/base/result.h"
#include "broker/osb/broker.h"

namespace broker::http {

// Each Decode* fills the body fields of the request (ids from the path and query flags are set
// by the caller). kInvalidArgument naming the field when the body is not a JSON object or a
// known field has the wrong type.
base::Status DecodeProvision(std::string_view body, osb::ProvisionRequest* req);
base::Status DecodeUpdate(std::string_view body, osb::UpdateRequest* req);
base::Status DecodeBind(std::string_view body, osb::BindRequest* req);

std::string EncodeOperation(const std::string& operation);                  // {"operation": ...}
std::string EncodeLastOperation(const osb::LastOperation& op);              // {"state", "description"?}
std::string EncodeInstance(const osb::InstanceView& view);                  // GET instance body
std::string EncodeBinding(const osb::BindingView& view);                    // GET binding / 200 bind body

}  // namespace broker::http

#endif  // BROKER_HTTP_CODEC_H_
