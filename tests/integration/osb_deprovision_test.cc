// DELETE /v2/service_instances/:instance_id?service_id&plan_id — synchronous without live
// bindings; asynchronous (every binding torn down) when bindings remain.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/support/osb_fixtures.h"

namespace broker::testing {
namespace {

std::string Str(std::string_view s) { return std::string(s); }

TEST_SUITE("osb deprovision") {
  TEST_CASE("deprovision without service_id or plan_id answers 400 and changes nothing") {
    OsbTest t;
    t.MustProvision("i-1");
    const std::string before = t.db.Snapshot();
    const std::string svc = "service_id=" + Str(kServiceId);
    const std::string plan = "plan_id=" + Str(kStandardPlanId);
    for (const std::string& query : std::vector<std::string>{std::string(), svc, plan, "service_id=&" + plan, svc + "&plan_id=",
                              "service_id=&plan_id=", "accepts_incomplete=true",
                              "accepts_incomplete=true&" + svc, "accepts_incomplete=true&" + plan,
                              "service_id&plan_id", "SERVICE_ID=" + Str(kServiceId) + "&" + plan}) {
      BROKER_CAPTURE(query);
      Response r = t.Delete(InstancePath("i-1", query));
      CHECK(r.status == 400);
      CheckErrorBody(r);
      CHECK(t.db.Snapshot() == before);
    }
    CHECK(t.Get(InstancePath("i-1")).status == 200);
  }

  TEST_CASE("deprovision of an unknown instance answers 410 {}") {
    OsbTest t;
    t.MustProvision("i-1");
    const std::string before = t.db.Snapshot();
    for (const std::string& query : std::vector<std::string>{ServicePlanQuery(), "accepts_incomplete=true&" + ServicePlanQuery(),
                              "accepts_incomplete=false&" + ServicePlanQuery()}) {
      BROKER_CAPTURE(query);
      Response r = t.Delete(InstancePath("i-unknown", query));
      CHECK(r.status == 410);
      CheckEmptyObjectBody(r);
      CHECK(t.db.Snapshot() == before);
    }
  }

  TEST_CASE("deprovision without live bindings answers 200 {} and the instance is gone") {
    OsbTest t;
    struct Case {
      const char* id;
      const char* accepts_incomplete;
      std::string_view plan_id;
    };
    for (Case c : {Case{"i-missing", "", kStandardPlanId},
                   Case{"i-true", "accepts_incomplete=true&", kStandardPlanId},
                   Case{"i-false", "accepts_incomplete=false&", kStandardPlanId},
                   Case{"i-secure", "", kSecurePlanId}}) {
      BROKER_CAPTURE(c.id);
      t.MustProvision(c.id, c.plan_id);
      std::string query = c.accepts_incomplete + ServicePlanQuery(c.plan_id);
      Response r = t.Delete(InstancePath(c.id, query));
      CHECK(r.status == 200);
      CheckEmptyObjectBody(r);
      CHECK(t.Get(InstancePath(c.id)).status == 404);
      Response again = t.Delete(InstancePath(c.id, query));
      CHECK(again.status == 410);
      CheckEmptyObjectBody(again);
    }
  }

  TEST_CASE("a bind to a deprovisioned instance answers 404") {
    OsbTest t;
    t.MustProvision("i-1");
    REQUIRE(t.Delete(InstancePath("i-1", ServicePlanQuery())).status == 200);
    Response r = t.Bind("i-1", "b-1", BindBody());
    CHECK(r.status == 404);
    CheckErrorBody(r);
    CHECK(t.Scalar("SELECT count(*) FROM service_bindings") == "0");
  }

  TEST_CASE("bindings whose unbind finished do not keep a deprovision from being synchronous") {
    OsbTest t;
    t.MustProvision("i-1");
    t.MustBind("i-1", "b-1");
    REQUIRE(t.Unbind("i-1", "b-1").status == 202);
    t.FinishTeardown("b-1");
    Response r = t.Delete(InstancePath("i-1", ServicePlanQuery()));
    CHECK(r.status == 200);
    CheckEmptyObjectBody(r);
    CHECK(t.Get(InstancePath("i-1")).status == 404);
  }

  TEST_CASE("deprovision with live bindings and without accepts_incomplete=true answers 422 "
            "AsyncRequired and changes nothing") {
    OsbTest t;
    t.MustProvision("i-1");
    t.MustBind("i-1", "b-1");
    const std::string before = t.db.Snapshot();
    for (const char* prefix : {"", "accepts_incomplete=false&"}) {
      BROKER_CAPTURE(prefix);
      Response r = t.Delete(InstancePath("i-1", prefix + ServicePlanQuery()));
      CHECK(r.status == 422);
      CHECK(ErrorCode(r) == "AsyncRequired");
      CheckErrorBody(r);
      CHECK(t.db.Snapshot() == before);
    }
    CHECK(t.Get(InstancePath("i-1")).status == 200);
  }

  TEST_CASE("deprovision with live bindings and accepts_incomplete=true answers 202 and tears "
            "every binding down") {
    OsbTest t;
    t.MustProvision("i-1");
    t.MustProvision("i-other");
    t.MustBind("i-1", "b-cloning");  // clone job still pending
    t.MustBind("i-1", "b-done", BindBody(kStandardPlanId, kOtherAppGuid));
    t.MustBind("i-other", "b-elsewhere");
    // b-done's bind finished (as the worker would record it).
    t.db.Query("UPDATE service_bindings SET state = 'succeeded' WHERE id = 'b-done'");
    t.db.Query("UPDATE jobs SET status = 'completed', finalized_at = now() WHERE binding_id = "
               "'b-done'");

    Response r = t.Delete(InstancePath("i-1", "accepts_incomplete=true&" + ServicePlanQuery()));
    REQUIRE(r.status == 202);
    auto doc = ParseJson(r.body);
    REQUIRE(doc.IsObject());
    CHECK(doc.MemberCount() == 1);  // {operation} only
    const std::string op = OperationOf(r);
    CHECK_MESSAGE(IsOperationToken(op, "deprovision"), "operation: ", op);

    for (const char* bid : {"b-cloning", "b-done"}) {
      BROKER_CAPTURE(bid);
      auto rows = t.db.Query(
          "SELECT operation, state, deleted_at IS NULL FROM service_bindings WHERE id = " +
          SqlQuote(bid));
      REQUIRE(rows.size() == 1);
      CHECK(rows[0][0] == "unbind");
      CHECK(rows[0][1] == "in progress");
      CHECK(t.CountJobs(bid, "teardown") == 1);
      CHECK(t.CountJobs(bid, "teardown", "cancelled") == 0);
      Response poll = t.Get(BindingLastOperationPath("i-1", bid));
      CHECK(poll.status == 200);
      CHECK(StringMember(ParseJson(poll.body), "state") == std::string("in progress"));
    }
    // The clone that was still pending must not run beside its teardown.
    CHECK(t.CountJobs("b-cloning", "clone", "cancelled") == 1);
    CHECK(t.CountJobs("b-done", "clone", "completed") == 1);
    // Another instance's binding is untouched.
    CHECK(t.Scalar("SELECT operation || '/' || state FROM service_bindings WHERE id = "
                   "'b-elsewhere'") == "bind/in progress");
    CHECK(t.CountJobs("b-elsewhere", "teardown") == 0);

    {  // the instance's last_operation reports the deprovision in progress
      for (const std::string& query : std::vector<std::string>{std::string(), "operation=" + op, ServicePlanQuery()}) {
        BROKER_CAPTURE(query);
        Response poll = t.Get(InstanceLastOperationPath("i-1", query));
        CHECK(poll.status == 200);
        CHECK(StringMember(ParseJson(poll.body), "state") == std::string("in progress"));
      }
    }
    {  // a repeated deprovision answers 202 with the same operation
      Response again =
          t.Delete(InstancePath("i-1", "accepts_incomplete=true&" + ServicePlanQuery()));
      CHECK(again.status == 202);
      CHECK(OperationOf(again) == op);
      CHECK(t.CountJobs("b-cloning", "teardown") == 1);
      CHECK(t.CountJobs("b-done", "teardown") == 1);
    }
    {  // a new bind to the instance being deprovisioned is refused and starts no clone
      Response bind = t.Bind("i-1", "b-late", BindBody());
      INFO("bind during deprovision: ", bind.Describe());
      CHECK(bind.status >= 400);
      CHECK(bind.status < 500);
      CHECK(t.Scalar("SELECT count(*) FROM jobs WHERE binding_id = 'b-late'") == "0");
    }
  }
}

}  // namespace
}  // namespace broker::testing
