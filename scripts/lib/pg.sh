# shellcheck shell=bash
# Throwaway and project-local PostgreSQL clusters for tests, local runs and benchmarks.
# Source it after common.sh. One cluster per script at a time; its state is in these globals:
#   PG_SUPERUSER  superuser role created by initdb (set before pg_start; default "postgres")
#   PG_OS_USER    Unix user the server runs as: the caller, or (when root, since PostgreSQL
#                 refuses to run as root) the system user "ssh-access-pg", created if missing
#   PG_DATA       data directory;  PG_PORT  TCP port on 127.0.0.1;  PG_BINDIR  server binaries
#
#   pg_start DIR [-c name=value ...]   initdb DIR if empty (trust auth, 127.0.0.1 only), start it
#                                      on a free port with its unix socket in DIR, wait until it
#                                      accepts connections; stops it again when the script ends
#   pg_start_throwaway [-c ...]        the same in a new temporary directory, removed at the end
#   pg_create_database NAME            creates NAME unless it exists
#   pg_url NAME                        prints postgresql://SUPERUSER@127.0.0.1:PORT/NAME
#   pg_psql NAME [psql args...]        psql against NAME as the superuser
#   pg_stop                            stops the cluster if this script started it
# Quick settings for tests only (never for scripts/run): pg_start_throwaway $PG_FAST_OPTIONS
[[ -n ${_SSH_ACCESS_PG_SH:-} ]] && return 0
_SSH_ACCESS_PG_SH=1

PG_SUPERUSER=${PG_SUPERUSER:-postgres}
PG_OS_USER=${PG_OS_USER:-}
PG_DATA=""
PG_PORT=""
PG_BINDIR=${PG_BINDIR:-}
_pg_owned=0   # 1 while a server this script started may be running
# shellcheck disable=SC2034  # used by the scripts that source this file
PG_FAST_OPTIONS="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"

_pg_find_bindir() {
  [[ -n $PG_BINDIR ]] && return 0
  local d
  # Newest server first: /usr/lib/postgresql/<major>/bin is where Debian puts initdb and pg_ctl.
  for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -t/ -k5,5 -rn); do
    if [[ -x $d/initdb && -x $d/pg_ctl ]]; then
      PG_BINDIR=$d
      return 0
    fi
  done
  if command -v initdb >/dev/null 2>&1; then
    PG_BINDIR=$(dirname "$(command -v initdb)")
    return 0
  fi
  die "PostgreSQL server binaries (initdb, pg_ctl) not found; run scripts/setup"
}

_pg_setup_user() {
  [[ -n $PG_OS_USER ]] && return 0
  if ((EUID != 0)); then
    PG_OS_USER=$(id -un)
    return 0
  fi
  PG_OS_USER=ssh-access-pg
  if ! id "$PG_OS_USER" >/dev/null 2>&1; then
    log "creating system user $PG_OS_USER to run PostgreSQL (it refuses to run as root)"
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin --comment "ssh-access test and local PostgreSQL" "$PG_OS_USER"
  fi
}

# Runs a command as PG_OS_USER from "/" (the caller's cwd may be unreadable to that user).
_pg_as() {
  if ((EUID == 0)); then
    (cd / && runuser -u "$PG_OS_USER" -- "$@")
  else
    (cd / && "$@")
  fi
}

# Makes DIR exist, owned by PG_OS_USER with mode 700, and checks that user can reach it.
_pg_prepare_dir() {
  local dir=$1
  mkdir -p "$dir"
  if ((EUID == 0)); then
    chown "$PG_OS_USER:" "$dir"
  fi
  chmod 700 "$dir"
  if ! _pg_as test -w "$dir" -a -x "$dir"; then
    die "user $PG_OS_USER cannot use $dir: every parent directory needs o+x (chmod o+x ...)," \
      "or set DATABASE_URL to a PostgreSQL you run yourself"
  fi
}

pg_start() {
  local dir=$1
  shift
  _pg_find_bindir
  _pg_setup_user
  [[ $dir == /* ]] || dir=$PWD/$dir
  PG_DATA=$dir

  if [[ -f $dir/postmaster.pid ]] && _pg_as "$PG_BINDIR/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    # A server from an earlier run that did not stop (killed with -9?): use it, leave it running.
    PG_PORT=$(sed -n 4p "$dir/postmaster.pid")
    log "PostgreSQL already running on $dir (port $PG_PORT); using it and leaving it running" \
      "(stop it: $PG_BINDIR/pg_ctl -D $dir stop)"
    _pg_owned=0
    return 0
  fi

  if [[ ! -f $dir/PG_VERSION ]]; then
    _pg_prepare_dir "$dir"
    [[ -z $(ls -A "$dir") ]] || die "$dir is neither empty nor a PostgreSQL data directory"
    _pg_as "$PG_BINDIR/initdb" -D "$dir" -U "$PG_SUPERUSER" --auth=trust -E UTF8 --locale=C \
      --no-instructions >"${dir%/}.initdb.log" 2>&1 || {
      cat "${dir%/}.initdb.log" >&2
      die "initdb $dir failed"
    }
    rm -f "${dir%/}.initdb.log"
    # Only this machine, only over 127.0.0.1 or the socket in the data directory.
    _pg_as sh -c "cat > '$dir/pg_hba.conf'" <<'HBA'
# TYPE  DATABASE  USER  ADDRESS        METHOD
local   all       all                  trust
host    all       all   127.0.0.1/32   trust
HBA
  else
    _pg_prepare_dir "$dir"
  fi

  # The unix socket lives in the data directory unless that path is too long for a socket
  # (108 bytes); then there is no socket and clients use TCP, which everything here does.
  local sockdir=$dir
  ((${#dir} + 20 < 100)) || sockdir=""

  local attempt port opts opt
  at_exit pg_stop
  _pg_owned=1
  for attempt in 1 2 3 4 5; do
    port=$(free_port)
    opts="-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$(printf '%q' "$sockdir")"
    for opt in "$@"; do opts+=" $(printf '%q' "$opt")"; done
    if _pg_as "$PG_BINDIR/pg_ctl" -D "$dir" -l "$dir/postgres.log" -w -t 60 -o "$opts" start \
      >/dev/null 2>&1; then
      PG_PORT=$port
      break
    fi
    if ! grep -q 'Address already in use' "$dir/postgres.log" 2>/dev/null || ((attempt == 5)); then
      tail -n 30 "$dir/postgres.log" >&2 2>/dev/null || true
      die "PostgreSQL did not start on $dir (log: $dir/postgres.log)"
    fi
    log "port $port was taken; trying another"
  done

  local i
  for ((i = 0; i < 300; i++)); do
    "$PG_BINDIR/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U "$PG_SUPERUSER" -d postgres && break
    sleep 0.1
  done
  pg_psql postgres -c 'SELECT 1' >/dev/null || die "PostgreSQL on port $PG_PORT does not answer"
  log "PostgreSQL $(basename "$(dirname "$PG_BINDIR")") up: data $dir, port $PG_PORT, user $PG_OS_USER"
}

pg_start_throwaway() {
  _pg_setup_user
  local tmp
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/ssh-access-pg.XXXXXX")
  at_exit "rm -rf $(printf '%q' "$tmp")"
  chmod 755 "$tmp"
  pg_start "$tmp/data" "$@"
}

pg_stop() {
  ((_pg_owned)) || return 0
  _pg_owned=0
  [[ -f $PG_DATA/postmaster.pid ]] || return 0
  if ! _pg_as "$PG_BINDIR/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null 2>&1; then
    _pg_as "$PG_BINDIR/pg_ctl" -D "$PG_DATA" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
  fi
  log "PostgreSQL on port $PG_PORT stopped"
}

pg_psql() {
  local db=$1
  shift
  "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U "$PG_SUPERUSER" -d "$db" "$@"
}

pg_create_database() {
  local name=$1
  if [[ $(pg_psql postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$name'") != 1 ]]; then
    "$PG_BINDIR/createdb" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_SUPERUSER" "$name"
  fi
}

pg_url() {
  echo "postgresql://$PG_SUPERUSER@127.0.0.1:$PG_PORT/$1"
}
