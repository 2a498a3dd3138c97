/* agent_exec: the node side of pods/NAME/exec. Runs a command in a pod's
 * running container with `runc exec` under this node's runc root; the
 * container keeps its own env, working dir and user (runc exec starts from
 * the container's process spec). Needs nothing of the agent but the root,
 * so the API calls it straight from the thread pool. */
#include "agent/agent.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/runtime.h"
#include "api/api.h"

/* runc's message when the program could not be started: kubectl (through
 * containerd) reports 126 for that and the shells' 127 for "not found". */
static int start_failure_code(const char *msg)
{
    if (strstr(msg, "executable file not found") != NULL ||
        strstr(msg, "no such file or directory") != NULL)
        return 127;
    return 126;
}

int agent__exec_in(const struct agent__runc *rc, const char *uid, const char *ctr,
                   const char *const *argv, int timeout_ms, struct api_exec_result *res,
                   struct err *e);

/* The part after the runc root is known; not static so the unit test can
 * drive it with a fake runc binary. */
int agent__exec_in(const struct agent__runc *rc, const char *uid, const char *ctr,
                   const char *const *argv, int timeout_ms, struct api_exec_result *res,
                   struct err *e)
{
    struct agent__exec_result xr;
    char id[400];
    int rv;

    memset(res, 0, sizeof *res);
    res->exit_code = -1;
    if (uid == NULL || ctr == NULL || uid[0] == '\0' || ctr[0] == '\0' ||
        snprintf(id, sizeof id, "%s_%s", uid, ctr) >= (int)sizeof id)
        return err_setf(e, ERR_INVALID, "exec: bad pod uid or container name");
    rv = agent__runc_exec(rc, id, argv, NULL, NULL, timeout_ms, &xr, e);
    if (rv == ERR_IO &&
        (strstr(e->msg, "stopped container") != NULL || strstr(e->msg, "not running") != NULL ||
         strstr(e->msg, "container not found") != NULL))
        rv = err_setf(e, ERR_NOTFOUND, "exec %s: container is not running", id);
    if (rv == ERR_IO) {
        /* runc ran but could not start the program: that is the command's
         * failure, reported like a shell does, not the API's */
        size_t n = strlen(e->msg);
        res->exit_code = start_failure_code(e->msg);
        res->err = malloc(n + 2);
        if (res->err == NULL)
            return err_setf(e, ERR_NOMEM, "exec: out of memory");
        memcpy(res->err, e->msg, n);
        res->err[n] = '\n';
        res->err[n + 1] = '\0';
        res->err_len = n + 1;
        err_clear(e);
        return 0;
    }
    if (rv != 0)
        return rv;
    res->out = xr.out;
    res->out_len = xr.out_len;
    res->err = xr.err;
    res->err_len = xr.err_len;
    res->exit_code = xr.timed_out ? -1 : xr.exit_code;
    res->timed_out = xr.timed_out;
    return 0;
}

int agent_exec(void *data_dir, const char *uid, const char *ctr, const char *const *argv,
               int timeout_ms, struct api_exec_result *res, struct err *e)
{
    struct agent__runc rc;
    char root[PATH_MAX], cwd[PATH_MAX / 2];
    const char *dir = data_dir;
    int rv;

    memset(res, 0, sizeof *res);
    res->exit_code = -1;
    if (dir == NULL || dir[0] == '\0')
        return err_setf(e, ERR_INVALID, "exec: no data dir");
    /* runc wants an absolute root; a relative data dir is the daemon's cwd's */
    if (dir[0] != '/' && getcwd(cwd, sizeof cwd) == NULL)
        return err_setf(e, ERR_IO, "exec: getcwd: %s", strerror(errno));
    if (snprintf(root, sizeof root, "%s%s%s/agent/runc", dir[0] == '/' ? "" : cwd,
                 dir[0] == '/' ? "" : "/", dir) >= (int)sizeof root)
        return err_setf(e, ERR_INVALID, "exec: runc root: path too long");
    rv = agent__runc_init(&rc, NULL, root, 10000, e);
    if (rv != 0)
        return rv;
    return agent__exec_in(&rc, uid, ctr, argv, timeout_ms, res, e);
}
