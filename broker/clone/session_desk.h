// SessionDesk: where a clone reports its tmate session and where a holder of a binding's
// credentials asks for the current one (DESIGN.md §3, §6).
//
// The clone job gives each clone a random bearer token whose hex SHA-256 it stores in
// Binding::session_token_hash; the clone POSTs every new `ssh session` pair with it, and the desk
// merges the pair into the binding's credentials (encrypted at rest by the store). When the bind
// succeeds, the job puts a session_url carrying a second key (hash in Binding::session_key_hash)
// in the credentials, so whoever holds them can GET the command that works now (tmate tokens
// change on every reconnect).
//
// A report that finds its bind's clone job waiting in await_session (no worker holds it) ends the
// bind there and then, in the same transaction, as the job's next look would have: the developer
// gets the credentials at once instead of after a poll interval, and no worker claims the job again.
//
// Secrets handled here (the token, the key, ssh commands) never reach a log line, an event or a
// Status message. Authentication failures all look alike, so a caller cannot learn which
// bindings exist.
//
// Thread-safe: it holds no mutable state; the Store and Clock it borrows are thread-safe and
// must outlive it.
#ifndef BROKER_CLONE_SESSION_DESK_H_
#define BROKER_CLONE_SESSION_DESK_H_

#include <string>
#include <string_view>

#include "broker/base/clock.h"
#include "broker/base/result.h"
#include "broker/base/status.h"
#include "broker/osb/store.h"

namespace broker::clone {

struct EngineSettings;  // broker/clone/steps.h

class SessionDesk {
 public:
  // `engine`: the settings a completed bind's credentials are made with (public URL, lifetimes);
  // nullptr: reports never end a bind here (the clone job's worker does).
  SessionDesk(osb::Store& store, const base::Clock& clock, const EngineSettings* engine = nullptr)
      : store_(store), clock_(clock), engine_(engine) {}

  // POST /ssh-access/v1/bindings/:binding_id/session (Authorization: Bearer <token>).
  // Records the clone's report `body` (see session::DecodeContainerReport) in the binding's
  // credentials: a session replaces any earlier session or failure ("binding.session_reported"
  // event); a failure (tmate could not resolve, reach or trust its server, had no session within
  // SESSION_START_TIMEOUT or exited, the bootstrap failed) is kept
  // as session_failure for the clone job to fail the bind with ("binding.session_failed"); lines
  // that say nothing yet change nothing. A session for a bind whose clone job waits in
  // await_session also completes the job and the bind ("binding.bound"). One transaction, under
  // the binding's row lock (and the job's).
  // `request_id` goes into the event and log.
  //   kUnauthenticated: no such binding, a tombstone, not a bind in progress or succeeded, no token
  //     hash recorded yet, or `bearer_token` does not hash to it (one answer for all of these);
  //   kInvalidArgument: the body is malformed (the message says how; never echoes the body);
  //   kUnavailable / kInternal: from the store (kInternal also for unreadable stored credentials).
  base::Status Report(std::string_view request_id, std::string_view binding_id, std::string_view bearer_token,
                      std::string_view body);

  // GET /ssh-access/v1/bindings/:binding_id/session (HTTP Basic: binding id, key).
  // The current session as JSON text (see session::SessionView).
  //   kUnauthenticated: no such binding, a tombstone, the bind has not succeeded, no key hash
  //     recorded, or `key` does not hash to it (one answer for all of these);
  //   kNotFound: the key matches but no session has been reported yet;
  //   kUnavailable / kInternal: from the store.
  base::Result<std::string> Read(std::string_view request_id, std::string_view binding_id, std::string_view key);

 private:
  // Immutable after construction.
  osb::Store& store_;
  const base::Clock& clock_;
  const EngineSettings* engine_;
};

}  // namespace broker::clone

#endif  // BROKER_CLONE_SESSION_DESK_H_
