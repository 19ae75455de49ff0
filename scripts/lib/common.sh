# shellcheck shell=bash
# Shared helpers for the project's scripts (source it; do not run it):
#   log / die            messages on stderr, prefixed with the script's name
#   REPO_ROOT            absolute path of the repository
#   at_exit CMD          run CMD (a shell string) when the script ends, by exit, error, Ctrl-C or
#                        SIGTERM; commands run last-registered-first, each at most once
#   free_port            prints a TCP port on 127.0.0.1 that nothing listens on right now
#   port_listening PORT  true when something accepts connections on 127.0.0.1:PORT
#   wait_http URL SECS   polls URL until it answers 200, up to SECS seconds
[[ -n ${_SSH_ACCESS_COMMON_SH:-} ]] && return 0
_SSH_ACCESS_COMMON_SH=1

# shellcheck disable=SC2034  # used by the scripts that source this file
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SCRIPT_NAME=${SCRIPT_NAME:-${0##*/}}

log() { printf '%s: %s\n' "$SCRIPT_NAME" "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# --- cleanup on exit ---------------------------------------------------------------------------
_at_exit_cmds=()
_at_exit_installed=0

at_exit() {
  _at_exit_cmds+=("$1")
  if ((!_at_exit_installed)); then
    _at_exit_installed=1
    trap '_at_exit_run_all; exit 130' INT
    trap '_at_exit_run_all; exit 143' TERM
    trap '_at_exit_on_exit' EXIT
  fi
}

_at_exit_run_all() {
  local i cmd
  set +e
  for ((i = ${#_at_exit_cmds[@]} - 1; i >= 0; i--)); do
    cmd=${_at_exit_cmds[i]}
    unset '_at_exit_cmds[i]'
    eval "$cmd"
  done
  _at_exit_cmds=()
}

_at_exit_on_exit() {
  local rc=$?
  _at_exit_run_all
  exit "$rc"
}

# --- ports and HTTP ----------------------------------------------------------------------------
port_listening() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Ports come from 20000-31999: below Linux's ephemeral range (32768-60999), so an outgoing
# connection cannot be holding the port we pick. Callers retry when a bind still loses a race.
free_port() {
  local port i
  for ((i = 0; i < 200; i++)); do
    port=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
    if command -v ss >/dev/null 2>&1; then
      [[ -n $(ss -Htan "( sport = :$port )" 2>/dev/null) ]] && continue
    fi
    port_listening "$port" && continue
    echo "$port"
    return 0
  done
  die "found no free TCP port on 127.0.0.1"
}

wait_http() {
  local url=$1 secs=${2:-30} i
  for ((i = 0; i < secs * 10; i++)); do
    if [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" 2>/dev/null) == 200 ]]; then
      return 0
    fi
    sleep 0.1
  done
  return 1
}
