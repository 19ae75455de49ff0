#include "broker/store/pg_pool.h"

#include <doctest/doctest.h>

namespace broker::store {
namespace {

TEST_SUITE("store::PgPool") {
  TEST_CASE("SQLSTATEs map to retry-aware status codes with user-safe messages") {
    struct Case {
      const char* sqlstate;
      base::Code code;
    };
    const Case cases[] = {
        {"23505", base::Code::kAborted},      // unique_violation: lost an insert race
        {"40001", base::Code::kAborted},      // serialization_failure
        {"40P01", base::Code::kAborted},      // deadlock_detected
        {"08006", base::Code::kUnavailable},  // connection_failure
        {"08001", base::Code::kUnavailable},  // unable to connect
        {"57P01", base::Code::kUnavailable},  // admin_shutdown
        {"23503", base::Code::kInternal},     // foreign_key_violation
        {"42P01", base::Code::kInternal},     // undefined_table
        {"22P02", base::Code::kInternal},     // invalid_text_representation
    };
    for (const Case& c : cases) {
      CAPTURE(c.sqlstate);
      const base::Status s = StatusForSqlState(c.sqlstate);
      CHECK(s.code() == c.code);
      CHECK(s.message().find("database") == 0);
    }
  }
}

}  // namespace
}  // namespace broker::store
