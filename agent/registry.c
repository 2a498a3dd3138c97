/* Pulling from a registry: the Distribution API v2 (OCI distribution spec)
 * over libcurl's easy interface, synchronous, for the libuv thread pool.
 *
 * One easy handle per pull keeps the connection alive across the manifest
 * and blob requests. Every request has a deadline; transport errors, 5xx and
 * 429 are retried a bounded number of times with a doubling back-off; a 401
 * is answered once per request with the challenge's scheme (Bearer token
 * from the realm, or Basic). Blobs stream into the store's verifying writer:
 * a byte beyond the manifest's size, a short body or a wrong digest ends
 * the blob with nothing left behind. */
#define SKIFF_AGENT_IMAGE_INTERNAL
#include "agent/image.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>

#define ERRBODY_MAX (16 * 1024)

struct session {
    struct agent_image_store *s;
    const struct agent_image_pull_opts *o;
    struct agent_image_ref r;
    char canon[AGENT_IMAGE_REF_SIZE];
    struct agent_image_registry cfg;
    char base[300]; /* scheme://endpoint */
    CURL *c;
    char auth[4096]; /* "Authorization: ..." once a challenge was answered */
    long timeout_ms, blob_timeout_ms;
    int retries;
    const char *os, *arch;
    bool in_token; /* a token request answers no challenge: no recursion */
};

struct resp {
    struct session *ss;
    long status;
    char content_type[128];
    char www_auth[1024];
    /* body to memory (manifests, tokens, error bodies) */
    char *buf;
    size_t len, cap, max;
    bool too_big;
    /* or to a blob writer when 2xx */
    struct agent__blob_writer *w;
    const char *digest;
    uint64_t want_size, last_progress;
    struct err werr; /* set by the write callback when it stopped the transfer */
};

/* ---- WWW-Authenticate ---- */

int agent__challenge_parse(const char *hdr, struct agent__challenge *c, struct err *e)
{
    const char *p = hdr;
    size_t n;

    memset(c, 0, sizeof *c);
    if (hdr == NULL)
        return err_setf(e, ERR_INVALID, "www-authenticate: empty");
    while (*p == ' ')
        p++;
    n = strcspn(p, " ");
    if (n == 0 || n >= sizeof c->scheme)
        return err_setf(e, ERR_INVALID, "www-authenticate: no scheme");
    memcpy(c->scheme, p, n);
    p += n;
    while (*p != '\0') {
        char key[32], val[512];
        size_t kn, vn = 0;
        char *dst = NULL;
        size_t cap = 0;
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == '\0')
            break;
        kn = strcspn(p, "=, ");
        if (p[kn] != '=' || kn == 0 || kn >= sizeof key)
            return err_setf(e, ERR_INVALID, "www-authenticate: bad parameter near \"%.32s\"", p);
        memcpy(key, p, kn);
        key[kn] = '\0';
        p += kn + 1;
        if (*p == '"') {
            p++;
            while (*p != '\0' && *p != '"') {
                if (*p == '\\' && p[1] != '\0')
                    p++;
                if (vn + 1 < sizeof val)
                    val[vn++] = *p;
                p++;
            }
            if (*p != '"')
                return err_setf(e, ERR_INVALID, "www-authenticate: unterminated quote");
            p++;
        } else {
            while (*p != '\0' && *p != ',' && *p != ' ' && vn + 1 < sizeof val)
                val[vn++] = *p++;
        }
        val[vn] = '\0';
        if (strcasecmp(key, "realm") == 0)
            dst = c->realm, cap = sizeof c->realm;
        else if (strcasecmp(key, "service") == 0)
            dst = c->service, cap = sizeof c->service;
        else if (strcasecmp(key, "scope") == 0)
            dst = c->scope, cap = sizeof c->scope;
        if (dst != NULL)
            snprintf(dst, cap, "%s", val);
    }
    if (strcasecmp(c->scheme, "Bearer") == 0 && c->realm[0] == '\0')
        return err_setf(e, ERR_INVALID, "www-authenticate: Bearer without realm");
    return 0;
}

/* ---- curl callbacks ---- */

static size_t on_header(char *data, size_t size, size_t n, void *ud)
{
    struct resp *r = ud;
    size_t len = size * n, k;
    char line[1100];

    k = len < sizeof line - 1 ? len : sizeof line - 1;
    memcpy(line, data, k);
    line[k] = '\0';
    while (k > 0 && (line[k - 1] == '\r' || line[k - 1] == '\n'))
        line[--k] = '\0';
    if (strncmp(line, "HTTP/", 5) == 0) {
        /* a new response (after a redirect or 100-continue): forget the last */
        r->content_type[0] = '\0';
        r->www_auth[0] = '\0';
        r->len = 0;
        r->too_big = false;
    } else if (strncasecmp(line, "content-type:", 13) == 0) {
        snprintf(r->content_type, sizeof r->content_type, "%s", line + 13 + strspn(line + 13, " "));
    } else if (strncasecmp(line, "www-authenticate:", 17) == 0) {
        const char *v = line + 17 + strspn(line + 17, " ");
        /* several challenges: prefer Bearer, the registries' scheme */
        if (r->www_auth[0] == '\0' || strncasecmp(v, "Bearer", 6) == 0)
            snprintf(r->www_auth, sizeof r->www_auth, "%s", v);
    }
    return len;
}

static size_t to_memory(struct resp *r, const char *data, size_t len)
{
    size_t max = r->max ? r->max : ERRBODY_MAX;
    if (r->len + len > max) {
        r->too_big = true;
        if (r->w != NULL)
            return len; /* an oversized error body is cut, not fatal */
        err_setf(&r->werr, ERR_INVALID, "answer larger than %zu bytes", max);
        return 0;
    }
    if (r->len + len + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 16384;
        char *nb;
        while (cap < r->len + len + 1)
            cap *= 2;
        nb = realloc(r->buf, cap);
        if (nb == NULL) {
            err_setf(&r->werr, ERR_NOMEM, "out of memory");
            return 0;
        }
        r->buf = nb;
        r->cap = cap;
    }
    memcpy(r->buf + r->len, data, len);
    r->len += len;
    r->buf[r->len] = '\0';
    return len;
}

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    struct resp *r = ud;
    const struct agent_image_pull_opts *o = r->ss->o;
    size_t len = size * n;
    long status = 0;

    if (o->cancel != NULL && atomic_load(o->cancel)) {
        err_setf(&r->werr, ERR_SHUTDOWN, "cancelled");
        return 0;
    }
    curl_easy_getinfo(r->ss->c, CURLINFO_RESPONSE_CODE, &status);
    if (r->w == NULL || status < 200 || status > 299)
        return to_memory(r, data, len);
    if (r->w->size + len > r->want_size) {
        err_setf(&r->werr, ERR_INVALID, "blob %s: more than the %llu bytes the manifest gives",
                 r->digest, (unsigned long long)r->want_size);
        return 0;
    }
    if (agent__blob_write(r->w, data, len, &r->werr) != 0)
        return 0;
    if (o->progress != NULL &&
        (r->w->size - r->last_progress >= (1u << 20) || r->w->size == r->want_size)) {
        r->last_progress = r->w->size;
        o->progress(o->progress_data, r->ss->canon, r->digest, r->w->size, r->want_size);
    }
    return len;
}

/* ---- requests ---- */

static void setup(struct session *ss, const char *url, struct resp *r, long timeout_ms,
                  struct curl_slist *hdrs, char *errbuf)
{
    CURL *c = ss->c;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for DNS timeouts */
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 10000 ? timeout_ms : 10000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    /* a stalled transfer fails long before a large blob's deadline */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 30L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "skiff");
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    if (ss->cfg.insecure) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (ss->cfg.ca_file != NULL)
        curl_easy_setopt(c, CURLOPT_CAINFO, ss->cfg.ca_file);
}

static void backoff(struct session *ss, int attempt)
{
    long ms = 100L << (attempt < 6 ? attempt : 6);
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The registry's own words from an error body ({"errors":[{"code",
 * "message"}]}), or "". */
static void error_detail(const struct resp *r, char *out, size_t cap)
{
    json_t *j = r->buf ? json_loadb(r->buf, r->len, 0, NULL) : NULL;
    json_t *first = json_array_get(json_object_get(j, "errors"), 0);
    const char *msg = json_string_value(json_object_get(first, "message"));
    const char *code = json_string_value(json_object_get(first, "code"));
    out[0] = '\0';
    if (msg != NULL || code != NULL)
        snprintf(out, cap, ": %s%s%s", code ? code : "", code && msg ? ": " : "", msg ? msg : "");
    json_decref(j);
}

static int fetch_token(struct session *ss, const struct agent__challenge *ch, struct err *e);

/* Answers a 401 once: Bearer → token from the realm, Basic → credentials. */
static int answer_challenge(struct session *ss, const char *url, const struct resp *r,
                            struct err *e)
{
    struct agent__challenge ch;
    int rv;
    if (r->www_auth[0] == '\0')
        return err_setf(e, ERR_DENIED, "GET %s: 401 without a challenge", url);
    rv = agent__challenge_parse(r->www_auth, &ch, e);
    if (rv != 0)
        return err_wrapf(e, "GET %s", url);
    if (strcasecmp(ch.scheme, "Bearer") == 0)
        return fetch_token(ss, &ch, e);
    if (strcasecmp(ch.scheme, "Basic") == 0) {
        char plain[600], enc[820];
        int n;
        if (ss->cfg.username == NULL)
            return err_setf(e, ERR_DENIED, "GET %s: basic auth required, no credentials for %s",
                            url, ss->cfg.host);
        n = snprintf(plain, sizeof plain, "%s:%s", ss->cfg.username,
                     ss->cfg.password ? ss->cfg.password : "");
        if (n < 0 || (size_t)n >= sizeof plain)
            return err_setf(e, ERR_INVALID, "credentials for %s: too long", ss->cfg.host);
        EVP_EncodeBlock((unsigned char *)enc, (const unsigned char *)plain, n);
        snprintf(ss->auth, sizeof ss->auth, "Authorization: Basic %s", enc);
        return 0;
    }
    return err_setf(e, ERR_DENIED, "GET %s: unsupported auth scheme %s", url, ch.scheme);
}

/* GET url into r (memory, or r->w for a 2xx blob body). Retries and answers
 * one challenge. Returns 0 only for a 2xx; other statuses become
 * ERR_NOTFOUND (404), ERR_DENIED (401/403), ERR_INVALID (other 4xx), ERR_IO
 * (5xx), each naming the URL. */
static int http_get(struct session *ss, const char *url, const char *accept, long timeout_ms,
                    struct resp *r, struct err *e)
{
    char errbuf[CURL_ERROR_SIZE], detail[300], hdr_accept[512];
    bool challenged = false;
    int attempt = 0, rv;

    for (;;) {
        struct curl_slist *hdrs = NULL, *t;
        CURLcode rc;
        bool retry = false;

        if (ss->o->cancel != NULL && atomic_load(ss->o->cancel))
            return err_setf(e, ERR_SHUTDOWN, "GET %s: cancelled", url);
        r->status = 0;
        r->len = 0;
        r->too_big = false;
        err_clear(&r->werr);
        r->last_progress = 0;
        if (r->w != NULL && (rv = agent__blob_reset(r->w, e)) != 0)
            return rv;
        errbuf[0] = '\0';
        if (accept != NULL) {
            snprintf(hdr_accept, sizeof hdr_accept, "Accept: %s", accept);
            hdrs = curl_slist_append(hdrs, hdr_accept);
        }
        if (ss->auth[0] != '\0' && (t = curl_slist_append(hdrs, ss->auth)) != NULL)
            hdrs = t;
        setup(ss, url, r, timeout_ms, hdrs, errbuf);
        rc = curl_easy_perform(ss->c);
        curl_easy_getinfo(ss->c, CURLINFO_RESPONSE_CODE, &r->status);
        curl_easy_setopt(ss->c, CURLOPT_HTTPHEADER, NULL);
        curl_slist_free_all(hdrs);
        if (r->werr.code != 0)
            return err_setf(e, r->werr.code, "GET %s: %s", url, r->werr.msg);
        if (rc != CURLE_OK) {
            rv = err_setf(e, rc == CURLE_OPERATION_TIMEDOUT ? ERR_TIMEOUT : ERR_IO, "GET %s: %s",
                          url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
            retry = true;
        } else if (r->status >= 200 && r->status <= 299) {
            return 0;
        } else if (r->status == 401 && !challenged && !ss->in_token) {
            challenged = true;
            rv = answer_challenge(ss, url, r, e);
            if (rv != 0)
                return rv;
            continue;
        } else {
            error_detail(r, detail, sizeof detail);
            if (r->status == 404)
                return err_setf(e, ERR_NOTFOUND, "GET %s: 404%s", url, detail);
            if (r->status == 401 || r->status == 403)
                return err_setf(e, ERR_DENIED, "GET %s: %ld%s", url, r->status, detail);
            if (r->status >= 500 || r->status == 429) {
                rv = err_setf(e, ERR_IO, "GET %s: %ld%s", url, r->status, detail);
                retry = true;
            } else {
                return err_setf(e, ERR_INVALID, "GET %s: %ld%s", url, r->status, detail);
            }
        }
        if (!retry || attempt >= ss->retries)
            return rv;
        backoff(ss, attempt++);
    }
}

static int fetch_token(struct session *ss, const struct agent__challenge *ch, struct err *e)
{
    char url[2048], scope[600];
    struct resp r = {.ss = ss, .max = 1u << 20};
    char *esvc = NULL, *escope = NULL;
    const char *tok;
    json_t *j = NULL;
    int rv, n;

    if (strncmp(ch->realm, "https://", 8) != 0 && strncmp(ch->realm, "http://", 7) != 0)
        return err_setf(e, ERR_INVALID, "token realm %s: not an http(s) URL", ch->realm);
    if (ch->scope[0] != '\0')
        snprintf(scope, sizeof scope, "%s", ch->scope);
    else
        snprintf(scope, sizeof scope, "repository:%s:pull", ss->r.repo);
    esvc = curl_easy_escape(ss->c, ch->service, 0);
    escope = curl_easy_escape(ss->c, scope, 0);
    if (esvc == NULL || escope == NULL) {
        rv = err_setf(e, ERR_NOMEM, "token: out of memory");
        goto out;
    }
    n = snprintf(url, sizeof url, "%s%cservice=%s&scope=%s", ch->realm,
                 strchr(ch->realm, '?') ? '&' : '?', esvc, escope);
    if (n < 0 || (size_t)n >= sizeof url) {
        rv = err_setf(e, ERR_INVALID, "token realm %.64s: URL too long", ch->realm);
        goto out;
    }
    /* the token request carries the credentials, not a stale token */
    ss->auth[0] = '\0';
    if (ss->cfg.username != NULL) {
        char plain[600], enc[820];
        int k = snprintf(plain, sizeof plain, "%s:%s", ss->cfg.username,
                         ss->cfg.password ? ss->cfg.password : "");
        if (k < 0 || (size_t)k >= sizeof plain) {
            rv = err_setf(e, ERR_INVALID, "credentials for %s: too long", ss->cfg.host);
            goto out;
        }
        EVP_EncodeBlock((unsigned char *)enc, (const unsigned char *)plain, k);
        snprintf(ss->auth, sizeof ss->auth, "Authorization: Basic %s", enc);
    }
    ss->in_token = true;
    rv = http_get(ss, url, "application/json", ss->timeout_ms, &r, e);
    ss->in_token = false;
    ss->auth[0] = '\0';
    if (rv != 0) {
        err_wrapf(e, "token");
        goto out;
    }
    j = json_loadb(r.buf ? r.buf : "", r.len, 0, NULL);
    tok = json_string_value(json_object_get(j, "token"));
    if (tok == NULL)
        tok = json_string_value(json_object_get(j, "access_token"));
    if (tok == NULL || tok[0] == '\0' || strlen(tok) > sizeof ss->auth - 32) {
        rv = err_setf(e, ERR_INVALID, "token from %s: no usable token in the answer", ch->realm);
        goto out;
    }
    snprintf(ss->auth, sizeof ss->auth, "Authorization: Bearer %s", tok);
out:
    json_decref(j);
    curl_free(esvc);
    curl_free(escope);
    free(r.buf);
    return rv;
}

/* ---- pull ---- */

static const char *ACCEPT_MANIFESTS = AGENT__MT_OCI_INDEX
    ", " AGENT__MT_OCI_MANIFEST ", " AGENT__MT_DOCKER_LIST ", " AGENT__MT_DOCKER_MANIF;

/* GETs manifests/<ref>, checks it against want (a digest, or NULL for a
 * tag) and parses it. *digest gets the digest of the bytes. */
static int get_manifest(struct session *ss, const char *mref, const char *want, char **data,
                        size_t *n, json_t **doc, int *kind, char digest[AGENT_IMAGE_DIGEST_SIZE],
                        struct err *e)
{
    char url[1024];
    struct resp r = {.ss = ss, .max = AGENT__MANIFEST_MAX};
    int rv;

    snprintf(url, sizeof url, "%s/v2/%s/manifests/%s", ss->base, ss->r.repo, mref);
    rv = http_get(ss, url, ACCEPT_MANIFESTS, ss->timeout_ms, &r, e);
    if (rv == 0 && r.too_big)
        rv = err_setf(e, ERR_INVALID, "GET %s: manifest larger than %u bytes", url,
                      AGENT__MANIFEST_MAX);
    if (rv != 0)
        goto fail;
    agent__digest_of(r.buf ? r.buf : "", r.len, digest);
    if (want != NULL && strcmp(want, digest) != 0) {
        rv = err_setf(e, ERR_INVALID, "manifest %s: digest mismatch: want %s got %s", mref, want,
                      digest);
        goto fail;
    }
    rv = agent__doc_parse(r.buf ? r.buf : "", r.len, r.content_type, doc, kind, e);
    if (rv != 0)
        goto fail;
    *data = r.buf;
    *n = r.len;
    return 0;
fail:
    free(r.buf);
    return rv;
}

static int get_blob(struct session *ss, const char *digest, int64_t size, struct err *e)
{
    char url[1024];
    struct agent__blob_writer w;
    struct resp r = {.ss = ss, .w = &w, .digest = digest, .want_size = (uint64_t)size};
    int rv;

    if (agent__blob_exists(ss->s, digest))
        return 0;
    snprintf(url, sizeof url, "%s/v2/%s/blobs/%s", ss->base, ss->r.repo, digest);
    rv = agent__blob_begin(ss->s, &w, e);
    if (rv != 0)
        return rv;
    rv = http_get(ss, url, NULL, ss->blob_timeout_ms, &r, e);
    free(r.buf);
    if (rv == 0 && w.size != (uint64_t)size)
        rv = err_setf(e, ERR_INVALID, "GET %s: truncated: %llu of %lld bytes", url,
                      (unsigned long long)w.size, (long long)size);
    if (rv != 0) {
        agent__blob_abort(&w);
        return rv;
    }
    /* not wrapped with the URL: "want <digest>" names the blob, and the
     * two digests must fit the message */
    return agent__blob_commit(ss->s, &w, digest, NULL, e);
}

static int pull_locked(struct session *ss, char digest_out[AGENT_IMAGE_DIGEST_SIZE], struct err *e)
{
    char *data = NULL;
    size_t n = 0, i;
    json_t *doc = NULL;
    int kind = 0, rv;
    char digest[AGENT_IMAGE_DIGEST_SIZE];
    struct agent__manifest m = {0};
    const char *refs[1] = {ss->canon};

    rv = get_manifest(ss, ss->r.digest[0] ? ss->r.digest : ss->r.tag,
                      ss->r.digest[0] ? ss->r.digest : NULL, &data, &n, &doc, &kind, digest, e);
    if (rv != 0)
        return rv;
    if (kind == AGENT__DOC_INDEX) {
        char child[AGENT_IMAGE_DIGEST_SIZE];
        rv = agent__index_select(doc, ss->os, ss->arch, child, e);
        json_decref(doc);
        doc = NULL;
        free(data);
        data = NULL;
        if (rv != 0)
            return rv;
        rv = get_manifest(ss, child, child, &data, &n, &doc, &kind, digest, e);
        if (rv != 0)
            return rv;
        if (kind != AGENT__DOC_MANIFEST) {
            rv = err_setf(e, ERR_INVALID, "manifest %s: an index inside an index", child);
            goto out;
        }
    }
    rv = agent__manifest_parse(doc, &m, e);
    if (rv != 0)
        goto out;
    rv = agent__blob_put(ss->s, data, n, digest, NULL, e);
    if (rv == 0)
        rv = get_blob(ss, m.config, m.config_size, e);
    for (i = 0; rv == 0 && i < m.n_layers; i++)
        rv = get_blob(ss, m.layers[i].digest, m.layers[i].size, e);
    if (rv == 0)
        rv = agent__image_commit(ss->s, digest, refs, 1, ss->o->cancel, e);
    if (rv == 0 && digest_out != NULL)
        memcpy(digest_out, digest, AGENT_IMAGE_DIGEST_SIZE);
out:
    agent__manifest_close(&m);
    json_decref(doc);
    free(data);
    return rv;
}

static bool is_loopback(const char *host)
{
    return strncmp(host, "localhost", 9) == 0 || strncmp(host, "127.", 4) == 0 ||
           strncmp(host, "[::1]", 5) == 0;
}

static int session_init(struct session *ss, const char *ref, const struct agent_image_pull_opts *o,
                        struct err *e)
{
    size_t i;
    const char *ep;
    int rv;

    rv = agent_image_ref_parse(ref, &ss->r, e);
    if (rv == 0)
        rv = agent_image_ref_format(&ss->r, ss->canon, sizeof ss->canon, e);
    if (rv != 0)
        return rv;
    ss->cfg.host = ss->r.registry;
    for (i = 0; o->registries != NULL && i < o->n_registries; i++) {
        if (o->registries[i].host != NULL && strcmp(o->registries[i].host, ss->r.registry) == 0) {
            ss->cfg = o->registries[i];
            break;
        }
    }
    if (i == o->n_registries || o->registries == NULL) {
        if (strcmp(ss->r.registry, "docker.io") == 0)
            return err_setf(e, ERR_INVALID,
                            "pull %s: docker.io is not reachable from this node; use "
                            "host:port/name or configure a docker.io mirror",
                            ss->canon);
        ss->cfg.plain_http = is_loopback(ss->r.registry);
    }
    ep = ss->cfg.endpoint ? ss->cfg.endpoint : ss->r.registry;
    if (strcmp(ep, "docker.io") == 0)
        ep = "registry-1.docker.io";
    snprintf(ss->base, sizeof ss->base, "%s://%s", ss->cfg.plain_http ? "http" : "https", ep);
    ss->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 30000;
    ss->blob_timeout_ms = o->blob_timeout_ms > 0 ? o->blob_timeout_ms : 600000;
    ss->retries = o->retries < 0 ? 0 : (o->retries == 0 ? 3 : o->retries);
    ss->os = o->os ? o->os : "linux";
    ss->arch = o->arch ? o->arch : "amd64";
    ss->c = curl_easy_init();
    if (ss->c == NULL)
        return err_setf(e, ERR_NOMEM, "pull %s: curl handle", ss->canon);
    return 0;
}

int agent_image_pull(struct agent_image_store *s, const char *ref,
                     const struct agent_image_pull_opts *opts,
                     char digest_out[AGENT_IMAGE_DIGEST_SIZE], struct err *e)
{
    static const struct agent_image_pull_opts defaults = {0};
    struct session *ss;
    int rv;

    ss = calloc(1, sizeof *ss);
    if (ss == NULL)
        return err_setf(e, ERR_NOMEM, "pull: out of memory");
    ss->s = s;
    ss->o = opts ? opts : &defaults;
    rv = session_init(ss, ref, ss->o, e);
    if (rv == 0) {
        agent__store_rdlock(s);
        rv = pull_locked(ss, digest_out, e);
        agent__store_unlock(s);
        if (rv != 0)
            err_wrapf(e, "pull %s", ss->canon);
    }
    if (ss->c != NULL)
        curl_easy_cleanup(ss->c);
    free(ss);
    return rv;
}
