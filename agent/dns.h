/* agent/dns: the cluster DNS every node serves to its pods. Owns the DNS
 * wire format for the little it needs (one question, A answers), the
 * Kubernetes names (<svc>.<ns>.svc.<domain>, <svc>.<ns>.svc,
 * <a-b-c-d>.<ns>.pod.<domain>) and a UDP responder on the libuv loop; and
 * the resolv.conf text pods get. Knows nothing of the store: the agent
 * answers "which addresses has service ns/name" through a callback (the
 * ClusterIP, or the ready endpoints' IPs of a headless service).
 *
 * Answers are authoritative for the cluster domain: a known name gets its A
 * records (TTL AGENT_DNS_TTL_S), a known name asked for another type (AAAA,
 * SRV, ...) gets NOERROR with no answer, an unknown name in the domain
 * NXDOMAIN; any name outside it gets REFUSED (no recursion: pods that need
 * outside names get a second nameserver line). Responses fit in 512 bytes
 * (TC set when answers were cut). Malformed packets get FORMERR when the
 * header could be read, and nothing otherwise; responses are never
 * answered.
 *
 * Threads: agent__dns_answer and agent__dns_resolv_conf are pure; the
 * server lives on one loop thread and calls the lookup there. */
#ifndef SKIFF_AGENT_DNS_H
#define SKIFF_AGENT_DNS_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "lib/err.h"

#define AGENT_DNS_DOMAIN  "cluster.local"
#define AGENT_DNS_TTL_S   5
#define AGENT_DNS_IPS_MAX 64
#define AGENT_DNS_UDP_MAX 512 /* classic DNS over UDP; no EDNS */

/* DNS RCODEs we send. */
enum {
    AGENT_DNS_NOERROR = 0,
    AGENT_DNS_FORMERR = 1,
    AGENT_DNS_SERVFAIL = 2,
    AGENT_DNS_NXDOMAIN = 3,
    AGENT_DNS_NOTIMP = 4,
    AGENT_DNS_REFUSED = 5,
};

/* What a name resolves to: IPv4 addresses in network byte order. */
struct agent__dns_records {
    uint32_t ips[AGENT_DNS_IPS_MAX];
    size_t n_ips;
};

/* The agent's answer for service ns/svc (lower-case DNS labels, borrowed
 * for the call): fill out and return 0 when the service exists (n_ips 0 is
 * fine: a headless service without ready endpoints), ERR_NOTFOUND when it
 * does not; anything else is answered SERVFAIL. Called on the loop thread. */
typedef int (*agent__dns_lookup_cb)(void *data, const char *ns, const char *svc,
                                    struct agent__dns_records *out);

struct agent__dns_config {
    const char *domain;          /* NULL → AGENT_DNS_DOMAIN; copied by agent__dns_new */
    agent__dns_lookup_cb lookup; /* required */
    void *data;                  /* passed to lookup */
};

/* Answers one query packet q[0..qlen) into resp (cap >= AGENT_DNS_UDP_MAX).
 * Returns the response length, or 0 when nothing must be sent (shorter
 * than a header, or a response). Never reads outside q. *rcode (may be
 * NULL) gets the RCODE sent. */
size_t agent__dns_answer(const struct agent__dns_config *c, const uint8_t *q, size_t qlen,
                         uint8_t *resp, size_t cap, int *rcode);

/* The UDP responder. */
struct agent__dns;

/* Binds addr:port (IPv4 literal; port 0 picks one, see agent__dns_port)
 * and starts answering. cfg is copied (domain too). Returns 0 (*out owned:
 * agent__dns_close), ERR_INVALID (addr, domain), ERR_IO (bind: in use, not
 * a local address) or ERR_NOMEM. */
int agent__dns_new(uv_loop_t *loop, const struct agent__dns_config *cfg, const char *addr, int port,
                   struct agent__dns **out, struct err *e);

/* The bound port. */
int agent__dns_port(const struct agent__dns *d);

/* Stops answering and closes the socket; cb (may be NULL) fires once on a
 * later loop iteration, after which d is freed. Queries in flight are
 * dropped. */
void agent__dns_close(struct agent__dns *d, void (*cb)(void *data), void *data);

/* A pod's /etc/resolv.conf:
 *     search <ns>.svc.<domain> svc.<domain> <domain>
 *     nameserver <nameserver>
 *     options ndots:5
 * domain NULL → AGENT_DNS_DOMAIN. Returns 0, ERR_INVALID (nameserver not
 * an IPv4 address, ns or domain not DNS names, buffer too small). */
int agent__dns_resolv_conf(const char *nameserver, const char *ns, const char *domain, char *buf,
                           size_t cap, struct err *e);

#endif
