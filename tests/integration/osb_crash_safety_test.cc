// Crash safety: whatever the broker acknowledged survives a SIGKILL, and the restarted broker
// answers repeats exactly as before.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <csignal>
#include <string>

#include "tests/support/osb_fixtures.h"

namespace broker::testing {
namespace {

TEST_SUITE("osb crash safety") {
  TEST_CASE("an instance acknowledged with 201 survives a SIGKILL of the broker") {
    OsbTest t;
    const std::string body = ProvisionBody(kSecurePlanId);
    REQUIRE(t.Provision("i-1", body).status == 201);
    Response before = t.Get(InstancePath("i-1"));
    REQUIRE(before.status == 200);

    t.broker->Kill(SIGKILL);
    t.broker->Restart();

    Response after = t.Get(InstancePath("i-1"));
    CHECK(after.status == 200);
    CHECK(ParseJson(after.body) == ParseJson(before.body));
    Response again = t.Provision("i-1", body);
    CHECK(again.status == 200);
    CheckEmptyObjectBody(again);
    CHECK(t.Provision("i-1", ProvisionBody(kStandardPlanId)).status == 409);
    Response poll = t.Get(InstanceLastOperationPath("i-1"));
    CHECK(poll.status == 200);
    CHECK(StringMember(ParseJson(poll.body), "state") == std::string("succeeded"));
  }

  TEST_CASE("a binding acknowledged with 202 survives a SIGKILL with its clone job") {
    OsbTest t;
    t.MustProvision("i-1");
    const std::string body = BindBody(kStandardPlanId, kAppGuid, R"({"ttl_minutes":45})");
    const std::string op = t.MustBind("i-1", "b-1", body);
    const std::string job_before =
        t.Scalar("SELECT id || '/' || kind || '/' || status FROM jobs WHERE binding_id = 'b-1'");

    t.broker->Kill(SIGKILL);
    t.broker->Restart();

    CHECK(t.CountJobs("b-1", "clone") == 1);
    CHECK(t.Scalar("SELECT id || '/' || kind || '/' || status FROM jobs WHERE binding_id = "
                   "'b-1'") == job_before);
    Response again = t.Bind("i-1", "b-1", body);
    CHECK(again.status == 202);
    CHECK(OperationOf(again) == op);
    CHECK(t.CountJobs("b-1", "clone") == 1);
    CHECK(t.Bind("i-1", "b-1", BindBody(kStandardPlanId, kOtherAppGuid, R"({"ttl_minutes":45})"))
              .status == 409);
    Response poll = t.Get(BindingLastOperationPath("i-1", "b-1", "operation=" + op));
    CHECK(poll.status == 200);
    CHECK(StringMember(ParseJson(poll.body), "state") == std::string("in progress"));
    CHECK(t.Get(BindingPath("i-1", "b-1")).status == 404);
    CHECK(t.Get(InstancePath("i-1")).status == 200);
  }

  TEST_CASE("an unbind acknowledged with 202 survives a SIGKILL with its teardown job") {
    OsbTest t;
    t.MustProvision("i-1");
    t.MustBind("i-1", "b-1");
    Response unbind = t.Unbind("i-1", "b-1");
    REQUIRE(unbind.status == 202);
    const std::string op = OperationOf(unbind);

    t.broker->Kill(SIGKILL);
    t.broker->Restart();

    Response again = t.Unbind("i-1", "b-1");
    CHECK(again.status == 202);
    CHECK(OperationOf(again) == op);
    CHECK(t.CountJobs("b-1", "teardown") == 1);
    CHECK(t.CountJobs("b-1", "clone", "cancelled") == 1);
    Response poll = t.Get(BindingLastOperationPath("i-1", "b-1"));
    CHECK(poll.status == 200);
    CHECK(StringMember(ParseJson(poll.body), "state") == std::string("in progress"));
  }

  TEST_CASE("the broker exits promptly on SIGTERM and starts again on the same database") {
    OsbTest t;
    t.MustProvision("i-1");
    int status = t.broker->Stop(std::chrono::seconds(10));
    MESSAGE("wait status after SIGTERM: exited=", WIFEXITED(status), " code=",
            WIFEXITED(status) ? WEXITSTATUS(status) : -1, " signaled=", WIFSIGNALED(status),
            " signal=", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    CHECK_MESSAGE(!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL),
                  "the broker ignored SIGTERM for 10 s and had to be killed");
    t.broker->Restart();
    CHECK(t.Get(InstancePath("i-1")).status == 200);
  }
}

}  // namespace
}  // namespace broker::testing
