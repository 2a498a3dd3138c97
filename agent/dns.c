/* agent/dns: cluster DNS answers and the UDP responder (see dns.h). The
 * wire format is RFC 1035 §4; only what a stub resolver sends is accepted:
 * one question, an uncompressed name. */
#include "agent/dns.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HDR_LEN    12
#define LABELS_MAX 128
#define NAME_MAX_  255
#define TYPE_A     1
#define TYPE_ANY   255
#define CLASS_IN   1
#define CLASS_ANY  255

/* A parsed question: labels point into lower-cased copies in buf. */
struct question {
    char buf[NAME_MAX_ + 1];
    const char *label[LABELS_MAX];
    size_t len[LABELS_MAX];
    size_t n;
    size_t end; /* offset just past QTYPE/QCLASS */
    uint16_t qtype, qclass;
};

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* Parses the question at offset 12. false: malformed (FORMERR). */
static bool parse_question(const uint8_t *q, size_t qlen, struct question *out)
{
    size_t off = HDR_LEN, w = 0;

    out->n = 0;
    for (;;) {
        size_t l;
        if (off >= qlen)
            return false;
        l = q[off++];
        if (l == 0)
            break;
        /* compression pointers (0xC0) and the reserved 0x40/0x80 types are
         * not sent by stub resolvers in a question: refuse them rather than
         * follow offsets */
        if (l > 63 || off + l > qlen || w + l + 1 > NAME_MAX_ || out->n == LABELS_MAX)
            return false;
        for (size_t i = 0; i < l; i++) {
            char c = (char)q[off + i];
            out->buf[w + i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
        }
        out->label[out->n] = &out->buf[w];
        out->len[out->n] = l;
        out->n++;
        w += l;
        out->buf[w++] = '\0';
        off += l;
    }
    if (off + 4 > qlen)
        return false;
    out->qtype = get16(q + off);
    out->qclass = get16(q + off + 2);
    out->end = off + 4;
    return true;
}

static bool label_is(const struct question *qn, size_t i, const char *s)
{
    return qn->len[i] == strlen(s) && memcmp(qn->label[i], s, qn->len[i]) == 0;
}

/* An RFC 1123 label: [a-z0-9-], not starting or ending with '-'. */
static bool dns_label(const char *s, size_t n)
{
    if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return true;
}

/* Number of domain labels matched at the end of the question, or -1. */
static int domain_suffix(const struct question *qn, const char *domain)
{
    size_t nd = 1, i;
    const char *p, *end;

    for (p = domain; *p; p++)
        nd += *p == '.';
    if (qn->n < nd)
        return -1;
    p = domain;
    for (i = qn->n - nd; i < qn->n; i++) {
        end = strchr(p, '.');
        size_t l = end ? (size_t)(end - p) : strlen(p);
        if (qn->len[i] != l || strncasecmp(qn->label[i], p, l) != 0)
            return -1;
        p = end ? end + 1 : p + l;
    }
    return (int)nd;
}

/* "10-244-0-5" → 10.244.0.5 (network order). */
static bool dashed_ip(const char *s, size_t n, uint32_t *ip)
{
    char buf[INET_ADDRSTRLEN];
    struct in_addr a;
    if (n >= sizeof buf)
        return false;
    for (size_t i = 0; i < n; i++)
        buf[i] = s[i] == '-' ? '.' : s[i];
    buf[n] = '\0';
    if (inet_pton(AF_INET, buf, &a) != 1)
        return false;
    *ip = a.s_addr;
    return true;
}

enum kind { K_OUTSIDE, K_NXDOMAIN, K_NODATA, K_RECORDS, K_SERVFAIL };

static enum kind svc_lookup(const struct agent__dns_config *c, const struct question *qn,
                            struct agent__dns_records *rec)
{
    int rv;
    /* labels 0 and 1: service and namespace */
    if (!dns_label(qn->label[0], qn->len[0]) || !dns_label(qn->label[1], qn->len[1]))
        return K_NXDOMAIN;
    rv = c->lookup(c->data, qn->label[1], qn->label[0], rec);
    if (rv == ERR_NOTFOUND)
        return K_NXDOMAIN;
    if (rv != 0)
        return K_SERVFAIL;
    if (rec->n_ips > AGENT_DNS_IPS_MAX)
        rec->n_ips = AGENT_DNS_IPS_MAX;
    return K_RECORDS;
}

/* What the name is, by Kubernetes' DNS spec (the parts skiff serves). */
static enum kind classify(const struct agent__dns_config *c, const struct question *qn,
                          struct agent__dns_records *rec)
{
    int nd = domain_suffix(qn, c->domain ? c->domain : AGENT_DNS_DOMAIN);
    size_t r;

    rec->n_ips = 0;
    if (nd < 0) {
        /* "<svc>.<ns>.svc": asked without the domain */
        if (qn->n == 3 && label_is(qn, 2, "svc"))
            return svc_lookup(c, qn, rec);
        return K_OUTSIDE;
    }
    r = qn->n - (size_t)nd; /* labels left of the domain */
    if (r == 3 && label_is(qn, 2, "svc"))
        return svc_lookup(c, qn, rec);
    if (r == 3 && label_is(qn, 2, "pod") && dns_label(qn->label[1], qn->len[1]) &&
        dashed_ip(qn->label[0], qn->len[0], &rec->ips[0])) {
        rec->n_ips = 1;
        return K_RECORDS;
    }
    /* the domain itself, "svc.<domain>" and "<ns>.svc.<domain>" exist
     * (empty non-terminals): no data, but not NXDOMAIN either, which
     * resolvers would cache for everything below */
    if (r == 0 || (r == 1 && label_is(qn, 0, "svc")) || (r == 2 && label_is(qn, 1, "svc")))
        return K_NODATA;
    return K_NXDOMAIN;
}

/* Header-only reply for packets whose question we could not read. */
static size_t header_only(const uint8_t *q, uint8_t *resp, int code, int *rcode)
{
    memset(resp, 0, HDR_LEN);
    memcpy(resp, q, 2);                        /* id */
    resp[2] = (uint8_t)(0x80 | (q[2] & 0x79)); /* QR, opcode, RD */
    resp[3] = (uint8_t)code;
    if (rcode != NULL)
        *rcode = code;
    return HDR_LEN;
}

size_t agent__dns_answer(const struct agent__dns_config *c, const uint8_t *q, size_t qlen,
                         uint8_t *resp, size_t cap, int *rcode)
{
    struct question qn;
    struct agent__dns_records rec;
    enum kind k;
    size_t len, i;
    int code = AGENT_DNS_NOERROR;
    uint16_t an = 0;

    if (q == NULL || qlen < HDR_LEN || cap < AGENT_DNS_UDP_MAX || (q[2] & 0x80) != 0)
        return 0; /* too short, or a response: answering responses makes loops */
    if (((q[2] >> 3) & 0x0f) != 0)
        return header_only(q, resp, AGENT_DNS_NOTIMP, rcode);
    if (get16(q + 4) != 1 || !parse_question(q, qlen, &qn) || qn.end - HDR_LEN > cap - HDR_LEN)
        return header_only(q, resp, AGENT_DNS_FORMERR, rcode);
    if (qn.qclass != CLASS_IN && qn.qclass != CLASS_ANY)
        k = K_OUTSIDE;
    else
        k = classify(c, &qn, &rec);

    /* header + the question as asked (its case kept: DNS 0x20) */
    len = qn.end;
    memcpy(resp, q, len);
    memset(resp + 4, 0, 8);
    put16(resp + 4, 1);
    resp[2] = (uint8_t)(0x80 | (q[2] & 0x01)); /* QR, opcode 0, RD copied */
    if (k == K_OUTSIDE) {
        code = AGENT_DNS_REFUSED;
    } else {
        resp[2] |= 0x04; /* AA: the cluster domain is ours */
        code = k == K_NXDOMAIN   ? AGENT_DNS_NXDOMAIN
               : k == K_SERVFAIL ? AGENT_DNS_SERVFAIL
                                 : AGENT_DNS_NOERROR;
    }
    if (k == K_RECORDS && (qn.qtype == TYPE_A || qn.qtype == TYPE_ANY)) {
        for (i = 0; i < rec.n_ips; i++) {
            uint8_t *p = resp + len;
            if (len + 16 > AGENT_DNS_UDP_MAX) {
                resp[2] |= 0x02; /* TC: the client retries over TCP or makes do */
                break;
            }
            put16(p, 0xC000 | HDR_LEN); /* the name: a pointer to the question */
            put16(p + 2, TYPE_A);
            put16(p + 4, CLASS_IN);
            put16(p + 6, 0);
            put16(p + 8, AGENT_DNS_TTL_S);
            put16(p + 10, 4);
            memcpy(p + 12, &rec.ips[i], 4);
            len += 16;
            an++;
        }
    }
    put16(resp + 6, an);
    resp[3] = (uint8_t)code;
    if (rcode != NULL)
        *rcode = code;
    return len;
}

/* ------------------------------------------------------------------ */
/* The UDP server                                                      */

struct agent__dns {
    uv_udp_t udp;
    struct agent__dns_config cfg;
    char domain[NAME_MAX_ + 1];
    int port;
    uint8_t rbuf[65536]; /* one datagram at a time: recv runs right after alloc */
    void (*close_cb)(void *data);
    void *close_data;
};

struct send_req {
    uv_udp_send_t req;
    uint8_t buf[AGENT_DNS_UDP_MAX];
};

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct agent__dns *d = h->data;
    (void)suggested;
    *buf = uv_buf_init((char *)d->rbuf, sizeof d->rbuf);
}

static void on_sent(uv_udp_send_t *req, int status)
{
    (void)status; /* a lost answer is a lost datagram; the client retries */
    free(req->data);
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *from,
                    unsigned flags)
{
    struct agent__dns *d = h->data;
    struct send_req *s;
    uv_buf_t out;
    size_t n;

    if (nread <= 0 || from == NULL || (flags & UV_UDP_PARTIAL) != 0)
        return;
    s = malloc(sizeof *s);
    if (s == NULL)
        return;
    n = agent__dns_answer(&d->cfg, (const uint8_t *)buf->base, (size_t)nread, s->buf, sizeof s->buf,
                          NULL);
    if (n == 0) {
        free(s);
        return;
    }
    s->req.data = s;
    out = uv_buf_init((char *)s->buf, (unsigned)n);
    if (uv_udp_send(&s->req, h, &out, 1, from, on_sent) != 0)
        free(s);
}

static bool domain_ok(const char *s)
{
    const char *p = s;
    if (strlen(s) > 200)
        return false;
    for (;;) {
        size_t l = strcspn(p, ".");
        if (!dns_label(p, l))
            return false;
        if (p[l] == '\0')
            return true;
        p += l + 1;
    }
}

int agent__dns_new(uv_loop_t *loop, const struct agent__dns_config *cfg, const char *addr, int port,
                   struct agent__dns **out, struct err *e)
{
    struct sockaddr_in sa;
    struct sockaddr_storage bound;
    int len = sizeof bound, rv;
    struct agent__dns *d;
    const char *domain = cfg->domain ? cfg->domain : AGENT_DNS_DOMAIN;

    if (cfg->lookup == NULL)
        return err_setf(e, ERR_INVALID, "dns: lookup callback required");
    if (!domain_ok(domain))
        return err_setf(e, ERR_INVALID, "dns: domain: not a DNS name: \"%s\"", domain);
    if (addr == NULL || port < 0 || port > 65535 || uv_ip4_addr(addr, port, &sa) != 0)
        return err_setf(e, ERR_INVALID, "dns: listen address: not IPv4 addr and port");
    d = calloc(1, sizeof *d);
    if (d == NULL)
        return err_setf(e, ERR_NOMEM, "dns: out of memory");
    d->cfg = *cfg;
    snprintf(d->domain, sizeof d->domain, "%s", domain);
    d->cfg.domain = d->domain;
    uv_udp_init(loop, &d->udp);
    d->udp.data = d;
    rv = uv_udp_bind(&d->udp, (const struct sockaddr *)&sa, 0);
    if (rv == 0)
        rv = uv_udp_getsockname(&d->udp, (struct sockaddr *)&bound, &len);
    if (rv == 0)
        rv = uv_udp_recv_start(&d->udp, on_alloc, on_recv);
    if (rv != 0) {
        err_setf(e, ERR_IO, "dns: listen %s:%d: %s", addr, port, uv_strerror(rv));
        agent__dns_close(d, NULL, NULL);
        return ERR_IO;
    }
    d->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
    *out = d;
    return 0;
}

int agent__dns_port(const struct agent__dns *d)
{
    return d->port;
}

static void on_closed(uv_handle_t *h)
{
    struct agent__dns *d = h->data;
    void (*cb)(void *) = d->close_cb;
    void *data = d->close_data;
    free(d);
    if (cb != NULL)
        cb(data);
}

void agent__dns_close(struct agent__dns *d, void (*cb)(void *data), void *data)
{
    if (d == NULL)
        return;
    d->close_cb = cb;
    d->close_data = data;
    uv_udp_recv_stop(&d->udp);
    uv_close((uv_handle_t *)&d->udp, on_closed);
}

/* ------------------------------------------------------------------ */
/* resolv.conf                                                         */

int agent__dns_resolv_conf(const char *nameserver, const char *ns, const char *domain, char *buf,
                           size_t cap, struct err *e)
{
    struct in_addr a;

    domain = domain ? domain : AGENT_DNS_DOMAIN;
    if (nameserver == NULL || inet_pton(AF_INET, nameserver, &a) != 1)
        return err_setf(e, ERR_INVALID, "resolv.conf: nameserver: not an IPv4 address");
    if (ns == NULL || !dns_label(ns, strlen(ns)))
        return err_setf(e, ERR_INVALID, "resolv.conf: namespace: not a DNS label");
    if (!domain_ok(domain))
        return err_setf(e, ERR_INVALID, "resolv.conf: domain: not a DNS name");
    if (snprintf(buf, cap, "search %s.svc.%s svc.%s %s\nnameserver %s\noptions ndots:5\n", ns,
                 domain, domain, domain, nameserver) >= (int)cap)
        return err_setf(e, ERR_INVALID, "resolv.conf: buffer too small");
    return 0;
}
