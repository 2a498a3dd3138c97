/* loadgen: the one load generator both skiff and its peer (etcd's v3 JSON
 * gateway) are driven with, so the two sides of every comparison share the
 * client: libcurl multi on one thread, N concurrent clients, each issuing
 * its next request as soon as the previous one completes (closed loop).
 *
 * Modes (--mode). Object names are b<run-id>-<n>, n counting from 0.
 *   skiff        POST {url}/api/v1/namespaces/default/configmaps, a ConfigMap
 *                with one data value of --value-bytes bytes (HTTPS, bearer
 *                token, CA from --cacert or --insecure)
 *   etcd         POST {url}/v3/kv/put, key --prefix NAME (default prefix
 *                /registry/configmaps/default/), a --value-bytes value
 *   skiff-pod    POST {url}/api/v1/namespaces/default/pods, a small Pod
 *   skiff-get    GET {url}/api/v1/namespaces/default/pods/NAME[?--query],
 *                NAME cycling over the --keys objects of --run-id
 *   etcd-get     POST {url}/v3/kv/range of one key, cycling like skiff-get
 *                (--serializable: a local read, else linearizable)
 *   list         GET {url}/api/v1/namespaces/default/pods, whole
 *                (--limit 0) or paged through every page with ?limit and
 *                ?continue; --reps times, one request at a time
 *   etcd-range   POST {url}/v3/kv/range over --prefix (key + range_end),
 *                whole or paged (the next page starts after the last key)
 *   watch-fanout --watchers W streams GET {watch-url}/api/v1/namespaces/
 *                default/pods?watch=1&resourceVersion=--watch-rv; once all
 *                are open, --max-requests Pod creates through --url with
 *                --clients writers; then waits (--drain-s) for every
 *                watcher to have seen every acknowledged write; --rate R
 *                paces the writes at R per second instead
 *   etcd-watch   the same with W POST {watch-url}/v3/watch streams on
 *                --prefix and v3 puts through --url
 *   http-get     GET {url} as it is (plain HTTP or HTTPS): a Service's
 *                ClusterIP against a pod's own address
 * --no-reuse opens a new connection (and TLS handshake) per request.
 * --value-kind random (default) gives every write its own value of random
 * letters, digits, '-' and '_' (6 bits a byte: nothing for a compressor to
 * find, within a value or across values); repeat writes 'v' * --value-bytes
 * every time, which any compression shrinks to almost nothing.
 * --trace FILE (closed loop): one line per successful request, "START_MS
 * LATENCY_MS" (start relative to the run's start), to see whether slow
 * requests are spread out or bunched into stalls.
 *
 * Output, one line each:
 *   closed loop (skiff, etcd, skiff-pod, skiff-get, etcd-get, http-get):
 *     RESULT ok=N errors=N elapsed_s=F rps=F p50_ms=F p90_ms=F p99_ms=F max_ms=F
 *   list, etcd-range (one sample = one whole list, all pages; the time is
 *   the sum of the transfers, the client's JSON parse is not in it):
 *     RESULT ok=N errors=N pages=N items=N bytes=N p50_ms=F ... max_ms=F min_ms=F
 *   watch-fanout, etcd-watch (latency = receipt in a watcher minus the
 *   write's acknowledgement; negative when the event came first):
 *     RESULT writes_ok=N ... delivered=N missing=N p50_ms=F ... max_ms=F
 *   failover (--failover-kill PID): sends SIGKILL to PID, then starts a
 *   write to every --url (the survivors) every 20 ms, overlapping, until one
 *   succeeds:
 *     RESULT failover_ms=F via=URL attempts=N failed=N
 * Every loop is bounded by a deadline and a request count; every request has
 * a timeout (--timeout-ms; a watch stream: the whole run plus 60 s). */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define MAX_URLS      8
#define MAX_CLIENTS   1024
#define ERRMSG_MAX    300
#define PAGES_MAX     100000     /* per list: a server whose continue never ends */
#define LINE_MAX_B    (64 << 20) /* one watch message; more is a broken stream */
#define WATCH_READY_S 30         /* all watchers must be open within this */

enum mode {
    MODE_SKIFF,
    MODE_ETCD,
    MODE_SKIFF_POD,
    MODE_SKIFF_GET,
    MODE_ETCD_GET,
    MODE_LIST,
    MODE_ETCD_RANGE,
    MODE_WATCH_FANOUT,
    MODE_ETCD_WATCH,
    MODE_HTTP_GET,
    MODE_COUNT,
};

static const char *const mode_names[MODE_COUNT] = {
    "skiff", "etcd",       "skiff-pod",    "skiff-get",  "etcd-get",
    "list",  "etcd-range", "watch-fanout", "etcd-watch", "http-get",
};

struct opts {
    enum mode mode;
    const char *urls[MAX_URLS];
    int n_urls;
    int clients;
    double duration_s;
    long max_requests;
    const char *token;
    const char *cacert;
    bool insecure;
    bool no_reuse; /* a new connection per request */
    int value_bytes;
    const char *run_id;
    long timeout_ms;
    pid_t failover_kill;
    const char *prefix; /* etcd key prefix */
    const char *query;  /* skiff-get: appended after '?' */
    bool serializable;  /* etcd-get / etcd-range */
    long keys;          /* skiff-get / etcd-get: names cycle over this many */
    long limit;         /* list / etcd-range page size, 0 = everything at once */
    long reps;          /* list / etcd-range repetitions */
    long expect;        /* list / etcd-range: items a whole list must have (0: any) */
    int watchers;
    const char *watch_url;
    const char *watch_rv;
    double drain_s;
    double rate; /* watch modes: writes per second at most (0: closed loop) */
    const char *trace; /* closed loop: one line per completed request */
    bool value_repeat; /* --value-kind repeat: every value is 'v' * value_bytes */
};

struct slot {
    CURL *easy;
    char *body;
    size_t body_cap;
    double started;
    double last_byte; /* when the answer's last bytes were read (0: none yet) */
    int url_idx;
    bool busy;
    char resp[ERRMSG_MAX]; /* the start of the answer, for error messages */
    size_t resp_len;
    /* list: the whole answer; watch: the unfinished message */
    char *data;
    size_t data_len, data_cap;
    bool keep;
    int watcher;   /* >= 0: this slot is that watch stream */
    bool ready;    /* watch: established (skiff: saw the sentinel; etcd: created) */
    bool sentinel; /* watch-fanout: the write that tells the watchers are live */
    bool ended;    /* watch: the stream finished before we closed it */
    long seq;      /* the number in the name of the object this request wrote */
    long got;      /* watch: distinct writes seen */
};

static struct opts o = {
    .mode = MODE_SKIFF,
    .clients = 64,
    .duration_s = 10,
    .max_requests = 1000000,
    .value_bytes = 1024,
    .run_id = "0",
    .timeout_ms = 10000,
    .prefix = "/registry/configmaps/default/",
    .keys = 1,
    .reps = 20,
    .watchers = 100,
    .drain_s = 10,
};
static struct slot slots[MAX_CLIENTS];
static struct curl_slist *hdrs;
static char *value_raw, *value_b64;
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

/* xorshift64*: a fresh value of o.value_bytes random characters */
static void fill_random_value(void)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (int i = 0; i < o.value_bytes; i++) {
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        value_raw[i] = alphabet[((rng_state * 0x2545F4914F6CDD1DULL) >> 58) & 63];
    }
    value_raw[o.value_bytes] = '\0';
}
static long seq;
static double *lat_ms;
static long n_ok, n_err, n_issued;
static char first_err[ERRMSG_MAX + 64];
/* watch modes: per write, when it was sent and acknowledged (0: not); per
 * watcher and write, when the event arrived (0: not yet) */
static double *sent_t, *ack_t, *recv_t;
static long n_dup, n_foreign, n_watch_err;
static char name_needle[160]; /* skiff: "name":"b<run>- ; etcd: <prefix>b<run>- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *msg)
{
    fprintf(stderr, "loadgen: %s\n", msg);
    exit(2);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (p == NULL)
        die("out of memory");
    return p;
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (p == NULL)
        die("out of memory");
    return p;
}

static bool is_etcd(void)
{
    return o.mode == MODE_ETCD || o.mode == MODE_ETCD_GET || o.mode == MODE_ETCD_RANGE ||
           o.mode == MODE_ETCD_WATCH;
}

static void note_err(const char *fmt, const char *a, const char *b)
{
    if (first_err[0] == '\0')
        snprintf(first_err, sizeof first_err, fmt, a, b);
}

static char *b64(const char *in, size_t len)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = xmalloc(4 * ((len + 2) / 3) + 1), *p = out;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)(unsigned char)in[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)(unsigned char)in[i + 1] << 8;
        if (i + 2 < len)
            v |= (unsigned char)in[i + 2];
        *p++ = tab[(v >> 18) & 63];
        *p++ = tab[(v >> 12) & 63];
        *p++ = i + 1 < len ? tab[(v >> 6) & 63] : '=';
        *p++ = i + 2 < len ? tab[v & 63] : '=';
    }
    *p = '\0';
    return out;
}

static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* Decodes at most out_cap bytes of base64 (stops at '=' or any other
 * character); returns the decoded length. */
static size_t unb64(const char *in, size_t len, char *out, size_t out_cap)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;
    for (size_t i = 0; i < len && n < out_cap; i++) {
        int v = b64val(in[i]);
        if (v < 0)
            break;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (char)((acc >> bits) & 0xff);
        }
    }
    return n;
}

/* The end of the etcd range that holds every key under prefix. */
static char *prefix_end(const char *p)
{
    size_t n = strlen(p);
    char *e = xmalloc(n + 1);
    memcpy(e, p, n + 1);
    if (n > 0)
        e[n - 1]++;
    return e;
}

static bool grow(struct slot *s, size_t need)
{
    if (need <= s->data_cap)
        return true;
    if (need > LINE_MAX_B * 4u)
        return false;
    size_t cap = s->data_cap ? s->data_cap : 65536;
    while (cap < need)
        cap *= 2;
    char *d = realloc(s->data, cap);
    if (d == NULL)
        return false;
    s->data = d;
    s->data_cap = cap;
    return true;
}

/* ---- watch events ---- */

static void mark(struct slot *s, long n, double t)
{
    if (n < 0 || n >= o.max_requests) {
        n_foreign++;
        return;
    }
    double *r = &recv_t[(size_t)s->watcher * (size_t)o.max_requests + (size_t)n];
    if (*r != 0) {
        n_dup++;
        return;
    }
    *r = t;
    s->got++;
}

static long parse_seq(const char *p, const char *end)
{
    long n = 0;
    if (p >= end || *p < '0' || *p > '9')
        return -1;
    while (p < end && *p >= '0' && *p <= '9' && n < 1000000000L)
        n = n * 10 + (*p++ - '0');
    return n;
}

/* One watch message. Written with string scans rather than a JSON parser:
 * 100 watchers x 1000 events go through this one thread, and a parse would
 * make the client, not the server, the slowest part of the measurement. */
static void on_watch_line(struct slot *s, const char *line, size_t len, double t)
{
    const char *end = line + len, *p;
    size_t nl = strlen(name_needle);
    if (o.mode == MODE_WATCH_FANOUT) {
        if (memmem(line, len, "\"type\":\"ERROR\"", 14) != NULL) {
            n_watch_err++;
            char msg[ERRMSG_MAX];
            snprintf(msg, sizeof msg, "%.*s", (int)(len < 200 ? len : 200), line);
            note_err("watch %s: %s", o.watch_url, msg);
            return;
        }
        p = memmem(line, len, name_needle, nl);
        if (p != NULL && (size_t)(end - p) >= nl + 6 && memcmp(p + nl, "ready\"", 6) == 0)
            s->ready = true;
        else if (p != NULL)
            mark(s, parse_seq(p + nl, end), t);
        return;
    }
    /* etcd: {"result":{"header":{...},"created":true}} first, then
     * {"result":{"header":{...},"events":[{"kv":{"key":"<b64>",...}},...]}} */
    if (memmem(line, len, "\"created\":true", 14) != NULL)
        s->ready = true;
    if (memmem(line, len, "\"canceled\":true", 15) != NULL || memmem(line, len, "\"error\"", 7)) {
        n_watch_err++;
        char msg[ERRMSG_MAX];
        snprintf(msg, sizeof msg, "%.*s", (int)(len < 200 ? len : 200), line);
        note_err("watch %s: %s", o.watch_url, msg);
        return;
    }
    for (p = line; (p = memmem(p, (size_t)(end - p), "\"key\":\"", 7)) != NULL;) {
        char key[512];
        const char *k = p + 7, *q = memchr(k, '"', (size_t)(end - k));
        if (q == NULL)
            break;
        size_t kl = unb64(k, (size_t)(q - k), key, sizeof key - 1);
        if (kl > nl && memcmp(key, name_needle, nl) == 0)
            mark(s, parse_seq(key + nl, key + kl), t);
        else
            n_foreign++;
        p = q;
    }
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *data)
{
    struct slot *s = data;
    size_t n = size * nmemb, room = sizeof s->resp - 1 - s->resp_len;
    size_t take = n < room ? n : room;
    if (s->watcher < 0)
        s->last_byte = now_s();
    memcpy(s->resp + s->resp_len, ptr, take);
    s->resp_len += take;
    s->resp[s->resp_len] = '\0';
    if (!s->keep && s->watcher < 0)
        return n;
    if (!grow(s, s->data_len + n + 1))
        return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
    memcpy(s->data + s->data_len, ptr, n);
    s->data_len += n;
    s->data[s->data_len] = '\0';
    if (s->watcher < 0)
        return n;
    double t = now_s();
    size_t start = 0;
    for (;;) {
        char *nlp = memchr(s->data + start, '\n', s->data_len - start);
        if (nlp == NULL)
            break;
        size_t len = (size_t)(nlp - (s->data + start));
        if (len > 0)
            on_watch_line(s, s->data + start, len, t);
        start += len + 1;
    }
    if (start > 0) {
        memmove(s->data, s->data + start, s->data_len - start);
        s->data_len -= start;
    }
    if (s->data_len > LINE_MAX_B)
        return 0;
    return n;
}

/* ---- requests ---- */

static void obj_name(char *out, size_t cap, long n)
{
    snprintf(out, cap, "b%s-%ld", o.run_id, n);
}

static void ensure_body(struct slot *s, size_t need)
{
    if (s->body_cap < need) {
        free(s->body);
        s->body = xmalloc(need);
        s->body_cap = need;
    }
}

static void set_post(struct slot *s, const char *url)
{
    curl_easy_setopt(s->easy, CURLOPT_URL, url);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, s->body);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(s->body));
}

static void set_get(struct slot *s, const char *url)
{
    curl_easy_setopt(s->easy, CURLOPT_URL, url);
    curl_easy_setopt(s->easy, CURLOPT_HTTPGET, 1L);
}

/* Builds the next request of a closed-loop client (or a watch mode's
 * writer) into s->body and points the handle at it. */
static void prepare(struct slot *s)
{
    char name[96], url[768];
    const char *base = o.urls[s->url_idx];
    ensure_body(s, (size_t)o.value_bytes * 2 + 1024);
    s->seq = s->sentinel ? -1 : seq++;
    if (o.mode == MODE_SKIFF_GET || o.mode == MODE_ETCD_GET)
        obj_name(name, sizeof name, s->seq % o.keys);
    else
        obj_name(name, sizeof name, s->seq);
    if (s->sentinel)
        snprintf(name, sizeof name, "b%s-ready", o.run_id);
    if (!o.value_repeat && (o.mode == MODE_SKIFF || o.mode == MODE_ETCD)) {
        fill_random_value();
        if (o.mode == MODE_ETCD) {
            free(value_b64);
            value_b64 = b64(value_raw, (size_t)o.value_bytes);
        }
    }
    switch (o.mode) {
    case MODE_SKIFF:
        snprintf(s->body, s->body_cap,
                 "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"%s\"},"
                 "\"data\":{\"v\":\"%s\"}}",
                 name, value_raw);
        snprintf(url, sizeof url, "%s/api/v1/namespaces/default/configmaps", base);
        set_post(s, url);
        break;
    case MODE_SKIFF_POD:
    case MODE_WATCH_FANOUT:
        snprintf(s->body, s->body_cap,
                 "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\"},"
                 "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]}}",
                 name);
        snprintf(url, sizeof url, "%s/api/v1/namespaces/default/pods", base);
        set_post(s, url);
        break;
    case MODE_HTTP_GET:
        set_get(s, base);
        break;
    case MODE_SKIFF_GET:
        snprintf(url, sizeof url, "%s/api/v1/namespaces/default/pods/%s%s%s", base, name,
                 o.query ? "?" : "", o.query ? o.query : "");
        set_get(s, url);
        break;
    case MODE_ETCD_GET: {
        char key[256];
        int kl = snprintf(key, sizeof key, "%s%s", o.prefix, name);
        char *k64 = b64(key, (size_t)kl);
        snprintf(s->body, s->body_cap, "{\"key\":\"%s\"%s}", k64,
                 o.serializable ? ",\"serializable\":true" : "");
        free(k64);
        snprintf(url, sizeof url, "%s/v3/kv/range", base);
        set_post(s, url);
        break;
    }
    default: { /* MODE_ETCD, MODE_ETCD_WATCH */
        char key[256];
        int kl = snprintf(key, sizeof key, "%s%s", o.prefix, name);
        char *k64 = b64(key, (size_t)kl);
        snprintf(s->body, s->body_cap, "{\"key\":\"%s\",\"value\":\"%s\"}", k64, value_b64);
        free(k64);
        snprintf(url, sizeof url, "%s/v3/kv/put", base);
        set_post(s, url);
        break;
    }
    }
    s->resp_len = 0;
    s->resp[0] = '\0';
}

static void setup_slot(struct slot *s, int url_idx)
{
    s->easy = curl_easy_init();
    if (s->easy == NULL)
        die("curl_easy_init failed");
    s->url_idx = url_idx;
    s->watcher = -1;
    curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(s->easy, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(s->easy, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, o.timeout_ms);
    curl_easy_setopt(s->easy, CURLOPT_CONNECTTIMEOUT_MS, o.timeout_ms);
    if (o.cacert)
        curl_easy_setopt(s->easy, CURLOPT_CAINFO, o.cacert);
    if (o.no_reuse)
        curl_easy_setopt(s->easy, CURLOPT_FORBID_REUSE, 1L);
    if (o.insecure) {
        curl_easy_setopt(s->easy, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(s->easy, CURLOPT_SSL_VERIFYHOST, 0L);
    }
}

static void start(CURLM *m, struct slot *s)
{
    prepare(s);
    s->busy = true;
    s->last_byte = 0;
    s->started = now_s();
    if (sent_t != NULL && s->seq >= 0 && s->seq < o.max_requests)
        sent_t[s->seq] = s->started;
    n_issued++;
    curl_multi_add_handle(m, s->easy);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *v, long n, double p)
{
    if (n == 0)
        return 0;
    long i = (long)(p / 100.0 * (double)n + 0.5) - 1; /* nearest rank */
    if (i < 0)
        i = 0;
    if (i >= n)
        i = n - 1;
    return v[i];
}

/* Takes one finished transfer: true if it was a 2xx. */
static bool finish(CURLM *m, CURLMsg *msg, struct slot **out)
{
    struct slot *s;
    long code = 0;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
    curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
    curl_multi_remove_handle(m, msg->easy_handle);
    s->busy = false;
    *out = s;
    bool ok = msg->data.result == CURLE_OK && code >= 200 && code < 300;
    if (!ok && first_err[0] == '\0')
        snprintf(first_err, sizeof first_err, "%s http=%ld %s",
                 curl_easy_strerror(msg->data.result), code, s->resp);
    return ok;
}

/* CPU seconds this process has used: the client's share of the machine */
static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void print_first_err(void)
{
    if (first_err[0])
        printf("FIRST_ERROR %s\n", first_err);
}

static int run_throughput(CURLM *m)
{
    lat_ms = xmalloc(sizeof *lat_ms * (size_t)(o.max_requests + 1));
    for (int i = 0; i < o.clients; i++)
        setup_slot(&slots[i], i % o.n_urls);
    FILE *trace = NULL;
    if (o.trace != NULL && (trace = fopen(o.trace, "w")) == NULL)
        die("--trace: cannot open the file");
    double t0 = now_s(), deadline = t0 + o.duration_s, t_last = t0;
    for (int i = 0; i < o.clients && n_issued < o.max_requests; i++)
        start(m, &slots[i]);
    int running = 1;
    while (running > 0 || n_ok + n_err < n_issued) {
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct slot *s;
            double t = now_s();
            if (finish(m, msg, &s)) {
                lat_ms[n_ok++] = (t - s->started) * 1e3;
                t_last = t;
                if (trace != NULL)
                    fprintf(trace, "%.3f %.3f\n", (s->started - t0) * 1e3,
                            (t - s->started) * 1e3);
            } else {
                n_err++;
            }
            if (t < deadline && n_issued < o.max_requests)
                start(m, s);
        }
        if (now_s() > deadline + (double)o.timeout_ms / 1e3 + 5)
            die("in-flight requests outlived their timeout");
        curl_multi_poll(m, NULL, 0, 100, NULL);
        curl_multi_perform(m, &running);
    }
    double elapsed = t_last - t0;
    if (trace != NULL && fclose(trace) != 0)
        die("--trace: cannot write the file");
    qsort(lat_ms, (size_t)n_ok, sizeof *lat_ms, cmp_double);
    printf("RESULT ok=%ld errors=%ld elapsed_s=%.3f rps=%.1f p50_ms=%.2f p90_ms=%.2f "
           "p99_ms=%.2f max_ms=%.2f client_cpu_s=%.2f\n",
           n_ok, n_err, elapsed, elapsed > 0 ? (double)n_ok / elapsed : 0, pct(lat_ms, n_ok, 50),
           pct(lat_ms, n_ok, 90), pct(lat_ms, n_ok, 99), n_ok ? lat_ms[n_ok - 1] : 0, cpu_s());
    print_first_err();
    free(lat_ms);
    return n_ok > 0 ? 0 : 1;
}

/* ---- list / etcd-range ---- */

/* Runs one transfer to its end (bounded by its own timeout); *ms is from
 * the start of the request to its last byte. */
static bool run_one(CURLM *m, struct slot *s, double *ms)
{
    double t0 = now_s();
    s->busy = true;
    s->data_len = 0;
    s->resp_len = 0;
    s->resp[0] = '\0';
    n_issued++;
    curl_multi_add_handle(m, s->easy);
    for (;;) {
        int running;
        CURLMsg *msg;
        int left;
        curl_multi_perform(m, &running);
        while ((msg = curl_multi_info_read(m, &left)) != NULL) {
            struct slot *x;
            if (msg->msg != CURLMSG_DONE)
                continue;
            *ms = (now_s() - t0) * 1e3;
            return finish(m, msg, &x);
        }
        if (now_s() > t0 + (double)o.timeout_ms / 1e3 + 5)
            die("a list request outlived its timeout");
        curl_multi_poll(m, NULL, 0, 100, NULL);
    }
}

/* Reads one page's answer: its item count and where the next page starts
 * (*next: skiff's continue token, or etcd's next key, raw; NULL at the
 * end). false when the answer is not what a list answer looks like. */
static bool page_parse(struct slot *s, long *items, char **next, size_t *next_len)
{
    json_error_t je;
    json_t *root = json_loadb(s->data, s->data_len, 0, &je), *arr;
    *next = NULL;
    *next_len = 0;
    if (root == NULL) {
        note_err("list: answer is not JSON: %s%s", je.text, "");
        return false;
    }
    if (o.mode == MODE_LIST) {
        const char *c =
            json_string_value(json_object_get(json_object_get(root, "metadata"), "continue"));
        arr = json_object_get(root, "items");
        if (!json_is_array(arr)) {
            json_decref(root);
            note_err("list: no items array: %.200s%s", s->data, "");
            return false;
        }
        *items = (long)json_array_size(arr);
        if (c != NULL && c[0] != '\0') {
            *next = strdup(c);
            *next_len = strlen(c);
        }
    } else {
        arr = json_object_get(root, "kvs"); /* absent on an empty range */
        *items = json_is_array(arr) ? (long)json_array_size(arr) : 0;
        if (json_is_true(json_object_get(root, "more")) && *items > 0) {
            const char *k = json_string_value(
                json_object_get(json_array_get(arr, json_array_size(arr) - 1), "key"));
            if (k == NULL) {
                json_decref(root);
                note_err("etcd range: a kv without a key%s%s", "", "");
                return false;
            }
            /* the next page starts right after the last key: key + "\0" */
            size_t kl = strlen(k);
            *next = xmalloc(kl + 2);
            *next_len = unb64(k, kl, *next, kl);
            (*next)[(*next_len)++] = '\0';
        }
    }
    json_decref(root);
    return true;
}

static void list_request(struct slot *s, const char *next, size_t next_len)
{
    char url[4096];
    if (o.mode == MODE_LIST) {
        char *esc = next ? curl_easy_escape(s->easy, next, (int)next_len) : NULL;
        int n = snprintf(url, sizeof url, "%s/api/v1/namespaces/default/pods", o.urls[0]);
        char sep = '?';
        if (o.limit > 0) {
            n += snprintf(url + n, sizeof url - (size_t)n, "?limit=%ld", o.limit);
            sep = '&';
        }
        if (esc != NULL)
            n += snprintf(url + n, sizeof url - (size_t)n, "%ccontinue=%s", sep, esc);
        if (o.query != NULL)
            snprintf(url + n, sizeof url - (size_t)n, "%c%s", esc || o.limit > 0 ? '&' : '?',
                     o.query);
        curl_free(esc);
        set_get(s, url);
        return;
    }
    size_t pl = strlen(o.prefix);
    char *end = prefix_end(o.prefix);
    char *k64 = next ? b64(next, next_len) : b64(o.prefix, pl);
    char *e64 = b64(end, pl);
    ensure_body(s, strlen(k64) + strlen(e64) + 128);
    int n = snprintf(s->body, s->body_cap, "{\"key\":\"%s\",\"range_end\":\"%s\"", k64, e64);
    if (o.limit > 0)
        n += snprintf(s->body + n, s->body_cap - (size_t)n, ",\"limit\":%ld", o.limit);
    snprintf(s->body + n, s->body_cap - (size_t)n, "%s}",
             o.serializable ? ",\"serializable\":true" : "");
    free(k64);
    free(e64);
    free(end);
    snprintf(url, sizeof url, "%s/v3/kv/range", o.urls[0]);
    set_post(s, url);
}

static int run_list(CURLM *m)
{
    struct slot *s = &slots[0];
    long pages_first = 0, items_first = 0;
    double bytes_first = 0, deadline = now_s() + o.duration_s;
    lat_ms = xmalloc(sizeof *lat_ms * (size_t)(o.reps + 1));
    setup_slot(s, 0);
    s->keep = true;
    for (long rep = 0; rep < o.reps && now_s() < deadline; rep++) {
        double total_ms = 0, bytes = 0;
        long pages = 0, items = 0;
        char *next = NULL;
        size_t next_len = 0;
        bool ok = true;
        do {
            double ms;
            long n = 0;
            list_request(s, next, next_len);
            free(next);
            next = NULL;
            if (!run_one(m, s, &ms) || !page_parse(s, &n, &next, &next_len)) {
                ok = false;
                break;
            }
            total_ms += ms;
            bytes += (double)s->data_len;
            items += n;
            pages++;
        } while (next != NULL && pages < PAGES_MAX);
        free(next);
        if (ok && o.expect > 0 && items != o.expect) {
            char a[64], b[64];
            snprintf(a, sizeof a, "%ld", items);
            snprintf(b, sizeof b, "%ld", o.expect);
            note_err("list: %s items, expected %s", a, b);
            ok = false;
        }
        if (!ok) {
            n_err++;
            continue;
        }
        if (n_ok == 0) {
            pages_first = pages;
            items_first = items;
            bytes_first = bytes;
        }
        lat_ms[n_ok++] = total_ms;
    }
    qsort(lat_ms, (size_t)n_ok, sizeof *lat_ms, cmp_double);
    printf("RESULT ok=%ld errors=%ld pages=%ld items=%ld bytes=%.0f p50_ms=%.2f p90_ms=%.2f "
           "p99_ms=%.2f max_ms=%.2f min_ms=%.2f client_cpu_s=%.2f\n",
           n_ok, n_err, pages_first, items_first, bytes_first, pct(lat_ms, n_ok, 50),
           pct(lat_ms, n_ok, 90), pct(lat_ms, n_ok, 99), n_ok ? lat_ms[n_ok - 1] : 0,
           n_ok ? lat_ms[0] : 0, cpu_s());
    print_first_err();
    free(lat_ms);
    return n_ok > 0 && n_err == 0 ? 0 : 1;
}

/* ---- watch fan-out ---- */

static void watch_request(struct slot *s)
{
    char url[1024];
    /* the server ends the stream too, should we never close it */
    long server_timeout_s = (long)(o.duration_s + o.drain_s) + WATCH_READY_S + 30;
    if (o.mode == MODE_WATCH_FANOUT) {
        snprintf(url, sizeof url,
                 "%s/api/v1/namespaces/default/pods?watch=1&resourceVersion=%s&timeoutSeconds=%ld",
                 o.watch_url, o.watch_rv, server_timeout_s);
        set_get(s, url);
        return;
    }
    size_t pl = strlen(o.prefix);
    char *end = prefix_end(o.prefix);
    char *k64 = b64(o.prefix, pl), *e64 = b64(end, pl);
    ensure_body(s, strlen(k64) + strlen(e64) + 128);
    snprintf(s->body, s->body_cap, "{\"create_request\":{\"key\":\"%s\",\"range_end\":\"%s\"}}",
             k64, e64);
    free(k64);
    free(e64);
    free(end);
    snprintf(url, sizeof url, "%s/v3/watch", o.watch_url);
    set_post(s, url);
}

/* Takes every finished transfer: writers are acknowledged (and issue their
 * next write while allowed), a watcher that ends is an error. */
static void watch_reap(CURLM *m, double write_deadline)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m, &left)) != NULL) {
        struct slot *s;
        if (msg->msg != CURLMSG_DONE)
            continue;
        double t = now_s();
        bool ok = finish(m, msg, &s);
        if (s->sentinel) {
            s->ended = true;
            if (!ok)
                n_watch_err++;
            continue;
        }
        if (s->watcher >= 0) {
            s->ended = true;
            n_watch_err++;
            note_err("watcher ended early: %s%s", first_err[0] ? "" : "(no error)", "");
            continue;
        }
        if (ok) {
            n_ok++;
            /* the ack is when its bytes were read, in the same callbacks
             * that stamp the watchers' events: curl reads every ready
             * socket before it reports a transfer done */
            if (s->seq < o.max_requests)
                ack_t[s->seq] = s->last_byte > 0 ? s->last_byte : t;
        } else {
            n_err++;
        }
        if (o.rate == 0 && t < write_deadline && n_issued < o.max_requests)
            start(m, s);
    }
}

/* --rate: the next write may start at ready_at + n_issued / rate, on any
 * idle writer (open loop as long as writers are idle; the writes' own
 * latency is far below 1/rate at the rates used) */
static void paced_start(CURLM *m, int first, double ready_at, double write_deadline)
{
    double t = now_s();
    for (int i = first; i < first + o.clients; i++) {
        if (n_issued >= o.max_requests || t >= write_deadline ||
            t < ready_at + (double)n_issued / o.rate)
            return;
        if (!slots[i].busy)
            start(m, &slots[i]);
    }
}

static int run_watch(CURLM *m)
{
    int nw = o.watchers, running;
    size_t nreq = (size_t)o.max_requests;
    if (nw + o.clients + 1 > MAX_CLIENTS)
        die("--watchers + --clients exceeds the slot table");
    sent_t = xcalloc(nreq, sizeof *sent_t);
    ack_t = xcalloc(nreq, sizeof *ack_t);
    recv_t = xcalloc(nreq * (size_t)nw, sizeof *recv_t);
    if (o.mode == MODE_WATCH_FANOUT)
        snprintf(name_needle, sizeof name_needle, "\"name\":\"b%s-", o.run_id);
    else
        snprintf(name_needle, sizeof name_needle, "%sb%s-", o.prefix, o.run_id);

    /* 1. every watcher open and established */
    long stream_ms = (long)((o.duration_s + o.drain_s + WATCH_READY_S + 60) * 1e3);
    for (int w = 0; w < nw; w++) {
        struct slot *s = &slots[w];
        setup_slot(s, 0);
        s->watcher = w;
        curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, stream_ms);
        watch_request(s);
        s->busy = true;
        curl_multi_add_handle(m, s->easy);
    }
    /* skiff sends a watch's status line only with its first event, so
     * "established" is seen by writing a sentinel object (after the watch's
     * resourceVersion: a stream set up later still replays it) and waiting
     * until every watcher has it. etcd says created on its own. */
    struct slot *sen = NULL;
    if (o.mode == MODE_WATCH_FANOUT) {
        sen = &slots[nw + o.clients];
        setup_slot(sen, 0);
        sen->sentinel = true;
        prepare(sen);
        sen->busy = true;
        curl_multi_add_handle(m, sen->easy);
    }
    double t0 = now_s(), ready_at;
    for (;;) {
        int ready = 0;
        curl_multi_perform(m, &running);
        watch_reap(m, 0);
        for (int w = 0; w < nw; w++)
            ready += slots[w].ready && !slots[w].ended;
        if (ready == nw && (sen == NULL || sen->ended))
            break;
        if (n_watch_err > 0 || now_s() > t0 + WATCH_READY_S) {
            printf("RESULT watchers=%d ready=%d writes_ok=0 errors=1\n", nw, ready);
            if (first_err[0] == '\0')
                snprintf(first_err, sizeof first_err, "watchers not established within %d s",
                         WATCH_READY_S);
            print_first_err();
            return 1;
        }
        curl_multi_poll(m, NULL, 0, 20, NULL);
    }
    ready_at = now_s();

    /* 2. the writes, closed loop */
    double write_deadline = ready_at + o.duration_s;
    for (int i = 0; i < o.clients; i++)
        setup_slot(&slots[nw + i], 0);
    if (o.rate == 0) {
        for (int i = 0; i < o.clients && n_issued < o.max_requests; i++)
            start(m, &slots[nw + i]);
    }
    for (;;) {
        if (o.rate > 0)
            paced_start(m, nw, ready_at, write_deadline);
        bool more = o.rate > 0 && n_issued < o.max_requests && now_s() < write_deadline;
        if (n_ok + n_err == n_issued && !more)
            break;
        curl_multi_perform(m, &running);
        watch_reap(m, write_deadline);
        if (now_s() > write_deadline + (double)o.timeout_ms / 1e3 + 5)
            die("in-flight writes outlived their timeout");
        curl_multi_poll(m, NULL, 0, o.rate > 0 ? 1 : 20, NULL);
    }
    double writes_done = now_s();

    /* 3. until every watcher has seen every acknowledged write */
    double drain_deadline = writes_done + o.drain_s;
    for (;;) {
        int complete = 0;
        for (int w = 0; w < nw; w++)
            complete += slots[w].got >= n_ok;
        if (complete == nw || now_s() > drain_deadline)
            break;
        curl_multi_perform(m, &running);
        watch_reap(m, 0);
        curl_multi_poll(m, NULL, 0, 20, NULL);
    }
    double drained = now_s();

    /* 4. per watcher and acknowledged write: receipt - ack */
    size_t n_lat = 0, n_lat_sent = 0;
    long missing = 0, early = 0, unacked_seen = 0, complete = 0;
    double *lat = xmalloc(sizeof *lat * (nreq * (size_t)nw + 1));
    double *lat_sent = xmalloc(sizeof *lat_sent * (nreq * (size_t)nw + 1));
    for (int w = 0; w < nw; w++) {
        long mine = 0;
        for (size_t i = 0; i < nreq; i++) {
            double r = recv_t[(size_t)w * nreq + i];
            if (ack_t[i] == 0) {
                unacked_seen += r != 0;
                continue;
            }
            if (r == 0) {
                missing++;
                continue;
            }
            mine++;
            lat[n_lat++] = (r - ack_t[i]) * 1e3;
            lat_sent[n_lat_sent++] = (r - sent_t[i]) * 1e3;
            early += r < ack_t[i];
        }
        complete += mine == n_ok;
    }
    qsort(lat, n_lat, sizeof *lat, cmp_double);
    qsort(lat_sent, n_lat_sent, sizeof *lat_sent, cmp_double);
    double wsecs = writes_done - ready_at;
    printf("RESULT watchers=%d ready_ms=%.1f writes_ok=%ld write_errors=%ld write_s=%.3f "
           "write_rps=%.1f drain_ms=%.1f delivered=%zu expected=%ld missing=%ld "
           "complete_watchers=%ld dup=%ld unacked_seen=%ld foreign=%ld watch_errors=%ld "
           "early=%ld p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f min_ms=%.2f "
           "sent_p50_ms=%.2f sent_p99_ms=%.2f sent_max_ms=%.2f client_cpu_s=%.2f\n",
           nw, (ready_at - t0) * 1e3, n_ok, n_err, wsecs, wsecs > 0 ? (double)n_ok / wsecs : 0,
           (drained - writes_done) * 1e3, n_lat, n_ok * nw, missing, complete, n_dup, unacked_seen,
           n_foreign, n_watch_err, early, pct(lat, (long)n_lat, 50), pct(lat, (long)n_lat, 90),
           pct(lat, (long)n_lat, 99), n_lat ? lat[n_lat - 1] : 0, n_lat ? lat[0] : 0,
           pct(lat_sent, (long)n_lat_sent, 50), pct(lat_sent, (long)n_lat_sent, 99),
           n_lat_sent ? lat_sent[n_lat_sent - 1] : 0, cpu_s());
    print_first_err();
    free(lat);
    free(lat_sent);
    free(sent_t);
    free(ack_t);
    free(recv_t);
    return missing == 0 && n_err == 0 && n_watch_err == 0 && n_ok > 0 ? 0 : 1;
}

/* ---- failover ---- */

/* Failover probe: every FO_STAGGER_MS a new write starts to every survivor,
 * overlapping the ones still in flight (each ends at --timeout-ms). A write
 * that hangs while there is no leader therefore does not hide the moment a
 * later one could succeed: the resolution is FO_STAGGER_MS, whatever the
 * timeout. */
#define FO_STAGGER_MS 20
static int run_failover(CURLM *m)
{
    int per_url = (int)(o.timeout_ms / FO_STAGGER_MS) + 2;
    if (per_url * o.n_urls > MAX_CLIENTS)
        per_url = MAX_CLIENTS / o.n_urls;
    int n_slots = per_url * o.n_urls;
    double next_start[MAX_URLS];
    for (int i = 0; i < n_slots; i++)
        setup_slot(&slots[i], i % o.n_urls);
    if (kill(o.failover_kill, SIGKILL) != 0) {
        fprintf(stderr, "loadgen: kill %d: %s\n", (int)o.failover_kill, strerror(errno));
        return 2;
    }
    double t0 = now_s(), deadline = t0 + o.duration_s;
    for (int u = 0; u < o.n_urls; u++)
        next_start[u] = t0;
    int running;
    while (now_s() < deadline && n_issued < o.max_requests) {
        double t = now_s();
        for (int u = 0; u < o.n_urls; u++) {
            if (t < next_start[u])
                continue;
            for (int i = u; i < n_slots; i += o.n_urls) {
                if (!slots[i].busy) {
                    start(m, &slots[i]);
                    break;
                }
            }
            next_start[u] += FO_STAGGER_MS / 1e3;
        }
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct slot *s;
            if (finish(m, msg, &s)) {
                printf("RESULT failover_ms=%.1f via=%s attempts=%ld failed=%ld\n",
                       (now_s() - t0) * 1e3, o.urls[s->url_idx], n_issued, n_err);
                print_first_err();
                return 0;
            }
            n_err++;
        }
        curl_multi_poll(m, NULL, 0, 2, NULL);
    }
    printf("RESULT failover_ms=-1 via=none attempts=%ld failed=%ld\n", n_issued, n_err);
    print_first_err();
    return 1;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: loadgen --mode MODE --url URL [--url URL...] [--clients N]\n"
            "               [--duration-s S] [--max-requests N] [--value-bytes N]\n"
            "               [--token T] [--cacert FILE | --insecure] [--run-id S]\n"
            "               [--timeout-ms N] [--no-reuse] [--failover-kill PID]\n"
            "               [--prefix P] [--query Q] [--serializable] [--keys N]\n"
            "               [--limit N] [--reps N] [--expect N]\n"
            "               [--watchers N] [--watch-url URL] [--watch-rv RV] [--drain-s S]\n"
            "               [--rate WRITES_PER_S] [--trace FILE]\n"
            "               [--value-kind random|repeat]\n"
            "MODE: skiff etcd skiff-pod skiff-get etcd-get list etcd-range watch-fanout "
            "etcd-watch http-get\n");
    exit(2);
}

static bool parse_mode(const char *v)
{
    for (int i = 0; i < MODE_COUNT; i++) {
        if (strcmp(v, mode_names[i]) == 0) {
            o.mode = (enum mode)i;
            return true;
        }
    }
    return false;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--insecure") == 0) {
            o.insecure = true;
            continue;
        }
        if (strcmp(a, "--no-reuse") == 0) {
            o.no_reuse = true;
            continue;
        }
        if (strcmp(a, "--serializable") == 0) {
            o.serializable = true;
            continue;
        }
        if (v == NULL)
            usage();
        i++;
        if (strcmp(a, "--mode") == 0) {
            if (!parse_mode(v))
                usage();
        } else if (strcmp(a, "--url") == 0 && o.n_urls < MAX_URLS)
            o.urls[o.n_urls++] = v;
        else if (strcmp(a, "--clients") == 0)
            o.clients = atoi(v);
        else if (strcmp(a, "--duration-s") == 0)
            o.duration_s = atof(v);
        else if (strcmp(a, "--max-requests") == 0)
            o.max_requests = atol(v);
        else if (strcmp(a, "--value-bytes") == 0)
            o.value_bytes = atoi(v);
        else if (strcmp(a, "--token") == 0)
            o.token = v;
        else if (strcmp(a, "--cacert") == 0)
            o.cacert = v;
        else if (strcmp(a, "--run-id") == 0)
            o.run_id = v;
        else if (strcmp(a, "--timeout-ms") == 0)
            o.timeout_ms = atol(v);
        else if (strcmp(a, "--failover-kill") == 0)
            o.failover_kill = (pid_t)atol(v);
        else if (strcmp(a, "--prefix") == 0)
            o.prefix = v;
        else if (strcmp(a, "--query") == 0)
            o.query = v;
        else if (strcmp(a, "--keys") == 0)
            o.keys = atol(v);
        else if (strcmp(a, "--limit") == 0)
            o.limit = atol(v);
        else if (strcmp(a, "--reps") == 0)
            o.reps = atol(v);
        else if (strcmp(a, "--expect") == 0)
            o.expect = atol(v);
        else if (strcmp(a, "--watchers") == 0)
            o.watchers = atoi(v);
        else if (strcmp(a, "--watch-url") == 0)
            o.watch_url = v;
        else if (strcmp(a, "--watch-rv") == 0)
            o.watch_rv = v;
        else if (strcmp(a, "--drain-s") == 0)
            o.drain_s = atof(v);
        else if (strcmp(a, "--rate") == 0)
            o.rate = atof(v);
        else if (strcmp(a, "--trace") == 0)
            o.trace = v;
        else if (strcmp(a, "--value-kind") == 0 &&
                 (strcmp(v, "random") == 0 || strcmp(v, "repeat") == 0))
            o.value_repeat = strcmp(v, "repeat") == 0;
        else
            usage();
    }
    bool watch = o.mode == MODE_WATCH_FANOUT || o.mode == MODE_ETCD_WATCH;
    if (o.n_urls == 0 || o.clients < 1 || o.clients > MAX_CLIENTS || o.max_requests < 1 ||
        o.value_bytes < 1 || o.value_bytes > (1 << 20) || o.duration_s <= 0 || o.keys < 1 ||
        o.limit < 0 || o.reps < 1 || o.reps > 1000000 || o.timeout_ms < 1 || o.prefix[0] == '\0' ||
        strlen(o.prefix) > 200 || strlen(o.run_id) > 40 || o.drain_s < 0 || o.rate < 0)
        usage();
    if (watch && (o.watch_url == NULL || o.watchers < 1 || o.watchers > MAX_CLIENTS / 2 ||
                  o.max_requests > 10000000 || (o.mode == MODE_WATCH_FANOUT && o.watch_rv == NULL)))
        usage();
    if (o.failover_kill && o.mode != MODE_SKIFF && o.mode != MODE_ETCD && o.mode != MODE_SKIFF_POD)
        usage();
    if (curl_global_init(CURL_GLOBAL_ALL) != 0)
        die("curl_global_init failed");

    value_raw = xmalloc((size_t)o.value_bytes + 1);
    memset(value_raw, 'v', (size_t)o.value_bytes);
    value_raw[o.value_bytes] = '\0';
    value_b64 = b64(value_raw, (size_t)o.value_bytes);
    hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    hdrs = curl_slist_append(hdrs, "Expect:"); /* no 100-continue round trip */
    if (o.token && !is_etcd()) {
        char h[512];
        snprintf(h, sizeof h, "Authorization: Bearer %s", o.token);
        hdrs = curl_slist_append(hdrs, h);
    }

    CURLM *m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
    int rc;
    if (o.failover_kill)
        rc = run_failover(m);
    else if (o.mode == MODE_LIST || o.mode == MODE_ETCD_RANGE)
        rc = run_list(m);
    else if (watch)
        rc = run_watch(m);
    else
        rc = run_throughput(m);
    fflush(stdout);

    for (int i = 0; i < MAX_CLIENTS; i++) {
        if (slots[i].easy) {
            if (slots[i].busy)
                curl_multi_remove_handle(m, slots[i].easy);
            curl_easy_cleanup(slots[i].easy);
        }
        free(slots[i].body);
        free(slots[i].data);
    }
    curl_multi_cleanup(m);
    curl_slist_free_all(hdrs);
    free(value_raw);
    free(value_b64);
    curl_global_cleanup();
    return rc;
}
