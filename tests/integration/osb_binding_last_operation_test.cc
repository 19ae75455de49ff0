// GET /v2/service_instances/:iid/service_bindings/:bid/last_operation — every query parameter
// is a hint, `operation` included.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/support/osb_fixtures.h"

namespace broker::testing {
namespace {

// Polls with every combination of hints and checks each answer is 200 with `state`.
void CheckStateWithAnyHints(OsbTest& t, std::string_view iid, std::string_view bid,
                            const std::string& op, const char* state) {
  const std::vector<std::string> queries = {
      "",
      "operation=" + op,
      "operation=" + PercentEncodeAll(op),
      ServicePlanQuery(),
      ServicePlanQuery() + "&operation=" + op,
      "plan_id=" + std::string(kStandardPlanId),
  };
  for (const auto& query : queries) {
    BROKER_CAPTURE(query);
    Response r = t.Get(BindingLastOperationPath(iid, bid, query));
    CHECK(r.status == 200);
    auto doc = ParseJson(r.body);
    CHECK(StringMember(doc, "state") == std::string(state));
    if (HasMember(doc, "description")) {
      auto description = StringMember(doc, "description");
      CHECK_MESSAGE((description && !description->empty()),
                    "a description, when present, is a non-empty string: ", r.body);
    }
  }
}

TEST_SUITE("osb binding last_operation") {
  TEST_CASE("a bind in progress reports \"in progress\" however it is polled") {
    OsbTest t;
    t.MustProvision("i-1");
    const std::string op = t.MustBind("i-1", "b-1");
    CheckStateWithAnyHints(t, "i-1", "b-1", op, "in progress");
  }

  TEST_CASE("a finished bind reports \"succeeded\" and a failed one \"failed\" with a description") {
    OsbTest t;
    t.MustProvision("i-1");
    const std::string ok_op = t.MustBind("i-1", "b-ok");
    const std::string bad_op = t.MustBind("i-1", "b-bad", BindBody(kStandardPlanId, kOtherAppGuid));
    // Recorded as the worker would.
    t.db.Query("UPDATE service_bindings SET state = 'succeeded' WHERE id = 'b-ok'");
    t.db.Query("UPDATE jobs SET status = 'completed', finalized_at = now() WHERE binding_id = 'b-ok'");
    t.db.Query("UPDATE service_bindings SET state = 'failed', description = 'the app "
               "spring-music has no droplet' WHERE id = 'b-bad'");
    t.db.Query("UPDATE jobs SET status = 'failed', finalized_at = now() WHERE binding_id = 'b-bad'");
    CheckStateWithAnyHints(t, "i-1", "b-ok", ok_op, "succeeded");
    CheckStateWithAnyHints(t, "i-1", "b-bad", bad_op, "failed");
    Response r = t.Get(BindingLastOperationPath("i-1", "b-bad"));
    CHECK(StringMember(ParseJson(r.body), "description") ==
          std::string("the app spring-music has no droplet"));
  }

  TEST_CASE("an unknown binding answers 410, or 404 when the poll names a bind operation") {
    OsbTest t;
    t.MustProvision("i-1");
    t.MustProvision("i-2");
    t.MustBind("i-1", "b-1");
    const std::string before = t.db.Snapshot();
    struct Case {
      const char* iid;
      const char* bid;
      const char* query;
      long status;
    };
    for (Case c : {Case{"i-1", "b-unknown", "", 410},
                   Case{"i-1", "b-unknown", "service_id=647a5929-f551-403c-b5c3-d587684999fd", 410},
                   Case{"i-unknown", "b-unknown", "", 410},
                   Case{"i-1", "b-unknown", "operation=bind-1", 404},
                   Case{"i-1", "b-unknown", "operation=bind%2D999", 404},
                   Case{"i-unknown", "b-unknown", "operation=bind-1", 404},
                   Case{"i-1", "b-unknown", "operation=unbind-7", 410},
                   Case{"i-2", "b-1", "", 410} /* a binding of another instance */}) {
      BROKER_CAPTURE(c.iid);
      BROKER_CAPTURE(c.bid);
      BROKER_CAPTURE(c.query);
      Response r = t.Get(BindingLastOperationPath(c.iid, c.bid, c.query));
      CHECK(r.status == c.status);
      if (c.status == 404) CheckErrorBody(r);
    }
    CHECK(t.db.Snapshot() == before);
  }
}

}  // namespace
}  // namespace broker::testing
