#!/usr/bin/env bash
# ssh-access bootstrap: the web process of a clone app (`<app>-ssh`). The broker serves this file;
# the clone's start command (kDefaultBootstrapCommand in broker/clone/steps.h) fetches it and runs
# it with `exec bash FILE`, in the app folder (/home/vcap/app, or a docker image's WORKDIR), with
# the app's environment. It downloads the tmate bundle, starts `tmate -F` against the operator's
# tmate server and reports tmate's session lines to the broker (DESIGN.md §6, tmate.md §4.2).
#
# Environment contract (set by the broker on the clone):
#   SSH_ACCESS_SESSION_URL         absolute URL the reports are POSTed to (its query is not logged)
#   SSH_ACCESS_SESSION_TOKEN       bearer token for those POSTs. SECRET: kept in an unexported shell
#                                  variable, removed from the environment before tmate starts, never
#                                  printed and never put on a command line
#   SSH_ACCESS_TMATE_CONFIG        the complete tmate config file text (written with umask 077)
#   SSH_ACCESS_TMATE_BUNDLE_URL    the tmate bundle: a .tar.gz with one top folder `tmate/`, whose
#                                  `tmate/bin/tmate` is run (fetched without credentials)
#   SSH_ACCESS_TMATE_BUNDLE_SHA256 the bundle's sha256, hex
#   SSH_ACCESS_ORIGINAL_COMMAND    the source app's start command; left exported so the user can
#                                  run it by hand in the session
#   SSH_ACCESS_FAIL_AFTER          optional (default 3): consecutive connection errors before a
#                                  failure report
#   SSH_ACCESS_SESSION_START_TIMEOUT optional (default 120): seconds from the bootstrap's start
#                                  within which tmate must print an `ssh session:` line; else the
#                                  bootstrap reports that (the broker's SESSION_START_TIMEOUT)
#   SSH_ACCESS_APP_DIR             optional (default: the working directory at start): the
#                                  session's directory (`new-session -c`)
#   SSH_ACCESS_SOCKET_PARENTS      optional (default /tmp:/var/tmp:/dev/shm): where tmate's socket
#                                  folder may go, tried in order before TMPDIR and HOME
# Any other variable (TMPDIR, HOME, LANG/LC_*, PATH, the app's own) is passed through to tmate and
# so to the session's shell. LC_ALL=C.UTF-8 is exported when no UTF-8 locale is set (tmate needs one).
#
# Reports: POST SSH_ACCESS_SESSION_URL, `Authorization: Bearer <token>`, Content-Type
# application/json, body {"tmate_lines": [every line tmate printed since the previous report, in
# order]}, sent
#   - each time tmate prints an `ssh session: ...` line (`ssh session read only:` comes just before);
#   - once per streak, when SSH_ACCESS_FAIL_AFTER connection errors (`HOST lookup failure. ...`,
#     `Error connecting: ...`, `Cannot authenticate server`, `Server requires authorized_keys but
#     none are given.`, `Error reading from channel: ...`) arrived with no `ssh session:` line in
#     between;
#   - once, when SSH_ACCESS_SESSION_START_TIMEOUT seconds passed with no `ssh session:` line, with
#     "start_timeout_s": N added (the lines are the last ones tmate printed);
#   - when tmate exits before any session, with "tmate_exit_status": N added (a socket error, a
#     config error...); the bootstrap waits up to 30 s for its delivery, then exits with tmate's
#     status;
#   - when the bootstrap itself fails (bundle download or checksum, missing settings, no folder
#     for tmate's socket), as {"tmate_lines": [], "bootstrap_error": "<short text>"}, after which
#     it exits 1; and when the broker refuses a report of tmate's lines with a 4xx other than
#     401/403/404/408/429 (e.g. 400), so the bind fails at once instead of waiting for a session
#     the broker will never see.
# One background reporter delivers them: a request in flight is never cut short; a failed one is
# retried with backoff 1, 2, 4, ... 30 s until the broker answers 2xx, or answers 4xx other than
# 408/429 (final: given up, and reported as above); a newer report replaces a pending one and carries its lines over (so each
# report holds every line since the last one delivered, at most 100). A bootstrap-error report is
# tried at most 6 times. The broker parses the lines (broker/session), not this script.
#
# Output (the app's log, readable by anyone with access to the space, forwarded to drains): only
# lines prefixed "ssh-access: ": progress, failures, tmate's lines (every run of 20 or more token
# characters [A-Za-z0-9_-] replaced by "[redacted]", control characters dropped, cut to 200
# characters; `ssh session` and `web session` lines never), and "ssh-access: session reported to
# the broker" after each delivered session report. Never the token, the session URL's query, or
# a session line.
#
# tmate's socket lives in a private folder (mode 700) with a short path, whatever TMPDIR is (a
# Unix socket path has at most 107 bytes): the first of SSH_ACCESS_SOCKET_PARENTS, TMPDIR and
# HOME where one can be made with a path short enough; none is a bootstrap error.
#
# Signals: SIGTERM and SIGINT are passed to tmate as SIGTERM (a background process of a
# non-interactive shell ignores SIGINT); the bootstrap then waits for tmate and exits with its
# status, as it does whenever tmate exits.
#
# Needs bash 4, tar with gzip, curl or wget, and sha256sum, `openssl dgst` or busybox.

set -u
set -o pipefail
# The bootstrap's own files (config, reports, bundle) are private; the session's shell gets the
# umask the app would have had.
app_umask=$(umask)
umask 077

# --- the secret first ---------------------------------------------------------------------------
ssh_access_token=${SSH_ACCESS_SESSION_TOKEN-}
export -n ssh_access_token
unset SSH_ACCESS_SESSION_TOKEN
session_url=${SSH_ACCESS_SESSION_URL-}
export -n session_url

log() { printf 'ssh-access: %s\n' "$*"; }
warn() { printf 'ssh-access: %s\n' "$*" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }

work=''
sock_dir=''
reporter_pid=''
tmate_pid=''

# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
  if [[ -n $reporter_pid ]]; then
    kill -TERM "$reporter_pid" 2>/dev/null
    wait "$reporter_pid" 2>/dev/null
  fi
  if [[ -n $work ]]; then rm -rf "$work"; fi
  if [[ -n $sock_dir ]]; then rm -rf "$sock_dir"; fi
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# --- JSON and curl-config quoting ---------------------------------------------------------------

# Prints $1 escaped for use inside a JSON string.
json_escape() {
  local s=$1 i c u
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\t'/\\t}
  s=${s//$'\r'/\\r}
  s=${s//$'\n'/\\n}
  if [[ $s == *[[:cntrl:]]* ]]; then
    for ((i = 1; i < 32; i++)); do
      printf -v c '%b' "\\x$(printf '%02x' "$i")"
      printf -v u '\\u%04x' "$i"
      s=${s//"$c"/$u}
    done
  fi
  printf '%s' "$s"
}

# Prints $1 as a double-quoted curl config value.
curl_quote() {
  local s=${1//\\/\\\\}
  s=${s//\"/\\\"}
  printf '"%s"' "$s"
}

# --- HTTP -----------------------------------------------------------------------------------------

http_client=''
if have curl; then
  http_client=curl
elif have wget; then
  http_client=wget
fi

# Replaces this (background) shell with one POST of body file $1 whose output goes to file $2;
# report_status reads the HTTP status from it. exec, so killing the job kills the client.
post_exec() {
  if [[ $http_client == curl ]]; then
    exec curl -s -o /dev/null -w '%{http_code}' --connect-timeout 10 --max-time 30 \
      -H 'Content-Type: application/json' -H 'Expect:' --data-binary "@$1" -K - >"$2" 2>/dev/null <<EOF
url = $(curl_quote "$session_url")
header = $(curl_quote "Authorization: Bearer $ssh_access_token")
EOF
  else
    exec wget -S -O /dev/null --tries=1 --timeout=30 --config="$work/wgetrc" --post-file="$1" \
      -i "$work/session-url" >"$2" 2>&1 </dev/null
  fi
}

# Prints the HTTP status recorded by post_exec in file $1 ("000": no answer).
report_status() {
  local code=''
  if [[ -r $1 ]]; then
    if [[ $http_client == curl ]]; then
      code=$(<"$1")
    else
      code=$(sed -n 's|^ *HTTP/[0-9.]* \([0-9][0-9][0-9]\).*|\1|p' "$1" | tail -n 1)
    fi
  fi
  [[ $code =~ ^[0-9]{3}$ ]] || code=000
  printf '%s' "$code"
}

child=''  # the background process this shell waits for (a request, a sleep)

# Waits for `child` to exit, through interruptions by trapped signals.
wait_child() {
  while :; do
    wait "$child"
    if (($? > 128)) && kill -0 "$child" 2>/dev/null; then continue; fi
    break
  done
  child=''
}

# POSTs body file $1 once. Returns 0 when delivered (2xx), 2 when refused (4xx other than
# 408/429; the status in `refused_code`), else 1 (after printing why).
refused_code=''
post_report() {
  local code
  rm -f "$1.out"
  post_exec "$1" "$1.out" &
  child=$!
  wait_child
  code=$(report_status "$1.out")
  rm -f "$1.out"
  case $code in
    2??) return 0 ;;
    408 | 429) ;;
    4??)
      warn "the broker refused the report (HTTP $code); not retrying it"
      refused_code=$code
      return 2
      ;;
  esac
  if [[ $code == 000 ]]; then
    warn "report not delivered (no answer from the broker)"
  else
    warn "report not delivered (HTTP $code)"
  fi
  return 1
}

# The reporter: a background shell that delivers the newest report, forever. Reports are files
# report.SEQ.json (with the line to print once delivered in report.SEQ.msg); `latest` holds the
# newest SEQ. A delivered or refused report gets a report.SEQ.done marker. A request in flight
# is never cut short; a newer report replaces an older one between attempts (backoff 1, 2, 4, ...
# 30 s, reset for each new report). SIGUSR1 wakes it early from a pause; SIGTERM ends it.
reporter() {
  local seq=0 latest=0 finished=0 delay=1 pause msg rc
  local napping=0 # read by the USR1 trap
  trap 'if [[ -n $child ]]; then kill -TERM "$child" 2>/dev/null; fi; exit 0' TERM
  trap 'if ((napping)) && [[ -n $child ]]; then kill -TERM "$child" 2>/dev/null; fi' USR1
  while :; do
    read -r latest 2>/dev/null <"$work/latest" || latest=0
    if ((latest > seq)); then
      if ((seq > finished)); then rm -f "$work/report.$seq.json" "$work/report.$seq.msg"; fi
      seq=$latest
      delay=1
    fi
    if ((seq > finished)); then
      post_report "$work/report.$seq.json"
      rc=$?
      if ((rc != 1)); then
        : >"$work/report.$seq.done"
        if ((rc == 0)); then
          msg='report delivered'
          read -r msg <"$work/report.$seq.msg"
          log "$msg"
        elif [[ $refused_code != 401 && $refused_code != 403 && $refused_code != 404 ]]; then
          # Final: the broker will never see these lines. Say so, so the bind fails now.
          report_error "the broker refused a report of tmate's lines (HTTP $refused_code)"
        fi
        rm -f "$work/report.$seq.json" "$work/report.$seq.msg"
        finished=$seq
        continue
      fi
      warn "retrying the report in ${delay}s"
      pause=$delay
      delay=$((delay * 2 > 30 ? 30 : delay * 2))
    else
      pause=1
    fi
    # Pause up to `pause` seconds, in 1 s steps, until a newer report is there.
    while ((pause > 0)); do
      read -r latest 2>/dev/null <"$work/latest" || latest=0
      ((latest > seq)) && break
      napping=1
      sleep 1 &
      child=$!
      wait_child
      # shellcheck disable=SC2034  # read by the USR1 trap
      napping=0
      pause=$((pause - 1))
    done
  done
}

report_seq=0
last_lines=()  # the tmate lines of the latest report

# Queues a report of the tmate lines in `pending` for the reporter; it prints "ssh-access: $1" once
# delivered. $2, optional: more members for the body (`,"name":value`). A report holds the lines since the last report known to be delivered (at most 100):
# when the previous one is still pending, its lines are carried over.
send_report() {
  local lines=() l json='' sep=''
  if ((report_seq > 0)) && ! [[ -e $work/report.$report_seq.done ]]; then
    lines=(${last_lines[@]+"${last_lines[@]}"})
  fi
  lines+=(${pending[@]+"${pending[@]}"})
  pending=()
  if ((${#lines[@]} > 100)); then lines=("${lines[@]: -100}"); fi
  last_lines=(${lines[@]+"${lines[@]}"})
  for l in ${lines[@]+"${lines[@]}"}; do
    json+="$sep\"$(json_escape "$l")\""
    sep=','
  done
  report_seq=$((report_seq + 1))
  printf '{"tmate_lines":[%s]%s}' "$json" "${2-}" >"$work/report.$report_seq.json"
  printf '%s\n' "$1" >"$work/report.$report_seq.msg"
  printf '%s\n' "$report_seq" >"$work/latest.new" && mv -f "$work/latest.new" "$work/latest"
  if [[ -n $reporter_pid ]]; then kill -USR1 "$reporter_pid" 2>/dev/null; fi
}

# Reports a bootstrap failure $1 (short, non-secret) as a bootstrap_error: at most 6 attempts.
report_error() {
  local attempt delay=1 body
  warn "error: $1"
  if [[ -n $work && -n $http_client ]]; then
    body="$work/report.error.json"
    printf '{"tmate_lines":[],"bootstrap_error":"%s"}' "$(json_escape "$1")" >"$body"
    for ((attempt = 1; attempt <= 6; attempt++)); do
      post_report "$body"
      case $? in
        0)
          log "bootstrap error reported to the broker"
          break
          ;;
        2) break ;;
      esac
      if ((attempt == 6)); then
        warn "giving up on the report after $attempt attempts"
        break
      fi
      warn "retrying the report in ${delay}s"
      sleep "$delay"
      delay=$((delay * 2))
    done
  fi
}

# Reports a bootstrap failure $1 (see report_error), then exits 1.
fail_bootstrap() {
  report_error "$1"
  exit 1
}

# --- settings -----------------------------------------------------------------------------------

if [[ -z $session_url || -z $ssh_access_token ]]; then
  warn "error: SSH_ACCESS_SESSION_URL and SSH_ACCESS_SESSION_TOKEN must be set; nothing to report to"
  exit 1
fi
if [[ $session_url == *[[:cntrl:]]* || $ssh_access_token == *[[:cntrl:]]* ]]; then
  warn "error: SSH_ACCESS_SESSION_URL or SSH_ACCESS_SESSION_TOKEN holds control characters"
  exit 1
fi
if [[ -z $http_client ]]; then
  warn "error: neither curl nor wget is installed; cannot download tmate or report to the broker"
  exit 1
fi

fail_after=${SSH_ACCESS_FAIL_AFTER:-3}
if ! [[ $fail_after =~ ^[1-9][0-9]{0,3}$ ]]; then
  warn "SSH_ACCESS_FAIL_AFTER is not a positive number; using 3"
  fail_after=3
fi
start_timeout=${SSH_ACCESS_SESSION_START_TIMEOUT:-120}
if ! [[ $start_timeout =~ ^[1-9][0-9]{0,4}$ ]] || ((start_timeout > 86400)); then
  warn "SSH_ACCESS_SESSION_START_TIMEOUT is not a number of seconds from 1 to 86400; using 120"
  start_timeout=120
fi
app_dir=${SSH_ACCESS_APP_DIR:-$PWD}

case "${LC_ALL:-${LC_CTYPE:-${LANG:-}}}" in
  *[Uu][Tt][Ff]-8* | *[Uu][Tt][Ff]8*) ;;
  *) export LC_ALL=C.UTF-8 ;;
esac

# A private working folder: the bundle, tmate's config and socket, pending reports.
base="${TMPDIR:-/tmp}/ssh-access"
if ! mkdir -p "$base" 2>/dev/null || ! [[ -w $base ]]; then
  base="${HOME:-/tmp}/.ssh-access"
  mkdir -p "$base" 2>/dev/null
fi
if ! work=$(mktemp -d "$base/run.XXXXXX" 2>/dev/null); then
  work=''
  warn "error: cannot create a working folder under ${TMPDIR:-/tmp}/ssh-access or \$HOME/.ssh-access"
  exit 1
fi
if [[ $http_client == wget ]]; then
  printf 'header = Authorization: Bearer %s\nheader = Content-Type: application/json\n' \
    "$ssh_access_token" >"$work/wgetrc"
  printf '%s\n' "$session_url" >"$work/session-url"
fi

[[ -n ${SSH_ACCESS_TMATE_CONFIG-} ]] || fail_bootstrap "SSH_ACCESS_TMATE_CONFIG is not set"
[[ -n ${SSH_ACCESS_TMATE_BUNDLE_URL-} ]] || fail_bootstrap "SSH_ACCESS_TMATE_BUNDLE_URL is not set"
expected_sha=${SSH_ACCESS_TMATE_BUNDLE_SHA256-}
expected_sha=${expected_sha,,}
[[ $expected_sha =~ ^[0-9a-f]{64}$ ]] || fail_bootstrap "SSH_ACCESS_TMATE_BUNDLE_SHA256 is not a sha256 in hex"
[[ -d $app_dir ]] || fail_bootstrap "the app folder does not exist"

# --- the tmate bundle -----------------------------------------------------------------------------

# Downloads URL $1 to file $2 (retrying transient failures); the URL stays off the command line.
download() {
  if [[ $http_client == curl ]]; then
    curl -fsSL --retry 5 --retry-delay 2 --retry-connrefused --connect-timeout 15 --max-time 300 \
      -o "$2" -K - 2>/dev/null <<EOF
url = $(curl_quote "$1")
EOF
  else
    printf '%s\n' "$1" >"$work/bundle-url"
    wget -q --tries=5 --timeout=60 -O "$2" -i "$work/bundle-url" </dev/null 2>/dev/null
  fi
}

# Prints the sha256 of file $1 in lower-case hex.
sha256_of() {
  local out
  if have sha256sum; then
    out=$(sha256sum "$1") || return 1
  elif have openssl; then
    out=$(openssl dgst -sha256 -r "$1") || return 1
  elif have busybox; then
    out=$(busybox sha256sum "$1") || return 1
  else
    return 1
  fi
  out=${out%% *}
  printf '%s' "${out,,}"
}

log "downloading the tmate bundle"
bundle="$work/tmate-bundle.tar.gz"
download "$SSH_ACCESS_TMATE_BUNDLE_URL" "$bundle"
rc=$?
((rc == 0)) || fail_bootstrap "tmate bundle download failed ($http_client exit status $rc)"
if ! actual_sha=$(sha256_of "$bundle"); then
  fail_bootstrap "cannot compute a sha256 (no sha256sum, openssl or busybox)"
fi
[[ $actual_sha == "$expected_sha" ]] ||
  fail_bootstrap "tmate bundle checksum mismatch (expected sha256 $expected_sha, got $actual_sha)"
tar -xzf "$bundle" -C "$work" 2>/dev/null || fail_bootstrap "cannot unpack the tmate bundle"
rm -f "$bundle"
tmate="$work/tmate/bin/tmate"
[[ -x $tmate ]] || fail_bootstrap "the tmate bundle has no executable tmate/bin/tmate"

conf="$work/tmate.conf"
printf '%s\n' "$SSH_ACCESS_TMATE_CONFIG" >"$conf" || fail_bootstrap "cannot write the tmate config"

# tmate's socket: a private folder with a short path (see the header). At most 90 bytes leaves
# room for "/tmate.sock" within a Unix socket path's 107.
IFS=: read -r -a socket_parents <<<"${SSH_ACCESS_SOCKET_PARENTS:-/tmp:/var/tmp:/dev/shm}"
for dir in ${socket_parents[@]+"${socket_parents[@]}"} "${TMPDIR:-}" "${HOME:-}"; do
  [[ -n $dir && -d $dir && -w $dir ]] || continue
  ((${#dir} + 20 <= 90)) || continue
  if sock_dir=$(mktemp -d "$dir/ssh-access.XXXXXX" 2>/dev/null) && chmod 700 "$sock_dir" 2>/dev/null; then
    break
  fi
  sock_dir=''
done
[[ -n $sock_dir ]] || fail_bootstrap "cannot create a private folder for tmate's socket with a path short enough for a Unix socket (tried ${SSH_ACCESS_SOCKET_PARENTS:-/tmp:/var/tmp:/dev/shm}, TMPDIR and HOME)"
sock="$sock_dir/tmate.sock"

# --- tmate ----------------------------------------------------------------------------------------

pending=()      # tmate lines since the last report
errors=0        # connection errors since the last `ssh session:` line
streak_reported=0
session_seen=0  # an `ssh session:` line came
recent=()       # tmate's last 20 lines, for the start-timeout report

# Prints $1 with control characters dropped, every run of 20 or more token characters
# ([A-Za-z0-9_-]; tmate's tokens have 25) replaced by "[redacted]", cut to 200 characters.
scrub() {
  local s=${1//[[:cntrl:]]/} out='' run
  while [[ $s =~ [A-Za-z0-9_-]{20,} ]]; do
    run=${BASH_REMATCH[0]}
    out+="${s%%"$run"*}[redacted]"
    s=${s#*"$run"}
  done
  out+=$s
  if ((${#out} > 200)); then out="${out:0:200}..."; fi
  printf '%s' "$out"
}

# Echoes tmate line $1, scrubbed; never a session line.
echo_safe() {
  case $1 in
    *'ssh session'* | *'web session'* | '') ;;
    *) log "$(scrub "$1")" ;;
  esac
}

on_line() {
  recent+=("$1")
  if ((${#recent[@]} > 20)); then recent=("${recent[@]:1}"); fi
  pending+=("$1")
  if ((${#pending[@]} > 100)); then pending=("${pending[@]:1}"); fi
  echo_safe "$1"
  case $1 in
    'ssh session: '*)
      errors=0
      streak_reported=0
      session_seen=1
      send_report "session reported to the broker"
      ;;
    'Error connecting: '* | 'Cannot authenticate server' | *' lookup failure. Retrying in '* | \
      'Server requires authorized_keys but none are given.' | 'Error reading from channel: '*)
      errors=$((errors + 1))
      if ((errors >= fail_after && !streak_reported)); then
        streak_reported=1
        send_report "connection errors reported to the broker"
      fi
      ;;
  esac
}

terminating=0
# shellcheck disable=SC2317  # run by the TERM and INT traps
forward_signal() {
  terminating=1
  if [[ -n $tmate_pid ]]; then kill -TERM "$tmate_pid" 2>/dev/null; fi
}

reporter &
reporter_pid=$!

log "starting tmate"
coproc TMATE { umask "$app_umask" && exec "$tmate" -F -f "$conf" -S "$sock" new-session -c "$app_dir" </dev/null 2>&1; }
# shellcheck disable=SC2153  # TMATE_PID is set by coproc
tmate_pid=$TMATE_PID
exec {tmate_out}<&"${TMATE[0]}"
trap forward_signal TERM INT

# Reports that tmate printed no session within start_timeout seconds of the bootstrap's start
# (bash's SECONDS counts from it), with its last lines.
report_start_timeout() {
  start_timeout_reported=1
  warn "tmate printed no session within ${start_timeout}s; reporting that to the broker"
  pending=(${recent[@]+"${recent[@]}"})
  last_lines=()
  send_report "no session within ${start_timeout}s: reported to the broker" ",\"start_timeout_s\":$start_timeout"
}

start_timeout_reported=0
partial=''
while :; do
  line=''
  if ((!session_seen && !start_timeout_reported)); then
    left=$((start_timeout - SECONDS))
    if ((left <= 0)); then
      report_start_timeout
      continue
    fi
    IFS= read -r -t "$left" -u "$tmate_out" line
  else
    IFS= read -r -u "$tmate_out" line
  fi
  rc=$?
  if ((rc == 0)); then
    on_line "$partial$line"
    partial=''
  elif ((rc > 128)); then
    partial+=$line # a timeout or a trapped signal; a partial line is kept for the next read
  else
    line=$partial$line
    if [[ -n $line ]]; then on_line "$line"; fi
    break
  fi
done

status=0
while :; do
  wait "$tmate_pid"
  status=$?
  kill -0 "$tmate_pid" 2>/dev/null || break # else wait was interrupted by a signal
done
exec {tmate_out}<&-
# What tmate said last goes to the broker (a socket or config error makes tmate exit at once).
if ((!session_seen && !terminating)); then
  send_report "tmate's exit reported to the broker" ",\"tmate_exit_status\":$status"
  for ((i = 0; i < 30; i++)); do
    [[ -e $work/report.$report_seq.done ]] && break
    sleep 1
  done
fi
log "tmate exited with status $status"
exit "$status"
