// CloudController: the Cloud Foundry operations the clone engine needs (cloud-controller.md
// §2.2 bind sequence, §2.4 teardown, §4.2 log-cache), as a port the engine declares and an
// adapter implements.
//
// Failures are Statuses chosen by the engine's retry rule:
//   kUnavailable       5xx, 429 (after honouring Retry-After), connection failures, 503 220002;
//                      retry the step with backoff
//   kDeadlineExceeded  the request timed out; retry
//   kNotFound          404 (CF-ResourceNotFound 10010): the resource is gone or unreadable
//   kAlreadyExists     422 CF-UniquenessError 10016 (app name taken in the space)
//   kFailedPrecondition 422 CF-UnprocessableEntity 10008 and other 4xx refusals (quota, stack,
//                      "must be in staged state", binding conflicts)
//   kPermissionDenied  403 (CF-NotAuthorized 10003, CF-FeatureDisabled 330002)
//   kUnauthenticated   401 that a token refresh did not cure; UAA refused the broker's credentials
//   kInvalidArgument   400 / a response the adapter could not parse
// A refusal's reason() is the CF error title ("CF-UnprocessableEntity") when CC sent one, and
// its message() is CC's raw `detail`: operator text for the log, never shown to app developers
// as is (the steps compose user-safe descriptions). A retryable failure's reason() says what
// kept failing, in words a developer may see: "HTTP 503", "HTTP 429", "timeout", "connection
// reset", "connection refused", "host not found" (broker/cf/http_client.h), "UAA HTTP 503",
// "malformed answer" (a body that is no JSON object, cf/cc_json.h).
//
// Real implementation: cf::CcClient (broker/cf/cc_client.h); fake: the fake Cloud Controller in
// tests/support talks HTTP to the real client. Implementations are thread-safe.
#ifndef BROKER_CLONE_CLOUD_CONTROLLER_H_
#define BROKER_CLONE_CLOUD_CONTROLLER_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "broker/base/result.h"
#include "broker/base/status.h"

namespace broker::clone {

struct App {
  std::string guid;
  std::string name;
  std::string state;                    // STOPPED / STARTED
  std::string space_guid;
  std::string lifecycle_type;           // buildpack / docker / cnb
  std::vector<std::string> buildpacks;  // lifecycle.data.buildpacks
  std::string stack;                    // lifecycle.data.stack; may be empty
  std::string current_droplet_guid;     // relationships.current_droplet.data.guid; may be empty
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;  // metadata.annotations (the clone's created-at, ...)
};

struct Droplet {
  std::string guid;
  std::string state;                    // AWAITING_UPLOAD / PROCESSING_UPLOAD / STAGED / COPYING / FAILED / EXPIRED
  std::string stack;
  std::string error;                    // set when FAILED
  std::map<std::string, std::string> process_types;  // type -> start command
};

struct Process {
  std::string guid;
  std::string type;
  std::string command;                  // may be empty or "[PRIVATE DATA HIDDEN]" for weak roles
  int instances = 0;
  int memory_in_mb = 0;
  int disk_in_mb = 0;
  std::int64_t log_rate_limit_in_bytes_per_second = -1;  // -1 = unlimited
  std::string health_check_type;        // port / process / http
};

struct ServiceBinding {
  std::string guid;
  std::string name;                     // may be empty
  std::string app_guid;
  std::string service_instance_guid;
  std::string service_instance_name;
  std::string service_instance_type;    // managed / user-provided
  std::string service_plan_guid;        // empty for user-provided instances
  std::string last_operation_type;      // create / delete
  std::string last_operation_state;     // initial / in progress / succeeded / failed
};

struct NewApp {
  std::string name;
  std::string space_guid;
  std::string lifecycle_type;
  std::vector<std::string> buildpacks;
  std::string stack;
  std::map<std::string, std::string> environment_variables;
  std::map<std::string, std::string> labels;       // set in the create call, so teardown finds partial clones
  std::map<std::string, std::string> annotations;
};

struct Job {
  std::string guid;
  std::string state;                    // PROCESSING / POLLING / COMPLETE / FAILED
  std::string error_title;              // errors[0].title when FAILED
  std::string error_detail;             // errors[0].detail when FAILED (operator text)
};

struct InstanceStats {
  int index = 0;
  std::string state;                    // STARTING / RUNNING / CRASHED / DOWN
  std::string details;                  // placement errors; may be empty
};

struct ProcessUpdate {
  std::string command;                  // 1..4096 characters
  std::string health_check_type;        // "process" for the clone
};

struct Scale {
  int instances = 1;
  int memory_in_mb = 0;
  int disk_in_mb = 0;
  std::int64_t log_rate_limit_in_bytes_per_second = -1;
};

class CloudController {
 public:
  virtual ~CloudController() = default;

  // GET /v3/apps?label_selector=<selector>; every page followed.
  virtual base::Result<std::vector<App>> FindAppsByLabel(const std::string& label_selector) = 0;
  // GET /v3/apps/:guid
  virtual base::Result<App> GetApp(const std::string& app_guid) = 0;
  // GET /v3/apps/:guid/environment_variables -> var (user variables only)
  virtual base::Result<std::map<std::string, std::string>> GetEnvironmentVariables(const std::string& app_guid) = 0;
  // GET /v3/apps/:guid/droplets/current. kNotFound when the app was never staged.
  virtual base::Result<Droplet> GetCurrentDroplet(const std::string& app_guid) = 0;
  // GET /v3/apps/:guid/processes/web
  virtual base::Result<Process> GetWebProcess(const std::string& app_guid) = 0;
  // GET /v3/apps/:guid/processes: every process type of the app; every page followed.
  virtual base::Result<std::vector<Process>> ListProcesses(const std::string& app_guid) = 0;
  // GET /v3/service_credential_bindings?app_guids=:guid&type=app&include=service_instance
  virtual base::Result<std::vector<ServiceBinding>> ListAppBindings(const std::string& app_guid) = 0;
  // GET /v3/service_plans?service_broker_names=:name -> plan guids (for excluding our own offering)
  virtual base::Result<std::vector<std::string>> ListBrokerPlanGuids(const std::string& broker_name) = 0;

  // POST /v3/apps (created STOPPED). kAlreadyExists when the name is taken in the space.
  virtual base::Result<App> CreateApp(const NewApp& app) = 0;
  // POST /v3/droplets?source_guid= with the target app. The copy is COPYING (buildpack) or STAGED (docker).
  virtual base::Result<Droplet> CopyDroplet(const std::string& source_droplet_guid, const std::string& target_app_guid) = 0;
  // GET /v3/droplets/:guid
  virtual base::Result<Droplet> GetDroplet(const std::string& droplet_guid) = 0;
  // PATCH /v3/apps/:guid/relationships/current_droplet
  virtual base::Status SetCurrentDroplet(const std::string& app_guid, const std::string& droplet_guid) = 0;
  // PATCH /v3/processes/:guid (command, health check), the guid as GetWebProcess read it (CC
  // never documents that a web process has its app's guid). Returns the process as updated (its
  // instances, memory and disk are what the platform holds now).
  virtual base::Result<Process> UpdateProcess(const std::string& process_guid, const ProcessUpdate& update) = 0;
  // POST /v3/processes/:guid/actions/scale, the guid as GetWebProcess read it.
  virtual base::Status ScaleProcess(const std::string& process_guid, const Scale& scale) = 0;
  // POST /v3/service_credential_bindings (type app). Returns the job guid for a managed instance
  // (202 + Location), or nullopt when the binding was created at once (user-provided, 201).
  virtual base::Result<std::optional<std::string>> CreateServiceBinding(const std::string& app_guid,
                                                                        const std::string& service_instance_guid,
                                                                        const std::string& name) = 0;
  // DELETE /v3/service_credential_bindings/:guid. The job guid (managed, 202) or nullopt (204).
  // kNotFound when already gone.
  virtual base::Result<std::optional<std::string>> DeleteServiceBinding(const std::string& binding_guid) = 0;
  // GET /v3/jobs/:guid
  virtual base::Result<Job> GetJob(const std::string& job_guid) = 0;
  // POST /v3/apps/:guid/actions/start | stop
  virtual base::Status StartApp(const std::string& app_guid) = 0;
  virtual base::Status StopApp(const std::string& app_guid) = 0;
  // GET /v3/processes/:guid/stats, the guid as GetWebProcess read it.
  virtual base::Result<std::vector<InstanceStats>> GetProcessStats(const std::string& process_guid) = 0;
  // DELETE /v3/apps/:guid -> the job guid. kNotFound when already gone.
  virtual base::Result<std::string> DeleteApp(const std::string& app_guid) = 0;
  // The app's newest log lines from log-cache (GET /api/v1/read/:guid, descending), oldest first.
  virtual base::Result<std::vector<std::string>> RecentLogs(const std::string& app_guid, int limit) = 0;
};

}  // namespace broker::clone

#endif  // BROKER_CLONE_CLOUD_CONTROLLER_H_
