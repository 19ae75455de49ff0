# shellcheck shell=bash
# Self-contained bundles of dynamically linked programs (source it; do not run it):
#   bundle_elf_inputs BINARY
#     prints, one a line, every file bundle_elf BINARY copies: BINARY, its loader and each shared
#     library as resolved on this machine (after symlinks), so a build can depend on them all
#   bundle_elf BINARY DEST_DIR NAME
#     DEST_DIR/libexec/NAME           BINARY (symlinks followed)
#     DEST_DIR/lib/<SONAME>           every shared library BINARY needs, as resolved by ldd, each a
#                                     real file named as the binary's DT_NEEDED entry asks for it
#     DEST_DIR/lib/<loader>           the dynamic loader BINARY's PT_INTERP names, under its own
#                                     basename (ld-linux-x86-64.so.2 on x86-64)
#     DEST_DIR/bin/NAME               a POSIX sh launcher (below)
#   The launcher runs the program through the bundled loader with --library-path DEST_DIR/lib, so
#   neither the host's libraries nor its loader (nor /etc/ld.so.cache) take part: the bundle runs
#   on a root file system with an older glibc or none at all. It uses no external command (busybox
#   sh with no applets is enough) and finds the bundle from $0: a path with a slash, a bare name
#   found in PATH or the current directory, and, when bin/NAME is reached through a symlink to the
#   file, `readlink -f` (the one external command, used only in that case). The program sees "$0"
#   as argv[0] (loader --argv0, glibc 2.33+; left out when the bundled loader lacks it). Children the
#   program starts use the host's own loader and libraries: --library-path is not inherited.
#   Two optional data directories, honoured when present at run time:
#     DEST_DIR/share/terminfo         appended to TERMINFO_DIRS after the host's directories, so
#                                     host entries win and ours only fill gaps
#     DEST_DIR/share/locale           exported as LOCPATH (unless already set), so the bundled glibc
#                                     reads locale data of its own version, never the host's
#                                     (cflinuxfs4's is glibc 2.35's). Children inherit it: a program
#                                     that starts shells must drop it for them (the tmate config the
#                                     broker renders does: set-environment -gu LOCPATH)
# Needs bash, ldd, cp, chmod and readelf (binutils; the loader line of ldd is the fallback).
[[ -n ${_SSH_ACCESS_BUNDLE_SH:-} ]] && return 0
_SSH_ACCESS_BUNDLE_SH=1

# The loader BINARY names in its PT_INTERP, e.g. /lib64/ld-linux-x86-64.so.2. Empty when static.
_bundle_interp() {
  local binary=$1 interp=""
  if command -v readelf >/dev/null 2>&1; then
    interp=$(LC_ALL=C readelf -lW "$binary" 2>/dev/null |
      sed -n 's/.*\[Requesting program interpreter: \(.*\)\]$/\1/p')
  else
    # ldd prints the loader as the only absolute path without "=>".
    interp=$(LC_ALL=C ldd "$binary" 2>/dev/null | awk '$1 ~ /^\// && $2 != "=>" { print $1; exit }')
  fi
  printf '%s' "$interp"
}

# Prints "NEEDED-NAME PATH" for every shared library BINARY needs (all of them, recursively, as ldd
# resolves them), the loader and the vDSO left out. Fails when one is not found.
_bundle_needed() {
  local binary=$1 out
  out=$(LC_ALL=C ldd "$binary" 2>&1) || {
    printf '%s\n' "$out" >&2
    return 1
  }
  if grep -q 'not found' <<<"$out"; then
    grep 'not found' <<<"$out" >&2
    return 1
  fi
  awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }' <<<"$out"
}

# The file to copy for a library ldd resolved: a glibc-hwcaps variant (x86-64-v3...) is built for
# this build machine's CPU, so the baseline copy in the parent directory is preferred when there is
# one.
_bundle_baseline() {
  local path=$1
  if [[ $path == */glibc-hwcaps/*/* ]]; then
    local base=${path%%/glibc-hwcaps/*}/${path##*/}
    [[ -e $base ]] && path=$base
  fi
  printf '%s' "$path"
}

# Writes the launcher DEST/bin/NAME (see the header).
_bundle_write_launcher() {
  local dest=$1 name=$2 loader=$3 argv0=$4
  local argv0_opt=""
  # shellcheck disable=SC2016  # "$0" is for the launcher to expand
  ((argv0)) && argv0_opt=' --argv0 "$0"'
  cat >"$dest/bin/$name" <<EOF
#!/bin/sh
# Launcher written by scripts/lib/bundle.sh: runs libexec/$name with the bundle's own dynamic
# loader and libraries (lib/), so it needs nothing from the host. No external commands: it must
# work under a bare busybox sh. The bundle is found from \$0 (bin/$name in the bundle).
self=\$0
case \$0 in
  */*) b=\${0%/*} ;;
  *)
    # Run by a bare name: look for it along PATH, then in the current directory.
    b=.
    _ifs=\$IFS
    IFS=:
    for _p in \$PATH; do
      if [ -f "\${_p:-.}/\$0" ]; then
        b=\${_p:-.}
        break
      fi
    done
    IFS=\$_ifs
    self=\$b/\$0
    ;;
esac
case \$b in
  */bin) d=\${b%/bin} ;;
  bin) d=. ;;
  *) d=\$b/.. ;;
esac
[ -n "\$d" ] || d=/
if [ ! -f "\$d/libexec/$name" ] && [ -h "\$self" ] && command -v readlink >/dev/null 2>&1; then
  # bin/$name reached through a symlink to the file itself: the one case that needs a command.
  _real=\$(readlink -f "\$self") && d=\${_real%/*}/..
fi
if [ ! -f "\$d/libexec/$name" ]; then
  echo "\$0: cannot find the bundle (\$d/libexec/$name); run bin/$name by its path in the bundle" >&2
  exit 127
fi
case \$d in
  /*) ;;
  *) d=\$PWD/\$d ;;
esac
if [ -d "\$d/share/terminfo" ]; then
  # After the host's directories (ncurses' defaults when TERMINFO_DIRS is unset): fills gaps only.
  TERMINFO_DIRS=\${TERMINFO_DIRS:-/etc/terminfo:/lib/terminfo:/usr/share/terminfo}:\$d/share/terminfo
  export TERMINFO_DIRS
fi
if [ -d "\$d/share/locale" ] && [ -z "\${LOCPATH:-}" ]; then
  # Locale data of the bundled glibc's own version (the host's may be older).
  LOCPATH=\$d/share/locale
  export LOCPATH
fi
exec "\$d/lib/$loader" --library-path "\$d/lib"$argv0_opt "\$d/libexec/$name" "\$@"
EOF
  chmod 0755 "$dest/bin/$name"
}

bundle_elf_inputs() {
  local binary=$1 interp needed soname path
  [[ -f $binary ]] || {
    echo "bundle_elf_inputs: no such file: $binary" >&2
    return 1
  }
  interp=$(_bundle_interp "$binary")
  [[ -n $interp && -e $interp ]] || {
    echo "bundle_elf_inputs: $binary has no loader on this machine" >&2
    return 1
  }
  needed=$(_bundle_needed "$binary") || return 1
  readlink -f "$binary"
  readlink -f "$interp"
  while read -r soname path; do
    [[ -n $soname && $soname != "${interp##*/}" ]] || continue
    readlink -f "$(_bundle_baseline "$path")"
  done <<<"$needed"
}

bundle_elf() {
  if (($# != 3)); then
    echo "usage: bundle_elf BINARY DEST_DIR NAME" >&2
    return 2
  fi
  local binary=$1 dest=$2 name=$3
  if [[ ! -f $binary ]]; then
    echo "bundle_elf: no such file: $binary" >&2
    return 1
  fi
  local interp
  interp=$(_bundle_interp "$binary")
  if [[ -z $interp ]]; then
    echo "bundle_elf: $binary names no dynamic loader (PT_INTERP): not a dynamically linked program" >&2
    return 1
  fi
  if [[ ! -e $interp ]]; then
    echo "bundle_elf: $binary asks for the loader $interp, which this machine does not have" >&2
    return 1
  fi
  local loader=${interp##*/}

  local needed
  if ! needed=$(_bundle_needed "$binary"); then
    echo "bundle_elf: ldd cannot resolve the libraries of $binary (above)" >&2
    return 1
  fi

  mkdir -p "$dest/bin" "$dest/lib" "$dest/libexec" || return 1
  cp -L "$binary" "$dest/libexec/$name" && chmod 0755 "$dest/libexec/$name" || return 1
  cp -L "$interp" "$dest/lib/$loader" && chmod 0755 "$dest/lib/$loader" || return 1
  local soname path
  while read -r soname path; do
    [[ -n $soname ]] || continue
    # The loader also appears as a NEEDED entry of libc (under its SONAME): one copy is enough.
    [[ $soname == "$loader" ]] && continue
    path=$(_bundle_baseline "$path")
    rm -f "$dest/lib/$soname"
    cp -L "$path" "$dest/lib/$soname" && chmod 0644 "$dest/lib/$soname" || return 1
  done <<<"$needed"

  local argv0=0
  if "$dest/lib/$loader" --help 2>/dev/null | grep -q -- '--argv0'; then
    argv0=1
  fi
  _bundle_write_launcher "$dest" "$name" "$loader" "$argv0"
}
