# bench/lib.sh: shell pieces the bench scripts share (sourced, not run).

# bench_reset_nodes WORK SKIFF: undoes what the stopped nodes in WORK/skN
# made on this machine (containers, mounts, cgroups, nft tables, routes,
# bridges), as the integration tests do; root only (others make none of
# it). Prints the data dirs whose reset failed.
bench_reset_nodes() {
    local d
    [ "$(id -u)" -eq 0 ] || return 0
    for d in "$1"/sk[0-9]*; do
        [ -d "$d" ] || continue
        timeout 120 "$2" reset --data-dir "$d" --name "node${d##*/sk}" --keep-data \
            >/dev/null 2>&1 || echo "$d"
    done
}
