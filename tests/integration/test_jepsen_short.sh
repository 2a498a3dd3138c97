#!/usr/bin/env bash
# jepsen, short mode (about 2 minutes): a fixed selection of jepsen/run.sh
# runs on 3 nodes in network namespaces, fixed seeds, each judged by
# jepsen/check:
#   register under partition-halves 25 s       expect valid
#   set under kill 15 s                        expect valid
#   orch under leader-kill 20 s                expect valid
#   register under partition-halves 15 s with SKIFF_UNSAFE_STALE_READS=1
#                                              expect an anomaly (the
#                                              checker must catch it)
# The runs of a failing case stay under jepsen/store/short/ (history, node
# logs, check.txt, cmd); passing ones are removed. Needs root, ip, nft,
# nsenter, jq, curl and libcurl's headers (the client is built here).
source "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root (network namespaces, nftables)"; exit 0; fi
for b in ip nft nsenter jq curl cc pkg-config; do
    command -v "$b" >/dev/null || { echo "SKIP: $b not installed"; exit 0; }
done
pkg-config --exists libcurl jansson || { echo "SKIP: libcurl/jansson headers missing"; exit 0; }

# jepsen/client and jepsen/check: given, or built here (make test does not
# build build/rel/)
CLIENT=${JEPSEN_CLIENT:-$T_DIR/client}
CHECK=${JEPSEN_CHECK:-$T_DIR/check}
if [ ! -x "$CLIENT" ]; then
    cc -std=gnu11 -O2 -I"$ROOT" -D_GNU_SOURCE -o "$CLIENT" "$ROOT/jepsen/client.c" \
        $(pkg-config --cflags --libs jansson libcurl) || fail "building jepsen/client"
fi
if [ ! -x "$CHECK" ]; then
    cc -std=gnu11 -O2 -I"$ROOT" -D_GNU_SOURCE -o "$CHECK" "$ROOT"/jepsen/{check,history,linear,set,orch}.c \
        "$ROOT/lib/err.c" $(pkg-config --cflags --libs jansson) -lm || fail "building jepsen/check"
fi
export SKIFF_BIN=$SKIFF JEPSEN_CLIENT=$CLIENT JEPSEN_CHECK=$CHECK
export JEPSEN_STORE=$ROOT/jepsen/store/short
# a test network index of its own (make jepsen uses 1 by default)
export JEPSEN_NET=${JEPSEN_SHORT_NET:-77}
export JEPSEN_NODES=3 JEPSEN_WORKERS=6 JEPSEN_HEAL_SECS=30

failed=()
jrun() { # name args...
    local name=$1 out=$T_DIR/$1.out rc
    shift
    log "jepsen $name: jepsen/run.sh $*"
    "$ROOT/jepsen/run.sh" "$@" >"$out" 2>&1
    rc=$?
    tail -n 3 "$out"
    run=$(awk 'END {print $NF}' "$out")
    if [ "$rc" -ne 0 ]; then
        failed+=("$name")
        sed 's/^/    /' "$out" | tail -n 40
        echo "    kept: $JEPSEN_STORE/$run"
    else
        [ -n "$run" ] && rm -rf "${JEPSEN_STORE:?}/$run"
    fi
}

jrun register-partition --workload register --nemesis partition-halves --secs 25 --seed 501
jrun set-kill --workload set --nemesis kill --secs 15 --seed 502
jrun orch-leader-kill --workload orch --nemesis leader-kill --secs 20 --seed 503
jrun register-stale-reads --workload register --nemesis partition-halves --secs 15 --seed 504 \
    --stale-reads --expect anomaly
rmdir "$JEPSEN_STORE" 2>/dev/null

[ "${#failed[@]}" -eq 0 ] || fail "jepsen short: ${failed[*]}"
log "jepsen short: ok"
