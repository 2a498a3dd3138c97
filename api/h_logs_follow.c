/* logs?follow=true: a chunked text/plain stream of a container's log as it
 * grows, ended when the pod is deleted, the client goes away or the api
 * closes.
 *
 * Local: a uv timer polls the file every FOLLOW_TICK_MS. Reads are small
 * (at most FOLLOW_READ_MAX a tick) pread()s of a file our own agent just
 * wrote, so they come from the page cache; doing them on the loop costs less
 * than a thread-pool round trip per tick and holds no thread for the life
 * of the follow. Restarts: when the pod's restartCount for the container
 * grows, the current file is read to its end and the next <restart>.log
 * follows. Rotation (agent__log_rotate copies <n>.log to <n>.log.1, then
 * truncates): a file shorter than what we sent was rotated; the bytes we
 * missed are the tail of .log.1 from our offset.
 *
 * Forwarded: the pod's node streams; we relay with libcurl's multi
 * interface, stepped by the same kind of timer (non-blocking), pausing the
 * transfer while our client has FOLLOW_BUFFER_MAX unsent bytes.
 *
 * h2o allows one h2o_send in flight per request: bytes gather in `pending`
 * while `inflight` is written, and swap on proceed (as api/watch.c). */
#include "api/internal.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <h2o.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/log.h"

#define FOLLOW_TICK_MS      200
#define FOLLOW_FWD_TICK_MS  20           /* curl steps: a TLS handshake is several */
#define FOLLOW_READ_MAX     (256u << 10) /* per tick */
#define FOLLOW_BUFFER_MAX   (4u << 20)   /* unsent bytes before we stop reading */
#define FOLLOW_FWD_BODY_MAX (64u << 10)  /* an upstream error answer */


struct follow {
    h2o_generator_t gen; /* first: h2o hands it back as the generator */
    struct api_req *r;   /* NULL once the request is freed */
    uv_timer_t timer;
    /* local */
    struct api__follow_src src;
    char path[1024];
    /* forward */
    CURLM *multi;
    CURL *easy;
    long fwd_status;
    bool paused;
    struct buf errbody; /* upstream's non-200 answer */
    char errbuf[CURL_ERROR_SIZE];
    /* stream */
    struct buf pending, inflight;
    bool sending, started, ending, done;
};

static void on_timer_closed(uv_handle_t *h)
{
    struct follow *f = h->data;
    buf_close(&f->pending);
    buf_close(&f->inflight);
    buf_close(&f->errbody);
    free(f);
}

/* The request is freed: h2o will not call the generator again. */
static void on_req_cleanup(struct api_req *r)
{
    struct follow *f = r->data;
    r->data = NULL;
    if (f == NULL)
        return;
    f->r = NULL;
    if (f->easy != NULL) {
        curl_multi_remove_handle(f->multi, f->easy);
        curl_easy_cleanup(f->easy);
        f->easy = NULL;
    }
    if (f->multi != NULL) {
        curl_multi_cleanup(f->multi);
        f->multi = NULL;
    }
    uv_close((uv_handle_t *)&f->timer, on_timer_closed);
}

/* Whether the stream has nobody to go to any more. */
static bool gone(const struct follow *f)
{
    return f->r == NULL || f->r->h2o__ == NULL || f->r->orphan__ || f->r->api == NULL;
}

static void flush(struct follow *f)
{
    h2o_req_t *req = f->r != NULL ? f->r->h2o__ : NULL;
    h2o_iovec_t buf;
    if (req == NULL || !f->started || f->sending || f->done)
        return;
    if (f->pending.len == 0 && !f->ending)
        return;
    buf_close(&f->inflight);
    f->inflight = f->pending;
    memset(&f->pending, 0, sizeof f->pending);
    buf = h2o_iovec_init(f->inflight.p, f->inflight.len);
    f->sending = true;
    if (f->ending) {
        f->done = true;
        h2o_send(req, &buf, f->inflight.len ? 1 : 0, H2O_SEND_STATE_FINAL);
    } else {
        h2o_send(req, &buf, 1, H2O_SEND_STATE_IN_PROGRESS);
    }
}

static void end_stream(struct follow *f)
{
    uv_timer_stop(&f->timer);
    f->ending = true;
    flush(f);
}

static void on_proceed(h2o_generator_t *g, h2o_req_t *req)
{
    struct follow *f = (struct follow *)g;
    (void)req;
    f->sending = false;
    buf_close(&f->inflight);
    flush(f);
    if (f->paused && f->pending.len < FOLLOW_BUFFER_MAX / 2 && f->easy != NULL) {
        f->paused = false;
        curl_easy_pause(f->easy, CURLPAUSE_CONT); /* may call on_fwd_data now */
    }
}

static void on_stop(h2o_generator_t *g, h2o_req_t *req)
{
    struct follow *f = (struct follow *)g;
    (void)req;
    uv_timer_stop(&f->timer);
}

static void start_response(struct follow *f)
{
    h2o_req_t *req = f->r->h2o__;
    f->r->replied__ = true; /* the stream is the reply */
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("text/plain"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
                   H2O_STRLIT("no-cache, private"));
    h2o_start_response(req, &f->gen);
    f->started = true;
}

static struct follow *follow_new(struct api_req *r)
{
    struct follow *f = calloc(1, sizeof *f);
    if (f == NULL)
        return NULL;
    f->r = r;
    f->gen.proceed = on_proceed;
    f->gen.stop = on_stop;
    uv_timer_init(api__loop(r->api), &f->timer);
    f->timer.data = f;
    r->data = f;
    r->cleanup = on_req_cleanup;
    return f;
}

/* ---- local ---- */

/* Appends up to max bytes of path from *offset on; *size its size. Returns
 * 0, or -1 when the file cannot be opened (not there yet, removed). */
static int read_more(struct follow *f, const char *path, long *offset, size_t max, long *size)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC), rv = 0;
    char *buf;
    ssize_t n;
    size_t want;
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return -1;
    }
    *size = (long)st.st_size;
    if (*offset >= *size) {
        close(fd);
        return 0;
    }
    want = (size_t)(*size - *offset) < max ? (size_t)(*size - *offset) : max;
    buf = malloc(want);
    if (buf == NULL) {
        close(fd);
        return 0; /* try again next tick */
    }
    n = pread(fd, buf, want, *offset);
    if (n > 0) {
        buf_append(&f->pending, buf, (size_t)n);
        if (!f->pending.oom)
            *offset += n;
    }
    else if (n < 0)
        rv = -1;
    free(buf);
    close(fd);
    return rv;
}

/* The pod as stored now: exists (same uid) and the container's restart
 * count. */
static bool pod_now(struct follow *f, long *restarts)
{
    char key[STORE_KEY_MAX + 1];
    struct store_kv kv;
    struct err e;
    json_t *pod, *c;
    const char *uid;
    bool same;
    size_t i;
    if (api_object_key("pods", f->src.ns, f->src.name, key, sizeof key, &e) != 0 ||
        store_get(f->r->store, key, &kv, &e) != 0)
        return false;
    if (api__object_decode(kv.value, kv.value_len, kv.mod_rev, &pod, &e) != 0) {
        store_kv_close(&kv);
        return false;
    }
    store_kv_close(&kv);
    uid = json_string_value(json_object_get(json_object_get(pod, "metadata"), "uid"));
    same = uid != NULL && strcmp(uid, f->src.uid) == 0;
    *restarts = f->src.restart;
    json_array_foreach (json_object_get(json_object_get(pod, "status"), "containerStatuses"), i, c)
        if (json_is_string(json_object_get(c, "name")) &&
            strcmp(json_string_value(json_object_get(c, "name")), f->src.ctr) == 0)
            *restarts = (long)json_integer_value(json_object_get(c, "restartCount"));
    json_decref(pod);
    return same;
}

static void local_tick(uv_timer_t *t)
{
    struct follow *f = t->data;
    long size = 0, restarts;
    bool alive;

    if (gone(f)) {
        end_stream(f);
        return;
    }
    if (f->pending.len >= FOLLOW_BUFFER_MAX)
        return; /* the client is slow: read again once it took some */
    alive = pod_now(f, &restarts);
    if (read_more(f, f->path, &f->src.offset, FOLLOW_READ_MAX, &size) == 0 &&
        size < f->src.offset) {
        /* rotated: what we had not read yet is the tail of .log.1 */
        char old[1100];
        long o = f->src.offset, osize = 0;
        snprintf(old, sizeof old, "%s.1", f->path);
        read_more(f, old, &o, FOLLOW_BUFFER_MAX, &osize);
        f->src.offset = 0;
        read_more(f, f->path, &f->src.offset, FOLLOW_READ_MAX, &size);
    }
    if (alive && restarts > f->src.restart && f->src.offset >= size) {
        /* the container restarted and its old file is read: go on with the
         * new run's (it may not exist yet; read_more then reads nothing) */
        char next[1024];
        if (api__log_path(f->r->api, f->src.ns, f->src.name, f->src.uid, f->src.ctr,
                          (int)f->src.restart + 1, next, sizeof next) == 0) {
            snprintf(f->path, sizeof f->path, "%s", next);
            f->src.restart++;
            f->src.offset = 0;
            read_more(f, f->path, &f->src.offset, FOLLOW_READ_MAX, &size);
        }
    }
    if (!alive && f->src.offset >= size) {
        /* the pod is gone (or replaced by a namesake): what it wrote is sent */
        end_stream(f);
        return;
    }
    flush(f);
}

void api__follow_local(struct api_req *r, const struct api__follow_src *src, const char *initial,
                       size_t len)
{
    struct follow *f;
    if (r->h2o__ == NULL) {
        api_reply_error(r, ERR_NOMEM, "logs: client gone");
        return;
    }
    f = follow_new(r);
    if (f == NULL) {
        api_reply_error(r, ERR_NOMEM, "logs: out of memory");
        return;
    }
    f->src = *src;
    if (api__log_path(r->api, src->ns, src->name, src->uid, src->ctr, (int)src->restart, f->path,
                      sizeof f->path) != 0 ||
        (buf_append(&f->pending, initial, len), f->pending.oom)) {
        api_reply_status(r, 500, "InternalError", "logs: cannot follow this container");
        return; /* cleanup frees f with the request */
    }
    start_response(f);
    flush(f);
    uv_timer_start(&f->timer, local_tick, FOLLOW_TICK_MS, FOLLOW_TICK_MS);
}

/* ---- forwarded ---- */

static size_t on_fwd_data(char *p, size_t size, size_t n, void *data)
{
    struct follow *f = data;
    size_t add = size * n;
    if (f->fwd_status == 0)
        curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &f->fwd_status);
    if (f->fwd_status != 200) {
        if (f->errbody.len + add <= FOLLOW_FWD_BODY_MAX)
            buf_append(&f->errbody, p, add);
        return add;
    }
    if (gone(f))
        return 0; /* abort the transfer */
    if (f->pending.len >= FOLLOW_BUFFER_MAX) {
        f->paused = true;
        return CURL_WRITEFUNC_PAUSE;
    }
    if (!f->started)
        start_response(f);
    buf_append(&f->pending, p, add);
    if (f->pending.oom)
        return 0;
    flush(f);
    return add;
}

static void fwd_tick(uv_timer_t *t)
{
    struct follow *f = t->data;
    int running = 0, left;
    CURLMsg *m;
    if (gone(f)) {
        end_stream(f);
        return;
    }
    curl_multi_perform(f->multi, &running);
    while ((m = curl_multi_info_read(f->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE || f->r == NULL)
            continue;
        if (f->started) {
            end_stream(f); /* upstream ended: the pod is gone there */
        } else if (f->fwd_status != 0 && f->errbody.len > 0) {
            uv_timer_stop(&f->timer);
            api_reply_raw(f->r, (int)f->fwd_status, "application/json", f->errbody.p,
                          f->errbody.len);
        } else if (m->data.result == CURLE_OK && f->fwd_status == 200) {
            start_response(f); /* an empty log of a pod already gone */
            end_stream(f);
        } else {
            uv_timer_stop(&f->timer);
            api_reply_status(f->r, 503, "ServiceUnavailable", "node unreachable: %s",
                             f->errbuf[0] ? f->errbuf : curl_easy_strerror(m->data.result));
        }
        return;
    }
}

void api__follow_forward(struct api_req *r, const char *url, const char *cert, const char *key,
                         const char *ca_pem)
{
    struct curl_blob ca = {(void *)ca_pem, ca_pem ? strlen(ca_pem) : 0, CURL_BLOB_COPY};
    struct follow *f = follow_new(r);
    if (f == NULL) {
        api_reply_error(r, ERR_NOMEM, "logs: out of memory");
        return;
    }
    f->multi = curl_multi_init();
    f->easy = curl_easy_init();
    if (f->multi == NULL || f->easy == NULL) {
        api_reply_error(r, ERR_NOMEM, "logs: out of memory");
        return;
    }
    curl_easy_setopt(f->easy, CURLOPT_URL, url); /* curl copies strings */
    curl_easy_setopt(f->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(f->easy, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    curl_easy_setopt(f->easy, CURLOPT_ERRORBUFFER, f->errbuf);
    if (ca_pem != NULL)
        curl_easy_setopt(f->easy, CURLOPT_CAINFO_BLOB, &ca);
    curl_easy_setopt(f->easy, CURLOPT_SSLCERT, cert);
    curl_easy_setopt(f->easy, CURLOPT_SSLKEY, key);
    curl_easy_setopt(f->easy, CURLOPT_WRITEFUNCTION, on_fwd_data);
    curl_easy_setopt(f->easy, CURLOPT_WRITEDATA, f);
    if (curl_multi_add_handle(f->multi, f->easy) != CURLM_OK) {
        api_reply_error(r, ERR_NOMEM, "logs: out of memory");
        return;
    }
    uv_timer_start(&f->timer, fwd_tick, 0, FOLLOW_FWD_TICK_MS);
}
