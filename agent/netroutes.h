/* agent/netroutes: routes from this node to the other nodes' pod CIDRs
 * (host gateway: `<cidr> via <node address>`), and IPv4 forwarding. Owns
 * the diff between the routes wanted and the routes this node made before,
 * and applying it with iproute2. Knows nothing of Node objects: the agent
 * passes (pod CIDR, address) of every other node.
 *
 * Our routes carry the routing protocol number AGENT_ROUTES_PROTO, which is
 * how we find "ours" again after a restart and remove stale ones without
 * touching anybody else's. 0x2a (42) would read nicely but is RTPROT_BABEL
 * (a babel daemon's routes would be taken for ours), so skiff uses 0x53.
 *
 * Threads: the diff and the parser are pure; sync/flush/forwarding block on
 * `ip` or /proc (thread pool). */
#ifndef SKIFF_AGENT_NETROUTES_H
#define SKIFF_AGENT_NETROUTES_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"

#define AGENT_ROUTES_PROTO "0x53" /* unassigned in rtnetlink.h and rt_protos */

struct agent__route {
    char dst[20]; /* "10.244.1.0/24", normalised (host bits cleared) */
    char via[16]; /* "192.168.77.2" */
};

/* Checks and normalises r in place (dst an IPv4 CIDR, via an IPv4 address).
 * Returns 0 or ERR_INVALID naming the field. */
int agent__route_check(struct agent__route *r, struct err *e);

/* The plan that turns have into want: indices into want to `replace`
 * (new dst, or same dst with another gateway) and into have to delete (dst
 * no longer wanted). Owned arrays; close with agent__routes_plan_close. */
struct agent__routes_plan {
    size_t *replace, n_replace;
    size_t *del, n_del;
};

/* Pure diff. Both lists must be checked (agent__route_check); a dst listed
 * twice in want keeps its first entry. Returns 0 or ERR_NOMEM. */
int agent__routes_diff(const struct agent__route *want, size_t n_want,
                       const struct agent__route *have, size_t n_have,
                       struct agent__routes_plan *plan, struct err *e);
void agent__routes_plan_close(struct agent__routes_plan *plan);

/* Parses `ip -j -4 route show proto AGENT_ROUTES_PROTO` output (entries
 * without a gateway or with an unreadable dst are skipped). Returns 0 with
 * *out owned (free(); NULL when n is 0), ERR_INVALID (not a JSON array) or
 * ERR_NOMEM. */
int agent__routes_parse(const char *json, size_t len, struct agent__route **out, size_t *n,
                        struct err *e);

/* Makes the routes tagged AGENT_ROUTES_PROTO in the main table equal want:
 * lists them, `ip route replace DST via VIA proto P` for each missing or
 * changed one, `ip route del DST proto P` for each stale one. ip_bin NULL →
 * "ip". Every wanted route is tried even when one fails (a node not yet
 * reachable must not hold back the others); returns 0 or the first error
 * (ERR_INVALID for a bad entry in want, ERR_IO, ERR_TIMEOUT). */
int agent__routes_sync(const char *ip_bin, const struct agent__route *want, size_t n_want,
                       int timeout_ms, struct err *e);

/* Removes every route this node made (sync with nothing). */
int agent__routes_flush(const char *ip_bin, int timeout_ms, struct err *e);

/* Writes 1 (or 0) to /proc/sys/net/ipv4/ip_forward of the calling
 * thread's network namespace. Returns 0 or ERR_IO. */
int agent__ip_forward(bool enable, struct err *e);

#endif
