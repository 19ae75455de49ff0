// The clone's bootstrap (broker/session/bootstrap.sh), built into the binary so the broker serves
// exactly the script it was tested with (GET /ssh-access/v1/bootstrap). The script's header
// describes what it does and the SSH_ACCESS_* variables it reads.
#ifndef BROKER_SESSION_BOOTSTRAP_SCRIPT_H_
#define BROKER_SESSION_BOOTSTRAP_SCRIPT_H_

#include <string_view>

namespace broker::session {

// The script's bytes, as in the repository when the binary was built.
std::string_view BootstrapScript();

}  // namespace broker::session

#endif  // BROKER_SESSION_BOOTSTRAP_SCRIPT_H_
