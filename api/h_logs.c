/* GET /api/v1/namespaces/NS/pods/NAME/log: a container's output, from any
 * node. The node the pod runs on reads its agent's log file; any other node
 * asks that node's API (its address from the member record, its own node
 * certificate as the client credential: nodes may read). Both are blocking
 * (a file, an HTTPS request), so they run on the thread pool.
 * Parameters: container, previous, tailLines, limitBytes, follow.
 *
 * follow=true streams (chunked) what is there, then what the container
 * writes next, until the pod is deleted or the client goes away (see
 * api/h_logs_follow.c): across restarts (the next <restart>.log) and
 * rotation (<n>.log copied to .log.1 and truncated). */
#include "api/internal.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_READ_MAX (8u << 20) /* one answer; older bytes are cut (limitBytes) */

struct log_job {
    /* in */
    char path[1024]; /* local file, or "" to forward */
    char url[2048];  /* forward: https://ADDR/api/v1/... */
    char cert[1024], key[1024];
    const char *ca_pem;
    long tail_lines; /* -1: all */
    long limit_bytes;
    bool follow;
    struct api__follow_src src; /* follow: what to go on with */
    /* out */
    char *body;
    size_t len;
    int http;
    char err[256];
};

static void read_local(struct log_job *j)
{
    FILE *f = fopen(j->path, "rb");
    long size, start = 0;
    if (f == NULL) {
        j->http = errno == ENOENT ? 404 : 500;
        snprintf(j->err, sizeof j->err, "log file: %s", strerror(errno));
        return;
    }
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    if (size > (long)LOG_READ_MAX)
        start = size - (long)LOG_READ_MAX;
    if (j->limit_bytes > 0 && size - start > j->limit_bytes)
        start = size - j->limit_bytes;
    j->body = malloc((size_t)(size - start) + 1);
    if (j->body == NULL) {
        fclose(f);
        j->http = 500;
        snprintf(j->err, sizeof j->err, "out of memory");
        return;
    }
    fseek(f, start, SEEK_SET);
    j->len = fread(j->body, 1, (size_t)(size - start), f);
    fclose(f);
    j->src.offset = start + (long)j->len; /* a follow goes on from here */
    if (j->tail_lines >= 0) {
        /* the last N lines: walk back over N newlines (a final newline ends
         * the last line, it does not start a new one) */
        size_t i = j->len, seen = 0;
        if (i > 0 && j->body[i - 1] == '\n')
            i--;
        while (i > 0) {
            if (j->body[i - 1] == '\n' && ++seen == (size_t)j->tail_lines)
                break;
            i--;
        }
        if (j->tail_lines == 0)
            i = j->len;
        memmove(j->body, j->body + i, j->len - i);
        j->len -= i;
    }
    j->http = 200;
}

static size_t on_data(char *p, size_t size, size_t n, void *data)
{
    struct log_job *j = data;
    size_t add = size * n;
    char *nb;
    if (j->len + add > LOG_READ_MAX)
        return 0;
    nb = realloc(j->body, j->len + add + 1);
    if (nb == NULL)
        return 0;
    j->body = nb;
    memcpy(j->body + j->len, p, add);
    j->len += add;
    return add;
}

static void forward(struct log_job *j)
{
    CURL *c = curl_easy_init();
    struct curl_blob ca = {(void *)j->ca_pem, j->ca_pem ? strlen(j->ca_pem) : 0, CURL_BLOB_COPY};
    char errbuf[CURL_ERROR_SIZE] = "";
    long code = 0;
    CURLcode rc;
    if (c == NULL) {
        j->http = 500;
        snprintf(j->err, sizeof j->err, "curl: out of memory");
        return;
    }
    curl_easy_setopt(c, CURLOPT_URL, j->url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 15000L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    if (j->ca_pem != NULL)
        curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &ca);
    curl_easy_setopt(c, CURLOPT_SSLCERT, j->cert);
    curl_easy_setopt(c, CURLOPT_SSLKEY, j->key);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, j);
    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK) {
        j->http = 503;
        snprintf(j->err, sizeof j->err, "node unreachable: %s",
                 errbuf[0] ? errbuf : curl_easy_strerror(rc));
        return;
    }
    j->http = (int)code;
}

static void run_job(struct api_req *r)
{
    struct log_job *j = r->data;
    if (j->path[0] != '\0')
        read_local(j);
    else
        forward(j);
}

static void on_job_done(struct api_req *r, int status)
{
    struct log_job *j = r->data;
    if (status != 0) {
        free(j->body);
        api_reply_error(r, status, "logs: interrupted");
        return;
    }
    if (j->http == 200 && j->follow) {
        api__follow_local(r, &j->src, j->body ? j->body : "", j->len);
    } else if (j->http == 200) {
        api_reply_raw(r, 200, "text/plain", j->body ? j->body : "", j->len);
    } else if (j->body != NULL && j->len > 0) {
        /* the other node's Status, as it answered */
        api_reply_raw(r, j->http, "application/json", j->body, j->len);
    } else {
        api_reply_status(r, j->http, j->http == 404 ? "NotFound" : "InternalError", "%s", j->err);
    }
    free(j->body);
}

static long query_long(struct api_req *r, const char *key, long dflt)
{
    const char *v = api_req_query(r, key);
    char *end;
    long n;
    if (v == NULL || v[0] == '\0')
        return dflt;
    n = strtol(v, &end, 10);
    return *end == '\0' && n >= 0 ? n : -2;
}

int api__pod_container(struct api_req *r, const char *ns, const char *name, const char *want,
                       json_t **pod, const char **ctr)
{
    char key[STORE_KEY_MAX + 1];
    struct store_kv kv;
    struct err e;
    const json_t *containers, *c;
    size_t i;

    *pod = NULL;
    if (api_object_key("pods", ns, name, key, sizeof key, &e) != 0 ||
        store_get(r->store, key, &kv, &e) != 0) {
        api_reply_error(r, ERR_NOTFOUND, "pods \"%s\" not found", name);
        return ERR_NOTFOUND;
    }
    if (api__object_decode(kv.value, kv.value_len, kv.mod_rev, pod, &e) != 0) {
        store_kv_close(&kv);
        api_reply_err(r, &e);
        return e.code;
    }
    store_kv_close(&kv);
    containers = json_object_get(json_object_get(*pod, "spec"), "containers");
    if (want == NULL || want[0] == '\0') {
        if (json_array_size(containers) != 1) {
            char names[512] = "";
            size_t used = 0;
            json_array_foreach (containers, i, c)
                used += (size_t)snprintf(
                    names + used, used < sizeof names ? sizeof names - used : 0, "%s%s",
                    i ? " " : "", json_string_value(json_object_get(c, "name")));
            api_reply_status(r, 400, "BadRequest",
                             "a container name must be specified for pod %s, choose one of: [%s]",
                             name, names);
            goto fail;
        }
        *ctr = json_string_value(json_object_get(json_array_get(containers, 0), "name"));
        if (*ctr == NULL) {
            api_reply_status(r, 400, "BadRequest", "pod %s: container without a name", name);
            goto fail;
        }
        return 0;
    }
    json_array_foreach (containers, i, c) {
        const char *n = json_string_value(json_object_get(c, "name"));
        if (n != NULL && strcmp(n, want) == 0) {
            *ctr = n;
            return 0;
        }
    }
    api_reply_status(r, 400, "BadRequest", "container %s is not valid for pod %s", want, name);
fail:
    json_decref(*pod);
    *pod = NULL;
    return ERR_INVALID;
}

void api__pod_log(struct api_req *r, const char *ns, const char *name)
{
    struct store_kv kv;
    struct err e;
    json_t *pod, *c, *statuses;
    const char *ctr = api_req_query(r, "container"), *node, *uid, *prev;
    struct log_job *j;
    bool previous;
    long restarts = 0;
    size_t i;

    if (api__pod_container(r, ns, name, ctr, &pod, &ctr) != 0)
        return;
    /* copied: the pod is released before the last use of ctr */
    ctr = api_req_strdup(r, ctr);
    if (ctr == NULL) {
        json_decref(pod);
        api_reply_error(r, ERR_NOMEM, "out of memory");
        return;
    }
    j = api_req_alloc(r, sizeof *j);
    if (j == NULL) {
        json_decref(pod);
        api_reply_error(r, ERR_NOMEM, "out of memory");
        return;
    }
    r->data = j;
    j->tail_lines = query_long(r, "tailLines", -1);
    j->limit_bytes = query_long(r, "limitBytes", 0);
    if (j->tail_lines == -2 || j->limit_bytes == -2) {
        json_decref(pod);
        api_reply_status(r, 400, "BadRequest",
                         "tailLines and limitBytes must be non-negative integers");
        return;
    }
    prev = api_req_query(r, "previous");
    previous = prev != NULL && (strcmp(prev, "true") == 0 || strcmp(prev, "1") == 0);
    prev = api_req_query(r, "follow");
    /* the previous run does not grow: following it is a plain read */
    j->follow = !previous && prev != NULL && (strcmp(prev, "true") == 0 || strcmp(prev, "1") == 0);
    node = json_string_value(json_object_get(json_object_get(pod, "spec"), "nodeName"));
    uid = json_string_value(json_object_get(json_object_get(pod, "metadata"), "uid"));
    statuses = json_object_get(json_object_get(pod, "status"), "containerStatuses");
    json_array_foreach (statuses, i, c)
        if (json_is_string(json_object_get(c, "name")) &&
            strcmp(json_string_value(json_object_get(c, "name")), ctr) == 0)
            restarts = (long)json_integer_value(json_object_get(c, "restartCount"));
    if (node == NULL || node[0] == '\0') {
        json_decref(pod);
        api_reply_status(r, 400, "BadRequest",
                         "container \"%s\" in pod \"%s\" is waiting to start: pod is not scheduled",
                         ctr, name);
        return;
    }
    if (previous && restarts == 0) {
        json_decref(pod);
        api_reply_status(r, 400, "BadRequest",
                         "previous terminated container \"%s\" in pod \"%s\" not found", ctr, name);
        return;
    }
    if (j->follow &&
        (snprintf(j->src.ns, sizeof j->src.ns, "%s", ns) >= (int)sizeof j->src.ns ||
         snprintf(j->src.name, sizeof j->src.name, "%s", name) >= (int)sizeof j->src.name ||
         snprintf(j->src.uid, sizeof j->src.uid, "%s", uid ? uid : "") >= (int)sizeof j->src.uid ||
         snprintf(j->src.ctr, sizeof j->src.ctr, "%s", ctr) >= (int)sizeof j->src.ctr)) {
        json_decref(pod);
        api_reply_status(r, 400, "BadRequest", "follow: names too long");
        return;
    }
    j->src.restart = restarts;
    if (strcmp(node, api__node_name(r->api)) == 0) {
        if (api__log_path(r->api, ns, name, uid ? uid : "", ctr,
                          (int)(previous ? restarts - 1 : restarts), j->path,
                          sizeof j->path) != 0) {
            json_decref(pod);
            api_reply_status(r, 404, "NotFound", "this node keeps no container logs");
            return;
        }
    } else {
        char mkey[STORE_KEY_MAX + 1];
        struct cons_member m;
        snprintf(mkey, sizeof mkey, "%s%s", CONS_MEMBER_PREFIX, node);
        if (store_get(r->store, mkey, &kv, &e) != 0) {
            json_decref(pod);
            api_reply_status(r, 503, "ServiceUnavailable", "node \"%s\" is not a member", node);
            return;
        }
        if (cons_member_decode(kv.value, kv.value_len, &m, &e) != 0) {
            store_kv_close(&kv);
            json_decref(pod);
            api_reply_err(r, &e);
            return;
        }
        store_kv_close(&kv);
        {
            int n = snprintf(j->url, sizeof j->url,
                             "https://%s/api/v1/namespaces/%s/pods/%s/log?container=%s%s",
                             m.api_address, ns, name, ctr, previous ? "&previous=true" : "");
            if (n > 0 && (size_t)n < sizeof j->url && j->tail_lines >= 0)
                n += snprintf(j->url + n, sizeof j->url - (size_t)n, "&tailLines=%ld",
                              j->tail_lines);
            if (n > 0 && (size_t)n < sizeof j->url && j->limit_bytes > 0)
                n += snprintf(j->url + n, sizeof j->url - (size_t)n, "&limitBytes=%ld",
                              j->limit_bytes);
            if (n > 0 && (size_t)n < sizeof j->url && j->follow)
                snprintf(j->url + n, sizeof j->url - (size_t)n, "&follow=true");
        }
        snprintf(j->cert, sizeof j->cert, "%s", api__cert_file(r->api));
        snprintf(j->key, sizeof j->key, "%s", api__key_file(r->api));
        j->ca_pem = api__ca_pem(r->api);
        if (j->follow) {
            /* streamed through from the loop (curl multi on a timer): no
             * thread is held for as long as the client follows */
            json_decref(pod);
            api__follow_forward(r, j->url, j->cert, j->key, j->ca_pem);
            return;
        }
    }
    json_decref(pod);
    if (api_req_work(r, run_job, on_job_done, &e) != 0)
        api_reply_err(r, &e);
}
