// FakeCloudController: the one test double for the platform. A real HTTP/1.1 server on 127.0.0.1
// that plays Cloud Controller V3, UAA and log-cache at once (cloud-controller.md §6), so the
// broker's real libcurl client talks to it unchanged, only the base URL differs.
//
// What it models (all in memory): orgs, spaces, apps (buildpack / docker / cnb lifecycles, user
// environment variables, labels), droplets, processes and their instances, service offerings,
// plans, managed and user-provided service instances, app credential bindings, jobs and log-cache
// envelopes; UAA clients, users, access and refresh tokens. Responses use CC V3's documented
// shapes: errors `{"errors":[{"code","title","detail"}]}`, paginated lists with `next` links,
// `202` + `Location` for jobs, `label_selector`, `include=service_instance`.
//
// Asynchrony is deterministic: nothing happens on a timer. Each GET of a droplet, a job or a
// process's stats advances that object by one tick (a GET or listing of a service binding whose
// create job is unfinished advances that job: the platform finishes a job nobody follows); the
// tick counts are knobs. Everything a test
// may want to break is a knob (Knobs) or a fault rule (Fault, "inject on the Nth call to a
// route"). Every request is journaled (method, path, query, body, Authorization, time, status)
// before its response is sent, so a test that got a response can assert on the journal at once.
//
// Deliberate fidelity (a real client must cope with these, so the fake does them too):
//   - process lists redact `command` as "[PRIVATE DATA HIDDEN IN LISTS]" (GET the one process);
//   - unknown query parameters answer 400 10005, unknown body fields 422 10008;
//   - every request body the broker sends (app create/update, environment variables, droplet
//     copy, current droplet, process update and scale, credential binding create) and every
//     label_selector is validated as CC V3's message classes do, with CC's exact status, code,
//     title and detail (all of a message's errors, joined with ", "); each rule in the .cc cites
//     the cloud_controller_ng file it mirrors. Metadata key prefixes need a dot (CC's
//     DOMAIN_REGEX): "ssh-access/x" is refused (422 in a body, 400 10005 in a label_selector);
//   - `Location` and pagination links are absolute URLs (the `location_base` knob changes the host);
//   - log-cache answers 404, not 401, to a missing or bad token;
//   - X-Cf-Warnings values are URL-encoded and comma-joined.
//
// Thread-safety: every public member function may be called from any thread, before Start(),
// while serving and after Stop(). All state sits behind one mutex; HTTP handlers run on Pistache's
// threads under that mutex. Session reports (Knobs::session_report) are POSTed with libcurl from
// one background thread, never while the mutex is held.
//
// Local containers (Knobs::local_containers) are supervised by one more background thread, started
// with the first one: it reads their output, reaps them and enforces stop deadlines, taking the
// mutex for each round. fork() happens under the mutex, and only async-signal-safe calls run
// between fork and exec.
//
// Lifetime: Stop() (also run by the destructor) stops accepting and joins the HTTP threads, then
// joins the session-report thread, then stops every local container (SIGTERM, SIGKILL after
// stop_grace, reaped) and joins the container thread, and only then is state destroyed.
#ifndef BROKER_TESTS_SUPPORT_FAKE_CLOUD_CONTROLLER_H_
#define BROKER_TESTS_SUPPORT_FAKE_CLOUD_CONTROLLER_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace broker::testing {

class FakeCloudController {
 public:
  enum class Lifecycle { kBuildpack, kDocker, kCnb };

  // ---- Seeding types -----------------------------------------------------------------------

  // A process as seeded on an app (the droplet's process_types give the detected command).
  struct ProcessSpec {
    std::optional<std::string> command{};  // nullopt: run the droplet's process_types command
    int instances = 1;
    int memory_in_mb = 1024;
    int disk_in_mb = 1024;
    std::int64_t log_rate_limit_in_bytes_per_second = -1;  // -1: unlimited
    std::string health_check_type = "port";                 // port | process | http
    std::optional<int> health_check_timeout{};              // seconds
    std::optional<std::string> health_check_endpoint{};     // http only
  };

  struct AppSpec {
    std::string guid{};  // empty: generated
    std::string name{};
    std::string space_guid{};
    Lifecycle lifecycle = Lifecycle::kBuildpack;
    std::vector<std::string> buildpacks{"java_buildpack"};  // buildpack / cnb only
    // The app's lifecycle stack (what Diego runs). nullopt renders `null` (historic records).
    std::optional<std::string> stack = "cflinuxfs4";
    std::map<std::string, std::string> env{};  // user environment variables
    std::map<std::string, std::string> labels{};
    std::map<std::string, std::string> annotations{};
    bool started = true;  // STARTED with instances RUNNING, or STOPPED
    // The current droplet. has_droplet=false: never staged (droplets/current answers 404).
    bool has_droplet = true;
    std::map<std::string, std::string> process_types{{"web", "bin/run"}};
    std::string droplet_stack = "cflinuxfs4";
    std::string docker_image = "cloudfoundry/diego-docker-app:latest";  // docker only
    ProcessSpec web{};  // other process_types keys get processes with 0 instances
    std::map<std::string, bool> features{};  // overrides of the app features (ssh, revisions, ...)
  };

  struct OfferingSpec {
    std::string name{};
    std::string service_broker_name{};  // lets the broker exclude "our own offering"
    bool bindable = true;
    bool bindings_retrievable = true;  // false: GET .../parameters answers 400 90007
  };

  struct InstanceSpec {
    std::string name{};
    std::string space_guid{};
    std::string plan_guid{};  // managed instances
    bool user_provided = false;
    std::string credentials_json = "{}";  // user-provided credentials / managed binding credentials
  };

  // One log-cache line of an app.
  struct LogLine {
    std::string text{};
    std::string source_type = "APP/PROC/WEB";  // APP/PROC/WEB, CELL, STG, API, RTR
    std::string instance_id = "0";
    bool is_stderr = false;
    std::optional<std::int64_t> timestamp_ns{};  // nullopt: now
  };

  struct UaaClient {
    std::string id{};
    std::string secret{};  // "" for a public client such as "cf"
    std::vector<std::string> grant_types{"client_credentials"};
    std::vector<std::string> authorities{"cloud_controller.admin"};  // token scopes
  };

  // ---- Knobs and faults ----------------------------------------------------------------------

  // Inject a failure on the Nth call to a route (cloud-controller.md §6.2). Rules are added with
  // AddFault(), apart from Knobs, because each rule counts its own matching calls. The first rule
  // that fires wins; every matching rule counts the call. Faults come before authentication, and
  // a faulted request changes no state (a slow one is answered normally after its delay).
  struct Fault {
    enum class Kind {
      kExpiredToken,          // 401 1000 CF-InvalidAuthToken; the presented token really expires
      kRateLimited,           // 429 10013 with Retry-After and X-RateLimit-{Limit,Remaining,Reset}
      kInternalError,         // 500 10001 UnknownError
      kServiceUnavailable,    // 503 10015 CF-ServiceUnavailable
      kInstancesUnavailable,  // 503 220002 CF-InstancesUnavailable (stats)
      kConnectionReset,       // the socket is closed without an answer
      kSlowResponse,          // wait `delay`, then answer normally. A hang: a delay of hours.
                              // Stop() ends the wait at once; that request is never answered
                              // and its connection is closed (its journal status is 0).
                              // While it waits it holds one of the fake's 4 Pistache threads:
                              // other connections served by that thread wait with it.
    };
    Kind kind = Kind::kServiceUnavailable;
    std::string method{};  // "GET", "POST", ...; "" matches any
    // A registered route pattern ("/v3/processes/:guid/stats") or a glob over the concrete path
    // ("/v3/apps/*", `*` matches anything including '/'); "" matches every route.
    std::string route{};
    int nth = 1;    // the first faulted call, counting calls that match method and route (1-based)
    int count = 1;  // how many consecutive matching calls fail from the nth on; 0 = all of them
    // Retry-After (delta-seconds): kRateLimited always sends one (1 when unset);
    // kServiceUnavailable and kInstancesUnavailable send one only when set.
    std::optional<int> retry_after_seconds{};
    std::chrono::milliseconds delay{2000};  // kSlowResponse
  };

  // What the fake POSTs, as "the container", when a clone's web instance reaches RUNNING.
  // `url`, `bearer_token` and `body` may use placeholders, expanded from the app:
  // {app_guid} {app_name} {space_guid} {label:KEY} {annotation:KEY} {env:NAME} (missing: "").
  // E.g. url "{env:SSH_ACCESS_CALLBACK_URL}", bearer_token "{env:SSH_ACCESS_CALLBACK_TOKEN}".
  struct SessionReport {
    enum class Trigger { kOnRunning, kOnStart };
    std::string url{};
    std::string bearer_token{};  // sent as "Authorization: Bearer <token>" unless empty
    std::string body{};
    std::string content_type = "application/json";
    Trigger trigger = Trigger::kOnRunning;  // kOnStart: right after a successful actions/start
    std::chrono::milliseconds delay{0};     // wait before POSTing
    std::chrono::milliseconds timeout{5000};
  };

  // The outcome of one session-report POST.
  struct SessionReportResult {
    std::string app_guid{};
    std::string url{};
    std::string body{};
    long status = 0;      // 0: no HTTP answer (see error)
    std::string error{};  // curl's message
    std::string response_body{};
  };

  // What a droplet copy does for a cnb droplet (current CC has no cnb branch: code reading).
  enum class CnbDropletCopy {
    kStuckCopying,   // the new droplet stays COPYING forever (the reading of current CC code)
    kRejected,       // 422 10008 "cnb droplets cannot be copied" on the POST
    kLikeBuildpack,  // COPYING, then STAGED like a buildpack droplet
  };

  // Local-container mode (Knobs::local_containers): a started app's web command really runs, as a
  // local process in a CF-like environment, so a test sees what the container would do.
  //
  //   - Which apps: every app started through POST /v3/apps/:guid/actions/start (or restart)
  //     whose web process has instances >= 1, unless `placement_error` is set (never placed).
  //     Seeded apps (AddApp with started=true) run nothing. One process however many instances.
  //   - What runs: `/bin/bash -c "<effective web command>"` (the process's command, else the
  //     current droplet's process_types["web"]) as the leader of its own session and process
  //     group (setsid), stdin /dev/null, cwd `<root_dir>/<app_guid>/app`.
  //   - The app folder: every droplet has one, `<root_dir>/droplets/<droplet_guid>/app/`. A
  //     seeded droplet's holds `ssh-access-fake-droplet.txt` (the seeded app's name and a
  //     newline); a copied droplet's is a copy of its source's (made at POST /v3/droplets, or
  //     lazily). Each start replaces `<root_dir>/<app_guid>/app` with a fresh copy of the current
  //     droplet's folder and `<root_dir>/<app_guid>/tmp` with an empty one.
  //   - Output: stdout and stderr are appended to `<root_dir>/<app_guid>/stdout.log` and
  //     `stderr.log`, and each line also becomes a log-cache envelope of the app (APP/PROC/WEB,
  //     instance "0", ERR for stderr).
  //   - Environment (nothing else is inherited from the fake's own environment but PATH): the
  //     app's user environment variables as they are at start (POST /v3/apps and PATCH
  //     .../environment_variables), then VCAP_APPLICATION, VCAP_SERVICES (the app's bindings whose
  //     create succeeded, grouped by offering name; user-provided ones under "user-provided"),
  //     PORT (a free local port), HOME (the app folder), TMPDIR, LANG=C.UTF-8, MEMORY_LIMIT,
  //     INSTANCE_INDEX / CF_INSTANCE_INDEX=0, CF_INSTANCE_GUID, CF_INSTANCE_IP=127.0.0.1,
  //     CF_INSTANCE_PORT, CF_INSTANCE_ADDR, PATH, and last `extra_env` (which overrides).
  //   - Stats: after instance_start_ticks the instance is RUNNING while the process lives and
  //     CRASHED once it exited, whatever its status (a CELL line "Exit status N" is logged); DOWN
  //     once stopped. `instance_crashes` still forces CRASHED (and stops the process).
  //   - The container ends when its leader exits: the rest of the group is SIGKILLed, the leader
  //     reaped. Stop (actions/stop, restart, scaling web to 0, the app's deletion when its delete
  //     job completes, RemoveApp, Stop() and the destructor) sends SIGTERM to the group, then
  //     SIGKILL after stop_grace if the leader still lives. A start after a stop runs a fresh
  //     process. The fake never leaves a zombie: it reaps every leader it started.
  //   - Failures to prepare the folder or to fork are logged as a CELL line and count as an
  //     immediate exit with status 127 (CRASHED), as is a web process without a command.
  // Changing or clearing the knob affects later starts only.
  struct LocalContainers {
    std::string root_dir{};  // created as needed; a relative path is made absolute at start
    std::map<std::string, std::string> extra_env{};  // added last (tests: fake-tmate knobs)
    std::chrono::milliseconds stop_grace{2000};      // SIGTERM, then SIGKILL after this
  };

  // What LocalContainer() reports: the app's latest local process.
  struct LocalContainerView {
    int pid = -1;  // also the process group id; -1 when the launch failed
    bool running = false;  // the leader has not been reaped yet
    // The leader's exit status, or 128 + the signal that killed it; nullopt while running (or
    // when something else reaped it).
    std::optional<int> exit_status{};
    bool stop_requested = false;  // stopped (SIGTERM sent), not exited on its own
    std::string command{};        // the web command given to bash -c
    std::string app_dir{};        // the cwd and HOME, <root_dir>/<app_guid>/app
    std::string stdout_path{};
    std::string stderr_path{};
    std::map<std::string, std::string> env{};  // exactly the environment it was started with
  };

  struct Knobs {
    // Ticks (GETs) before an async object finishes; values < 1 count as 1.
    int droplet_copy_ticks = 2;          // buildpack droplet COPYING -> STAGED (or FAILED)
    int binding_create_job_ticks = 3;    // PROCESSING -> POLLING ... -> COMPLETE
    int binding_delete_job_ticks = 2;
    int app_delete_job_ticks = 2;
    int droplet_delete_job_ticks = 1;
    int instance_start_ticks = 2;        // stats STARTING -> RUNNING (or CRASHED)

    int token_expires_in_seconds = 600;  // UAA access-token lifetime

    int per_page_override = 0;           // > 0: every list uses this page size, whatever was asked
    std::vector<std::string> warnings{};  // X-Cf-Warnings on every create (apps, droplets, bindings)
    // Absolute base used in Location headers, jobs' links.self and pagination links
    // (first/last/next/previous) instead of base_url(), e.g.
    // "http://evil.example.com:1234" (a host the client must refuse or normalise). "": base_url().
    std::string location_base{};
    // The root's links.self.href; "" = location_base (else the fake's own URL), as CC renders
    // its configured external URL (app/controllers/runtime/root_controller.rb).
    std::string root_self_href{};

    bool droplet_copy_fails = false;  // the copied buildpack droplet ends FAILED
    std::string droplet_copy_error = "failed to copy - blobstore unavailable";
    CnbDropletCopy cnb_droplet_copy = CnbDropletCopy::kStuckCopying;

    std::set<std::string> binding_job_fails_for_instances{};  // instance guids: create job FAILED
    std::set<std::string> binding_job_stuck_for_instances{};  // instance guids: job stays POLLING
    bool binding_parameters_broker_error = false;  // GET .../parameters: 502 10001 broker error

    bool start_quota_exceeded = false;  // actions/start: 422 10008 "memory quota_exceeded"
    bool instance_crashes = false;      // instances end CRASHED instead of RUNNING
    std::vector<LogLine> crash_log{     // appended to log-cache when an instance crashes
        LogLine{"bootstrap: tmate exited with status 1", "APP/PROC/WEB", "0", true, std::nullopt}};
    std::string placement_error{};  // non-empty: started instances stay DOWN with these `details`

    bool docker_disabled = false;       // 403 330002 diego_docker on POST /v3/apps with docker
    bool cnb_disabled = false;          // 403 330002 diego_cnb
    bool app_scaling_disabled = false;  // 403 330002 app_scaling on scale
    std::set<std::string> unknown_buildpacks{};    // POST /v3/apps naming one: 422 10008
    std::set<std::string> restricted_stacks{};     // POST /v3/apps on one: 422 10008
    std::set<std::string> missing_app_features{};  // features an older CC lacks (404 on GET/PATCH)

    // Legacy CC (temporary_enable_async_recursive_delete.apps: false): an app delete job FAILS
    // while the app still has a managed binding; the bindings are left in place.
    bool legacy_app_delete = false;
    // CC gives an app's web process the app's guid (app/actions/app_create.rb), but documents no
    // such thing: false gives web processes guids of their own, so a client that assumes it fails.
    bool web_process_guid_is_app_guid = true;

    std::optional<SessionReport> session_report{};  // POSTed for apps created through POST /v3/apps

    // Run started apps' web commands as local processes (see LocalContainers); nullopt: no
    // process runs and instance states come from the ticks and knobs alone.
    std::optional<LocalContainers> local_containers{};
  };

  // ---- Journal and views ---------------------------------------------------------------------

  struct JournalEntry {
    std::string method{};  // "GET"
    std::string path{};    // "/v3/apps" (as received, not decoded)
    std::string route{};   // the matched route pattern, "/v3/apps/:guid"; "" when none matched
    // The query as received (still percent-encoded), parameters in name order: "a=1&b=2".
    std::string query{};
    std::map<std::string, std::string> query_params{};  // decoded
    std::string body{};
    std::string authorization{};  // the raw Authorization header, "" when absent
    std::chrono::system_clock::time_point at{};
    int status = 0;       // the answer; 0 when the connection was reset
    int client_port = 0;  // the client's TCP source port: equal ports = one reused connection
    std::string fault{};  // "" or the injected fault ("rate_limited", "connection_reset", ...)
  };

  struct AppView {
    std::string guid{};
    std::string name{};
    std::string space_guid{};
    std::string state{};  // STARTED | STOPPED
    Lifecycle lifecycle = Lifecycle::kBuildpack;
    std::vector<std::string> buildpacks{};
    std::optional<std::string> stack{};
    std::map<std::string, std::string> env{};
    std::map<std::string, std::string> labels{};
    std::map<std::string, std::string> annotations{};
    std::string current_droplet_guid{};  // "" when none
    bool created_through_api = false;    // POST /v3/apps (a clone), not seeded
    bool delete_in_progress = false;     // a delete job exists and has not finished
  };

  struct ProcessView {
    std::string guid{};
    std::string app_guid{};
    std::string type{};
    std::optional<std::string> command{};  // as set; nullopt: detected from the droplet
    int instances = 0;
    int memory_in_mb = 0;
    int disk_in_mb = 0;
    std::int64_t log_rate_limit_in_bytes_per_second = -1;
    std::string health_check_type{};
    std::optional<int> health_check_timeout{};
    std::string instance_state{};  // what stats would say now: DOWN | STARTING | RUNNING | CRASHED
  };

  struct BindingView {
    std::string guid{};
    std::string name{};  // "" when unnamed
    std::string app_guid{};
    std::string service_instance_guid{};
    std::string last_operation_type{};   // create | delete
    std::string last_operation_state{};  // initial | in progress | succeeded | failed
  };

  struct DropletView {
    std::string guid{};
    std::string app_guid{};
    std::string state{};  // COPYING | STAGED | FAILED
    Lifecycle lifecycle = Lifecycle::kBuildpack;
    std::map<std::string, std::string> process_types{};
  };

  // The small foundation of SeedDemoFoundation().
  struct DemoFoundation {
    std::string org_guid{};
    std::string space_guid{};
    std::string app_guid{};             // "spring-music", buildpack, STARTED, staged
    std::string mysql_instance_guid{};  // managed, bound
    std::string redis_instance_guid{};  // managed, bound
    std::string ups_instance_guid{};    // user-provided, bound
    std::string ssh_offering_guid{};    // "ssh-access" of broker "ssh-access-broker" (ours)
    std::string ssh_plan_guid{};
    std::string ssh_instance_guid{};    // an instance of ours, not bound
    std::vector<std::string> binding_guids{};  // the three bindings of spring-music
    std::string client_id{};      // a client_credentials client with cloud_controller.admin
    std::string client_secret{};
    std::string username{};       // a UAA user for the "cf" client's password grant
    std::string password{};
  };

  // ---- Lifecycle -----------------------------------------------------------------------------

  // The UAA client "cf" (public, empty secret, password + refresh_token grants) always exists.
  FakeCloudController();
  ~FakeCloudController();
  FakeCloudController(const FakeCloudController&) = delete;
  FakeCloudController& operator=(const FakeCloudController&) = delete;

  // Listens on 127.0.0.1:`port` (0: any free port) and serves on background threads. Sets
  // SIGPIPE to SIG_IGN for the process (as the broker's main() does): Pistache's writes to a
  // client that hung up must fail with EPIPE, not kill the test.
  // Throws std::runtime_error if it cannot listen or was started before (a fake serves once).
  void Start(int port = 0);
  // Like Start(), but serves HTTPS (base_url() "https://127.0.0.1:<port>") with the PEM
  // certificate chain and private key in these files; the certificate should name IP 127.0.0.1
  // in its subjectAltName for clients that verify the host. Throws std::invalid_argument when a
  // file name is empty, std::runtime_error when the files are unusable.
  void StartTls(const std::string& cert_file, const std::string& key_file, int port = 0);
  // Stops accepting, wakes slow responses, joins the HTTP threads, closes the connections still
  // open (clients fail fast instead of hanging), then joins the report thread (queued reports are
  // dropped), then stops the local containers (up to stop_grace) and joins their thread.
  // Idempotent; the state stays readable afterwards.
  void Stop();
  // "http://127.0.0.1:<port>" (https after StartTls) once started; "" before.
  std::string base_url() const;
  int port() const;

  // ---- Seeding (direct, not journaled) --------------------------------------------------------
  // Each returns the new guid; they throw std::invalid_argument when a referenced guid is unknown.

  std::string AddOrg(const std::string& name);
  std::string AddSpace(const std::string& name, const std::string& org_guid);
  std::string AddApp(const AppSpec& spec);  // returns the app guid (== its web process guid)
  // The log rate limit (bytes/s) of the org's quota or of the space's quota; -1 (the default):
  // unlimited or none. With a limit, a start or scale of a STARTED process is refused as CC's
  // AppMaxLogRateLimitPolicy does: 422 "log_rate_limit cannot be unlimited in space 'NAME'." for
  // -1, "log_rate_limit exceeds space log rate quota" past the limit (organization likewise).
  void SetOrgLogRateLimit(const std::string& org_guid, std::int64_t bytes_per_second);
  void SetSpaceLogRateLimit(const std::string& space_guid, std::int64_t bytes_per_second);
  std::string AddServiceOffering(const OfferingSpec& spec);
  std::string AddServicePlan(const std::string& offering_guid, const std::string& name);
  std::string AddServiceInstance(const InstanceSpec& spec);
  // An existing app binding (create / succeeded). `name` "" leaves it unnamed.
  std::string AddServiceBinding(const std::string& app_guid, const std::string& instance_guid,
                                const std::string& name = "");
  void AddLogLine(const std::string& app_guid, const LogLine& line);
  // Out-of-band changes, as another user would make them.
  void RemoveApp(const std::string& app_guid);
  void RemoveServiceBinding(const std::string& binding_guid);

  void AddUaaClient(const UaaClient& client);
  void AddUaaUser(const std::string& username, const std::string& password,
                  const std::vector<std::string>& scopes = {"cloud_controller.read",
                                                            "cloud_controller.write", "openid"});
  // A valid access token for `client_id` without an HTTP round trip (its authorities as scopes).
  std::string IssueToken(const std::string& client_id);
  void ExpireToken(const std::string& access_token);
  void ExpireAllTokens();

  // One org and space, three offerings (mysql, redis, ours), a buildpack app "spring-music" with
  // two managed bindings and one user-provided, an unbound instance of our own offering, a UAA
  // client "ssh-access-broker"/"fake-secret" (admin) and a user "admin"/"admin".
  DemoFoundation SeedDemoFoundation();

  // ---- Knobs, faults --------------------------------------------------------------------------

  Knobs knobs() const;
  void SetKnobs(const Knobs& knobs);
  void UpdateKnobs(const std::function<void(Knobs&)>& edit);
  void AddFault(const Fault& fault);
  void ClearFaults();

  // ---- Inspection -------------------------------------------------------------------------------

  std::vector<JournalEntry> Journal() const;
  void ClearJournal();
  // Journal entries whose method matches (`method` "" = any) and whose route pattern equals
  // `route_or_path` or whose path glob-matches it.
  std::vector<JournalEntry> Calls(const std::string& method, const std::string& route_or_path) const;

  std::vector<AppView> Apps() const;
  std::optional<AppView> App(const std::string& app_guid) const;
  // Apps matching a CC label selector ("ssh-access.example.com/binding-guid=B", "key", "!key",
  // "key in (a,b)", ...). Throws std::invalid_argument on a malformed selector.
  std::vector<AppView> AppsWithLabel(const std::string& label_selector) const;
  std::vector<BindingView> BindingsOfApp(const std::string& app_guid) const;
  std::optional<BindingView> Binding(const std::string& binding_guid) const;
  std::vector<ProcessView> ProcessesOf(const std::string& app_guid) const;
  std::optional<ProcessView> ProcessOf(const std::string& app_guid, const std::string& type = "web") const;
  std::vector<DropletView> DropletsOf(const std::string& app_guid) const;
  std::vector<SessionReportResult> SessionReports() const;
  // The app's latest local container (Knobs::local_containers), also after the app is deleted;
  // nullopt when none was ever started for it.
  std::optional<LocalContainerView> LocalContainer(const std::string& app_guid) const;
  // Blocks until at least `n` session reports finished or `timeout` passed; returns them.
  std::vector<SessionReportResult> AwaitSessionReports(std::size_t n, std::chrono::milliseconds timeout) const;

 private:
  void StartServing(int port, const std::string& cert_file, const std::string& key_file);

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace broker::testing

#endif  // BROKER_TESTS_SUPPORT_FAKE_CLOUD_CONTROLLER_H_
