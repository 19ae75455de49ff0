// A Cloud Controller that keeps failing (issue 17, item 6): the bind fails within the step retry
// budget (CLONE_STEP_RETRY_BUDGET_SECONDS), long before the plan's 30-minute deadline, and its
// description names the step, the class of failure (HTTP status, timeout, reset) and how long it
// lasted; never "did not become ready in time". The partial clone is removed.
#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "tests/support/clone_fixture.h"
#include "tests/support/osb_fixtures.h"

namespace broker::testing {
namespace {

using Fake = FakeCloudController;
using std::chrono::seconds;

// Binds the demo app as `bid`, which must fail within `within`; returns its description.
std::string BindFails(CloneHarness& t, const std::string& bid, std::chrono::steady_clock::duration within) {
  const auto started = std::chrono::steady_clock::now();
  const auto op = t.BindAndWait(bid, t.demo.app_guid);
  const auto took = std::chrono::steady_clock::now() - started;
  REQUIRE_MESSAGE(CloneHarness::State(op) == "failed", CloneHarness::Description(op), "\n", t.broker->LogTail(30));
  CHECK(took < within);
  const std::string d = CloneHarness::Description(op);
  CHECK(d.find("in time") == std::string::npos);
  CHECK(d.find("attempts)") != std::string::npos);
  return d;
}

TEST_SUITE("clone: Cloud Controller outages") {
  TEST_CASE(
      "503 on every droplet copy: the bind fails naming the step and "
      "HTTP 503, and the partial clone is deleted") {
    CloneHarness t(
        [](Fake& f) {
          f.AddFault({Fake::Fault::Kind::kServiceUnavailable, "POST", "/v3/droplets", 1, 0});
        },
        {{"CLONE_STEP_RETRY_BUDGET_SECONDS", "6"}});
    t.Provision();
    const std::string bid = CloneBindingId(951);
    const std::string d = BindFails(t, bid, seconds(40));
    CAPTURE(d);
    CHECK(d.rfind("Cloud Foundry kept failing while copying the app's droplet: "
                  "HTTP 503 for ",
                  0) == 0);
    CHECK(d.find("CF-ServiceUnavailable") == std::string::npos);  // the title is the log's
    CHECK_MESSAGE(t.AwaitNoClone(bid), t.broker->LogTail(30));
  }

  TEST_CASE(
      "connection resets while reading the app: the description says "
      "connection reset") {
    CloneHarness t(
        [](Fake& f) {
          f.AddFault({Fake::Fault::Kind::kConnectionReset, "GET", "/v3/apps/:guid", 1, 0});
        },
        {{"CLONE_STEP_RETRY_BUDGET_SECONDS", "5"}});
    t.Provision();
    const std::string d = BindFails(t, CloneBindingId(952), seconds(40));
    CAPTURE(d);
    CHECK(d.rfind("Cloud Foundry kept failing while reading the app to clone: "
                  "connection reset for ",
                  0) == 0);
    CHECK(t.AllClones().empty());
  }

  TEST_CASE(
      "a Cloud Controller that never answers: the description says "
      "timeout (CF_REQUEST_TIMEOUT_SECONDS)") {
    CloneHarness t(
        [](Fake& f) {
          Fake::Fault hang{Fake::Fault::Kind::kSlowResponse, "GET", "/v3/apps/:guid/environment_variables", 1, 0};
          hang.delay = std::chrono::milliseconds(4000);
          f.AddFault(hang);
        },
        {{"CLONE_STEP_RETRY_BUDGET_SECONDS", "4"}, {"CF_REQUEST_TIMEOUT_SECONDS", "1"}});
    t.Provision();
    const std::string bid = CloneBindingId(953);
    const std::string d = BindFails(t, bid, seconds(40));
    CAPTURE(d);
    CHECK(d.rfind("Cloud Foundry kept failing while creating the clone app: "
                  "timeout for ",
                  0) == 0);
    CHECK(t.AwaitNoClone(bid));
  }

  TEST_CASE(
      "a short outage inside the budget is absorbed: the bind succeeds "
      "with one clone") {
    CloneHarness t(
        [](Fake& f) {
          f.AddFault({Fake::Fault::Kind::kInternalError, "POST", "/v3/droplets", 1, 2});
        },
        {{"CLONE_STEP_RETRY_BUDGET_SECONDS", "60"}});
    t.Provision();
    const std::string bid = CloneBindingId(954);
    const auto op = t.BindAndWait(bid, t.demo.app_guid);
    CHECK_MESSAGE(CloneHarness::State(op) == "succeeded", CloneHarness::Description(op));
    CHECK(t.ClonesOf(bid).size() == 1);
    const auto rows =
        t.db.Query("SELECT outputs::text FROM jobs WHERE binding_id = " + SqlQuote(bid) + " AND kind = 'clone'");
    REQUIRE(rows.size() == 1);
    CHECK(rows[0][0].find("\"failure_run\"") == std::string::npos);  // the run ended with the step
  }
}

}  // namespace
}  // namespace broker::testing
