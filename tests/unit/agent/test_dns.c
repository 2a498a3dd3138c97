/* Cluster DNS: answers built from query packets (A for services, the
 * no-domain and pod forms, NXDOMAIN/NODATA/REFUSED, truncation), packets
 * cut at every length and random mutations (run under ASan: nothing is read
 * outside the packet), the resolv.conf text, and the UDP responder on a
 * real loopback socket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/dns.h"
#include "tests/unit/helpers/helpers.h"

/* The test "agent": default/web has a ClusterIP, default/db is headless
 * with two ready endpoints, default/big has 40 addresses, default/none is
 * headless without endpoints, default/broken fails. */
static int lookup(void *data, const char *ns, const char *svc, struct agent__dns_records *out)
{
    int *calls = data;
    (*calls)++;
    if (strcmp(ns, "default") != 0)
        return ERR_NOTFOUND;
    if (strcmp(svc, "web") == 0) {
        out->ips[0] = inet_addr("10.96.0.10");
        out->n_ips = 1;
        return 0;
    }
    if (strcmp(svc, "db") == 0) {
        out->ips[0] = inet_addr("10.244.0.5");
        out->ips[1] = inet_addr("10.244.1.6");
        out->n_ips = 2;
        return 0;
    }
    if (strcmp(svc, "big") == 0) {
        for (int i = 0; i < 40; i++)
            out->ips[i] = htonl(0x0af40000u + (uint32_t)i);
        out->n_ips = 40;
        return 0;
    }
    if (strcmp(svc, "none") == 0)
        return 0;
    if (strcmp(svc, "broken") == 0)
        return ERR_IO;
    return ERR_NOTFOUND;
}

/* A query for name (dotted) and qtype, id 0x1234, RD set. */
static size_t query(uint8_t *buf, const char *name, uint16_t qtype)
{
    size_t n = 12;
    const char *p = name;
    memset(buf, 0, 12);
    buf[0] = 0x12;
    buf[1] = 0x34;
    buf[2] = 0x01; /* RD */
    buf[5] = 1;    /* QDCOUNT */
    while (*p) {
        size_t l = strcspn(p, ".");
        buf[n++] = (uint8_t)l;
        memcpy(buf + n, p, l);
        n += l;
        p += l;
        if (*p == '.')
            p++;
    }
    buf[n++] = 0;
    buf[n++] = (uint8_t)(qtype >> 8);
    buf[n++] = (uint8_t)qtype;
    buf[n++] = 0;
    buf[n++] = 1; /* IN */
    return n;
}

struct reply {
    int rcode;
    bool aa, tc, qr, rd;
    unsigned an;
    char ips[64][16];
};

static size_t ask(const char *name, uint16_t qtype, struct reply *r, int *calls)
{
    struct agent__dns_config c = {NULL, lookup, calls};
    uint8_t q[512], resp[AGENT_DNS_UDP_MAX];
    size_t qn = query(q, name, qtype), n, off;
    int rcode = -1;

    n = agent__dns_answer(&c, q, qn, resp, sizeof resp, &rcode);
    assert_true(n >= qn);
    assert_true(n <= AGENT_DNS_UDP_MAX);
    assert_int_equal(resp[0], 0x12);
    assert_int_equal(resp[1], 0x34);
    r->qr = resp[2] & 0x80;
    r->aa = resp[2] & 0x04;
    r->tc = resp[2] & 0x02;
    r->rd = resp[2] & 0x01;
    r->rcode = resp[3] & 0x0f;
    assert_int_equal(r->rcode, rcode);
    assert_int_equal(resp[4] << 8 | resp[5], 1);
    /* the question comes back as asked */
    assert_memory_equal(resp + 12, q + 12, qn - 12);
    r->an = (unsigned)(resp[6] << 8 | resp[7]);
    off = qn;
    for (unsigned i = 0; i < r->an; i++) {
        assert_true(off + 16 <= n);
        assert_int_equal(resp[off], 0xc0); /* pointer to the question name */
        assert_int_equal(resp[off + 1], 12);
        assert_int_equal(resp[off + 3], 1); /* A */
        assert_int_equal(resp[off + 5], 1); /* IN */
        assert_int_equal(resp[off + 9], AGENT_DNS_TTL_S);
        assert_int_equal(resp[off + 11], 4);
        inet_ntop(AF_INET, resp + off + 12, r->ips[i], sizeof r->ips[i]);
        off += 16;
    }
    assert_int_equal(off, n);
    return n;
}

static void test_a_records_for_services(void **state)
{
    struct reply r;
    int calls = 0;

    (void)state;
    ask("web.default.svc.cluster.local", 1, &r, &calls);
    assert_true(r.qr && r.aa && r.rd && !r.tc);
    assert_int_equal(r.rcode, AGENT_DNS_NOERROR);
    assert_int_equal(r.an, 1);
    assert_string_equal(r.ips[0], "10.96.0.10");
    /* case does not matter, and the question keeps the asker's case */
    ask("WeB.Default.SVC.Cluster.Local", 1, &r, &calls);
    assert_int_equal(r.an, 1);
    assert_string_equal(r.ips[0], "10.96.0.10");
    /* without the domain */
    ask("web.default.svc", 1, &r, &calls);
    assert_int_equal(r.an, 1);
    assert_string_equal(r.ips[0], "10.96.0.10");
    /* headless: every ready endpoint */
    ask("db.default.svc.cluster.local", 1, &r, &calls);
    assert_int_equal(r.an, 2);
    assert_string_equal(r.ips[0], "10.244.0.5");
    assert_string_equal(r.ips[1], "10.244.1.6");
    /* ANY gets the A records too */
    ask("web.default.svc.cluster.local", 255, &r, &calls);
    assert_int_equal(r.an, 1);
    /* pod names need no lookup */
    calls = 0;
    ask("10-244-0-7.default.pod.cluster.local", 1, &r, &calls);
    assert_int_equal(r.an, 1);
    assert_string_equal(r.ips[0], "10.244.0.7");
    assert_int_equal(calls, 0);
}

static void test_nxdomain_nodata_refused_servfail(void **state)
{
    struct reply r;
    int calls = 0;

    (void)state;
    ask("nope.default.svc.cluster.local", 1, &r, &calls);
    assert_int_equal(r.rcode, AGENT_DNS_NXDOMAIN);
    assert_true(r.aa);
    assert_int_equal(r.an, 0);
    ask("web.other.svc.cluster.local", 1, &r, &calls);
    assert_int_equal(r.rcode, AGENT_DNS_NXDOMAIN);
    /* a search-path expansion of a full name */
    ask("web.default.svc.cluster.local.default.svc.cluster.local", 1, &r, &calls);
    assert_int_equal(r.rcode, AGENT_DNS_NXDOMAIN);
    ask("a.b.c.web.default.svc.cluster.local", 1, &r, &calls);
    assert_int_equal(r.rcode, AGENT_DNS_NXDOMAIN);
    /* labels that are not DNS labels never reach the lookup */
    calls = 0;
    ask("we_b.default.svc.cluster.local", 1, &r, &calls);
    assert_int_equal(r.rcode, AGENT_DNS_NXDOMAIN);
    assert_int_equal(calls, 0);
    ask("999-1-1-1.default.pod.cluster.local", 1, &r, &calls);
    assert_int_equal(r.rcode, AGENT_DNS_NXDOMAIN);
    /* a known name, another type: NOERROR without answers */
    ask("web.default.svc.cluster.local", 28, &r, &calls);
    assert_int_equal(r.rcode, AGENT_DNS_NOERROR);
    assert_int_equal(r.an, 0);
    /* headless without endpoints: exists, no addresses */
    ask("none.default.svc.cluster.local", 1, &r, &calls);
    assert_int_equal(r.rcode, AGENT_DNS_NOERROR);
    assert_int_equal(r.an, 0);
    /* the domain and the empty non-terminals above services exist */
    ask("cluster.local", 1, &r, &calls);
    assert_int_equal(r.rcode, AGENT_DNS_NOERROR);
    ask("default.svc.cluster.local", 1, &r, &calls);
    assert_int_equal(r.rcode, AGENT_DNS_NOERROR);
    ask("svc.cluster.local", 1, &r, &calls);
    assert_int_equal(r.rcode, AGENT_DNS_NOERROR);
    /* outside the domain: not ours */
    ask("example.com", 1, &r, &calls);
    assert_int_equal(r.rcode, AGENT_DNS_REFUSED);
    assert_false(r.aa);
    ask("web.default", 1, &r, &calls);
    assert_int_equal(r.rcode, AGENT_DNS_REFUSED);
    ask("local", 1, &r, &calls);
    assert_int_equal(r.rcode, AGENT_DNS_REFUSED);
    ask("", 1, &r, &calls);
    assert_int_equal(r.rcode, AGENT_DNS_REFUSED);
    /* the agent failing */
    ask("broken.default.svc.cluster.local", 1, &r, &calls);
    assert_int_equal(r.rcode, AGENT_DNS_SERVFAIL);
}

static void test_large_answers_are_truncated_to_512(void **state)
{
    struct reply r;
    int calls = 0;
    size_t n;

    (void)state;
    n = ask("big.default.svc.cluster.local", 1, &r, &calls);
    assert_true(r.tc);
    assert_true(n <= 512);
    assert_true(r.an >= 25 && r.an < 40);
    assert_string_equal(r.ips[0], "10.244.0.0");
}

static void test_other_domain_is_served(void **state)
{
    struct agent__dns_config c = {"corp.example", lookup, NULL};
    uint8_t q[512], resp[512];
    int calls = 0, rcode;
    size_t qn = query(q, "web.default.svc.corp.example", 1);

    (void)state;
    c.data = &calls;
    assert_true(agent__dns_answer(&c, q, qn, resp, sizeof resp, &rcode) > qn);
    assert_int_equal(rcode, AGENT_DNS_NOERROR);
    qn = query(q, "web.default.svc.cluster.local", 1);
    agent__dns_answer(&c, q, qn, resp, sizeof resp, &rcode);
    assert_int_equal(rcode, AGENT_DNS_REFUSED);
}

static void test_malformed_packets(void **state)
{
    struct agent__dns_config c = {NULL, lookup, NULL};
    uint8_t q[600], resp[AGENT_DNS_UDP_MAX];
    int calls = 0, rcode;
    size_t qn = query(q, "web.default.svc.cluster.local", 1), n;

    (void)state;
    c.data = &calls;
    /* every truncation: under a header nothing, else FORMERR (never read
     * past the end: each cut is copied to a buffer of its exact size) */
    for (size_t len = 0; len < qn; len++) {
        uint8_t *cut = malloc(len ? len : 1);
        assert_non_null(cut);
        memcpy(cut, q, len);
        rcode = -1;
        n = agent__dns_answer(&c, cut, len, resp, sizeof resp, &rcode);
        if (len < 12) {
            assert_int_equal(n, 0);
        } else {
            assert_int_equal(n, 12);
            assert_int_equal(rcode, AGENT_DNS_FORMERR);
        }
        free(cut);
    }
    assert_int_equal(agent__dns_answer(&c, NULL, 0, resp, sizeof resp, NULL), 0);
    /* a response is never answered */
    q[2] |= 0x80;
    assert_int_equal(agent__dns_answer(&c, q, qn, resp, sizeof resp, NULL), 0);
    q[2] &= 0x7f;
    /* two questions */
    q[5] = 2;
    assert_int_equal(agent__dns_answer(&c, q, qn, resp, sizeof resp, &rcode), 12);
    assert_int_equal(rcode, AGENT_DNS_FORMERR);
    q[5] = 1;
    /* another opcode (IQUERY/STATUS/UPDATE) */
    q[2] = 0x28; /* opcode 5 */
    assert_int_equal(agent__dns_answer(&c, q, qn, resp, sizeof resp, &rcode), 12);
    assert_int_equal(rcode, AGENT_DNS_NOTIMP);
    assert_int_equal(resp[2] & 0x78, 0x28);
    q[2] = 0x01;
    /* a compression pointer in the question */
    q[12] = 0xc0;
    assert_int_equal(agent__dns_answer(&c, q, qn, resp, sizeof resp, &rcode), 12);
    assert_int_equal(rcode, AGENT_DNS_FORMERR);
    /* a name longer than 255 */
    memset(q + 12, 0, sizeof q - 12);
    for (int i = 0; i < 5; i++) {
        q[12 + i * 64] = 63;
        memset(q + 13 + i * 64, 'a', 63);
    }
    assert_int_equal(agent__dns_answer(&c, q, 12 + 5 * 64 + 5, resp, sizeof resp, &rcode), 12);
    assert_int_equal(rcode, AGENT_DNS_FORMERR);
    /* class CH (version.bind and friends): not ours */
    qn = query(q, "version.bind", 16);
    q[qn - 1] = 3;
    agent__dns_answer(&c, q, qn, resp, sizeof resp, &rcode);
    assert_int_equal(rcode, AGENT_DNS_REFUSED);
    /* a cap below 512 is refused outright */
    assert_int_equal(agent__dns_answer(&c, q, qn, resp, 100, NULL), 0);
}

/* Random bytes and random mutations of a good query: no crash, no read
 * outside the packet (ASan), every reply within 512 bytes and well formed
 * enough to carry our id. */
static void test_fuzz(void **state)
{
    struct agent__dns_config c = {NULL, lookup, NULL};
    uint8_t good[512], resp[AGENT_DNS_UDP_MAX];
    size_t gn = query(good, "web.default.svc.cluster.local", 1);
    unsigned seed = 12345;
    int calls = 0;

    (void)state;
    c.data = &calls;
    for (int iter = 0; iter < 200000; iter++) {
        uint8_t m[512];
        size_t len, n;
        uint8_t *p;
        if (iter % 2 == 0) {
            len = (size_t)(rand_r(&seed) % 300);
            for (size_t i = 0; i < len; i++)
                m[i] = (uint8_t)rand_r(&seed);
        } else {
            memcpy(m, good, gn);
            for (int k = rand_r(&seed) % 4; k >= 0; k--)
                m[(size_t)rand_r(&seed) % gn] = (uint8_t)rand_r(&seed);
            len = (size_t)rand_r(&seed) % (gn + 1);
        }
        /* exactly len bytes on the heap: ASan sees any read past the end */
        p = malloc(len ? len : 1);
        assert_non_null(p);
        memcpy(p, m, len);
        n = agent__dns_answer(&c, p, len, resp, sizeof resp, NULL);
        assert_true(n <= AGENT_DNS_UDP_MAX);
        if (n > 0) {
            assert_true(n >= 12);
            assert_memory_equal(resp, p, 2);
            assert_true(resp[2] & 0x80);
        }
        free(p);
    }
}

static void test_resolv_conf(void **state)
{
    char buf[256];
    struct err e;

    (void)state;
    assert_int_equal(agent__dns_resolv_conf("10.244.0.1", "default", NULL, buf, sizeof buf, &e), 0);
    assert_string_equal(buf, "search default.svc.cluster.local svc.cluster.local cluster.local\n"
                             "nameserver 10.244.0.1\n"
                             "options ndots:5\n");
    assert_int_equal(
        agent__dns_resolv_conf("10.0.0.1", "kube-system", "k.test", buf, sizeof buf, &e), 0);
    assert_string_equal(buf, "search kube-system.svc.k.test svc.k.test k.test\n"
                             "nameserver 10.0.0.1\noptions ndots:5\n");
    assert_int_equal(agent__dns_resolv_conf("10.0.0", "default", NULL, buf, sizeof buf, &e),
                     ERR_INVALID);
    assert_int_equal(agent__dns_resolv_conf("10.0.0.1", "Bad_NS", NULL, buf, sizeof buf, &e),
                     ERR_INVALID);
    assert_int_equal(agent__dns_resolv_conf("10.0.0.1", "default", "a..b", buf, sizeof buf, &e),
                     ERR_INVALID);
    assert_int_equal(agent__dns_resolv_conf("10.0.0.1", "default", NULL, buf, 20, &e), ERR_INVALID);
}

/* ---- the UDP responder ---- */

static void on_closed(void *data)
{
    *(int *)data = 1;
}

static void test_udp_server_answers_on_loopback(void **state)
{
    struct agent__dns_config c = {NULL, lookup, NULL};
    struct agent__dns *d = NULL, *d2 = NULL;
    struct sockaddr_in to = {0};
    uint8_t q[512], resp[1024];
    int calls = 0, closed = 0, fd, port;
    ssize_t got = -1;
    size_t qn;
    uv_loop_t loop;
    struct err e;

    (void)state;
    c.data = &calls;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(agent__dns_new(&loop, &c, "127.0.0.1", 0, &d, &e), 0);
    port = agent__dns_port(d);
    assert_true(port > 0);
    /* the port is taken now */
    assert_int_equal(agent__dns_new(&loop, &c, "127.0.0.1", port, &d2, &e), ERR_IO);
    assert_int_equal(agent__dns_new(&loop, &c, "localhost", 0, &d2, &e), ERR_INVALID);
    c.domain = "bad domain";
    assert_int_equal(agent__dns_new(&loop, &c, "127.0.0.1", 0, &d2, &e), ERR_INVALID);

    fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    to.sin_family = AF_INET;
    to.sin_port = htons((uint16_t)port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* garbage first: dropped, and the server carries on */
    assert_int_equal(sendto(fd, "x", 1, 0, (struct sockaddr *)&to, sizeof to), 1);
    qn = query(q, "web.default.svc.cluster.local", 1);
    assert_int_equal(sendto(fd, q, qn, 0, (struct sockaddr *)&to, sizeof to), (ssize_t)qn);
    for (int i = 0; i < 1000 && got < 0; i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        got = recv(fd, resp, sizeof resp, MSG_DONTWAIT);
        if (got < 0)
            usleep(2000);
    }
    assert_int_equal(got, (ssize_t)qn + 16);
    assert_int_equal(resp[3] & 0x0f, 0);
    assert_memory_equal(resp + qn + 12, "\x0a\x60\x00\x0a", 4);
    close(fd);

    agent__dns_close(d, on_closed, &closed);
    assert_int_equal(closed, 0); /* never from inside the call */
    assert_int_equal(helpers_loop_close(&loop), 0);
    assert_int_equal(closed, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_records_for_services),
        cmocka_unit_test(test_nxdomain_nodata_refused_servfail),
        cmocka_unit_test(test_large_answers_are_truncated_to_512),
        cmocka_unit_test(test_other_domain_is_served),
        cmocka_unit_test(test_malformed_packets),
        cmocka_unit_test(test_fuzz),
        cmocka_unit_test(test_resolv_conf),
        cmocka_unit_test(test_udp_server_answers_on_loopback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
