/* loadgen: the one load generator both skiff and its peer (etcd's v3 JSON
 * gateway) are driven with, so the two sides of every comparison share the
 * client: libcurl multi on one thread, N concurrent clients, each issuing
 * its next request as soon as the previous one completes (closed loop).
 *
 * Modes (--mode):
 *   skiff  POST {url}/api/v1/namespaces/default/configmaps, a ConfigMap with
 *          a unique name and one data value of --value-bytes bytes (HTTPS,
 *          bearer token, CA from --cacert or --insecure)
 *   etcd   POST {url}/v3/kv/put, base64 key /registry/configmaps/default/NAME
 *          and a --value-bytes value (HTTP or HTTPS, as the URL says)
 * --no-reuse opens a new connection (and TLS handshake) per request.
 *
 * Throughput run (default): stops issuing after --duration-s or
 * --max-requests, waits for what is in flight, prints one line:
 *   RESULT ok=N errors=N elapsed_s=F rps=F p50_ms=F p90_ms=F p99_ms=F max_ms=F
 * Failover run (--failover-kill PID): sends SIGKILL to PID, then starts a
 * write to every --url (the survivors) every 20 ms, overlapping, until one
 * succeeds:
 *   RESULT failover_ms=F via=URL attempts=N failed=N
 * Every loop is bounded by a deadline and a request count; every request has
 * a timeout (--timeout-ms). */
#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define MAX_URLS    8
#define MAX_CLIENTS 1024
#define ERRMSG_MAX  300

struct opts {
    const char *mode;
    const char *urls[MAX_URLS];
    int n_urls;
    int clients;
    double duration_s;
    long max_requests;
    const char *token;
    const char *cacert;
    bool insecure;
    bool no_reuse; /* a new connection per request (what skiff's POST answers force) */
    int value_bytes;
    const char *run_id;
    long timeout_ms;
    pid_t failover_kill;
};

struct slot {
    CURL *easy;
    char *body;
    size_t body_cap;
    double started;
    int url_idx;
    bool busy;
    char resp[ERRMSG_MAX];
    size_t resp_len;
};

static struct opts o = {
    .mode = "skiff",
    .clients = 64,
    .duration_s = 10,
    .max_requests = 1000000,
    .value_bytes = 1024,
    .run_id = "0",
    .timeout_ms = 10000,
};
static struct slot slots[MAX_CLIENTS];
static struct curl_slist *hdrs;
static char *value_raw, *value_b64;
static long seq;
static double *lat_ms;
static long n_ok, n_err, n_issued;
static char first_err[ERRMSG_MAX + 64];

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

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *data)
{
    struct slot *s = data;
    size_t n = size * nmemb, room = sizeof s->resp - 1 - s->resp_len;
    size_t take = n < room ? n : room;
    memcpy(s->resp + s->resp_len, ptr, take);
    s->resp_len += take;
    s->resp[s->resp_len] = '\0';
    return n;
}

/* Builds the next request body into s->body and points the handle at it. */
static void prepare(struct slot *s)
{
    char name[96], url[512];
    size_t need = (size_t)o.value_bytes * 2 + 512;
    if (s->body_cap < need) {
        free(s->body);
        s->body = xmalloc(need);
        s->body_cap = need;
    }
    snprintf(name, sizeof name, "b%s-%ld", o.run_id, seq++);
    if (strcmp(o.mode, "skiff") == 0) {
        snprintf(s->body, s->body_cap,
                 "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"%s\"},"
                 "\"data\":{\"v\":\"%s\"}}",
                 name, value_raw);
        snprintf(url, sizeof url, "%s/api/v1/namespaces/default/configmaps", o.urls[s->url_idx]);
    } else {
        char key[160];
        int kl = snprintf(key, sizeof key, "/registry/configmaps/default/%s", name);
        char *k64 = b64(key, (size_t)kl);
        snprintf(s->body, s->body_cap, "{\"key\":\"%s\",\"value\":\"%s\"}", k64, value_b64);
        free(k64);
        snprintf(url, sizeof url, "%s/v3/kv/put", o.urls[s->url_idx]);
    }
    curl_easy_setopt(s->easy, CURLOPT_URL, url);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, s->body);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(s->body));
    s->resp_len = 0;
    s->resp[0] = '\0';
}

static void setup_slot(struct slot *s, int url_idx)
{
    s->easy = curl_easy_init();
    if (s->easy == NULL)
        die("curl_easy_init failed");
    s->url_idx = url_idx;
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
    s->started = now_s();
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

static int run_throughput(CURLM *m)
{
    lat_ms = xmalloc(sizeof *lat_ms * (size_t)(o.max_requests + 1));
    for (int i = 0; i < o.clients; i++)
        setup_slot(&slots[i], i % o.n_urls);
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
    qsort(lat_ms, (size_t)n_ok, sizeof *lat_ms, cmp_double);
    printf("RESULT ok=%ld errors=%ld elapsed_s=%.3f rps=%.1f p50_ms=%.2f p90_ms=%.2f "
           "p99_ms=%.2f max_ms=%.2f\n",
           n_ok, n_err, elapsed, elapsed > 0 ? (double)n_ok / elapsed : 0, pct(lat_ms, n_ok, 50),
           pct(lat_ms, n_ok, 90), pct(lat_ms, n_ok, 99), n_ok ? lat_ms[n_ok - 1] : 0);
    if (first_err[0])
        printf("FIRST_ERROR %s\n", first_err);
    free(lat_ms);
    return n_ok > 0 ? 0 : 1;
}

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
                if (first_err[0])
                    printf("FIRST_ERROR %s\n", first_err);
                return 0;
            }
            n_err++;
        }
        curl_multi_poll(m, NULL, 0, 2, NULL);
    }
    printf("RESULT failover_ms=-1 via=none attempts=%ld failed=%ld\n", n_issued, n_err);
    if (first_err[0])
        printf("FIRST_ERROR %s\n", first_err);
    return 1;
}

static void usage(void)
{
    fprintf(stderr, "usage: loadgen --mode skiff|etcd --url URL [--url URL...] [--clients N]\n"
                    "               [--duration-s S] [--max-requests N] [--value-bytes N]\n"
                    "               [--token T] [--cacert FILE | --insecure] [--run-id S]\n"
                    "               [--timeout-ms N] [--no-reuse] [--failover-kill PID]\n");
    exit(2);
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
        if (v == NULL)
            usage();
        i++;
        if (strcmp(a, "--mode") == 0)
            o.mode = v;
        else if (strcmp(a, "--url") == 0 && o.n_urls < MAX_URLS)
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
        else
            usage();
    }
    if (o.n_urls == 0 || o.clients < 1 || o.clients > MAX_CLIENTS || o.max_requests < 1 ||
        o.value_bytes < 1 || o.value_bytes > (1 << 20) || o.duration_s <= 0 ||
        (strcmp(o.mode, "skiff") != 0 && strcmp(o.mode, "etcd") != 0))
        usage();
    if (curl_global_init(CURL_GLOBAL_ALL) != 0)
        die("curl_global_init failed");

    value_raw = xmalloc((size_t)o.value_bytes + 1);
    memset(value_raw, 'v', (size_t)o.value_bytes);
    value_raw[o.value_bytes] = '\0';
    value_b64 = b64(value_raw, (size_t)o.value_bytes);
    hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    hdrs = curl_slist_append(hdrs, "Expect:"); /* no 100-continue round trip */
    if (o.token) {
        char h[512];
        snprintf(h, sizeof h, "Authorization: Bearer %s", o.token);
        hdrs = curl_slist_append(hdrs, h);
    }

    CURLM *m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
    int rc = o.failover_kill ? run_failover(m) : run_throughput(m);
    fflush(stdout);

    for (int i = 0; i < MAX_CLIENTS; i++) {
        if (slots[i].easy) {
            if (slots[i].busy)
                curl_multi_remove_handle(m, slots[i].easy);
            curl_easy_cleanup(slots[i].easy);
        }
        free(slots[i].body);
    }
    curl_multi_cleanup(m);
    curl_slist_free_all(hdrs);
    free(value_raw);
    free(value_b64);
    curl_global_cleanup();
    return rc;
}
