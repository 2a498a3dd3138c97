/* agent/runc: the runc binary as blocking calls with deadlines, and the
 * container-process side of the subreaper contract (see runtime.h). */
#include "agent/runtime.h"

#include "lib/buf.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define RUNC_ARGS_MAX 512
#define STDERR_KEEP   8192 /* of runc's stderr when we only want its error */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int pidfd_open_(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* ------------------------------------------------------------------ */
/* Spawning runc                                                       */

/* One runc invocation. out_fd/err_fd >= 0 give the child those fds (the
 * container's stdio for create); -1 captures into out/err. */
struct run {
    const char *argv[RUNC_ARGS_MAX];
    int argc;
    int out_fd, err_fd;
    int timeout_ms;
    const char *kill_pid_file; /* on timeout: SIGKILL the pid in it first (exec) */
    struct buf out, err;
    int status; /* waitpid status */
    bool timed_out;
};

static void run_init(struct run *x, const struct agent__runc *r, int timeout_ms)
{
    memset(x, 0, sizeof *x);
    x->out_fd = x->err_fd = -1;
    x->timeout_ms = timeout_ms;
    x->out.max = AGENT_EXEC_OUTPUT_MAX;
    x->err.max = AGENT_EXEC_OUTPUT_MAX;
    x->argv[x->argc++] = r->bin;
    x->argv[x->argc++] = "--root";
    x->argv[x->argc++] = r->root;
    x->argv[x->argc++] = "--log-format"; /* errors as {"level":"error","msg":...} lines */
    x->argv[x->argc++] = "json";
}

static int run_arg(struct run *x, const char *a)
{
    if (x->argc >= RUNC_ARGS_MAX - 1)
        return -1;
    x->argv[x->argc++] = a;
    return 0;
}

static void run_close(struct run *x)
{
    free(x->out.p);
    free(x->err.p);
}

/* Reads what is there; false at EOF or error. */
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

static void kill_pid_file(const char *path)
{
    char buf[32] = {0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    long pid;
    if (fd < 0)
        return;
    if (read(fd, buf, sizeof buf - 1) > 0 && (pid = strtol(buf, NULL, 10)) > 1)
        kill((pid_t)pid, SIGKILL);
    close(fd);
}

static int spawn(struct run *x, int p_out[2], int p_err[2], pid_t *pid, struct err *e)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, all;
    int rv;

    sigemptyset(&none);
    sigfillset(&all);
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    /* the daemon ignores SIGPIPE and may block signals; runc and the
     * container it starts must not inherit that */
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, x->out_fd >= 0 ? x->out_fd : p_out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, x->err_fd >= 0 ? x->err_fd : p_err[1], 2);
    x->argv[x->argc] = NULL;
    if (strchr(x->argv[0], '/') != NULL)
        rv = posix_spawn(pid, x->argv[0], &fa, &at, (char *const *)x->argv, environ);
    else
        rv = posix_spawnp(pid, x->argv[0], &fa, &at, (char *const *)x->argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rv != 0)
        return err_setf(e, ERR_IO, "spawn %s: %s", x->argv[0], strerror(rv));
    return 0;
}

/* Runs x to completion or its deadline. Returns 0 when runc ran (see
 * x->status, x->timed_out), else ERR_IO/ERR_NOMEM. */
static int run_exec(struct run *x, struct err *e)
{
    int p_out[2] = {-1, -1}, p_err[2] = {-1, -1}, pfd = -1, rv;
    int64_t deadline = now_ms() + (x->timeout_ms > 0 ? x->timeout_ms : 10000);
    bool out_open, err_open, exited = false, killed = false;
    pid_t pid;

    if (pipe2(p_out, O_CLOEXEC | O_NONBLOCK) != 0 || pipe2(p_err, O_CLOEXEC | O_NONBLOCK) != 0) {
        rv = err_setf(e, ERR_IO, "pipe: %s", strerror(errno));
        goto out;
    }
    rv = spawn(x, p_out, p_err, &pid, e);
    if (rv != 0)
        goto out;
    close(p_out[1]);
    close(p_err[1]);
    p_out[1] = p_err[1] = -1;
    out_open = x->out_fd < 0;
    err_open = x->err_fd < 0;
    pfd = pidfd_open_(pid);
    while (!exited) {
        struct pollfd fds[3] = {{p_out[0], POLLIN, 0}, {p_err[0], POLLIN, 0}, {pfd, POLLIN, 0}};
        int64_t left = deadline - now_ms();
        if (!out_open)
            fds[0].fd = -1;
        if (!err_open)
            fds[1].fd = -1;
        if (left <= 0 && !killed) {
            /* exec: runc cannot forward SIGKILL, so kill the process itself
             * and give runc a moment to report; otherwise kill runc */
            if (x->kill_pid_file != NULL)
                kill_pid_file(x->kill_pid_file);
            else
                kill(pid, SIGKILL);
            x->timed_out = killed = true;
            deadline = now_ms() + 2000;
            continue;
        }
        if (left <= 0) {
            kill(pid, SIGKILL);
            left = 1000;
        }
        if (poll(fds, 3, (int)(pfd >= 0 ? left : (left < 10 ? left : 10))) < 0 && errno != EINTR) {
            rv = err_setf(e, ERR_IO, "poll: %s", strerror(errno));
            kill(pid, SIGKILL);
            break;
        }
        if (out_open && fds[0].revents)
            out_open = drain(p_out[0], &x->out);
        if (err_open && fds[1].revents)
            err_open = drain(p_err[0], &x->err);
        /* the process may leave children holding the pipes (exec of
         * "sleep 100 &"): runc's exit, not EOF, ends the call */
        if (pfd < 0 || fds[2].revents)
            exited = waitpid(pid, &x->status, WNOHANG) == pid;
    }
    if (rv != 0)
        waitpid(pid, &x->status, 0);
    else {
        if (out_open)
            drain(p_out[0], &x->out);
        if (err_open)
            drain(p_err[0], &x->err);
    }
    if (rv == 0 && (x->out.oom || x->err.oom))
        rv = err_setf(e, ERR_NOMEM, "runc output: out of memory");
out:
    if (pfd >= 0)
        close(pfd);
    for (int i = 0; i < 2; i++) {
        if (p_out[i] >= 0)
            close(p_out[i]);
        if (p_err[i] >= 0)
            close(p_err[i]);
    }
    return rv;
}

/* The message of runc's first error line (json log: {"msg": ...}), or
 * the first line as it is. */
static void runc_error(const char *text, char *buf, size_t cap)
{
    const char *p = text ? text : "", *nl;
    buf[0] = '\0';
    while (*p != '\0') {
        json_t *j;
        nl = strchr(p, '\n');
        j = json_loadb(p, nl ? (size_t)(nl - p) : strlen(p), 0, NULL);
        if (j != NULL) {
            const char *lvl = json_string_value(json_object_get(j, "level"));
            const char *msg = json_string_value(json_object_get(j, "msg"));
            if (msg != NULL && lvl != NULL &&
                (strcmp(lvl, "error") == 0 || strcmp(lvl, "fatal") == 0)) {
                snprintf(buf, cap, "%s", msg);
                json_decref(j);
                return;
            }
            json_decref(j);
        } else if (buf[0] == '\0' && nl != p) {
            snprintf(buf, cap, "%.*s", (int)(nl ? nl - p : (long)strlen(p)), p);
        }
        if (nl == NULL)
            break;
        p = nl + 1;
    }
    if (buf[0] == '\0')
        snprintf(buf, cap, "no error output");
}

static bool exited_ok(const struct run *x)
{
    return !x->timed_out && WIFEXITED(x->status) && WEXITSTATUS(x->status) == 0;
}

/* Runs a plain runc subcommand; a failure carries runc's error. */
static int run_simple(struct run *x, const char *what, const char *id, struct err *e)
{
    char msg[200];
    int rv = run_exec(x, e);
    if (rv != 0)
        return err_wrapf(e, "runc %s %s", what, id);
    if (x->timed_out)
        return err_setf(e, ERR_TIMEOUT, "runc %s %s: timed out after %d ms", what, id,
                        x->timeout_ms);
    if (!exited_ok(x)) {
        runc_error(x->err.p, msg, sizeof msg);
        if (strstr(msg, "does not exist") != NULL || strstr(msg, "not running") != NULL ||
            strstr(msg, "container not found") != NULL)
            return err_setf(e, ERR_NOTFOUND, "runc %s %s: %s", what, id, msg);
        return err_setf(e, ERR_IO, "runc %s %s: %s", what, id, msg);
    }
    return 0;
}

static bool id_ok(const char *id)
{
    size_t i, n = id ? strlen(id) : 0;
    if (n == 0 || n > 200 || id[0] == '-' || id[0] == '.')
        return false;
    for (i = 0; i < n; i++)
        if (!(isalnum((unsigned char)id[i]) || strchr("._-", id[i]) != NULL))
            return false;
    return true;
}

/* ------------------------------------------------------------------ */
/* Public calls                                                        */

int agent__runc_init(struct agent__runc *r, const char *bin, const char *root, int timeout_ms,
                     struct err *e)
{
    memset(r, 0, sizeof *r);
    if (root == NULL || root[0] != '/')
        return err_setf(e, ERR_INVALID, "runc root: must be an absolute path");
    if (snprintf(r->bin, sizeof r->bin, "%s", bin ? bin : "runc") >= (int)sizeof r->bin ||
        snprintf(r->root, sizeof r->root, "%s", root) >= (int)sizeof r->root)
        return err_setf(e, ERR_INVALID, "runc: path too long");
    r->timeout_ms = timeout_ms > 0 ? timeout_ms : 10000;
    return 0;
}

bool agent__runc_available(const struct agent__runc *r)
{
    struct run x;
    struct err e;
    bool ok;

    run_init(&x, r, r->timeout_ms);
    x.argc = 1;
    run_arg(&x, "--version");
    ok = run_exec(&x, &e) == 0 && exited_ok(&x);
    run_close(&x);
    return ok;
}

static int read_pid(const char *path, pid_t *pid, struct err *e)
{
    char buf[32] = {0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;
    long v;

    if (fd < 0)
        return err_setf(e, ERR_IO, "%s: %s", path, strerror(errno));
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    v = n > 0 ? strtol(buf, NULL, 10) : 0;
    if (v <= 0)
        return err_setf(e, ERR_IO, "%s: no pid", path);
    *pid = (pid_t)v;
    return 0;
}

static int open_log(const char *path, struct err *e)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        err_setf(e, ERR_IO, "log %s: %s", path, strerror(errno));
    return fd;
}

int agent__runc_create(const struct agent__runc *r, const char *id, const char *bundle,
                       const char *stdout_path, const char *stderr_path, pid_t *pid, struct err *e)
{
    char pidf[PATH_MAX], logf[PATH_MAX], msg[200], *log = NULL;
    int fo = -1, fe = -1, rv;
    struct run x;

    *pid = 0;
    if (!id_ok(id))
        return err_setf(e, ERR_INVALID, "runc create: bad container id \"%.64s\"", id ? id : "");
    if (snprintf(pidf, sizeof pidf, "%s/init.pid", bundle) >= (int)sizeof pidf ||
        snprintf(logf, sizeof logf, "%s/runc.log", bundle) >= (int)sizeof logf)
        return err_setf(e, ERR_INVALID, "runc create %s: bundle path too long", id);
    unlink(pidf);
    unlink(logf);
    fo = open_log(stdout_path, e);
    if (fo < 0)
        return err_wrapf(e, "runc create %s", id);
    fe = strcmp(stdout_path, stderr_path) == 0 ? fo : open_log(stderr_path, e);
    if (fe < 0) {
        close(fo);
        return err_wrapf(e, "runc create %s", id);
    }
    /* runc shares its stdio with the container (detached, no tty), so its
     * own log goes to a file: --log before the subcommand */
    run_init(&x, r, r->timeout_ms);
    x.out_fd = fo;
    x.err_fd = fe;
    run_arg(&x, "--log");
    run_arg(&x, logf);
    run_arg(&x, "create");
    run_arg(&x, "--bundle");
    run_arg(&x, bundle);
    run_arg(&x, "--pid-file");
    run_arg(&x, pidf);
    run_arg(&x, id);
    rv = run_exec(&x, e);
    if (rv != 0) {
        err_wrapf(e, "runc create %s", id);
    } else if (x.timed_out) {
        rv = err_setf(e, ERR_TIMEOUT, "runc create %s: timed out after %d ms", id, r->timeout_ms);
    } else if (!exited_ok(&x)) {
        struct run y;
        int lfd = open(logf, O_RDONLY | O_CLOEXEC);
        memset(&y, 0, sizeof y);
        y.err.max = 1 << 16;
        if (lfd >= 0) {
            drain(lfd, &y.err); /* a regular file reads to EOF */
            close(lfd);
        }
        log = y.err.p;
        runc_error(log, msg, sizeof msg);
        rv = err_setf(e, ERR_IO, "runc create %s: %s", id, msg);
    } else {
        rv = read_pid(pidf, pid, e);
        if (rv != 0)
            err_wrapf(e, "runc create %s", id);
    }
    if (rv != 0) {
        /* a create killed half-way may leave state behind */
        struct err e2;
        agent__runc_delete(r, id, true, &e2);
    }
    free(log);
    run_close(&x);
    if (fe != fo)
        close(fe);
    close(fo);
    return rv;
}

int agent__runc_start(const struct agent__runc *r, const char *id, struct err *e)
{
    struct run x;
    int rv;
    if (!id_ok(id))
        return err_setf(e, ERR_INVALID, "runc start: bad container id");
    run_init(&x, r, r->timeout_ms);
    run_arg(&x, "start");
    run_arg(&x, id);
    rv = run_simple(&x, "start", id, e);
    run_close(&x);
    return rv;
}

int agent__runc_state(const struct agent__runc *r, const char *id, struct agent__runc_state *st,
                      struct err *e)
{
    struct run x;
    int rv;
    if (!id_ok(id))
        return err_setf(e, ERR_INVALID, "runc state: bad container id");
    run_init(&x, r, r->timeout_ms);
    run_arg(&x, "state");
    run_arg(&x, id);
    rv = run_simple(&x, "state", id, e);
    if (rv == 0) {
        rv = agent__runc_state_parse(x.out.p ? x.out.p : "", st, e);
        if (rv != 0)
            err_wrapf(e, "runc state %s", id);
    }
    run_close(&x);
    return rv;
}

int agent__runc_kill(const struct agent__runc *r, const char *id, int sig, bool all, struct err *e)
{
    char s[16];
    struct run x;
    int rv;
    if (!id_ok(id))
        return err_setf(e, ERR_INVALID, "runc kill: bad container id");
    snprintf(s, sizeof s, "%d", sig);
    run_init(&x, r, r->timeout_ms);
    run_arg(&x, "kill");
    if (all)
        run_arg(&x, "--all");
    run_arg(&x, id);
    run_arg(&x, s);
    rv = run_simple(&x, "kill", id, e);
    run_close(&x);
    return rv;
}

int agent__runc_delete(const struct agent__runc *r, const char *id, bool force, struct err *e)
{
    struct run x;
    int rv;
    if (!id_ok(id))
        return err_setf(e, ERR_INVALID, "runc delete: bad container id");
    run_init(&x, r, r->timeout_ms);
    run_arg(&x, "delete");
    if (force)
        run_arg(&x, "--force");
    run_arg(&x, id);
    rv = run_simple(&x, "delete", id, e);
    run_close(&x);
    if (rv == ERR_NOTFOUND) { /* already gone: what delete wanted */
        err_clear(e);
        rv = 0;
    }
    return rv;
}

void agent__exec_result_close(struct agent__exec_result *res)
{
    if (res == NULL)
        return;
    free(res->out);
    free(res->err);
    memset(res, 0, sizeof *res);
}

int agent__runc_exec(const struct agent__runc *r, const char *id, const char *const *args,
                     const char *const *env, const char *cwd, int timeout_ms,
                     struct agent__exec_result *res, struct err *e)
{
    char dir[64], pidf[96], msg[200];
    struct run x;
    size_t i;
    int rv;

    memset(res, 0, sizeof *res);
    res->exit_code = -1;
    if (!id_ok(id))
        return err_setf(e, ERR_INVALID, "runc exec: bad container id");
    if (args == NULL || args[0] == NULL)
        return err_setf(e, ERR_INVALID, "runc exec %s: args: must not be empty", id);
    /* the exec'd pid goes to a file in a private dir, so that a timeout
     * can kill it and nobody else can plant a pid there */
    snprintf(dir, sizeof dir, "/tmp/skiff-exec-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return err_setf(e, ERR_IO, "runc exec %s: pid dir: %s", id, strerror(errno));
    snprintf(pidf, sizeof pidf, "%s/pid", dir);
    run_init(&x, r, timeout_ms > 0 ? timeout_ms : 24 * 3600 * 1000);
    x.kill_pid_file = pidf;
    run_arg(&x, "exec");
    run_arg(&x, "--pid-file");
    run_arg(&x, pidf);
    for (i = 0; env != NULL && env[i] != NULL; i++)
        if (run_arg(&x, "--env") != 0 || run_arg(&x, env[i]) != 0) {
            rv = err_setf(e, ERR_INVALID, "runc exec %s: too many env variables", id);
            goto out;
        }
    if (cwd != NULL) {
        run_arg(&x, "--cwd");
        run_arg(&x, cwd);
    }
    run_arg(&x, id);
    for (i = 0; args[i] != NULL; i++)
        if (run_arg(&x, args[i]) != 0) {
            rv = err_setf(e, ERR_INVALID, "runc exec %s: too many arguments", id);
            goto out;
        }
    rv = run_exec(&x, e);
    if (rv != 0) {
        err_wrapf(e, "runc exec %s", id);
        goto out;
    }
    res->timed_out = x.timed_out;
    if (WIFEXITED(x.status))
        res->exit_code = WEXITSTATUS(x.status);
    else if (WIFSIGNALED(x.status))
        res->exit_code = 128 + WTERMSIG(x.status);
    /* runc's own failures exit 255 with a json error line on stderr; the
     * exec'd process cannot produce that line's shape by accident in
     * practice, and 255 is what runc returns when it could not start it */
    if (!x.timed_out && res->exit_code == 255 && x.err.p != NULL &&
        strstr(x.err.p, "\"level\":\"error\"") != NULL) {
        runc_error(x.err.p, msg, sizeof msg);
        rv = err_setf(e, strstr(msg, "does not exist") ? ERR_NOTFOUND : ERR_IO, "runc exec %s: %s",
                      id, msg);
        goto out;
    }
    if (x.timed_out)
        res->exit_code = -1;
    res->out = x.out.p ? x.out.p : strdup("");
    res->out_len = x.out.len;
    res->err = x.err.p ? x.err.p : strdup("");
    res->err_len = x.err.len;
    x.out.p = x.err.p = NULL;
    if (res->out == NULL || res->err == NULL) {
        agent__exec_result_close(res);
        rv = err_setf(e, ERR_NOMEM, "runc exec %s: out of memory", id);
    }
out:
    unlink(pidf);
    rmdir(dir);
    run_close(&x);
    return rv;
}

int agent__runc_list(const struct agent__runc *r, struct agent__runc_state **out, size_t *n,
                     struct err *e)
{
    struct run x;
    int rv;
    *out = NULL;
    *n = 0;
    run_init(&x, r, r->timeout_ms);
    run_arg(&x, "list");
    run_arg(&x, "--format");
    run_arg(&x, "json");
    rv = run_simple(&x, "list", "", e);
    if (rv == 0)
        rv = agent__runc_list_parse(x.out.p ? x.out.p : "null", out, n, e);
    run_close(&x);
    return rv;
}

/* ------------------------------------------------------------------ */
/* JSON                                                                */

static int status_of(const char *s)
{
    static const char *const names[] = {"creating", "created", "running", "paused", "stopped"};
    size_t i;
    for (i = 0; s != NULL && i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i]) == 0)
            return (int)i + AGENT_RUNC_CREATING;
    return AGENT_RUNC_UNKNOWN;
}

static int state_from(const json_t *o, const char *where, struct agent__runc_state *st,
                      struct err *e)
{
    const json_t *id = json_object_get(o, "id"), *pid = json_object_get(o, "pid");
    const json_t *status = json_object_get(o, "status"), *bundle = json_object_get(o, "bundle");

    memset(st, 0, sizeof *st);
    if (!json_is_object(o))
        return err_setf(e, ERR_INVALID, "%s: must be an object", where);
    if (!json_is_string(id) || json_string_length(id) == 0 ||
        json_string_length(id) >= sizeof st->id)
        return err_setf(e, ERR_INVALID, "%s.id: must be a non-empty string", where);
    if (!json_is_string(status))
        return err_setf(e, ERR_INVALID, "%s.status: must be a string", where);
    st->status = status_of(json_string_value(status));
    if (st->status == AGENT_RUNC_UNKNOWN)
        return err_setf(e, ERR_INVALID, "%s.status: unknown status \"%.32s\"", where,
                        json_string_value(status));
    if (pid != NULL && (!json_is_integer(pid) || json_integer_value(pid) < 0 ||
                        json_integer_value(pid) > INT32_MAX))
        return err_setf(e, ERR_INVALID, "%s.pid: must be a non-negative integer", where);
    if (bundle != NULL && !json_is_string(bundle))
        return err_setf(e, ERR_INVALID, "%s.bundle: must be a string", where);
    snprintf(st->id, sizeof st->id, "%s", json_string_value(id));
    st->pid = (pid_t)json_integer_value(pid);
    if (bundle != NULL)
        snprintf(st->bundle, sizeof st->bundle, "%s", json_string_value(bundle));
    return 0;
}

int agent__runc_state_parse(const char *json, struct agent__runc_state *st, struct err *e)
{
    json_error_t jerr;
    json_t *o = json_loads(json, 0, &jerr);
    int rv;
    if (o == NULL)
        return err_setf(e, ERR_INVALID, "state: bad json: %s", jerr.text);
    rv = state_from(o, "state", st, e);
    json_decref(o);
    return rv;
}

int agent__runc_list_parse(const char *json, struct agent__runc_state **out, size_t *n,
                           struct err *e)
{
    json_error_t jerr;
    json_t *a = json_loads(json, JSON_DECODE_ANY, &jerr), *v;
    struct agent__runc_state *l = NULL;
    char where[32];
    size_t i;
    int rv = 0;

    *out = NULL;
    *n = 0;
    if (a == NULL)
        return err_setf(e, ERR_INVALID, "list: bad json: %s", jerr.text);
    if (json_is_null(a)) /* runc prints null for no containers */
        goto done;
    if (!json_is_array(a)) {
        rv = err_setf(e, ERR_INVALID, "list: must be an array");
        goto done;
    }
    if (json_array_size(a) > 0 && (l = calloc(json_array_size(a), sizeof *l)) == NULL) {
        rv = err_setf(e, ERR_NOMEM, "list: out of memory");
        goto done;
    }
    json_array_foreach (a, i, v) {
        snprintf(where, sizeof where, "list[%zu]", i);
        if ((rv = state_from(v, where, &l[i], e)) != 0)
            break;
    }
    if (rv == 0) {
        *out = l;
        *n = json_array_size(a);
        l = NULL;
    }
done:
    free(l);
    json_decref(a);
    return rv;
}

/* ------------------------------------------------------------------ */
/* Container processes                                                 */

int agent__rt_subreaper(struct err *e)
{
    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0)
        return err_setf(e, ERR_IO, "prctl(PR_SET_CHILD_SUBREAPER): %s", strerror(errno));
    return 0;
}

int agent__ctr_pidfd(pid_t pid, struct err *e)
{
    int fd = pidfd_open_(pid);
    if (fd < 0)
        err_setf(e, errno == ESRCH ? ERR_NOTFOUND : ERR_IO, "pidfd_open %d: %s", (int)pid,
                 strerror(errno));
    return fd;
}

static int code_of(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return AGENT_CTR_EXIT_UNKNOWN;
}

int agent__ctr_reap(pid_t pid, bool *exited, int *exit_code, struct err *e)
{
    int status;
    pid_t w;

    *exited = false;
    *exit_code = AGENT_CTR_EXIT_UNKNOWN;
    do
        w = waitpid(pid, &status, WNOHANG);
    while (w < 0 && errno == EINTR);
    if (w == pid) {
        *exited = true;
        *exit_code = code_of(status);
        return 0;
    }
    if (w == 0)
        return 0;
    if (errno == ECHILD) {
        /* not ours (no subreaper, or it outlived a restart): exited or not
         * is all we can tell */
        *exited = kill(pid, 0) != 0 && errno == ESRCH;
        return 0;
    }
    return err_setf(e, ERR_IO, "waitpid %d: %s", (int)pid, strerror(errno));
}

int agent__ctr_wait(pid_t pid, int timeout_ms, int *exit_code, struct err *e)
{
    int64_t deadline = now_ms() + timeout_ms;
    int fd = pidfd_open_(pid), rv;
    bool exited;

    for (;;) {
        rv = agent__ctr_reap(pid, &exited, exit_code, e);
        if (rv != 0 || exited)
            break;
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            rv =
                err_setf(e, ERR_TIMEOUT, "pid %d: still running after %d ms", (int)pid, timeout_ms);
            break;
        }
        if (fd >= 0) {
            struct pollfd p = {fd, POLLIN, 0};
            poll(&p, 1, (int)left);
        } else {
            /* no pidfd (not ours to open, or ESRCH race): short polls */
            poll(NULL, 0, left < 20 ? (int)left : 20);
        }
    }
    if (fd >= 0)
        close(fd);
    return rv;
}

int agent__ctr_stop(const struct agent__runc *r, const char *id, pid_t pid, int grace_ms,
                    int *exit_code, struct err *e)
{
    struct err ke;
    int rv;

    *exit_code = AGENT_CTR_EXIT_UNKNOWN;
    /* a kill that finds the container stopped is fine: the wait reaps it */
    agent__runc_kill(r, id, SIGTERM, false, &ke);
    rv = agent__ctr_wait(pid, grace_ms > 0 ? grace_ms : 0, exit_code, e);
    if (rv != ERR_TIMEOUT)
        return rv;
    err_clear(e);
    agent__runc_kill(r, id, SIGKILL, true, &ke);
    return agent__ctr_wait(pid, r->timeout_ms, exit_code, e);
}
