/* agent/cni: the CNI exec driver and the helper-binary runner (see cni.h). */
#include "agent/cni.h"

#include "lib/buf.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* ------------------------------------------------------------------ */
/* agent__netexec                                                      */

/* Reads what is there; false at EOF or a hard error. */
static bool drain(int fd, struct buf *b)
{
    char chunk[8192];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n > 0) {
            buf_append(b, chunk, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 && errno == EAGAIN;
    }
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int spawn_child(const struct agent__netexec *x, int in_fd, int out_fd, int err_fd,
                       pid_t *pid, struct err *e)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, all;
    char *const *env = x->env ? (char *const *)x->env : environ;
    int rv;

    sigemptyset(&none);
    sigfillset(&all);
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    /* the daemon ignores SIGPIPE and may block signals; children must not
     * inherit that */
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    if (in_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
    else
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
    if (strchr(x->argv[0], '/') != NULL)
        rv = posix_spawn(pid, x->argv[0], &fa, &at, (char *const *)x->argv, env);
    else
        rv = posix_spawnp(pid, x->argv[0], &fa, &at, (char *const *)x->argv, env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rv == ENOENT)
        return err_setf(e, ERR_NOTFOUND, "%s: not found", x->argv[0]);
    if (rv != 0)
        return err_setf(e, ERR_IO, "spawn %s: %s", x->argv[0], strerror(rv));
    return 0;
}

/* write(2) that cannot raise SIGPIPE when the child closed its stdin early
 * (a plugin failing before it reads its config): the signal is blocked in
 * this thread for the call and a pending one is consumed. Test programs and
 * tools do not ignore SIGPIPE as the daemon does. */
static ssize_t write_nosigpipe(int fd, const void *p, size_t n)
{
    sigset_t pipe_set, old;
    struct timespec zero = {0, 0};
    ssize_t w;
    int saved;

    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    w = write(fd, p, n);
    saved = errno;
    if (w < 0 && saved == EPIPE)
        sigtimedwait(&pipe_set, NULL, &zero);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = saved;
    return w;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* The poll loop: stdin fed, stdout/stderr drained, until the child exits
 * and both pipes are at EOF, or the deadline (SIGKILL, then reap). The
 * pidfd tells us about an exit even when a grandchild keeps a pipe open. */
static void pump(const struct agent__netexec *x, pid_t pid, int pin, int pout, int perr,
                 struct buf *o, struct buf *r, int *status, bool *timed_out)
{
    int64_t deadline = now_ms() + (x->timeout_ms > 0 ? x->timeout_ms : 10000);
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    size_t written = 0;
    bool out_open = true, err_open = true, exited = false;

    if (pin >= 0 && x->in_len == 0)
        close_fd(&pin);
    while (!exited) {
        struct pollfd fds[4] = {
            {pout, POLLIN, 0}, {perr, POLLIN, 0}, {pfd, POLLIN, 0}, {pin, POLLOUT, 0}};
        int64_t left = deadline - now_ms();
        if (!out_open)
            fds[0].fd = -1;
        if (!err_open)
            fds[1].fd = -1;
        if (left <= 0) {
            kill(pid, SIGKILL);
            *timed_out = true;
            waitpid(pid, status, 0);
            break;
        }
        if (pfd < 0 && left > 20)
            left = 20; /* no pidfd (old kernel): poll waitpid */
        if (poll(fds, 4, (int)left) < 0 && errno != EINTR)
            left = 0;
        if (out_open && fds[0].revents)
            out_open = drain(pout, o);
        if (err_open && fds[1].revents)
            err_open = drain(perr, r);
        if (pin >= 0 && fds[3].revents) {
            ssize_t n = write_nosigpipe(pin, x->in + written, x->in_len - written);
            if (n > 0)
                written += (size_t)n;
            /* EPIPE: the child stopped reading; its exit tells the rest */
            if (written == x->in_len || (n < 0 && errno != EAGAIN && errno != EINTR))
                close_fd(&pin);
        }
        if (pfd < 0 || fds[2].revents || (!out_open && !err_open))
            exited = waitpid(pid, status, WNOHANG) == pid;
    }
    if (out_open)
        drain(pout, o);
    if (err_open)
        drain(perr, r);
    close_fd(&pin);
    close_fd(&pfd);
}

int agent__netexec_run(const struct agent__netexec *x, struct agent__netexec_out *out,
                       struct err *e)
{
    int p_in[2] = {-1, -1}, p_out[2] = {-1, -1}, p_err[2] = {-1, -1}, status = 0, rv;
    struct buf o = {.max = AGENT_NETEXEC_OUT_MAX}, r = {.max = AGENT_NETEXEC_OUT_MAX};
    bool timed_out = false;
    pid_t pid;

    memset(out, 0, sizeof *out);
    if (x->argv == NULL || x->argv[0] == NULL)
        return err_setf(e, ERR_INVALID, "exec: empty argv");
    if ((x->in != NULL && pipe2(p_in, O_CLOEXEC) != 0) || pipe2(p_out, O_CLOEXEC) != 0 ||
        pipe2(p_err, O_CLOEXEC) != 0) {
        rv = err_setf(e, ERR_IO, "exec %s: pipe: %s", x->argv[0], strerror(errno));
        goto out_close;
    }
    rv = spawn_child(x, p_in[0], p_out[1], p_err[1], &pid, e);
    if (rv != 0)
        goto out_close;
    close_fd(&p_in[0]);
    close_fd(&p_out[1]);
    close_fd(&p_err[1]);
    /* non-blocking only on our ends: the child gets ordinary blocking pipes */
    for (int i = 0; i < 3; i++) {
        int fd = i == 0 ? p_in[1] : i == 1 ? p_out[0] : p_err[0];
        if (fd >= 0)
            fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    }
    pump(x, pid, p_in[1], p_out[0], p_err[0], &o, &r, &status, &timed_out);
    p_in[1] = -1; /* closed by pump */
    if (o.oom || r.oom) {
        rv = err_setf(e, ERR_NOMEM, "exec %s: output: out of memory", x->argv[0]);
        goto out_close;
    }
    out->out = o.p ? o.p : strdup("");
    out->err = r.p ? r.p : strdup("");
    o.p = r.p = NULL;
    if (out->out == NULL || out->err == NULL) {
        agent__netexec_out_close(out);
        rv = err_setf(e, ERR_NOMEM, "exec %s: out of memory", x->argv[0]);
        goto out_close;
    }
    out->out_len = o.len;
    out->err_len = r.len;
    out->exit_code = WIFEXITED(status)     ? WEXITSTATUS(status)
                     : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
                                           : 255;
    if (timed_out)
        rv = err_setf(e, ERR_TIMEOUT, "exec %s: killed after %d ms", x->argv[0],
                      x->timeout_ms > 0 ? x->timeout_ms : 10000);
out_close:
    free(o.p);
    free(r.p);
    for (int i = 0; i < 2; i++) {
        close_fd(&p_in[i]);
        close_fd(&p_out[i]);
        close_fd(&p_err[i]);
    }
    return rv;
}

void agent__netexec_out_close(struct agent__netexec_out *out)
{
    if (out == NULL)
        return;
    free(out->out);
    free(out->err);
    memset(out, 0, sizeof *out);
}

/* ------------------------------------------------------------------ */
/* Conflists                                                           */

static bool plain_name(const char *s)
{
    if (s == NULL || *s == '\0' || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    for (; *s; s++)
        if (*s == '/' || (unsigned char)*s < 0x21)
            return false;
    return true;
}

static int copy_str(char *dst, size_t cap, const json_t *v, const char *field, bool required,
                    struct err *e)
{
    if (v == NULL && !required) {
        dst[0] = '\0';
        return 0;
    }
    if (!json_is_string(v))
        return err_setf(e, ERR_INVALID, "%s: required string", field);
    if (json_string_length(v) >= cap)
        return err_setf(e, ERR_INVALID, "%s: longer than %zu bytes", field, cap - 1);
    memcpy(dst, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

int agent__cni_conflist_parse(const char *text, size_t len, const char *where,
                              struct agent__cni_conflist **out, struct err *e)
{
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je), *plugins, *p;
    struct agent__cni_conflist *l = NULL;
    size_t i;
    int rv;

    where = where ? where : "conflist";
    if (root == NULL)
        return err_setf(e, ERR_INVALID, "%s: line %d: %s", where, je.line, je.text);
    if (!json_is_object(root)) {
        rv = err_setf(e, ERR_INVALID, "%s: not a JSON object", where);
        goto out;
    }
    l = calloc(1, sizeof *l);
    if (l == NULL) {
        rv = err_setf(e, ERR_NOMEM, "%s: out of memory", where);
        goto out;
    }
    rv = copy_str(l->name, sizeof l->name, json_object_get(root, "name"), "name", true, e);
    if (rv == 0)
        rv = copy_str(l->cni_version, sizeof l->cni_version, json_object_get(root, "cniVersion"),
                      "cniVersion", true, e);
    if (rv != 0)
        goto out_wrap;
    l->disable_check = json_is_true(json_object_get(root, "disableCheck"));
    plugins = json_object_get(root, "plugins");
    if (plugins == NULL && json_object_get(root, "type") != NULL) {
        /* a single-plugin .conf: the list is the object itself */
        plugins = json_pack("[O]", root);
    } else if (!json_is_array(plugins) || json_array_size(plugins) == 0) {
        rv = err_setf(e, ERR_INVALID, "plugins: required non-empty array");
        goto out_wrap;
    } else {
        json_incref(plugins);
    }
    if (plugins == NULL) {
        rv = err_setf(e, ERR_NOMEM, "out of memory");
        goto out_wrap;
    }
    l->plugins = plugins;
    json_array_foreach (plugins, i, p) {
        json_t *t = json_object_get(p, "type");
        if (!json_is_object(p)) {
            rv = err_setf(e, ERR_INVALID, "plugins[%zu]: not an object", i);
            goto out_wrap;
        }
        if (!json_is_string(t) || !plain_name(json_string_value(t))) {
            rv = err_setf(e, ERR_INVALID, "plugins[%zu].type: required plain file name", i);
            goto out_wrap;
        }
    }
    *out = l;
    l = NULL;
    goto out;
out_wrap:
    err_wrapf(e, "%s", where);
out:
    agent__cni_conflist_free(l);
    json_decref(root);
    return rv;
}

void agent__cni_conflist_free(struct agent__cni_conflist *l)
{
    if (l == NULL)
        return;
    json_decref(l->plugins);
    free(l);
}

static int read_file(const char *path, char **buf, size_t *len, struct err *e)
{
    FILE *f = fopen(path, "re");
    size_t cap = 4096, n = 0;
    char *p;

    if (f == NULL)
        return err_setf(e, errno == ENOENT ? ERR_NOTFOUND : ERR_IO, "%s: %s", path,
                        strerror(errno));
    p = malloc(cap);
    while (p != NULL) {
        size_t got = fread(p + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
        if (n + 1 == cap) {
            char *q = cap > (1u << 24) ? NULL : realloc(p, cap * 2);
            if (q == NULL) {
                free(p);
                p = NULL;
                break;
            }
            p = q;
            cap *= 2;
        }
    }
    if (p == NULL || ferror(f)) {
        int rv = p == NULL ? err_setf(e, ERR_NOMEM, "%s: too large or out of memory", path)
                           : err_setf(e, ERR_IO, "%s: read error", path);
        free(p);
        fclose(f);
        return rv;
    }
    fclose(f);
    p[n] = '\0';
    *buf = p;
    *len = n;
    return 0;
}

static bool has_suffix(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

int agent__cni_conflist_load(const char *dir, struct agent__cni_conflist **out, struct err *e)
{
    char path[PATH_MAX], *text = NULL, *best = NULL;
    size_t len;
    DIR *d = opendir(dir);
    struct dirent *de;
    int rv;

    if (d == NULL)
        return err_setf(e, errno == ENOENT ? ERR_NOTFOUND : ERR_IO, "cni config dir %s: %s", dir,
                        strerror(errno));
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' ||
            !(has_suffix(de->d_name, ".conflist") || has_suffix(de->d_name, ".conf") ||
              has_suffix(de->d_name, ".json")))
            continue;
        if (best == NULL || strcmp(de->d_name, best) < 0) {
            char *c = strdup(de->d_name);
            if (c == NULL) {
                closedir(d);
                free(best);
                return err_setf(e, ERR_NOMEM, "out of memory");
            }
            free(best);
            best = c;
        }
    }
    closedir(d);
    if (best == NULL)
        return err_setf(e, ERR_NOTFOUND, "cni config dir %s: no .conflist/.conf file", dir);
    if (snprintf(path, sizeof path, "%s/%s", dir, best) >= (int)sizeof path) {
        free(best);
        return err_setf(e, ERR_INVALID, "cni config dir %s: path too long", dir);
    }
    free(best);
    rv = read_file(path, &text, &len, e);
    if (rv != 0)
        return rv;
    rv = agent__cni_conflist_parse(text, len, path, out, e);
    if (rv == 0)
        snprintf((*out)->path, sizeof(*out)->path, "%s", path);
    free(text);
    return rv;
}

/* An IPv4 CIDR, normalised: "10.244.1.7/24" → "10.244.1.0/24". */
static bool ipv4_cidr(const char *s, char *norm, size_t cap)
{
    char ip[INET_ADDRSTRLEN];
    const char *slash = s ? strchr(s, '/') : NULL;
    struct in_addr a;
    char *end;
    long bits;

    if (slash == NULL || (size_t)(slash - s) >= sizeof ip)
        return false;
    memcpy(ip, s, (size_t)(slash - s));
    ip[slash - s] = '\0';
    errno = 0;
    bits = strtol(slash + 1, &end, 10);
    if (slash[1] == '\0' || *end != '\0' || errno != 0 || bits < 0 || bits > 32 ||
        inet_pton(AF_INET, ip, &a) != 1)
        return false;
    a.s_addr &= bits == 0 ? 0 : htonl(~0u << (32 - bits));
    inet_ntop(AF_INET, &a, ip, sizeof ip);
    return snprintf(norm, cap, "%s/%ld", ip, bits) < (int)cap;
}

int agent__cni_default_conflist(const char *pod_cidr, const char *bridge, const char *data_dir,
                                char **out, struct err *e)
{
    char cidr[32];
    json_t *j;

    if (!ipv4_cidr(pod_cidr, cidr, sizeof cidr))
        return err_setf(e, ERR_INVALID, "pod cidr: not an IPv4 CIDR: \"%s\"",
                        pod_cidr ? pod_cidr : "");
    if (bridge == NULL)
        bridge = AGENT_CNI_BRIDGE;
    if (bridge[0] == '\0' || strlen(bridge) > 15 || strchr(bridge, '/') != NULL)
        return err_setf(e, ERR_INVALID, "cni bridge: not an interface name: \"%s\"", bridge);
    if (data_dir == NULL || data_dir[0] != '/')
        return err_setf(e, ERR_INVALID, "cni data dir: must be an absolute path");
    j = json_pack("{s:s, s:s, s:[{s:s, s:s, s:b, s:b, s:b, s:b, s:{s:s, s:[[{s:s}]], "
                  "s:[{s:s}], s:s}}, {s:s, s:{s:b}, s:b}, {s:s}]}",
                  "cniVersion", AGENT_CNI_VERSION, "name", AGENT_CNI_NETWORK, "plugins", "type",
                  "bridge", "bridge", bridge, "isGateway", 1, "isDefaultGateway", 0,
                  "ipMasq", 0, "hairpinMode", 1, "ipam", "type", "host-local", "ranges", "subnet",
                  cidr, "routes", "dst", "0.0.0.0/0", "dataDir", data_dir, "type", "portmap",
                  "capabilities", "portMappings", 1, "snat", 1, "type", "loopback");
    if (j == NULL)
        return err_setf(e, ERR_NOMEM, "out of memory");
    *out = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (*out == NULL)
        return err_setf(e, ERR_NOMEM, "out of memory");
    return 0;
}

static int write_atomic(const char *path, const char *text, struct err *e)
{
    char tmp[PATH_MAX];
    size_t len = strlen(text);
    int fd, rv = 0;

    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return err_setf(e, ERR_INVALID, "%s: path too long", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return err_setf(e, ERR_IO, "%s: open: %s", tmp, strerror(errno));
    if (write(fd, text, len) != (ssize_t)len || fsync(fd) != 0)
        rv = err_setf(e, ERR_IO, "%s: write: %s", tmp, strerror(errno));
    close(fd);
    if (rv == 0 && rename(tmp, path) != 0)
        rv = err_setf(e, ERR_IO, "%s: rename: %s", path, strerror(errno));
    if (rv != 0)
        unlink(tmp);
    return rv;
}

int agent__cni_write_default(const char *conf_dir, const char *pod_cidr, const char *bridge,
                             const char *data_dir, struct err *e)
{
    char path[PATH_MAX], *text = NULL, *old = NULL;
    size_t old_len;
    int rv;

    if (snprintf(path, sizeof path, "%s/%s", conf_dir, AGENT_CNI_CONF_FILE) >= (int)sizeof path)
        return err_setf(e, ERR_INVALID, "cni config dir: path too long");
    if (mkdir(conf_dir, 0755) != 0 && errno != EEXIST)
        return err_setf(e, ERR_IO, "%s: mkdir: %s", conf_dir, strerror(errno));
    rv = agent__cni_default_conflist(pod_cidr, bridge, data_dir, &text, e);
    if (rv != 0)
        return rv;
    if (read_file(path, &old, &old_len, NULL) == 0 && strcmp(old, text) == 0)
        goto out; /* unchanged: keep the file (and its mtime) as it is */
    rv = write_atomic(path, text, e);
out:
    free(old);
    free(text);
    return rv;
}

/* ------------------------------------------------------------------ */
/* Results                                                             */

static bool valid_ip(const char *s, int *version)
{
    unsigned char buf[16];
    if (inet_pton(AF_INET, s, buf) == 1) {
        *version = 4;
        return true;
    }
    if (inet_pton(AF_INET6, s, buf) == 1) {
        *version = 6;
        return true;
    }
    return false;
}

/* "addr/len" with a valid address and prefix length for its family. */
static bool valid_cidr(const char *s, int *version)
{
    char ip[INET6_ADDRSTRLEN];
    const char *slash = strchr(s, '/');
    char *end;
    long bits;

    if (slash == NULL || (size_t)(slash - s) >= sizeof ip)
        return false;
    memcpy(ip, s, (size_t)(slash - s));
    ip[slash - s] = '\0';
    bits = strtol(slash + 1, &end, 10);
    if (slash[1] == '\0' || *end != '\0' || !valid_ip(ip, version))
        return false;
    return bits >= 0 && bits <= (*version == 4 ? 32 : 128);
}

static int parse_route(const json_t *r, const char *field, struct agent__cni_route *out,
                       struct err *e)
{
    char f[64];
    int v;

    if (!json_is_object(r))
        return err_setf(e, ERR_INVALID, "%s: not an object", field);
    snprintf(f, sizeof f, "%s.dst", field);
    if (copy_str(out->dst, sizeof out->dst, json_object_get(r, "dst"), f, true, e) != 0)
        return e->code;
    if (!valid_cidr(out->dst, &v))
        return err_setf(e, ERR_INVALID, "%s: not a CIDR: \"%s\"", f, out->dst);
    snprintf(f, sizeof f, "%s.gw", field);
    if (copy_str(out->gw, sizeof out->gw, json_object_get(r, "gw"), f, false, e) != 0)
        return e->code;
    if (out->gw[0] != '\0' && !valid_ip(out->gw, &v))
        return err_setf(e, ERR_INVALID, "%s: not an IP: \"%s\"", f, out->gw);
    return 0;
}

static int parse_routes(const json_t *arr, const char *field, struct agent__cni_result *res,
                        struct err *e)
{
    const json_t *r;
    size_t i;

    if (arr == NULL)
        return 0;
    if (!json_is_array(arr))
        return err_setf(e, ERR_INVALID, "%s: not an array", field);
    json_array_foreach (arr, i, r) {
        char f[48];
        if (res->n_routes == AGENT_CNI_ROUTES_MAX)
            break;
        snprintf(f, sizeof f, "%s[%zu]", field, i);
        if (parse_route(r, f, &res->routes[res->n_routes], e) != 0)
            return e->code;
        res->n_routes++;
    }
    return 0;
}

static int parse_ip(const json_t *o, const char *field, const char *addr_key, int want_version,
                    struct agent__cni_result *res, struct err *e)
{
    struct agent__cni_ip *ip = &res->ips[res->n_ips];
    const json_t *iface = json_object_get(o, "interface");
    char f[64];
    int v, gv;

    if (!json_is_object(o))
        return err_setf(e, ERR_INVALID, "%s: not an object", field);
    snprintf(f, sizeof f, "%s.%s", field, addr_key);
    if (copy_str(ip->address, sizeof ip->address, json_object_get(o, addr_key), f, true, e) != 0)
        return e->code;
    if (!valid_cidr(ip->address, &v) || (want_version != 0 && v != want_version))
        return err_setf(e, ERR_INVALID, "%s: not an IPv%d CIDR: \"%s\"", f,
                        want_version ? want_version : 4, ip->address);
    ip->version = v;
    snprintf(f, sizeof f, "%s.gateway", field);
    if (copy_str(ip->gateway, sizeof ip->gateway, json_object_get(o, "gateway"), f, false, e) != 0)
        return e->code;
    if (ip->gateway[0] != '\0' && (!valid_ip(ip->gateway, &gv) || gv != v))
        return err_setf(e, ERR_INVALID, "%s: not an IPv%d address: \"%s\"", f, v, ip->gateway);
    ip->interface = -1;
    if (iface != NULL) {
        if (!json_is_integer(iface) || json_integer_value(iface) < 0 ||
            (size_t)json_integer_value(iface) >= res->n_ifaces)
            return err_setf(e, ERR_INVALID, "%s.interface: not an index into interfaces", field);
        ip->interface = (int)json_integer_value(iface);
    }
    res->n_ips++;
    return 0;
}

static int parse_current(const json_t *root, struct agent__cni_result *res, struct err *e)
{
    const json_t *ifs = json_object_get(root, "interfaces"), *ips = json_object_get(root, "ips");
    const json_t *x;
    size_t i;

    if (ifs != NULL && !json_is_array(ifs))
        return err_setf(e, ERR_INVALID, "interfaces: not an array");
    json_array_foreach (ifs, i, x) {
        struct agent__cni_iface *f = &res->ifaces[res->n_ifaces];
        char fld[48];
        if (res->n_ifaces == AGENT_CNI_IFACES_MAX)
            break;
        snprintf(fld, sizeof fld, "interfaces[%zu]", i);
        if (!json_is_object(x))
            return err_setf(e, ERR_INVALID, "%s: not an object", fld);
        if (copy_str(f->name, sizeof f->name, json_object_get(x, "name"), fld, true, e) != 0 ||
            copy_str(f->mac, sizeof f->mac, json_object_get(x, "mac"), fld, false, e) != 0 ||
            copy_str(f->sandbox, sizeof f->sandbox, json_object_get(x, "sandbox"), fld, false, e) !=
                0)
            return e->code;
        res->n_ifaces++;
    }
    if (ips != NULL && !json_is_array(ips))
        return err_setf(e, ERR_INVALID, "ips: not an array");
    json_array_foreach (ips, i, x) {
        char fld[32];
        if (res->n_ips == AGENT_CNI_IPS_MAX)
            break;
        snprintf(fld, sizeof fld, "ips[%zu]", i);
        if (parse_ip(x, fld, "address", 0, res, e) != 0)
            return e->code;
    }
    return parse_routes(json_object_get(root, "routes"), "routes", res, e);
}

/* 0.1.0/0.2.0: {"ip4": {"ip": "10.1.0.5/16", "gateway": ..., "routes": [...]}, "ip6": ...} */
static int parse_legacy(const json_t *root, struct agent__cni_result *res, struct err *e)
{
    const char *keys[2] = {"ip4", "ip6"};
    for (int k = 0; k < 2; k++) {
        const json_t *o = json_object_get(root, keys[k]);
        char f[32];
        if (o == NULL)
            continue;
        if (parse_ip(o, keys[k], "ip", k == 0 ? 4 : 6, res, e) != 0)
            return e->code;
        snprintf(f, sizeof f, "%s.routes", keys[k]);
        if (parse_routes(json_object_get(o, "routes"), f, res, e) != 0)
            return e->code;
    }
    return 0;
}

int agent__cni_result_parse(const char *text, size_t len, struct agent__cni_result *res,
                            struct err *e)
{
    json_error_t je;
    json_t *root;
    const json_t *ver;
    struct err tmp;
    int rv;

    if (e == NULL)
        e = &tmp; /* the field parsers read e->code */
    memset(res, 0, sizeof *res);
    root = json_loadb(text ? text : "", text ? len : 0, 0, &je);
    if (root == NULL)
        return err_setf(e, ERR_INVALID, "cni result: line %d: %s", je.line, je.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return err_setf(e, ERR_INVALID, "cni result: not a JSON object");
    }
    ver = json_object_get(root, "cniVersion");
    rv = copy_str(res->cni_version, sizeof res->cni_version, ver, "cniVersion", true, e);
    if (rv == 0) {
        if (strncmp(res->cni_version, "0.1.", 4) == 0 || strncmp(res->cni_version, "0.2.", 4) == 0)
            rv = parse_legacy(root, res, e);
        else
            rv = parse_current(root, res, e);
    }
    if (rv != 0) {
        err_wrapf(e, "cni result");
        json_decref(root);
        memset(res, 0, sizeof *res);
        return rv;
    }
    res->raw = root;
    return 0;
}

const char *agent__cni_result_ipv4(const struct agent__cni_result *res, char *buf, size_t cap)
{
    buf[0] = '\0';
    for (size_t i = 0; i < res->n_ips; i++) {
        if (res->ips[i].version == 4) {
            size_t n = strcspn(res->ips[i].address, "/");
            snprintf(buf, cap, "%.*s", (int)n, res->ips[i].address);
            break;
        }
    }
    return buf;
}

void agent__cni_result_close(struct agent__cni_result *res)
{
    if (res == NULL)
        return;
    json_decref(res->raw);
    memset(res, 0, sizeof *res);
}

int agent__cni_error_from(const char *plugin, const char *out, const char *err_text, int exit_code,
                          struct err *e)
{
    json_t *j = out ? json_loads(out, 0, NULL) : NULL;
    const char *msg = j ? json_string_value(json_object_get(j, "msg")) : NULL;
    const char *det = j ? json_string_value(json_object_get(j, "details")) : NULL;
    json_int_t code = j ? json_integer_value(json_object_get(j, "code")) : 0;
    int rv;

    if (msg != NULL) {
        /* CNI code 3: "container unknown or does not exist" */
        rv = err_setf(e, code == 3 ? ERR_NOTFOUND : ERR_IO, "%s: %s%s%s (code %lld)", plugin, msg,
                      det && *det ? ": " : "", det && *det ? det : "", (long long)code);
    } else if (err_text != NULL && *err_text != '\0') {
        int n = (int)strcspn(err_text, "\n");
        rv = err_setf(e, ERR_IO, "%s: exit %d: %.*s", plugin, exit_code, n, err_text);
    } else {
        rv = err_setf(e, ERR_IO, "%s: exit %d", plugin, exit_code);
    }
    json_decref(j);
    return rv;
}

/* ------------------------------------------------------------------ */
/* The driver                                                          */

int agent__cni_init(struct agent__cni *c, const char *plugin_path, const char *cache_dir,
                    int timeout_ms, struct err *e)
{
    memset(c, 0, sizeof *c);
    if (snprintf(c->plugin_path, sizeof c->plugin_path, "%s",
                 plugin_path && *plugin_path ? plugin_path : AGENT_CNI_PLUGIN_DIR) >=
            (int)sizeof c->plugin_path ||
        snprintf(c->cache_dir, sizeof c->cache_dir, "%s", cache_dir ? cache_dir : "") >=
            (int)sizeof c->cache_dir)
        return err_setf(e, ERR_INVALID, "cni: path too long");
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : AGENT_CNI_TIMEOUT_MS;
    return 0;
}

/* The spec's container id rule: [A-Za-z0-9][A-Za-z0-9_.-]*. */
static bool id_ok(const char *id)
{
    if (id == NULL || !((id[0] >= 'a' && id[0] <= 'z') || (id[0] >= 'A' && id[0] <= 'Z') ||
                        (id[0] >= '0' && id[0] <= '9')))
        return false;
    for (const char *p = id; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '.' || *p == '-'))
            return false;
    }
    return strlen(id) < 200;
}

static bool ifname_ok(const char *s)
{
    return s != NULL && *s != '\0' && strlen(s) < 16 && plain_name(s) && strchr(s, ':') == NULL;
}

static int find_plugin(const struct agent__cni *c, const char *type, char *path, size_t cap,
                       struct err *e)
{
    const char *p = c->plugin_path;
    while (*p != '\0') {
        size_t n = strcspn(p, ":");
        if (n > 0 && snprintf(path, cap, "%.*s/%s", (int)n, p, type) < (int)cap &&
            access(path, X_OK) == 0)
            return 0;
        p += n;
        if (*p == ':')
            p++;
    }
    /* ERR_INVALID, not ERR_NOTFOUND: that one means "unknown container" */
    return err_setf(e, ERR_INVALID, "cni plugin %s: not found in %s", type, c->plugin_path);
}

/* The config one plugin gets: its own object plus the list's name and
 * cniVersion and, when there is one, prevResult. */
static char *plugin_config(const struct agent__cni_conflist *l, const json_t *plugin,
                           const json_t *prev, const struct agent__cni_attach *a)
{
    json_t *c = json_deep_copy(plugin);
    char *s = NULL;

    if (c == NULL)
        return NULL;
    /* the spec's capabilities convention: the runtime passes what a plugin
     * declares it can take, and only that */
    if (json_is_true(json_object_get(json_object_get(plugin, "capabilities"), "portMappings")) &&
        json_array_size(a->port_mappings) > 0 &&
        json_object_set_new(c, "runtimeConfig",
                            json_pack("{s:O}", "portMappings", a->port_mappings)) != 0)
        goto out;
    if (json_object_set_new(c, "name", json_string(l->name)) != 0 ||
        json_object_set_new(c, "cniVersion", json_string(l->cni_version)) != 0)
        goto out;
    if (prev != NULL && json_object_set(c, "prevResult", (json_t *)prev) != 0)
        goto out;
    s = json_dumps(c, JSON_COMPACT);
out:
    json_decref(c);
    return s;
}

enum cmd { CMD_ADD, CMD_DEL, CMD_CHECK };
static const char *const cmd_names[] = {"ADD", "DEL", "CHECK"};

/* The environment of one plugin run: CNI_* and PATH, nothing else of ours. */
struct plugin_env {
    char vars[7][PATH_MAX + 32];
    const char *list[8];
};

static int plugin_env(struct plugin_env *pe, const struct agent__cni *c, enum cmd cmd,
                      const struct agent__cni_attach *a, struct err *e)
{
    const char *path = getenv("PATH");
    int n = 0;

    /* the plugins find iptables, ip and their IPAM plugin through PATH and
     * CNI_PATH */
    snprintf(pe->vars[n++], sizeof pe->vars[0], "CNI_COMMAND=%s", cmd_names[cmd]);
    snprintf(pe->vars[n++], sizeof pe->vars[0], "CNI_CONTAINERID=%s", a->container_id);
    snprintf(pe->vars[n++], sizeof pe->vars[0], "CNI_NETNS=%s", a->netns ? a->netns : "");
    snprintf(pe->vars[n++], sizeof pe->vars[0], "CNI_IFNAME=%s", a->ifname ? a->ifname : "eth0");
    snprintf(pe->vars[n++], sizeof pe->vars[0], "CNI_PATH=%s", c->plugin_path);
    snprintf(pe->vars[n++], sizeof pe->vars[0], "PATH=%s",
             path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    if (a->args != NULL && *a->args != '\0') {
        /* the plugins refuse args they do not know (K8S_POD_*) unless told
         * otherwise; containerd passes IgnoreUnknown=1 the same way */
        bool has = strstr(a->args, "IgnoreUnknown=") != NULL;
        if (snprintf(pe->vars[n++], sizeof pe->vars[0], "CNI_ARGS=%s%s",
                     has ? "" : "IgnoreUnknown=1;", a->args) >= (int)sizeof pe->vars[0])
            return err_setf(e, ERR_INVALID, "cni args: too long");
    }
    for (int i = 0; i < n; i++)
        pe->list[i] = pe->vars[i];
    pe->list[n] = NULL;
    return 0;
}

/* Runs one plugin; on success of ADD *result gets its parsed output. */
static int run_plugin(const struct agent__cni *c, const struct agent__cni_conflist *l, size_t idx,
                      enum cmd cmd, const struct agent__cni_attach *a, const json_t *prev,
                      struct agent__cni_result *result, struct err *e)
{
    const json_t *plugin = json_array_get(l->plugins, idx);
    const char *type = json_string_value(json_object_get(plugin, "type"));
    char path[PATH_MAX], *conf = NULL;
    const char *argv[2] = {path, NULL};
    struct agent__netexec x = {0};
    struct agent__netexec_out out;
    struct plugin_env pe;
    struct err tmp;
    int rv;

    if (e == NULL)
        e = &tmp; /* err_wrapf(NULL) would answer 0 */
    rv = find_plugin(c, type, path, sizeof path, e);
    if (rv == 0)
        rv = plugin_env(&pe, c, cmd, a, e);
    if (rv != 0)
        return rv;
    conf = plugin_config(l, plugin, prev, a);
    if (conf == NULL)
        return err_setf(e, ERR_NOMEM, "cni %s: out of memory", type);
    x = (struct agent__netexec){argv, pe.list, conf, strlen(conf), c->timeout_ms};
    rv = agent__netexec_run(&x, &out, e);
    free(conf);
    if (rv != 0) {
        agent__netexec_out_close(&out); /* filled on ERR_TIMEOUT, empty otherwise */
        return err_wrapf(e, "cni %s %s", cmd_names[cmd], type);
    }
    if (out.exit_code != 0) {
        agent__cni_error_from(type, out.out, out.err, out.exit_code, e);
        rv = err_wrapf(e, "cni %s", cmd_names[cmd]);
    } else if (cmd == CMD_ADD) {
        rv = agent__cni_result_parse(out.out, out.out_len, result, e);
        if (rv != 0)
            err_wrapf(e, "cni ADD %s", type);
    }
    agent__netexec_out_close(&out);
    return rv;
}

static int cache_path(const struct agent__cni *c, const struct agent__cni_conflist *l,
                      const struct agent__cni_attach *a, char *path, size_t cap)
{
    if (c->cache_dir[0] == '\0')
        return -1;
    if (snprintf(path, cap, "%s/%s-%s-%s", c->cache_dir, l->name, a->container_id,
                 a->ifname ? a->ifname : "eth0") >= (int)cap)
        return -1;
    return 0;
}

static int cache_store(const struct agent__cni *c, const struct agent__cni_conflist *l,
                       const struct agent__cni_attach *a, const json_t *result, struct err *e)
{
    char path[PATH_MAX], *text;
    int rv;

    if (cache_path(c, l, a, path, sizeof path) != 0)
        return 0;
    if (mkdir(c->cache_dir, 0700) != 0 && errno != EEXIST)
        return err_setf(e, ERR_IO, "cni cache %s: %s", c->cache_dir, strerror(errno));
    text = json_dumps(result, JSON_COMPACT);
    if (text == NULL)
        return err_setf(e, ERR_NOMEM, "out of memory");
    rv = write_atomic(path, text, e);
    free(text);
    return rv;
}

/* The cached ADD result, or NULL (none, unreadable or not JSON). */
static json_t *cache_load(const struct agent__cni *c, const struct agent__cni_conflist *l,
                          const struct agent__cni_attach *a)
{
    char path[PATH_MAX];
    if (cache_path(c, l, a, path, sizeof path) != 0)
        return NULL;
    return json_load_file(path, 0, NULL);
}

static void cache_drop(const struct agent__cni *c, const struct agent__cni_conflist *l,
                       const struct agent__cni_attach *a)
{
    char path[PATH_MAX];
    if (cache_path(c, l, a, path, sizeof path) == 0)
        unlink(path);
}

static int check_attach(const struct agent__cni_attach *a, bool need_netns, struct err *e)
{
    if (!id_ok(a->container_id))
        return err_setf(e, ERR_INVALID, "cni: container id: must match [A-Za-z0-9][A-Za-z0-9_.-]*");
    if (a->ifname != NULL && !ifname_ok(a->ifname))
        return err_setf(e, ERR_INVALID, "cni: ifname: not a valid interface name");
    if (need_netns && (a->netns == NULL || a->netns[0] != '/'))
        return err_setf(e, ERR_INVALID, "cni: netns: required absolute path");
    return 0;
}

/* DELs plugins [0, upto) in reverse, carrying on past failures. */
static int del_range(const struct agent__cni *c, const struct agent__cni_conflist *l, size_t upto,
                     const struct agent__cni_attach *a, const json_t *prev, struct err *e)
{
    int first = 0;
    for (size_t i = upto; i-- > 0;) {
        struct err e1;
        int rv = run_plugin(c, l, i, CMD_DEL, a, prev, NULL, &e1);
        if (rv == ERR_NOTFOUND)
            rv = 0; /* the plugin says it knows no such container: already gone */
        if (rv != 0 && first == 0) {
            first = rv;
            if (e != NULL)
                *e = e1;
        }
    }
    return first;
}

int agent__cni_add(const struct agent__cni *c, const struct agent__cni_conflist *l,
                   const struct agent__cni_attach *a, struct agent__cni_result *res, struct err *e)
{
    struct agent__cni_result cur = {0}, prev = {0};
    size_t n = json_array_size(l->plugins), i;
    int rv;

    memset(res, 0, sizeof *res);
    rv = check_attach(a, true, e);
    if (rv != 0)
        return rv;
    for (i = 0; i < n; i++) {
        rv = run_plugin(c, l, i, CMD_ADD, a, prev.raw, &cur, e);
        if (rv != 0)
            break;
        agent__cni_result_close(&prev);
        prev = cur;
        memset(&cur, 0, sizeof cur);
    }
    if (rv == 0)
        rv = cache_store(c, l, a, prev.raw, e);
    if (rv != 0) {
        /* undo what ran, including the failing plugin (it may hold a lease
         * it took before failing), so a failed ADD leaves nothing behind */
        del_range(c, l, i < n ? i + 1 : n, a, prev.raw, NULL);
        agent__cni_result_close(&prev);
        return rv;
    }
    *res = prev;
    return 0;
}

int agent__cni_del(const struct agent__cni *c, const struct agent__cni_conflist *l,
                   const struct agent__cni_attach *a, struct err *e)
{
    json_t *prev;
    int rv;
    struct stat st;
    struct agent__cni_attach b = *a;

    rv = check_attach(a, false, e);
    if (rv != 0)
        return rv;
    /* a netns that is gone is passed as "" (the spec allows it on DEL);
     * plugins would fail to open the path otherwise */
    if (b.netns != NULL && b.netns[0] != '\0' && stat(b.netns, &st) != 0)
        b.netns = "";
    prev = cache_load(c, l, a);
    rv = del_range(c, l, json_array_size(l->plugins), &b, prev, e);
    if (rv == 0)
        cache_drop(c, l, a);
    json_decref(prev);
    return rv;
}

static bool version_at_least(const char *v, int major, int minor)
{
    int ma = 0, mi = 0;
    if (sscanf(v, "%d.%d", &ma, &mi) != 2)
        return false;
    return ma > major || (ma == major && mi >= minor);
}

int agent__cni_check(const struct agent__cni *c, const struct agent__cni_conflist *l,
                     const struct agent__cni_attach *a, struct err *e)
{
    json_t *prev;
    int rv = 0;

    rv = check_attach(a, true, e);
    if (rv != 0)
        return rv;
    if (!version_at_least(l->cni_version, 0, 4) || l->disable_check)
        return err_setf(e, ERR_INVALID, "cni CHECK: not supported by %s (cniVersion %s%s)", l->name,
                        l->cni_version, l->disable_check ? ", disableCheck" : "");
    prev = cache_load(c, l, a);
    if (prev == NULL)
        return err_setf(e, ERR_NOTFOUND, "cni CHECK: no cached ADD result for %s", a->container_id);
    for (size_t i = 0; i < json_array_size(l->plugins) && rv == 0; i++)
        rv = run_plugin(c, l, i, CMD_CHECK, a, prev, NULL, e);
    json_decref(prev);
    return rv;
}
