/* The HPA controller's metrics source (see cli/hpa_metrics.h): a blocking
 * libcurl GET to this node's own API with the node certificate, which any
 * node may use to read (api/h_resource.c) and which the metrics API
 * answers by gathering from every node. Runs on the thread pool only. */
#include "cli/hpa_metrics.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"

#define BODY_MAX_BYTES (16u << 20) /* a PodMetricsList of thousands of pods fits */

/* GET path?labelSelector=selector on this node's API: the JSON answer. */
static int get_json(const struct cli_hpa_metrics *m, const char *path, const char *selector,
                    json_t **out, struct err *e)
{
    CURL *c = curl_easy_init();
    struct buf b = {.max = BODY_MAX_BYTES};
    bool too_big;
    char errbuf[CURL_ERROR_SIZE] = "", url[2048];
    char *sel = NULL;
    long code = 0;
    CURLcode rc;
    json_error_t je;
    int rv = 0;

    *out = NULL;
    if (c == NULL)
        return err_setf(e, ERR_NOMEM, "curl: out of memory");
    sel = curl_easy_escape(c, selector ? selector : "", 0);
    if (sel == NULL) {
        rv = err_setf(e, ERR_NOMEM, "curl: out of memory");
        goto out;
    }
    if ((size_t)snprintf(url, sizeof url, "https://%s%s?labelSelector=%s", m->api_addr, path,
                         sel) >= sizeof url) {
        rv = err_setf(e, ERR_INVALID, "label selector too long");
        goto out;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_CAINFO, m->ca);
    curl_easy_setopt(c, CURLOPT_SSLCERT, m->cert);
    curl_easy_setopt(c, CURLOPT_SSLKEY, m->key);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, buf_write_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    too_big = rc == CURLE_WRITE_ERROR && !b.oom; /* buf_write_cb stopped at the cap */
    if (rc != CURLE_OK) {
        rv = err_setf(e, too_big ? ERR_INVALID : ERR_IO,
                      "unable to fetch metrics from resource metrics API: %s",
                      too_big     ? "answer too large"
                      : errbuf[0] ? errbuf
                                  : curl_easy_strerror(rc));
        goto out;
    }
    if (code != 200) {
        json_t *st = b.p ? json_loads(b.p, 0, NULL) : NULL;
        const char *msg = json_string_value(json_object_get(st, "message"));
        rv = err_setf(
            e, code == 404 ? ERR_NOTFOUND : ERR_IO,
            "unable to fetch metrics from resource metrics API: %s (get pods.metrics.k8s.io)",
            msg ? msg : "the server could not find the requested resource");
        json_decref(st);
        goto out;
    }
    *out = b.p ? json_loads(b.p, 0, &je) : NULL;
    if (*out == NULL)
        rv =
            err_setf(e, ERR_INVALID, "unable to fetch metrics from resource metrics API: bad JSON");
out:
    curl_free(sel);
    curl_easy_cleanup(c);
    buf_close(&b);
    return rv;
}

/* --fake-metrics: this node's API lists the pods; FILE says their usage */
static int fake_metrics(const struct cli_hpa_metrics *m, const char *ns, const char *selector,
                        json_t **out, struct err *e)
{
    json_t *pods = NULL, *file, *items, *pod, *list;
    json_error_t je;
    char path[512];
    size_t i, j;
    int rv;

    *out = NULL;
    file = json_load_file(m->fake_file, 0, &je);
    if (!json_is_object(file)) {
        json_decref(file);
        return err_setf(e, ERR_IO, "unable to fetch metrics from resource metrics API: %s: %s",
                        m->fake_file, je.text);
    }
    snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods", ns);
    rv = get_json(m, path, selector, &pods, e);
    if (rv != 0)
        goto out;
    list = json_pack("{s:s, s:s, s:{}, s:[]}", "kind", "PodMetricsList", "apiVersion",
                     "metrics.k8s.io/v1beta1", "metadata", "items");
    if (list == NULL) {
        rv = err_setf(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    items = json_object_get(list, "items");
    json_array_foreach (json_object_get(pods, "items"), i, pod) {
        const char *name =
            json_string_value(json_object_get(json_object_get(pod, "metadata"), "name"));
        const json_t *tmpl = NULL, *fi;
        if (name == NULL)
            continue;
        json_array_foreach (json_object_get(file, "items"), j, fi) {
            const char *fname =
                json_string_value(json_object_get(json_object_get(fi, "metadata"), "name"));
            if (fname != NULL && strcmp(fname, name) == 0)
                tmpl = fi;
            else if (fname != NULL && strcmp(fname, "*") == 0 && tmpl == NULL)
                tmpl = fi;
        }
        if (tmpl == NULL)
            continue;
        json_array_append_new(
            items,
            json_pack("{s:{s:s, s:s}, s:s, s:s, s:O}", "metadata", "name", name, "namespace", ns,
                      "timestamp", "1970-01-01T00:00:00Z", "window", "10s", "containers",
                      json_object_get(tmpl, "containers") ? json_object_get(tmpl, "containers")
                                                          : json_null()));
    }
    *out = list;
out:
    json_decref(pods);
    json_decref(file);
    return rv;
}

int cli__hpa_pod_metrics(void *data, const char *ns, const char *selector, json_t **out,
                         struct err *e)
{
    const struct cli_hpa_metrics *m = data;
    char path[512];
    if (m->fake_file[0] != '\0')
        return fake_metrics(m, ns, selector, out, e);
    snprintf(path, sizeof path, "/apis/metrics.k8s.io/v1beta1/namespaces/%s/pods", ns);
    return get_json(m, path, selector, out, e);
}
