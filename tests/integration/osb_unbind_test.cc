// DELETE /v2/service_instances/:iid/service_bindings/:bid?service_id&plan_id — asynchronous
// unbind: a teardown job deletes the clone; an unbind during the clone cancels it.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/support/osb_fixtures.h"

namespace broker::testing {
namespace {

std::string Str(std::string_view s) { return std::string(s); }
const std::string kQuery = ServicePlanQuery();
const std::string kAsyncQuery = "accepts_incomplete=true&" + ServicePlanQuery();

TEST_SUITE("osb unbind") {
  TEST_CASE("unbind without service_id or plan_id answers 400 and changes nothing") {
    OsbTest t;
    t.MustProvision("i-1");
    t.MustBind("i-1", "b-1");
    const std::string before = t.db.Snapshot();
    const std::string svc = "service_id=" + Str(kServiceId);
    const std::string plan = "plan_id=" + Str(kStandardPlanId);
    for (const std::string& query : std::vector<std::string>{std::string("accepts_incomplete=true"),
                              "accepts_incomplete=true&" + svc, "accepts_incomplete=true&" + plan,
                              "accepts_incomplete=true&service_id=&" + plan,
                              "accepts_incomplete=true&" + svc + "&plan_id=",
                              "accepts_incomplete=true&service_id=&plan_id="}) {
      BROKER_CAPTURE(query);
      Response r = t.Unbind("i-1", "b-1", query);
      CHECK(r.status == 400);
      CheckErrorBody(r);
      CHECK(t.db.Snapshot() == before);
    }
  }

  TEST_CASE("unbind of an unknown binding answers 410 {} even without accepts_incomplete") {
    OsbTest t;
    t.MustProvision("i-1");
    t.MustProvision("i-2");
    t.MustBind("i-1", "b-1");
    const std::string before = t.db.Snapshot();
    struct Case {
      const char* iid;
      const char* bid;
      std::string query;
    };
    const std::vector<Case> cases = {
        {"i-1", "b-unknown", kQuery},
        {"i-1", "b-unknown", kAsyncQuery},
        {"i-1", "b-unknown", "accepts_incomplete=false&" + kQuery},
        {"i-unknown", "b-unknown", kQuery},
        {"i-unknown", "b-unknown", kAsyncQuery},
        {"i-2", "b-1", kQuery},  // a binding of another instance
    };
    for (const auto& c : cases) {
      BROKER_CAPTURE(c.iid);
      BROKER_CAPTURE(c.bid);
      BROKER_CAPTURE(c.query);
      Response r = t.Unbind(c.iid, c.bid, c.query);
      CHECK(r.status == 410);
      CheckEmptyObjectBody(r);
      CHECK(t.db.Snapshot() == before);
    }
  }

  TEST_CASE("unbind of a known binding without accepts_incomplete=true answers 422 AsyncRequired "
            "and changes nothing") {
    OsbTest t;
    t.MustProvision("i-1");
    t.MustBind("i-1", "b-1");
    const std::string before = t.db.Snapshot();
    for (const std::string& query : std::vector<std::string>{kQuery, "accepts_incomplete=false&" + kQuery,
                              "accepts_incomplete=&" + kQuery}) {
      BROKER_CAPTURE(query);
      Response r = t.Unbind("i-1", "b-1", query);
      CHECK(r.status == 422);
      CHECK(ErrorCode(r) == "AsyncRequired");
      CheckErrorBody(r);
      CHECK(t.db.Snapshot() == before);
    }
  }

  TEST_CASE("unbind while the clone is pending answers 202, cancels the clone, queues a teardown "
            "and ends in succeeded") {
    OsbTest t;
    t.MustProvision("i-1");
    const std::string bind_op = t.MustBind("i-1", "b-1");
    Response r = t.Unbind("i-1", "b-1");
    REQUIRE(r.status == 202);
    auto doc = ParseJson(r.body);
    REQUIRE(doc.IsObject());
    CHECK(doc.MemberCount() == 1);
    const std::string op = OperationOf(r);
    CHECK_MESSAGE(IsOperationToken(op, "unbind"), "operation: ", op);
    CHECK(op != bind_op);

    CHECK(t.CountJobs("b-1", "clone") == 1);
    CHECK(t.CountJobs("b-1", "clone", "cancelled") == 1);
    CHECK(t.CountJobs("b-1", "teardown") == 1);
    CHECK(t.Scalar("SELECT status FROM jobs WHERE binding_id = 'b-1' AND kind = 'teardown'") ==
          "available");
    CHECK(t.Scalar("SELECT operation || '/' || state FROM service_bindings WHERE id = 'b-1'") ==
          "unbind/in progress");

    // Polls report the unbind in progress, however they are hinted.
    for (const std::string& query : std::vector<std::string>{std::string(), "operation=" + op, kQuery}) {
      BROKER_CAPTURE(query);
      Response poll = t.Get(BindingLastOperationPath("i-1", "b-1", query));
      CHECK(poll.status == 200);
      CHECK(StringMember(ParseJson(poll.body), "state") == std::string("in progress"));
    }
    // A repeated unbind answers 202 with the same operation and queues nothing more.
    for (int i = 0; i < 3; ++i) {
      Response again = t.Unbind("i-1", "b-1");
      CHECK(again.status == 202);
      CHECK(OperationOf(again) == op);
    }
    CHECK(t.CountJobs("b-1", "teardown") == 1);
    // A bind re-sent during the unbind does not restart the clone.
    {
      Response rebind = t.Bind("i-1", "b-1", BindBody());
      INFO("re-PUT during unbind: ", rebind.Describe());
      CHECK(rebind.status != 200);
      CHECK(rebind.status != 201);
      CHECK(t.CountJobs("b-1", "clone", "cancelled") == 1);
      CHECK(t.Scalar("SELECT count(*) FROM jobs WHERE binding_id = 'b-1' AND kind = 'clone' AND "
                     "status IN ('available', 'running', 'retryable')") == "0");
    }
    // Once the teardown finished, polls report succeeded and a re-delete answers 410.
    t.FinishTeardown("b-1");
    for (const std::string& query : std::vector<std::string>{std::string(), "operation=" + op, kQuery}) {
      BROKER_CAPTURE(query);
      Response poll = t.Get(BindingLastOperationPath("i-1", "b-1", query));
      CHECK(poll.status == 200);
      CHECK(StringMember(ParseJson(poll.body), "state") == std::string("succeeded"));
    }
    for (const std::string& query : std::vector<std::string>{kAsyncQuery, kQuery}) {
      BROKER_CAPTURE(query);
      Response again = t.Unbind("i-1", "b-1", query);
      CHECK(again.status == 410);
      CheckEmptyObjectBody(again);
    }
    CHECK(t.Get(BindingPath("i-1", "b-1")).status == 404);
  }

  TEST_CASE("unbind of a finished binding answers 202 and queues a teardown, leaving the "
            "completed clone job alone") {
    OsbTest t;
    t.MustProvision("i-1");
    t.MustBind("i-1", "b-1");
    t.db.Query("UPDATE service_bindings SET state = 'succeeded' WHERE id = 'b-1'");
    t.db.Query("UPDATE jobs SET status = 'completed', finalized_at = now() WHERE binding_id = 'b-1'");
    Response r = t.Unbind("i-1", "b-1");
    REQUIRE(r.status == 202);
    CHECK(IsOperationToken(OperationOf(r), "unbind"));
    CHECK(t.CountJobs("b-1", "clone", "completed") == 1);
    CHECK(t.CountJobs("b-1", "teardown") == 1);
    CHECK(t.Scalar("SELECT operation || '/' || state FROM service_bindings WHERE id = 'b-1'") ==
          "unbind/in progress");
  }

  TEST_CASE("unbind of a failed bind (orphan mitigation) answers 202 and queues a teardown") {
    OsbTest t;
    t.MustProvision("i-1");
    t.MustBind("i-1", "b-1");
    t.db.Query("UPDATE service_bindings SET state = 'failed', description = 'clone failed' "
               "WHERE id = 'b-1'");
    t.db.Query("UPDATE jobs SET status = 'failed', finalized_at = now() WHERE binding_id = 'b-1'");
    Response r = t.Unbind("i-1", "b-1");
    REQUIRE(r.status == 202);
    CHECK(IsOperationToken(OperationOf(r), "unbind"));
    CHECK(t.CountJobs("b-1", "teardown") == 1);
  }
}

}  // namespace
}  // namespace broker::testing
