/* ?watch=1: a chunked HTTP response of newline-separated watch events fed
 * by a store watch. h2o allows one h2o_send in flight per request, so events
 * gather in `pending` while `inflight` is being written and the two swap on
 * proceed. A client that cannot keep up is dropped once pending passes
 * WATCH_BUFFER_MAX (with an ERROR event), rather than growing without bound:
 * a Kubernetes client relists and re-watches, which is the cheap recovery. */
#include "api/internal.h"

#include <h2o.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/log.h"

#define WATCH_BUFFER_MAX (8u << 20)

struct api__watch {
    h2o_generator_t gen;
    struct api_req *r;
    struct store_watch sw;
    bool watching;
    struct api_selector sel;
    struct api_fieldsel fsel;
    const struct api_kind *k;
    struct buf pending, inflight; /* lib/buf.h */
    bool sending;         /* an h2o_send is in flight */
    bool started;         /* h2o_start_response done */
    bool ending;          /* no more events: send FINAL once pending drains */
    bool done;            /* FINAL sent */
    uv_timer_t *timer;    /* timeoutSeconds; heap: its close outlives us */
    uv_timer_t *bookmark; /* allowWatchBookmarks; heap, like timer */
};

#define WATCH_BOOKMARK_MS 10000 /* the apiserver sends one about every minute; we are cheaper */

static bool wanted(const struct api__watch *w, const json_t *obj)
{
    return api__selector_matches(&w->sel,
                                 json_object_get(json_object_get(obj, "metadata"), "labels")) &&
           api__fieldsel_matches(&w->fsel, obj);
}

static void flush(struct api__watch *w);

static void stop_sources(struct api__watch *w)
{
    if (w->watching) {
        store_watch_stop(&w->sw);
        w->watching = false;
    }
    if (w->timer != NULL) {
        uv_close((uv_handle_t *)w->timer, (uv_close_cb)free);
        w->timer = NULL;
    }
    if (w->bookmark != NULL) {
        uv_close((uv_handle_t *)w->bookmark, (uv_close_cb)free);
        w->bookmark = NULL;
    }
}

static void end_stream(struct api__watch *w)
{
    stop_sources(w);
    w->ending = true;
    flush(w);
}

/* Appends one event line; a too-slow client gets an ERROR event and the end. */
static void emit(struct api__watch *w, const char *type, json_t *obj)
{
    json_t *ev = json_pack("{s:s, s:o}", "type", type, "object", obj);
    char *txt = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
    json_decref(ev);
    if (txt != NULL) {
        buf_append(&w->pending, txt, strlen(txt));
        buf_append(&w->pending, "\n", 1);
    }
    if (txt == NULL || w->pending.oom) {
        free(txt);
        LOG_WARN("api", "watch_dropped", "path=%s err=\"out of memory\"", w->r->path);
        end_stream(w);
        return;
    }
    free(txt);
    if (w->pending.len > WATCH_BUFFER_MAX && !w->ending) {
        json_t *st = api__status_json(500, "InternalError",
                                      "watch: client too slow, buffered events exceed the limit");
        LOG_WARN("api", "watch_dropped", "path=%s bytes=%zu err=\"client too slow\"", w->r->path,
                 w->pending.len);
        w->ending = true; /* keeps the recursive emit from looping */
        emit(w, "ERROR", st);
        end_stream(w);
        return;
    }
    flush(w);
}

static void flush(struct api__watch *w)
{
    h2o_req_t *req = w->r->h2o__;
    h2o_iovec_t buf;
    if (req == NULL || !w->started || w->sending || w->done)
        return;
    if (w->pending.len == 0 && !w->ending)
        return;
    buf_close(&w->inflight);
    w->inflight = w->pending;
    memset(&w->pending, 0, sizeof w->pending);
    buf = h2o_iovec_init(w->inflight.p, w->inflight.len);
    w->sending = true;
    if (w->ending) {
        w->done = true;
        h2o_send(req, &buf, w->inflight.len ? 1 : 0, H2O_SEND_STATE_FINAL);
    } else {
        h2o_send(req, &buf, 1, H2O_SEND_STATE_IN_PROGRESS);
    }
}

static void on_proceed(h2o_generator_t *g, h2o_req_t *req)
{
    struct api__watch *w = (struct api__watch *)g;
    (void)req;
    w->sending = false;
    buf_close(&w->inflight);
    flush(w);
}

static void on_stop(h2o_generator_t *g, h2o_req_t *req)
{
    (void)req;
    stop_sources((struct api__watch *)g);
}

static void on_store_event(struct store_watch *sw, const struct store_event *ev)
{
    struct api__watch *w = sw->data;
    json_t *obj;
    struct err e;
    if (w->ending)
        return;
    if (ev->type == STORE_EVENT_RESET) {
        /* this node's replica jumped (a Raft snapshot): the events between
         * are not there to send; 410 as for a compacted revision, so the
         * client relists */
        emit(w, "ERROR",
             api__status_json(410, "Expired",
                              "too old resource version: this node's replica was replaced by a "
                              "snapshot"));
        end_stream(w);
        return;
    }
    if (api__object_decode(ev->kv.value, ev->kv.value_len, ev->kv.mod_rev, &obj, &e) != 0) {
        LOG_WARN("api", "bad_stored_object", "key=%s err=\"%s\"", ev->kv.key, e.msg);
        return;
    }
    /* TODO(#1): an object leaving the selector by a label change should be a
     * DELETED event; the store event carries no previous value to tell. */
    if (!wanted(w, obj)) {
        json_decref(obj);
        return;
    }
    emit(w, ev->type == STORE_EVENT_DELETE ? "DELETED" : ev->created ? "ADDED" : "MODIFIED", obj);
}

static void on_timeout(uv_timer_t *t)
{
    end_stream(t->data);
}

/* BOOKMARK: tells the client how far the stream has got, so a resume after
 * a quiet period starts from a recent revision instead of a compacted one.
 * Every event up to store_revision was delivered in the apply that made it. */
static void on_bookmark(uv_timer_t *t)
{
    struct api__watch *w = t->data;
    char apiv[64], rv_s[24];
    if (w->ending)
        return;
    api_kind_api_version(w->k, apiv, sizeof apiv);
    snprintf(rv_s, sizeof rv_s, "%llu", (unsigned long long)store_revision(w->r->store));
    emit(w, "BOOKMARK",
         json_pack("{s:s, s:s, s:{s:s}}", "kind", w->k->kind, "apiVersion", apiv, "metadata",
                   "resourceVersion", rv_s));
}

static int initial_one(const struct store_kv *kv, void *data)
{
    struct api__watch *w = data;
    json_t *obj;
    struct err de;
    if (w->ending)
        return -1; /* the client is gone or too slow: stop listing */
    if (api__object_decode(kv->value, kv->value_len, kv->mod_rev, &obj, &de) != 0)
        return 0;
    if (wanted(w, obj))
        emit(w, "ADDED", obj);
    else
        json_decref(obj);
    return 0;
}

/* Synthetic ADDED for every current object (watch without resourceVersion),
 * returning the revision the live watch continues after. */
static int initial_events(struct api__watch *w, const char *prefix, uint64_t *rev, struct err *e)
{
    int rv = store_range_each(w->r->store, prefix, 500, initial_one, w, rev, e);
    return rv < 0 ? 0 : rv;
}

void api__watch_serve(struct api_req *r, const struct api_kind *k, const char *prefix)
{
    h2o_req_t *req = r->h2o__;
    const char *rv_s = api_req_query(r, "resourceVersion");
    const char *to_s = api_req_query(r, "timeoutSeconds");
    struct api__watch *w;
    uint64_t after = 0;
    struct err e;
    int rv;

    if (rv_s != NULL && rv_s[0] != '\0') {
        char *end;
        after = strtoull(rv_s, &end, 10);
        if (*end != '\0' || rv_s[0] < '0' || rv_s[0] > '9') {
            api_reply_status(r, 400, "BadRequest", "resourceVersion: invalid value \"%s\"", rv_s);
            return;
        }
    }
    w = api_req_alloc(r, sizeof *w);
    if (w == NULL || req == NULL) {
        api_reply_error(r, ERR_NOMEM, "watch: out of memory");
        return;
    }
    w->r = r;
    w->k = k;
    w->gen.proceed = on_proceed;
    w->gen.stop = on_stop;
    /* parsed again (cheap) so the watch owns its copy for its whole life */
    rv = api__selector_parse(api_req_query(r, "labelSelector"), &w->sel, &e);
    if (rv != 0) {
        api_reply_status(r, 400, "BadRequest", "%s", e.msg);
        return;
    }
    rv = api__fieldsel_parse(k, api_req_query(r, "fieldSelector"), &w->fsel, &e);
    if (rv != 0) {
        api__selector_close(&w->sel);
        api_reply_status(r, 400, "BadRequest", "%s", e.msg);
        return;
    }
    r->watch__ = w;
    r->replied__ = true; /* the stream is the reply */
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("application/json"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
                   H2O_STRLIT("no-cache, private"));
    h2o_start_response(req, &w->gen);

    if (after == 0)
        rv = initial_events(w, prefix, &after, &e);
    if (rv == 0 && !w->ending) {
        w->sw.data = w;
        rv = store_watch_start(r->store, &w->sw, prefix, after, on_store_event, &e);
        w->watching = rv == 0;
    }
    if (rv != 0) {
        /* 410 inside the stream, as the apiserver does: the client relists */
        int http = api__status_http(rv);
        emit(w, "ERROR",
             api__status_json(http, rv == ERR_COMPACTED ? "Expired" : api__status_reason(rv),
                              rv == ERR_COMPACTED ? "too old resource version" : e.msg));
        end_stream(w);
    } else if (to_s != NULL && to_s[0] != '\0' && !w->ending) {
        unsigned long secs = strtoul(to_s, NULL, 10);
        w->timer = malloc(sizeof *w->timer);
        if (w->timer != NULL) {
            uv_timer_init(req->conn->ctx->loop, w->timer);
            w->timer->data = w;
            uv_timer_start(w->timer, on_timeout, secs * 1000, 0);
        }
    }
    if (!w->ending) {
        const char *bm = api_req_query(r, "allowWatchBookmarks");
        if (bm != NULL && (strcmp(bm, "true") == 0 || strcmp(bm, "1") == 0) &&
            (w->bookmark = malloc(sizeof *w->bookmark)) != NULL) {
            uv_timer_init(req->conn->ctx->loop, w->bookmark);
            w->bookmark->data = w;
            uv_timer_start(w->bookmark, on_bookmark, WATCH_BOOKMARK_MS, WATCH_BOOKMARK_MS);
        }
    }
    w->started = true;
    /* Headers must go out now even with no event yet, so clients see the
     * 200 and know the watch is live. h2o 2.2 writes the headers only with
     * the first body bytes, so the stream starts with one space: JSON
     * stream decoders (client-go) skip it, and a line-based reader sees it
     * as leading whitespace of the first event's line. */
    if (w->pending.len == 0 && !w->ending && !w->sending) {
        static char space[] = " ";
        h2o_iovec_t first = {space, 1};
        w->sending = true;
        h2o_send(req, &first, 1, H2O_SEND_STATE_IN_PROGRESS);
    } else {
        flush(w);
    }
}

void api__watch_shutdown(struct api_req *r)
{
    struct api__watch *w = r->watch__;
    if (w != NULL && !w->ending)
        end_stream(w);
}

void api__watch_dispose(struct api_req *r)
{
    struct api__watch *w = r->watch__;
    if (w == NULL)
        return;
    stop_sources(w);
    buf_close(&w->pending);
    buf_close(&w->inflight);
    api__selector_close(&w->sel);
    api__fieldsel_close(&w->fsel);
    r->watch__ = NULL;
}
