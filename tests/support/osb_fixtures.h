// Helpers for the black-box OSB integration tests (tests/integration/osb_*_test.cc): catalog
// constants, request builders, JSON checks, a fixture that owns a fresh database plus a running
// broker, a way to mark a binding as finished (as the worker would), and a TCP proxy that can
// make the database unreachable for one broker.
//
// Everything here is written from the OSB spec and the project's contract, never from the
// broker's implementation. Not thread-safe unless a comment says so.
#ifndef BROKER_TESTS_SUPPORT_OSB_FIXTURES_H_
#define BROKER_TESTS_SUPPORT_OSB_FIXTURES_H_

#include <rapidjson/document.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "tests/support/broker_process.h"
#include "tests/support/http_client.h"
#include "tests/support/test_database.h"

namespace broker::testing {

// catalog/catalog.json
inline constexpr std::string_view kServiceId = "647a5929-f551-403c-b5c3-d587684999fd";
inline constexpr std::string_view kStandardPlanId = "e87ec4cb-9b71-4136-a471-6904dbc038e9";
inline constexpr std::string_view kSecurePlanId = "8a67632f-bb6b-4e1c-a812-1f6bff6b53a2";
inline constexpr std::string_view kMaintenanceVersion = "1.0.0";

// The query of an ordinary unbind of a standard-plan binding.
inline constexpr std::string_view kAsyncUnbindQuery =
    "accepts_incomplete=true&service_id=647a5929-f551-403c-b5c3-d587684999fd"
    "&plan_id=e87ec4cb-9b71-4136-a471-6904dbc038e9";

inline constexpr std::string_view kOrgGuid = "0b6a5a4c-1111-4c4e-9a59-1d5a3c1e0f01";
inline constexpr std::string_view kSpaceGuid = "7d3e1c8a-2222-4f0b-8e0c-5b2f1a9d0e02";
inline constexpr std::string_view kOtherOrgGuid = "0b6a5a4c-3333-4c4e-9a59-1d5a3c1e0f03";
inline constexpr std::string_view kOtherSpaceGuid = "7d3e1c8a-4444-4f0b-8e0c-5b2f1a9d0e04";
inline constexpr std::string_view kAppGuid = "a1b2c3d4-5555-4e6f-8a9b-0c1d2e3f4a05";
inline constexpr std::string_view kOtherAppGuid = "a1b2c3d4-6666-4e6f-8a9b-0c1d2e3f4a06";
// A syntactically valid OpenSSH public key line.
inline constexpr std::string_view kSshKey =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAVPhDy51LfKClHf+Jm55BaXT6ovL1NY2ZSVgyXGUySx dev@laptop";

// --- Test output ------------------------------------------------------------------------------

// doctest prints a `const char*` as a pointer; these make CAPTUREd C strings readable.
template <typename T>
const T& AsText(const T& v) {
  return v;
}
inline std::string AsText(const char* s) { return s != nullptr ? s : "(null)"; }
inline std::string AsText(std::string_view s) { return std::string(s); }
// CAPTURE(x) that prints C strings and string_views as text.
#define BROKER_CAPTURE(x) INFO(#x " := ", ::broker::testing::AsText(x))

// --- JSON -------------------------------------------------------------------------------------

// Parses `text`; check HasParseError() on the result.
rapidjson::Document ParseJson(std::string_view text);
// The string member `name` of object `v`, or nullopt when `v` is not an object, the member is
// missing, or it is not a string.
std::optional<std::string> StringMember(const rapidjson::Value& v, const char* name);
// True when `v` is an object with a member `name` (never asserts, unlike Value::HasMember).
bool HasMember(const rapidjson::Value& v, const char* name);
// The member `name` of object `v`, or a null value when `v` is no object or lacks it.
const rapidjson::Value& Member(const rapidjson::Value& v, const char* name);
// SQL string literal: 'it''s'.
std::string SqlQuote(std::string_view s);

// --- Paths and bodies -------------------------------------------------------------------------

// "service_id=<svc>&plan_id=<plan>"
std::string ServicePlanQuery(std::string_view plan_id = kStandardPlanId,
                             std::string_view service_id = kServiceId);
// "/v2/service_instances/<iid>" plus "?<query>" when query is non-empty. Ids are used verbatim
// (the caller percent-encodes when it wants to).
std::string InstancePath(std::string_view iid, std::string_view query = "");
std::string InstanceLastOperationPath(std::string_view iid, std::string_view query = "");
std::string BindingPath(std::string_view iid, std::string_view bid, std::string_view query = "");
std::string BindingLastOperationPath(std::string_view iid, std::string_view bid,
                                     std::string_view query = "");

// A CF provision body: service_id, plan_id, organization_guid, space_guid and a CF context.
// `extra_members` (",\"k\":v,..." without the leading comma) is appended inside the object.
std::string ProvisionBody(std::string_view plan_id = kStandardPlanId,
                          std::string_view extra_members = "");
// A CF app bind body: service_id, plan_id, bind_resource {app_guid, space_guid}, context and,
// when `parameters` is non-empty, "parameters": <parameters>.
std::string BindBody(std::string_view plan_id = kStandardPlanId,
                     std::string_view app_guid = kAppGuid, std::string_view parameters = "",
                     std::string_view extra_members = "");

// --- Response checks (doctest CHECKs; call from the test thread) -------------------------------

// Content-Type application/json and a body that parses as a JSON object.
void CheckJsonObjectResponse(const Response& r);
// An OSB error body: a JSON object whose "description" is a non-empty string and whose "error",
// if present, is a non-empty string.
void CheckErrorBody(const Response& r);
// The body is exactly {}.
void CheckEmptyObjectBody(const Response& r);
// The "error" member of the body, or "" when absent.
std::string ErrorCode(const Response& r);
// The body's "operation" string, or "" when absent.
std::string OperationOf(const Response& r);
// True when `op` is "<verb>-<digits>".
bool IsOperationToken(std::string_view op, std::string_view verb);

// --- The fixture -------------------------------------------------------------------------------

// A fresh database schema and a broker process on it, plus an HTTP client with the broker's
// credentials. Construct one per test case (doctest re-runs a TEST_CASE body per SUBCASE).
class OsbTest {
 public:
  explicit OsbTest(const EnvOverrides& overrides = {});
  // Overrides computed from the fresh database (e.g. a DATABASE_URL derived from db.url()).
  explicit OsbTest(const std::function<EnvOverrides(TestDatabase&)>& overrides);
  virtual ~OsbTest() = default;

  TestDatabase db;
  std::unique_ptr<BrokerProcess> broker;
  std::unique_ptr<HttpClient> http;

  // Sends `request` and checks that the answer carries Content-Type application/json and a JSON
  // object body (the contract for every response).
  Response Send(const Request& request);
  Response Get(std::string path);
  Response Put(std::string path, std::string body);
  Response Patch(std::string path, std::string body);
  Response Delete(std::string path);

  // PUT /v2/service_instances/<iid>[?query]
  Response Provision(std::string_view iid, std::string body = ProvisionBody(),
                     std::string_view query = "");
  // PUT .../service_bindings/<bid>?<query> (accepts_incomplete=true by default)
  Response Bind(std::string_view iid, std::string_view bid, std::string body = BindBody(),
                std::string_view query = "accepts_incomplete=true");
  // DELETE .../service_bindings/<bid>?<query>
  Response Unbind(std::string_view iid, std::string_view bid,
                  std::string_view query = kAsyncUnbindQuery);

  // Provisions and REQUIREs 201.
  void MustProvision(std::string_view iid, std::string_view plan_id = kStandardPlanId);
  // Binds and REQUIREs 202 with a bind-<n> operation, which it returns.
  std::string MustBind(std::string_view iid, std::string_view bid, std::string body = BindBody());

  // The first column of the first row of `sql`, or "" when there is no row.
  std::string Scalar(const std::string& sql);
  // Number of jobs of `kind` for the binding (with `status` when non-empty).
  int CountJobs(std::string_view binding_id, std::string_view kind, std::string_view status = "");
  // Marks the binding deleted as a finished teardown would (SQL): deleted_at set, operation
  // unbind, state succeeded; the teardown job completed.
  void FinishTeardown(std::string_view binding_id);
};

// Whether MarkBindingSucceeded() is available (needs broker/store/pg_store.h).
bool CanMarkBindingSucceeded();
// Sets the binding to state succeeded with `credentials_json` and an expiry 30 minutes ahead, encrypted by the broker's own
// store code under `encryption_key` (as the worker would), and completes its clone job.
// REQUIREs success; only call when CanMarkBindingSucceeded().
void MarkBindingSucceeded(const std::string& database_url, const std::string& encryption_key,
                          std::string_view binding_id, std::string_view credentials_json);

// Replaces the host:port of a postgres URI ("postgresql://u:p@h:5432/db?x=y") with
// 127.0.0.1:<port>.
std::string WithHostPort(std::string_view url, int port);
// Inserts `password` as the URI's password (replacing any). Unchanged if there is no user.
std::string WithPassword(std::string_view url, std::string_view password);
// The URI's password, or "" when it has none.
std::string PasswordOf(std::string_view url);
// The URI's host and port (5432 when absent).
std::pair<std::string, int> HostPortOf(std::string_view url);
// True when libpq can connect with `url` and run SELECT 1.
bool CanConnect(const std::string& url);

// A TCP proxy on a loopback port to a fixed target. Close() refuses new connections and cuts
// every open one (the target looks down); Open() listens again on the same port.
// Thread-safe; its threads end in Close() and in the destructor.
class TcpProxy {
 public:
  TcpProxy(std::string target_host, int target_port);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }
  void Open();
  void Close();

 private:
  void AcceptLoop(int listen_fd, int wake_fd);
  void Pump(int client_fd, int upstream_fd);

  std::string target_host_;
  int target_port_;
  int port_ = 0;
  std::mutex mu_;
  int listen_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};
  std::thread accept_thread_;         // guarded by mu_
  std::vector<int> open_fds_;         // guarded by mu_
  std::vector<std::thread> threads_;  // pumps; guarded by mu_
};

}  // namespace broker::testing

#endif  // BROKER_TESTS_SUPPORT_OSB_FIXTURES_H_
