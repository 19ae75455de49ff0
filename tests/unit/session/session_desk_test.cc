// Tests for broker/clone/session_desk.h over an in-memory osb::Store: who may report and read,
// what a report writes (and that a refused one writes nothing), and what the event holds.
#include "broker/clone/session_desk.h"

#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <map>
#include <string>
#include <vector>

#include "broker/base/digest.h"
#include "broker/session/tmate.h"

namespace broker::clone {
namespace {

using base::Code;
using base::Status;

// Bindings and events in memory; a transaction works on a copy that replaces the original only
// when the function returns OK.
class MemoryStore final : public osb::Store {
 public:
  struct State {
    std::map<std::string, osb::Binding, std::less<>> bindings;
    std::vector<osb::Event> events;
  };
  State state;
  int updates = 0;

  Status InTransaction(const std::function<Status(osb::StoreTx&)>& fn) override {
    Tx tx(state, &updates);
    const Status s = fn(tx);
    if (s.ok()) {
      state = tx.state;
      updates = tx.updates;
    }
    return s;
  }
  base::Result<std::optional<osb::Instance>> GetInstance(std::string_view) override {
    return std::optional<osb::Instance>();
  }
  base::Result<std::optional<osb::Binding>> GetBinding(std::string_view id) override {
    const auto it = state.bindings.find(id);
    if (it == state.bindings.end()) return std::optional<osb::Binding>();
    return std::optional<osb::Binding>(it->second);
  }
  base::Result<std::optional<osb::BindingStatus>> GetBindingStatus(std::string_view) override {
    return Status::Internal("unused");
  }
  Status Ping() override { return Status::Ok(); }

 private:
  struct Tx final : osb::StoreTx {
    Tx(const State& s, const int* u) : state(s), updates(*u) {}
    State state;
    int updates;
    base::Result<std::optional<osb::Instance>> LockInstance(std::string_view) override {
      return std::optional<osb::Instance>();
    }
    Status InsertInstance(const osb::Instance&) override { return Status::Internal("unused"); }
    Status UpdateInstance(const osb::Instance&) override { return Status::Internal("unused"); }
    base::Result<std::optional<osb::Binding>> LockBinding(std::string_view id) override {
      const auto it = state.bindings.find(id);
      if (it == state.bindings.end()) return std::optional<osb::Binding>();
      return std::optional<osb::Binding>(it->second);
    }
    Status InsertBinding(const osb::Binding&) override { return Status::Internal("unused"); }
    Status UpdateBinding(const osb::Binding& b) override {
      const auto it = state.bindings.find(b.id);
      if (it == state.bindings.end()) return Status::NotFound("no binding");
      it->second = b;
      ++updates;
      return Status::Ok();
    }
    base::Result<std::vector<osb::Binding>> LockLiveBindings(std::string_view) override {
      return std::vector<osb::Binding>();
    }
    base::Result<std::int64_t> EnqueueJob(const osb::NewJob&) override { return Status::Internal("unused"); }
    base::Result<int> CancelJobs(std::string_view, osb::JobKind) override { return Status::Internal("unused"); }
    base::Result<std::optional<osb::JobRow>> LockJob(std::int64_t) override { return Status::Internal("unused"); }
    Status CompleteJob(std::int64_t) override { return Status::Internal("unused"); }
    Status RecordEvent(const osb::Event& e) override {
      state.events.push_back(e);
      return Status::Ok();
    }
  };
};

class FixedClock final : public base::Clock {
 public:
  base::TimePoint Now() const override { return base::TimePoint(std::chrono::seconds(1'800'000'000)); }
};

constexpr char kToken[] = "clone-token-0123456789abcdef";
constexpr char kKey[] = "session-url-key-abcdef012345";
constexpr char kSsh[] = "ssh -p2222 ZtUe8FunVPV2CcSbG4s22rK3f@tmate.example.com";
constexpr char kSshToken[] = "ZtUe8FunVPV2CcSbG4s22rK3f";
const std::string kBody = std::string(R"({"ssh_command":")") + kSsh + "\"}";

osb::Binding MakeBinding(osb::OperationState state) {
  osb::Binding b;
  b.id = "b-1";
  b.instance_id = "i-1";
  b.state = state;
  b.session_token_hash = base::Sha256Hex(kToken);
  b.session_key_hash = base::Sha256Hex(kKey);
  b.credentials_json = R"({"clone_app_name":"a-ssh"})";
  return b;
}

TEST_SUITE("clone::SessionDesk") {
  TEST_CASE("Report accepts the token of a live bind in progress or succeeded and writes one event") {
    for (auto state : {osb::OperationState::kInProgress, osb::OperationState::kSucceeded}) {
      CAPTURE(osb::OperationStateName(state));
      MemoryStore store;
      FixedClock clock;
      store.state.bindings["b-1"] = MakeBinding(state);
      SessionDesk desk(store, clock);
      const Status s = desk.Report("req-1", "b-1", kToken, kBody);
      REQUIRE_MESSAGE(s.ok(), s.ToString());
      const osb::Binding& b = store.state.bindings["b-1"];
      CHECK(b.state == state);  // the desk never finishes a bind
      rapidjson::Document creds;
      creds.Parse(b.credentials_json.c_str());
      REQUIRE(creds.IsObject());
      CHECK(std::string(creds["clone_app_name"].GetString()) == "a-ssh");
      CHECK(std::string(creds["username"].GetString()) == kSshToken);
      CHECK(std::string(creds["session_reported_at"].GetString()) == base::FormatIso8601(clock.Now()));
      REQUIRE(store.state.events.size() == 1);
      const osb::Event& e = store.state.events[0];
      CHECK(e.kind == "binding.session_reported");
      CHECK(e.binding_id == "b-1");
      CHECK(e.instance_id == "i-1");
      CHECK(e.request_id == "req-1");
      CHECK(e.detail_json == R"({"read_only":false,"replaced":false})");
      for (const std::string& field : {e.kind, e.actor, e.detail_json}) {
        CHECK(field.find(kSshToken) == std::string::npos);
        CHECK(field.find(kToken) == std::string::npos);
      }
    }
  }

  TEST_CASE("Report refuses every unauthenticated call alike and writes nothing") {
    struct Row {
      const char* name;
      std::function<void(osb::Binding&)> change;
      std::string binding_id = "b-1";
      std::string token = kToken;
    };
    const std::vector<Row> rows = {
        {"wrong token", [](osb::Binding&) {}, "b-1", "other-token"},
        {"empty token", [](osb::Binding&) {}, "b-1", ""},
        {"the hash itself as token", [](osb::Binding&) {}, "b-1", base::Sha256Hex(kToken)},
        {"unknown binding", [](osb::Binding&) {}, "b-2"},
        {"no token hash recorded", [](osb::Binding& b) { b.session_token_hash.clear(); }},
        {"no token hash and an empty token", [](osb::Binding& b) { b.session_token_hash.clear(); }, "b-1", ""},
        {"bind failed", [](osb::Binding& b) { b.state = osb::OperationState::kFailed; }},
        {"unbind in progress", [](osb::Binding& b) { b.operation = osb::BindingOperation::kUnbind; }},
        {"tombstone", [](osb::Binding& b) { b.deleted = true; }},
    };
    std::string first_message;
    for (const Row& row : rows) {
      CAPTURE(row.name);
      MemoryStore store;
      FixedClock clock;
      osb::Binding b = MakeBinding(osb::OperationState::kInProgress);
      row.change(b);
      store.state.bindings["b-1"] = b;
      SessionDesk desk(store, clock);
      const Status s = desk.Report("req", row.binding_id, row.token, kBody);
      CHECK(s.code() == Code::kUnauthenticated);
      if (first_message.empty()) first_message = s.message();
      CHECK(s.message() == first_message);
      CHECK(store.updates == 0);
      CHECK(store.state.events.empty());
      CHECK(store.state.bindings["b-1"].credentials_json == b.credentials_json);
    }
  }

  TEST_CASE("Report authenticates before it reads the body, and a bad body writes nothing") {
    MemoryStore store;
    FixedClock clock;
    store.state.bindings["b-1"] = MakeBinding(osb::OperationState::kInProgress);
    SessionDesk desk(store, clock);
    CHECK(desk.Report("req", "b-1", "wrong", "not json").code() == Code::kUnauthenticated);
    const Status s = desk.Report("req", "b-1", kToken, R"({"ssh_command":"ssh tok@h; id"})");
    CHECK(s.code() == Code::kInvalidArgument);
    CHECK(s.message().find("; id") == std::string::npos);
    CHECK(store.updates == 0);
    CHECK(store.state.events.empty());
  }

  TEST_CASE("a second report replaces the first and says so in its event") {
    MemoryStore store;
    FixedClock clock;
    store.state.bindings["b-1"] = MakeBinding(osb::OperationState::kSucceeded);
    SessionDesk desk(store, clock);
    REQUIRE(desk.Report("r1", "b-1", kToken,
                        R"({"ssh_command":"ssh -p2222 first@h","ssh_command_read_only":"ssh -p2222 ro-first@h"})")
                .ok());
    REQUIRE(desk.Report("r2", "b-1", kToken, R"({"ssh_command":"ssh second@h"})").ok());
    const std::string& creds = store.state.bindings["b-1"].credentials_json;
    CHECK(creds.find("first") == std::string::npos);
    CHECK(creds.find("second") != std::string::npos);
    REQUIRE(store.state.events.size() == 2);
    CHECK(store.state.events[0].detail_json == R"({"read_only":true,"replaced":false})");
    CHECK(store.state.events[1].detail_json == R"({"read_only":false,"replaced":true})");
  }

  TEST_CASE("the bootstrap's tmate lines: a session, then a failure kept for the job, then a session again") {
    MemoryStore store;
    FixedClock clock;
    store.state.bindings["b-1"] = MakeBinding(osb::OperationState::kInProgress);
    SessionDesk desk(store, clock);
    // Only "Connecting to ...": nothing to record, nothing written.
    REQUIRE(desk.Report("r0", "b-1", kToken, R"({"tmate_lines":["Connecting to tmate.example.com..."]})").ok());
    CHECK(store.updates == 0);
    CHECK(store.state.events.empty());

    const std::string failed =
        R"({"tmate_lines":["Error connecting: Connection refused","Reconnecting...",)"
        R"("Error connecting: Connection refused","Reconnecting...","Error connecting: Connection refused"]})";
    REQUIRE(desk.Report("r1", "b-1", kToken, failed).ok());
    const auto failure = session::SessionFailure(store.state.bindings["b-1"].credentials_json);
    REQUIRE(failure.has_value());
    CHECK(failure->kind == session::TmateFailure::Kind::kConnectionError);
    CHECK(failure->detail == "Connection refused");
    REQUIRE(store.state.events.size() == 1);
    CHECK(store.state.events[0].kind == "binding.session_failed");
    CHECK(store.state.events[0].detail_json == R"({"reason":"Connection refused"})");

    const std::string ok = std::string(R"({"tmate_lines":["Connecting to tmate.example.com...",)") +
                           R"("ssh session read only: ssh -p2222 ro-A4HHCB4GQRbLw5UjkaJefdNtE@tmate.example.com",)" +
                           R"("ssh session: )" + kSsh + R"("]})";
    REQUIRE(desk.Report("r2", "b-1", kToken, ok).ok());
    const std::string& creds = store.state.bindings["b-1"].credentials_json;
    CHECK_FALSE(session::SessionFailure(creds).has_value());
    CHECK(creds.find(kSshToken) != std::string::npos);
    CHECK(creds.find("ro-A4HHCB4GQRbLw5UjkaJefdNtE") != std::string::npos);
    REQUIRE(store.state.events.size() == 2);
    CHECK(store.state.events[1].kind == "binding.session_reported");
    CHECK(store.state.events[1].detail_json == R"({"read_only":true,"replaced":false})");
  }

  TEST_CASE("Read answers the key holder of a succeeded bind, 404 before a report, 401 otherwise") {
    MemoryStore store;
    FixedClock clock;
    store.state.bindings["b-1"] = MakeBinding(osb::OperationState::kSucceeded);
    SessionDesk desk(store, clock);
    CHECK(desk.Read("r", "b-1", kKey).status().code() == Code::kNotFound);
    REQUIRE(desk.Report("r", "b-1", kToken, kBody).ok());
    const auto view = desk.Read("r", "b-1", kKey);
    REQUIRE_MESSAGE(view.ok(), view.status().ToString());
    CHECK(view->find(kSshToken) != std::string::npos);

    struct Row {
      const char* name;
      std::function<void(osb::Binding&)> change;
      std::string binding_id = "b-1";
      std::string key = kKey;
    };
    const std::vector<Row> rows = {
        {"wrong key", [](osb::Binding&) {}, "b-1", "nope"},
        {"empty key", [](osb::Binding&) {}, "b-1", ""},
        {"the token as key", [](osb::Binding&) {}, "b-1", kToken},
        {"unknown binding", [](osb::Binding&) {}, "b-2"},
        {"no key hash recorded", [](osb::Binding& b) { b.session_key_hash.clear(); }},
        {"bind in progress", [](osb::Binding& b) { b.state = osb::OperationState::kInProgress; }},
        {"bind failed", [](osb::Binding& b) { b.state = osb::OperationState::kFailed; }},
        {"unbind", [](osb::Binding& b) { b.operation = osb::BindingOperation::kUnbind; }},
        {"tombstone", [](osb::Binding& b) { b.deleted = true; }},
    };
    const osb::Binding reported = store.state.bindings["b-1"];
    for (const Row& row : rows) {
      CAPTURE(row.name);
      osb::Binding b = reported;
      row.change(b);
      store.state.bindings["b-1"] = b;
      const auto r = desk.Read("r", row.binding_id, row.key);
      CHECK(r.status().code() == Code::kUnauthenticated);
    }
  }
}

}  // namespace
}  // namespace broker::clone
