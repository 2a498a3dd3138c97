/* agent/runtime: the container runtime layer of the node agent. Owns the OCI
 * bundle (config.json from a Pod, a container and an image config), the runc
 * wrapper (one --root per node), the node's cgroups (skiff-<node> parent,
 * pod sub-cgroups, stats, cleanup) and the pod sandbox (persistent network,
 * IPC and UTS namespaces). Knows nothing of images (agent/image.h gives the
 * rootfs and the image config), CNI, probes or the API.
 *
 * Threads: every call is plain blocking C without global state, meant for
 * the libuv thread pool; two calls may run at once on different threads as
 * long as they do not share an output struct. Children are started with
 * posix_spawn (safe in a threaded process) and every wait has a deadline.
 *
 * Exit codes and the subreaper contract
 * -------------------------------------
 * `runc create` forks the container's init and exits, so the init is not our
 * child and its exit status would go to whoever reaps orphans (pid 1). The
 * process that hosts the agent (the skiff daemon) therefore calls
 * agent__rt_subreaper() once at start-up: prctl(PR_SET_CHILD_SUBREAPER)
 * makes the kernel reparent orphaned descendants (the container inits) to
 * us, so that:
 *   - agent__runc_create() returns the init's pid (from --pid-file);
 *   - the agent watches agent__ctr_pidfd(pid) (readable on exit; put it in a
 *     uv_poll) or blocks in agent__ctr_wait() from the thread pool;
 *   - agent__ctr_reap() collects the status exactly once with waitpid(pid):
 *     exit code = WEXITSTATUS, or 128 + signal when killed (137 = SIGKILL),
 *     as Kubernetes reports it; read agent__cg_stats() of the container's
 *     cgroup BEFORE agent__runc_delete() to tell an OOM kill (oom_kills > 0);
 *   - until reaped, a stopped init stays a zombie; runc state says "stopped"
 *     and runc delete works on it.
 * Rules for the rest of the process: nobody calls waitpid(-1) / wait()
 * (libuv 1.44 waits only for its own uv_process pids, which is fine), and a
 * container's pid is reaped by agent__ctr_reap only. Containers that
 * outlive a daemon restart were reparented to pid 1 when we died: their exit
 * codes are lost; agent__ctr_reap reports AGENT_CTR_EXIT_UNKNOWN (ECHILD)
 * and the caller reports the container as terminated with unknown status
 * (kubelet: 137, reason ContainerStatusUnknown), using the cgroup's OOM
 * counter when it still exists. */
#ifndef SKIFF_AGENT_RUNTIME_H
#define SKIFF_AGENT_RUNTIME_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "lib/err.h"

/* ------------------------------------------------------------------ */
/* Quantities and $(VAR) expansion (bundle.c)                          */

/* Parses a Kubernetes resource.Quantity (a JSON string such as "500m",
 * "64Mi", "1G", "0.5", "2e3", or a JSON number) exactly, with integer math,
 * and rounds up as Quantity.Value()/MilliValue() do:
 * agent__qty_value gives whole units (bytes), agent__qty_milli thousandths
 * (millicores). Negative or out-of-range (> INT64_MAX) values are invalid.
 * field names the value in the error ("resources.limits.cpu: ...").
 * Returns 0 or ERR_INVALID. */
int agent__qty_value(const json_t *q, const char *field, int64_t *out, struct err *e);
int agent__qty_milli(const json_t *q, const char *field, int64_t *out, struct err *e);

/* One environment variable (borrowed strings). */
struct agent__env {
    const char *name;
    const char *value;
    bool verbatim; /* true: not $(VAR)-expanded (values from valueFrom, as kubelet) */
};

/* Kubernetes' $(VAR) expansion of s with the variables env[0..n) (a later
 * entry wins): $(NAME) → value when defined, else left as is; $$ → $;
 * any other $x is kept. Returns owned memory (free()), NULL on ENOMEM. */
char *agent__expand(const char *s, const struct agent__env *env, size_t n);

/* ------------------------------------------------------------------ */
/* OCI bundle (bundle.c)                                               */

/* An extra mount (a volume): a bind of source, or a fresh tmpfs. */
struct agent__mount {
    const char *source;      /* host path (bind); ignored for tmpfs */
    const char *destination; /* absolute path in the container */
    bool readonly;
    bool tmpfs;
};

/* Everything config.json is made from. Every pointer is borrowed. */
struct agent__bundle_spec {
    const json_t *pod;          /* v1 Pod as the API stores it */
    const json_t *container;    /* one element of pod.spec.containers (or initContainers) */
    const json_t *image_config; /* the image config's "config" object (Entrypoint, Cmd,
                                   Env, WorkingDir, User), or the whole image config
                                   holding it; NULL = empty */
    const char *rootfs;         /* absolute path of the container's root file system */
    /* Container env, kubelet's order (service variables first, then
     * container.env in order), valueFrom already resolved (verbatim). */
    const struct agent__env *env;
    size_t n_env;
    const struct agent__mount *mounts; /* volumes, in any order (sorted by depth here) */
    size_t n_mounts;
    /* Sandbox namespaces to join (agent__sandbox paths); NULL: a new one. */
    const char *netns_path, *ipcns_path, *utsns_path;
    const char *shm_path; /* a pod-shared /dev/shm dir to bind, or NULL: own tmpfs */
    /* Files the caller prepared, bind-mounted when non-NULL. */
    const char *hosts_path, *resolv_path, *hostname_path;
    const char
        *termination_log_path; /* → container.terminationMessagePath or /dev/termination-log */
    const char *cgroups_path;  /* agent__cg_path(); NULL: runc's default */
};

/* Builds the OCI runtime-spec config (runc 1.1) for s: process args by
 * Kubernetes rules (command replaces Entrypoint, args replace Cmd, $(VAR)
 * expansion), env (PATH default, HOSTNAME, image Env, then s->env; a later
 * name replaces an earlier one in place, as containerd), cwd, user
 * (runAsUser/runAsGroup or image User, names resolved in the rootfs's
 * /etc/passwd and /etc/group), hostname, namespaces, mounts, capabilities
 * (containerd's defaults, add/drop, privileged), noNewPrivileges, masked
 * and read-only paths, cgroupsPath and resources (memory limit, cpu
 * quota/period/shares). On success *out is owned (json_decref).
 * Returns 0, ERR_INVALID (the field at fault: "spec.containers[0].args[1]
 * ...", "image config: User: unknown user \"bob\""), ERR_NOMEM or ERR_IO
 * (reading /etc/passwd). */
int agent__bundle_config(const struct agent__bundle_spec *s, json_t **out, struct err *e);

/* agent__bundle_config, then writes <dir>/config.json atomically (tmp +
 * rename). dir must exist. Returns 0 or an error as above / ERR_IO. */
int agent__bundle_write(const struct agent__bundle_spec *s, const char *dir, struct err *e);

/* ------------------------------------------------------------------ */
/* runc (runc.c)                                                       */

/* One node's runc: `runc --root <root>` keeps several nodes on one machine
 * apart. cgroupfs driver (no --systemd-cgroup). Caller owns it; copy-free. */
struct agent__runc {
    char bin[PATH_MAX];  /* "runc" (looked up in PATH) or an absolute path */
    char root[PATH_MAX]; /* --root state dir, created 0700 by runc */
    int timeout_ms;      /* deadline of one invocation (create, state, kill, ...) */
};

/* Fills r: bin (NULL → "runc"), root, timeout_ms (<= 0 → 10 s).
 * Returns 0 or ERR_INVALID (path too long). */
int agent__runc_init(struct agent__runc *r, const char *bin, const char *root, int timeout_ms,
                     struct err *e);

/* True when the runc binary can be run (`runc --version` exits 0). */
bool agent__runc_available(const struct agent__runc *r);

enum {
    AGENT_RUNC_UNKNOWN = 0,
    AGENT_RUNC_CREATING,
    AGENT_RUNC_CREATED,
    AGENT_RUNC_RUNNING,
    AGENT_RUNC_PAUSED,
    AGENT_RUNC_STOPPED,
};

struct agent__runc_state {
    char id[256];
    int status; /* AGENT_RUNC_* */
    pid_t pid;  /* init pid; 0 once stopped */
    char bundle[PATH_MAX];
};

/* Runs `runc create --bundle B --pid-file B/init.pid ID`, the container's
 * stdin on /dev/null and its stdout/stderr appended (O_APPEND, created
 * 0640) to stdout_path/stderr_path (may be the same file). runc's own log
 * goes to B/runc.log (json); on failure its first error line is in the
 * message, and runc also prints it on the container's stderr (it shares
 * its stdio with the container). *pid = the container's init. The init is
 * our child only through the subreaper contract above.
 * Returns 0, ERR_IO ("runc create c1: <runc's error>"), ERR_TIMEOUT. */
int agent__runc_create(const struct agent__runc *r, const char *id, const char *bundle,
                       const char *stdout_path, const char *stderr_path, pid_t *pid, struct err *e);
/* `runc start ID`: runs the user process of a created container. */
int agent__runc_start(const struct agent__runc *r, const char *id, struct err *e);
/* `runc state ID`. Returns 0, ERR_NOTFOUND (no such container), ERR_IO. */
int agent__runc_state(const struct agent__runc *r, const char *id, struct agent__runc_state *st,
                      struct err *e);
/* `runc kill [--all] ID SIG`. A stopped or missing container: ERR_NOTFOUND. */
int agent__runc_kill(const struct agent__runc *r, const char *id, int sig, bool all, struct err *e);
/* `runc delete [--force] ID`. A missing container is success (idempotent). */
int agent__runc_delete(const struct agent__runc *r, const char *id, bool force, struct err *e);

/* Result of agent__runc_exec: owned buffers, free with agent__exec_result_close. */
struct agent__exec_result {
    char *out; /* stdout, NUL-terminated, at most AGENT_EXEC_OUTPUT_MAX bytes kept */
    size_t out_len;
    char *err; /* stderr (the process's and runc's), same cap */
    size_t err_len;
    int exit_code; /* as the process exited (128+sig when killed); -1 on timeout */
    bool timed_out;
};
#define AGENT_EXEC_OUTPUT_MAX (1 << 20)
void agent__exec_result_close(struct agent__exec_result *res);

/* `runc exec --env .. [--cwd ..] ID args..`, stdin /dev/null, no tty,
 * output captured. env: "K=V" strings (NULL-terminated array, may be NULL),
 * cwd may be NULL. On timeout (timeout_ms > 0) the process is SIGKILLed
 * (through --pid-file, since runc cannot forward SIGKILL) and res->timed_out
 * is set; the call still returns 0. A process that ran returns 0 whatever
 * its exit code. When runc itself fails (exit 255 with a json error line:
 * the program cannot be run, ...) the call returns ERR_IO with runc's
 * error; ERR_NOTFOUND for no such container; ERR_NOMEM. */
int agent__runc_exec(const struct agent__runc *r, const char *id, const char *const *args,
                     const char *const *env, const char *cwd, int timeout_ms,
                     struct agent__exec_result *res, struct err *e);

/* `runc list --format json`: every container of this root (for adoption
 * after a restart). *out owned: free(). Returns 0 (n may be 0) or ERR_IO. */
int agent__runc_list(const struct agent__runc *r, struct agent__runc_state **out, size_t *n,
                     struct err *e);

/* Parsers for runc's JSON (exposed for tests). state: one object; list: an
 * array or "null". Returns 0, ERR_INVALID (naming the field), ERR_NOMEM. */
int agent__runc_state_parse(const char *json, struct agent__runc_state *st, struct err *e);
int agent__runc_list_parse(const char *json, struct agent__runc_state **out, size_t *n,
                           struct err *e);

/* ------------------------------------------------------------------ */
/* Container processes: the subreaper contract (runc.c)                */

/* prctl(PR_SET_CHILD_SUBREAPER, 1) on the calling process (any thread).
 * Call once at start-up. Returns 0 or ERR_IO. */
int agent__rt_subreaper(struct err *e);

#define AGENT_CTR_EXIT_UNKNOWN (-1)

/* A pidfd for pid (close() it): readable once the process has exited.
 * Returns >= 0, or -1 with e set (ERR_NOTFOUND: no such process). */
int agent__ctr_pidfd(pid_t pid, struct err *e);
/* Non-blocking: when pid has exited, *exited = true and *exit_code = its
 * code (or AGENT_CTR_EXIT_UNKNOWN when it is not our child: no subreaper,
 * or a restart). Reaps: call once per pid after it exited. Returns 0 or ERR_IO. */
int agent__ctr_reap(pid_t pid, bool *exited, int *exit_code, struct err *e);
/* Blocks up to timeout_ms for pid to exit, then reaps it as above.
 * Returns 0 (exited), ERR_TIMEOUT (still running), ERR_IO. */
int agent__ctr_wait(pid_t pid, int timeout_ms, int *exit_code, struct err *e);

/* Stops a container as kubelet does: SIGTERM to the init (runc kill), up
 * to grace_ms for it to exit, then SIGKILL to every process (runc kill
 * --all), up to the runc timeout more. *exit_code as agent__ctr_wait.
 * pid: the init from agent__runc_create. Returns 0, ERR_TIMEOUT, ERR_IO. */
int agent__ctr_stop(const struct agent__runc *r, const char *id, pid_t pid, int grace_ms,
                    int *exit_code, struct err *e);

/* ------------------------------------------------------------------ */
/* cgroups (cgroup.c)                                                  */

enum {
    AGENT_CG_V1 = 1, /* only cgroup v1 hierarchies */
    AGENT_CG_HYBRID, /* v1 controllers plus an (empty) cgroup2 mount, e.g. /sys/fs/cgroup/unified */
    AGENT_CG_V2,     /* /sys/fs/cgroup is cgroup2 */
};
#define AGENT_CG_MAX_HIER 16

/* The machine's cgroup layout and this node's parent. Caller owns it. */
struct agent__cg {
    int mode;               /* AGENT_CG_* */
    char unified[PATH_MAX]; /* cgroup2 mount point, "" if none */
    size_t n_v1;
    struct {
        char mnt[PATH_MAX]; /* mount point, e.g. /sys/fs/cgroup/memory */
        char opts[128];     /* controllers, e.g. "cpu,cpuacct" or "name=systemd" */
    } v1[AGENT_CG_MAX_HIER];
    char parent[128]; /* "skiff-<node>" */
};

/* Detects the layout from mountinfo text (the contents of
 * /proc/self/mountinfo) and sets the parent for node. Returns 0 or
 * ERR_INVALID (no cgroup mount, bad node name). */
int agent__cg_detect(const char *mountinfo, const char *node, struct agent__cg *cg, struct err *e);
/* agent__cg_detect on this process's /proc/self/mountinfo. ERR_IO too. */
int agent__cg_init(struct agent__cg *cg, const char *node, struct err *e);

/* The cgroupsPath for config.json: "/skiff-<node>/pod<uid>/<ctr>", the
 * pod's "/skiff-<node>/pod<uid>" (ctr NULL) or the node's "/skiff-<node>"
 * (pod_uid NULL too). Returns 0 or ERR_INVALID (bad uid/ctr:
 * empty, '/', "." or "..", too long). */
int agent__cg_path(const struct agent__cg *cg, const char *pod_uid, const char *ctr, char *buf,
                   size_t cap, struct err *e);

struct agent__cg_stats {
    uint64_t memory_bytes;       /* usage (v1 usage_in_bytes, v2 memory.current) */
    uint64_t memory_limit_bytes; /* 0 = unlimited */
    uint64_t cpu_ns;             /* cumulative cpu time */
    uint64_t oom_kills;          /* processes OOM-killed in this cgroup */
    uint64_t pids;               /* processes now */
};
/* Reads the stats of cgroup path (as agent__cg_path). Controllers that are
 * missing read as 0. Returns 0, ERR_NOTFOUND (no memory cgroup), ERR_IO. */
int agent__cg_stats(const struct agent__cg *cg, const char *path, struct agent__cg_stats *st,
                    struct err *e);

/* Removes the cgroup path and everything below it in every hierarchy,
 * children first. Processes must be gone; EBUSY (tasks still exiting) is
 * retried for up to 2 s. Absent dirs are fine. Returns 0, ERR_TIMEOUT
 * (still busy: names the dir), ERR_IO. */
int agent__cg_remove(const struct agent__cg *cg, const char *path, struct err *e);

/* Pod uids that have a cgroup under this node's parent in any hierarchy
 * (leftovers to clean up after a restart). *uids owned: free each, then
 * the array (agent__strv_free). Returns 0 or ERR_IO/ERR_NOMEM. */
int agent__cg_list_pods(const struct agent__cg *cg, char ***uids, size_t *n, struct err *e);
void agent__strv_free(char **v, size_t n);

/* ------------------------------------------------------------------ */
/* Pod sandbox (sandbox.c)                                             */

/* The pod sandbox is a set of persistent namespaces, not a process: a
 * forked child unshare()s net, ipc and uts, sets the hostname, brings lo
 * up, and bind-mounts its /proc/self/ns/{net,ipc,uts} onto files in the
 * sandbox dir (as `ip netns add` does), then exits. The bind mounts keep
 * the namespaces alive across container restarts and agent restarts, with
 * no pause process to watch, restart or account for; the netns file is the
 * path CNI plugins take. A tmpfs at <dir>/shm is the pod's /dev/shm.
 * Cost: no shared pid namespace (shareProcessNamespace needs a process). */
struct agent__sandbox {
    char dir[PATH_MAX];   /* <root>/<pod uid> */
    char netns[PATH_MAX]; /* <dir>/net: CNI's netns path; join by path */
    char ipcns[PATH_MAX]; /* <dir>/ipc */
    char utsns[PATH_MAX]; /* <dir>/uts */
    char shm[PATH_MAX];   /* <dir>/shm: tmpfs for /dev/shm (bundle shm_path) */
    char hostname[64];    /* also kept in <dir>/hostname for agent__sandbox_open */
};

/* Creates the sandbox of pod_uid under root (created if missing):
 * namespaces with hostname (<= 63 bytes), lo up, shm tmpfs. All or
 * nothing: on failure whatever was made is undone. Needs CAP_SYS_ADMIN.
 * Returns 0, ERR_INVALID (bad uid/hostname), ERR_CONFLICT (exists), ERR_IO. */
int agent__sandbox_create(const char *root, const char *pod_uid, const char *hostname,
                          struct agent__sandbox *sb, struct err *e);
/* Fills sb's paths for an existing sandbox (adoption after a restart).
 * Returns 0, ERR_NOTFOUND (its namespace files are not mounted; sb's paths
 * are filled all the same, so that agent__sandbox_destroy can clear what
 * is left), ERR_INVALID. */
int agent__sandbox_open(const char *root, const char *pod_uid, struct agent__sandbox *sb,
                        struct err *e);
/* Undoes agent__sandbox_create: lazily unmounts the namespace files and
 * the shm tmpfs, removes the files and the dir. Idempotent; the pod's
 * containers must be deleted first (their cgroups: agent__cg_remove).
 * Returns 0 or ERR_IO (the first failure; the rest is still attempted). */
int agent__sandbox_destroy(struct agent__sandbox *sb, struct err *e);
/* Pod uids with a sandbox dir under root (leftovers). As agent__cg_list_pods. */
int agent__sandbox_list(const char *root, char ***uids, size_t *n, struct err *e);

#endif
