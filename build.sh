#!/usr/bin/env bash
# Zoll's front door.
#
#   ./build.sh          install build dependencies (Debian 12, as root) and
#                       build build/ngx_http_zoll_module.so and build/zollctl
#   ./build.sh run      build if needed, then run the demo gateway in the
#                       foreground on https://127.0.0.1:8443 (Ctrl-C stops it)
#   ./build.sh test     build if needed, then run every test
#   ./build.sh fuzz N   the libFuzzer harnesses for N seconds in all, under
#                       ASan/UBSan, keeping their corpus in build/fuzz
#   ./build.sh soak [S] S seconds (default 150) of mixed valid and hostile
#                       requests under wrk; prints the workers' RSS and fds
#
# Idempotent: a second run only rebuilds what changed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
B="$ROOT/build"
PY=/usr/bin/python3

APT_PACKAGES=(
    nginx nginx-dev build-essential libpcre2-dev libssl-dev zlib1g-dev
    libjansson-dev libcmocka-dev libvectorscan-dev valgrind openssl curl
    procps python3 python3-pytest
    # GeoIP: the engine reads MaxMind DBs; the tests write their own
    libmaxminddb-dev libmaxmind-db-writer-perl
    # load in the integration tests (transfer log, suspension drill)
    wrk
    # the HTML report's test renders it headless and reads the screenshot
    chromium python3-pil
    # sanitizer builds and libFuzzer harnesses (tests/fuzz)
    clang libclang-rt-14-dev
)

log() { printf '==> %s\n' "$*"; }

install_deps() {
    local missing=() p
    for p in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null \
            | grep -q "install ok installed" || missing+=("$p")
    done
    command -v node >/dev/null && command -v npm >/dev/null \
        || missing+=(nodejs npm)
    [ ${#missing[@]} -eq 0 ] && return 0

    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # the Debian package starts nginx on port 80; policy-rc.d keeps this
    # build from starting services on the machine
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    rm -f /usr/sbin/policy-rc.d
}

build_engine() {
    log "engine, zollctl, unit tests"
    make -s -C "$ROOT" -j2 B="$B" all
}

# The module is built the way Debian builds its own dynamic modules: a copy
# of the nginx-dev source tree configured with Debian's flags, so the .so
# loads into the stock /usr/sbin/nginx.
build_module() {
    local src="$B/nginx-src" stamp want
    want="$(cat /usr/share/nginx/src/conf_flags "$ROOT/ngx_module/config" \
            | sha256sum | cut -d' ' -f1) $(nginx -v 2>&1)"
    stamp="$src/.zoll-configured"

    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        log "configuring nginx $(nginx -v 2>&1 | sed 's/.*\///') for the module"
        rm -rf "$src"
        cp -a /usr/share/nginx/src "$src"
        (
            cd "$src"
            # shellcheck disable=SC1091
            . ./conf_flags
            ./configure "${NGX_CONF_FLAGS[@]}" \
                --add-dynamic-module="$ROOT/ngx_module" >configure.log 2>&1 \
                || { cat configure.log; exit 1; }
        )
        echo "$want" >"$stamp"
    fi

    log "module"
    # relink every time: make does not know the module depends on libzoll.a
    rm -f "$src/objs/ngx_http_zoll_module.so"
    make -s -C "$src" -f objs/Makefile modules >"$B/module-build.log" 2>&1 \
        || { cat "$B/module-build.log"; exit 1; }
    cp "$src/objs/ngx_http_zoll_module.so" "$B/ngx_http_zoll_module.so"
}

# The Ed25519 keys that sign the example and demo transfer logs: made here,
# never shipped, so no two installations share one.
make_signing_keys() {
    local k
    for k in "$ROOT/config/credentials/log-signing.key" \
             "$ROOT/config/demo/credentials/log-signing.key"; do
        [ -f "$k" ] && continue
        log "signing key ${k#"$ROOT"/}"
        (umask 077 && openssl genpkey -algorithm ed25519 -out "$k")
    done
}

build() {
    install_deps
    mkdir -p "$B"
    make_signing_keys
    build_engine
    build_module
    log "built $B/ngx_http_zoll_module.so and $B/zollctl"
}

# The engine, its unit tests and the fuzz harnesses under ASan and UBSan,
# into build/asan (tests/fuzz/test_fuzz.py runs them).
build_sanitized() {
    log "engine, unit tests and fuzz harnesses under ASan/UBSan (clang)"
    make -s -C "$ROOT" -j2 B="$B" sanitize
}

e2e_deps() {
    local dir="$ROOT/tests/e2e"
    if [ ! -d "$dir/node_modules" ] \
        || [ "$dir/package-lock.json" -nt "$dir/node_modules" ]; then
        log "installing the official SDK clients (npm ci)"
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
        touch "$dir/node_modules"
    fi
}

run_tests() {
    local unit_out pytest_out rc=0
    e2e_deps

    log "unit tests (engine, cmocka)"
    unit_out="$B/unit.out"
    "$B/test_engine" 2>&1 | tee "$unit_out" || rc=1

    log "integration and end-to-end tests (real nginx, TLS mocks, SDKs)"
    pytest_out="$B/pytest.out"
    (cd "$ROOT" && "$PY" -m pytest -q -p no:cacheprovider tests) 2>&1 \
        | tee "$pytest_out" || rc=1

    # one closing line for the whole run
    "$PY" "$ROOT/tests/lib/summary.py" "$unit_out" "$pytest_out" || rc=1
    return $rc
}

case "${1:-build}" in
    build)  build ;;
    run)    build; exec "$PY" "$ROOT/config/demo/run.py" ;;
    test)   build; build_sanitized; run_tests ;;
    fuzz)   build; build_sanitized
            mkdir -p "$B/fuzz"
            exec "$PY" "$ROOT/tests/fuzz/runfuzz.py" "${2:-600}" \
                --corpus "$B/fuzz/corpus" ;;
    bench)  build; rc=0
            "$ROOT/tests/bench/redact/run" || rc=1
            "$ROOT/tests/bench/log/run" || rc=1
            "$ROOT/tests/bench/restore/run" || rc=1
            # last: its last line is the tracked "ratio full/plain 4KB"
            "$ROOT/tests/bench/gateway/run" || rc=1
            exit $rc ;;
    soak)   build; exec "$ROOT/tests/bench/soak/run" --seconds "${2:-150}" ;;
    *)      echo "usage: $0 [build|run|test|bench|fuzz N|soak [S]]" >&2
            exit 2 ;;
esac
