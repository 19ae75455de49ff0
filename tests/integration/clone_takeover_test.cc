// A takeover inside create_clone (found by the crash soak, scripts/soak): a broker killed after
// resolve_source was written and before create_clone saved the session token's hash. The re-run of
// create_clone starts from outputs parsed from the database and adds a member to them
// (session_token_saved); references into the outputs taken before that add are dead, and through
// them copy_droplet once sent an empty app guid ("copying the app's droplet was refused").
#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <string>
#include <thread>

#include "tests/support/clone_fixture.h"
#include "tests/support/osb_fixtures.h"

namespace broker::testing {
namespace {

TEST_CASE("a SIGKILL while create_clone reads the source's environment: the re-run completes the bind with one clone") {
  using Fake = FakeCloudController;
  CloneHarness t;
  t.Provision();
  const std::string bid = CloneBindingId(901);
  Fake::Fault hang{Fake::Fault::Kind::kSlowResponse, "GET", "/v3/apps/:guid/environment_variables", 1, 1};
  hang.delay = std::chrono::milliseconds(1500);
  t.fake.AddFault(hang);
  const Response r = t.Bind(bid, t.demo.app_guid);
  REQUIRE(r.status == 202);
  REQUIRE(CloneHarness::Eventually([&] {
    const auto rows = t.db.Query("SELECT step FROM jobs WHERE binding_id = " + SqlQuote(bid) +
                                 " AND kind = 'clone' AND status = 'running'");
    return !rows.empty() && rows[0][0] == "create_clone";
  }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the held call is in flight
  t.broker->Kill(SIGKILL);
  t.broker->Restart();
  const auto op = t.AwaitOperation(bid, OperationOf(r));
  CHECK_MESSAGE(CloneHarness::State(op) == "succeeded", CloneHarness::Description(op), "\n", t.broker->LogTail(30));
  CHECK(t.ClonesOf(bid).size() == 1);
}

}  // namespace
}  // namespace broker::testing
