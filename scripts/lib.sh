# Shared by the scripts: cache location and a Python for snmpsim.
# shellcheck shell=bash

CACHE="${INVMON_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/invmon}"
mkdir -p "$CACHE"

say() { printf '==> %s\n' "$*" >&2; }

# A Python >= 3.11 with venv: pyenv's if present, else Debian's.
find_python() {
    local p
    for p in "$HOME"/.pyenv/versions/3.12*/bin/python3 "$HOME"/.pyenv/versions/3.13*/bin/python3 \
             "$(command -v python3.12 || true)" "$(command -v python3 || true)"; do
        if [ -x "$p" ] && "$p" -c 'import sys, venv; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$p"; return 0
        fi
    done
    say "installing Debian's python3-venv"
    apt-get update -qq && apt-get install -y -qq python3 python3-venv >/dev/null
    command -v python3
}

# Builds the invmon binary (debug unless PROFILE=release) and prints its path.
build_invmon() {
    local profile="${PROFILE:-debug}" flag=()
    [ "$profile" = release ] && flag=(--release)
    command -v cargo >/dev/null || { say "cargo not found: install Rust (rustup) first"; exit 1; }
    # cargo's own progress (a first build compiles about 300 crates, a few minutes on 2 cores).
    say "building invmon ($profile): cargo build --bin invmon"
    cargo build --locked "${flag[@]}" --bin invmon >&2
    echo "$PWD/target/$profile/invmon"
}

# Runs a command with output to $MEASURE_LOG; prints "wall_s cpu_s maxrss_kb exit"
# for it and the children it waited for.
measure() {
    python3 - "$@" <<'PY'
import os, sys, time, subprocess
t0 = time.monotonic()
log = open(os.environ["MEASURE_LOG"], "w")
p = subprocess.Popen(sys.argv[1:], stdout=log, stderr=log)
_, status, ru = os.wait4(p.pid, 0)
wall = time.monotonic() - t0
print(f"{wall:.3f} {ru.ru_utime + ru.ru_stime:.3f} {ru.ru_maxrss} {os.waitstatus_to_exitcode(status)}")
PY
}
