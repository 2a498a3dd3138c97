/* agent/pods_probe: one run of a liveness/readiness/startup probe. exec goes
 * through `runc exec`; httpGet (libcurl) and tcpSocket connect from a
 * socket made inside the pod's network namespace, so 127.0.0.1 is the pod's
 * loopback until the pod has an address of its own. */
#include "agent/pods.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <curl/curl.h>

struct sock_req {
    const char *netns;
    int family, type, proto;
    int fd;
    int err;
};

/* Runs on a throw-away thread: setns changes only the calling thread's
 * namespace, and the thread dies with it, so no pool thread is ever left
 * in a pod's netns. The socket stays in the netns it was made in. */
static void *sock_thread(void *arg)
{
    struct sock_req *r = arg;
    int ns = open(r->netns, O_RDONLY | O_CLOEXEC);
    if (ns < 0 || setns(ns, CLONE_NEWNET) != 0) {
        r->err = errno;
        if (ns >= 0)
            close(ns);
        return NULL;
    }
    close(ns);
    r->fd = socket(r->family, r->type | SOCK_CLOEXEC, r->proto);
    if (r->fd < 0)
        r->err = errno;
    return NULL;
}

static int socket_in(const char *netns, int family, int type, int proto)
{
    struct sock_req r = {netns, family, type, proto, -1, 0};
    pthread_t t;
    if (netns == NULL)
        return socket(family, type | SOCK_CLOEXEC, proto);
    if (pthread_create(&t, NULL, sock_thread, &r) != 0)
        return -1;
    pthread_join(t, NULL);
    errno = r.err;
    return r.fd;
}

static curl_socket_t open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
    (void)purpose;
    int fd = socket_in(clientp, a->family, a->socktype, a->protocol);
    return fd < 0 ? CURL_SOCKET_BAD : fd;
}

static size_t discard(char *p, size_t s, size_t n, void *d)
{
    (void)p;
    (void)d;
    return s * n;
}

static int port_of(const json_t *v)
{
    if (json_is_integer(v))
        return (int)json_integer_value(v);
    if (json_is_string(v)) /* a name pods.c could not resolve (a number as text works) */
        return atoi(json_string_value(v));
    return 0;
}

static bool http_probe(const json_t *h, const char *netns, int timeout_ms, char *msg, size_t cap)
{
    const char *host = json_string_value(json_object_get(h, "host"));
    const char *path = json_string_value(json_object_get(h, "path"));
    const char *scheme = json_string_value(json_object_get(h, "scheme"));
    int port = port_of(json_object_get(h, "port"));
    struct curl_slist *hdrs = NULL;
    const json_t *hv;
    char url[1024];
    long code = 0;
    CURLcode rc;
    CURL *c;
    size_t i;

    bool https = scheme && strcasecmp(scheme, "HTTPS") == 0;
    if (port <= 0 || port > 65535) {
        snprintf(msg, cap, "httpGet: port %s: not a port of the container",
                 json_string_value(json_object_get(h, "port")) ?: "?");
        return false;
    }
    snprintf(url, sizeof url, "%s://%s:%d%s%s", https ? "https" : "http", host ? host : "127.0.0.1",
             port, path && path[0] == '/' ? "" : "/", path ? path : "");
    c = curl_easy_init();
    if (c == NULL) {
        snprintf(msg, cap, "curl: out of memory");
        return false;
    }
    json_array_foreach (json_object_get(h, "httpHeaders"), i, hv) {
        char line[512];
        snprintf(line, sizeof line, "%s: %s", json_string_value(json_object_get(hv, "name")),
                 json_string_value(json_object_get(hv, "value")));
        hdrs = curl_slist_append(hdrs, line);
    }
    hdrs = curl_slist_append(hdrs, "User-Agent: kube-probe/1.29");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L); /* kubelet does not verify either */
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    if (host == NULL) {
        curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
        curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, (void *)netns);
    }
    rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK) {
        snprintf(msg, cap, "Get \"%s\": %s", url, curl_easy_strerror(rc));
        return false;
    }
    if (code < 200 || code >= 400) {
        snprintf(msg, cap, "HTTP probe failed with statuscode: %ld", code);
        return false;
    }
    return true;
}

static bool tcp_probe(const json_t *t, const char *netns, int timeout_ms, char *msg, size_t cap)
{
    const char *host = json_string_value(json_object_get(t, "host"));
    int port = port_of(json_object_get(t, "port")), fd, err = 0;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    socklen_t el = sizeof err;
    struct pollfd pfd;

    if (port <= 0 || port > 65535) {
        snprintf(msg, cap, "tcpSocket: port %s: not a port of the container",
                 json_string_value(json_object_get(t, "port")) ?: "?");
        return false;
    }
    if (inet_pton(AF_INET, host ? host : "127.0.0.1", &sa.sin_addr) != 1) {
        snprintf(msg, cap, "tcpSocket.host: not an IPv4 address");
        return false;
    }
    fd = socket_in(host ? NULL : netns, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        snprintf(msg, cap, "socket: %s", strerror(errno));
        return false;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 && errno != EINPROGRESS) {
        err = errno;
    } else {
        pfd = (struct pollfd){fd, POLLOUT, 0};
        if (poll(&pfd, 1, timeout_ms) != 1)
            err = ETIMEDOUT;
        else
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
    }
    close(fd);
    if (err != 0)
        snprintf(msg, cap, "dial tcp %s:%d: %s", host ? host : "127.0.0.1", port, strerror(err));
    return err == 0;
}

int agent__probe_run(const json_t *probe, const struct agent__runc *r, const char *id,
                     const char *netns, bool *ok, char *msg, size_t msg_cap, struct err *e)
{
    json_int_t ts = json_integer_value(json_object_get(probe, "timeoutSeconds"));
    int timeout_ms = (int)(ts > 0 ? ts * 1000 : 1000);
    const json_t *h;

    *ok = false;
    msg[0] = '\0';
    if ((h = json_object_get(probe, "exec")) != NULL) {
        const json_t *cmd = json_object_get(h, "command"), *v;
        const char **args = calloc(json_array_size(cmd) + 1, sizeof *args);
        struct agent__exec_result res;
        size_t i;
        int rv;
        if (args == NULL)
            return err_setf(e, ERR_NOMEM, "probe: out of memory");
        json_array_foreach (cmd, i, v)
            args[i] = json_string_value(v) ? json_string_value(v) : "";
        if (json_array_size(cmd) == 0) {
            free(args);
            return err_setf(e, ERR_INVALID, "exec.command: required");
        }
        rv = agent__runc_exec(r, id, args, NULL, NULL, timeout_ms, &res, e);
        free(args);
        if (rv != 0) {
            snprintf(msg, msg_cap, "%s", e->msg);
            err_clear(e);
            return 0; /* a probe that cannot run fails; not an error of ours */
        }
        *ok = !res.timed_out && res.exit_code == 0;
        if (res.timed_out)
            snprintf(msg, msg_cap, "command timed out after %ds", timeout_ms / 1000);
        else if (!*ok)
            snprintf(msg, msg_cap, "command exited %d: %.200s", res.exit_code, res.out);
        agent__exec_result_close(&res);
        return 0;
    }
    if ((h = json_object_get(probe, "httpGet")) != NULL) {
        *ok = http_probe(h, netns, timeout_ms, msg, msg_cap);
        return 0;
    }
    if ((h = json_object_get(probe, "tcpSocket")) != NULL) {
        *ok = tcp_probe(h, netns, timeout_ms, msg, msg_cap);
        return 0;
    }
    return err_setf(e, ERR_INVALID, "probe: exec, httpGet or tcpSocket required");
}
