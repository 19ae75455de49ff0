// The ONE place that turns a Status into an HTTP status code and OSB error body (DESIGN.md §7).
// Handlers only choose between 200, 201 and 202; every failure goes through MapError.
// Pure; thread-safe.
#ifndef BROKER_HTTP_ERROR_MAPPING_H_
#define BROKER_HTTP_ERROR_MAPPING_H_

#include <string>

#include "broker/base/status.h"

namespace broker::http {

// The routes, so the mapping can apply the endpoint-specific rules (a missing resource is 410 for
// DELETE, 404 for GET; the session routes, which are not OSB routes, always name the error).
enum class Endpoint {
  kCatalog,
  kProvision,
  kUpdate,
  kDeprovision,
  kGetInstance,
  kInstanceLastOperation,
  kInstanceLastOperationOfDeprovision,  // the poll's operation hint names a deprovision
  kBind,
  kGetBinding,
  kBindingLastOperation,
  kBindingLastOperationOfBind,  // the poll's operation hint names a bind (polling a create)
  kUnbind,
  kSessionReport,  // POST /ssh-access/v1/bindings/:binding_id/session (the clone, bearer token)
  kSessionRead,    // GET  /ssh-access/v1/bindings/:binding_id/session (a credentials holder, basic auth)
  kHealth,
  kOther,
};

struct HttpError {
  int status = 500;
  std::string body;  // {"error"?: "...", "description": "..."}; 410 bodies are {}
  // The WWW-Authenticate header a 401 must carry (RFC 7235), or "" for none.
  std::string www_authenticate;
};

// Requires !status.ok().
//   kInvalidArgument -> 400; kUnauthenticated -> 401 (WWW-Authenticate: Basic realm="ssh-access
//   broker"); kPermissionDenied -> 403;
//   kNotFound -> 410 for kDeprovision / kUnbind (body {}), kBindingLastOperation and
//   kInstanceLastOperationOfDeprovision (a finished delete the broker no longer remembers), else 404
//   (OSB: 404 while polling a create); kAlreadyExists -> 409; kOutOfRange -> 412 (API version);
//   kResourceExhausted -> 413; kFailedPrecondition -> 422 (with `error` = reason when it is an OSB
//   error key); kUnavailable / kDeadlineExceeded -> 503; everything else -> 500 with a generic
//   description (internal detail stays in the log).
// The session endpoints use the same statuses (kNotFound is 404: no session reported yet) but
// their bodies always carry `error`: the code's name ("unauthenticated", "invalid_argument",
// "not_found", "resource_exhausted", ...; "unavailable" for every 503 and "internal" for every
// 500). Their 401s carry WWW-Authenticate: Bearer for kSessionReport, Basic for kSessionRead.
HttpError MapError(const base::Status& status, Endpoint endpoint);

// {"description": text} with `error` when non-empty; JSON-escaped.
std::string ErrorBody(const std::string& error, const std::string& description);

}  // namespace broker::http

#endif  // BROKER_HTTP_ERROR_MAPPING_H_
