/* agent/pods: the pod driver of the node agent (agent-internal). Owns what a
 * pod bound to this node is on the machine: its sandbox (agent/runtime.h),
 * its volumes (emptyDir, hostPath, Secret and ConfigMap files on tmpfs), its
 * containers as runc bundles on an overlay rootfs of their image
 * (agent/image.h), their logs, restarts with back-off, probes, and the v1
 * PodStatus that results. Knows nothing of the store, consensus or the API
 * client: agent.c feeds it the desired pods and writes the statuses it gets.
 *
 * Threads: every agent_pods / agent__pods_ call is on the loop thread.
 * Everything that blocks (image pulls, runc, mounts, files, probes) runs as
 * a uv_queue_work job; a container has at most one such job at a time (plus
 * its probes), a pod at most one pod-level job (setup or teardown).
 *
 * Layout under cfg->dir:
 *   pods/<uid>/volumes/<name>      emptyDir dirs, tmpfs for medium Memory,
 *                                  Secret/ConfigMap files (tmpfs, bound ro)
 *   pods/<uid>/etc/{hosts,resolv.conf,hostname}
 *   pods/<uid>/c/<ctr>/            the bundle: config.json, rootfs (overlay
 *                                  mount), upper, work, termination-log,
 *                                  state.json (what adoption reads back)
 *   sandboxes/<uid>/               agent__sandbox
 *   images/                        agent/image.h store
 *   logs/<ns>_<pod>_<uid>/<ctr>/<restart>.log  (copy-truncated to .log.1
 *                                  past log_max_bytes)
 * runc containers are named "<uid>_<ctr>" (a uid has no '_', a container
 * name is a DNS label), cgroups "/skiff-<node>/pod<uid>/<ctr>".
 *
 * The process that hosts the driver must have called agent__rt_subreaper()
 * (runtime.h): container exit codes depend on it. */
#ifndef SKIFF_AGENT_PODS_H
#define SKIFF_AGENT_PODS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "agent/cni.h"
#include "agent/image.h"
#include "agent/pullsecret.h"
#include "agent/runtime.h"
#include "lib/err.h"

struct agent_pods;

/* Returns the object of kind ("Secret" or "ConfigMap") ns/name from the
 * local replica, or NULL when there is none. Borrowed: the driver uses it
 * before returning to the loop and keeps no pointer into it. Loop thread. */
typedef const json_t *(*agent_pods_lookup_cb)(void *data, const char *kind, const char *ns,
                                              const char *name);

/* A pod's observed status changed: status is a new v1 PodStatus, owned by
 * the callee (json_decref). status NULL: a pod that had a deletionTimestamp
 * is stopped and everything of it removed; agent.c deletes the object now.
 * key is the store key agent__pods_set was given. Loop thread; may call
 * agent__pods_set, never agent__pods_close. */
typedef void (*agent_pods_status_cb)(void *data, const char *key, json_t *status);

/* The pod network (agent/nodenet.h), loop thread: the nameserver address
 * pods get, or NULL while the node's network is not ready (pods wait). */
typedef const char *(*agent_pods_dns_cb)(void *data);
/* The Services of namespace ns (new JSON array reference) for the service
 * environment variables of containers starting now. */
typedef json_t *(*agent_pods_services_cb)(void *data, const char *ns);

struct agent_pods_config {
    const char *node_name; /* required */
    const char *dir;       /* the node's agent dir (created if missing), required */
    const char *runc_root; /* runc --root; NULL: DIR/runc */
    const char *runc_bin;  /* NULL: "runc" from PATH */
    const char *node_ip;   /* status.hostIP, and podIP of hostNetwork pods; NULL: none */
    const struct agent_image_registry *registries; /* image pull options (copied) */
    size_t n_registries;
    agent_pods_lookup_cb lookup; /* Secrets and ConfigMaps; NULL: none exist */
    void *lookup_data;
    /* Restart back-off: base doubles per crash up to 30 x base (kubelet:
     * 10 s .. 5 min). 0: $SKIFF_AGENT_BACKOFF_MS, else 10000. */
    int backoff_base_ms;
    uint64_t log_max_bytes; /* rotation threshold; 0: 10 MiB */
    int tick_ms;            /* housekeeping period (restarts, probes, grace); 0: 100 */
    /* image GC (agent/image.h): above high % of the store's disk used,
     * unused images go until low %; 0: 85 / 80. First run image_gc_first_ms
     * after start (0: 1 min), then every 5 min. */
    int image_gc_high_pct, image_gc_low_pct, image_gc_first_ms;
    /* Pod network: sandboxes of pods without hostNetwork are attached with
     * the CNI conflist in cni_conf_dir (NULL: no pod network, loopback
     * only). net_dns and services are then required. */
    const char *cni_conf_dir;
    agent_pods_dns_cb net_dns;
    agent_pods_services_cb services;
    void *net_data;
};

/* Opens the driver: copies cfg, opens the image store, detects cgroups,
 * then (in the thread pool) lists this node's runc containers, sandboxes
 * and pod cgroups for adoption. Pods set meanwhile wait for that scan.
 * Returns 0, ERR_INVALID (cfg), ERR_IO (dirs, image store, cgroups),
 * ERR_NOMEM. On success *out is owned: agent__pods_close. */
int agent__pods_new(uv_loop_t *loop, const struct agent_pods_config *cfg, agent_pods_status_cb cb,
                    void *data, struct agent_pods **out, struct err *e);

/* The desired state of the pod at store key: pod (borrowed; copied) is the
 * v1 Pod bound to this node, or NULL when it is gone from the store (its
 * containers are then killed with the pod's grace and everything removed,
 * with no callback). Idempotent: call it on every change. A pod with
 * metadata.deletionTimestamp is stopped (SIGTERM, grace =
 * metadata.deletionGracePeriodSeconds or spec.terminationGracePeriodSeconds,
 * then SIGKILL), cleaned, then reported with status NULL. The spec is taken
 * when the pod is first seen; later changes of containers are ignored. */
void agent__pods_set(struct agent_pods *p, const char *key, const json_t *pod);

/* agent.c has passed every pod of its initial list to agent__pods_set:
 * whatever the adoption scan found that belongs to no such pod (runc
 * containers, sandboxes, cgroups, mounts, dirs) is removed from now on. */
void agent__pods_synced(struct agent_pods *p);

/* Closes the driver and stops nothing: containers keep running and the next
 * driver on the same dir adopts them. Waits for jobs in flight, closes
 * handles, then cb(data) (may be NULL), never from inside this call. */
void agent__pods_close(struct agent_pods *p, void (*cb)(void *), void *data);

/* ======================================================================
 * Pure parts, exposed for agent/pods*.c and their unit tests.
 * ====================================================================== */

enum { AGENT_CS_WAITING = 0, AGENT_CS_RUNNING, AGENT_CS_TERMINATED };

/* A terminated container state. */
struct agent__term {
    int exit_code;
    int signal;             /* 0 unless known */
    char reason[32];        /* Completed, Error, OOMKilled, ContainerStatusUnknown */
    char message[256];      /* termination message or "" */
    char started_at[32];    /* RFC 3339 */
    char finished_at[32];   /* RFC 3339 */
    char container_id[160]; /* "runc://<id>" */
};

/* What the driver knows of one container, from which its status is made. */
struct agent__ctr_obs {
    const char *name;                                              /* borrowed (the pod's spec) */
    const char *image;                                             /* borrowed */
    char image_id[AGENT_IMAGE_REF_SIZE + AGENT_IMAGE_DIGEST_SIZE]; /* "ref@sha256:.." or "" */
    char container_id[160];  /* "runc://<id>" while it exists, "" */
    int state;               /* AGENT_CS_* */
    char reason[48];         /* waiting: ContainerCreating, ErrImagePull, ... */
    char message[256];       /* waiting */
    char started_at[32];     /* running: RFC 3339 */
    struct agent__term term; /* terminated */
    bool has_last;
    struct agent__term last; /* lastState.terminated */
    int restarts;
    bool ready;   /* readiness (true while running when there is no probe) */
    bool started; /* startup probe passed (or none) and running */
};

/* A pod's observation. Pointers borrowed. */
struct agent__pod_obs {
    const json_t *pod;  /* the v1 Pod: spec.restartPolicy, containers, initContainers */
    const json_t *prev; /* the status reported before (or the pod's own): keeps
                           conditions' lastTransitionTime; may be NULL */
    const struct agent__ctr_obs *const *init;
    size_t n_init;
    const struct agent__ctr_obs *const *ctrs;
    size_t n_ctrs;
    const char *host_ip, *pod_ip; /* NULL or "": left out */
    const char *start_time;       /* NULL or "": left out */
    const char *now;              /* RFC 3339, for transitions */
};

/* kubelet's getPhase: Pending, Running, Succeeded or Failed (static string). */
const char *agent__pod_phase(const struct agent__pod_obs *o);

/* The v1 PodStatus of o: phase, conditions (PodScheduled, Initialized,
 * ContainersReady, Ready), hostIP, podIP(s), startTime, qosClass (kept from
 * prev), initContainerStatuses, containerStatuses. Owned; NULL on ENOMEM. */
json_t *agent__pod_status(const struct agent__pod_obs *o);

/* The delay before restarting a container that failed `crashes` times in a
 * row (>= 1): 0 for the first, then base, 2 x base, ... up to max. */
uint64_t agent__backoff_ms(uint64_t base_ms, uint64_t max_ms, int crashes);

/* RFC 3339 UTC of the wall clock now, "2006-01-02T15:04:05Z". */
void agent__now_rfc3339(char buf[32]);

/* ---- env (pods_env.c) ---- */

/* A container's environment: kubelet's order (envFrom, then env), valueFrom
 * resolved (verbatim), env values left for $(VAR) expansion in the bundle.
 * Owns its strings. */
struct agent__envset {
    struct agent__env *v;
    size_t n, cap;
    char **owned;
    size_t n_owned, cap_owned;
};

/* Resolves container (field names it in errors: "spec.containers[0]"):
 * envFrom configMapRef/secretRef (prefix, optional; keys that are no valid
 * env names are skipped), env value / valueFrom secretKeyRef,
 * configMapKeyRef (optional), fieldRef (metadata.name, namespace, uid,
 * labels['k'], annotations['k'], spec.nodeName, spec.serviceAccountName,
 * status.podIP(s), status.hostIP), resourceFieldRef (limits/requests cpu and
 * memory with divisor). lookup may be NULL. Returns 0, ERR_NOTFOUND
 * ("secret \"db\" not found", "couldn't find key pw in Secret default/db"),
 * ERR_INVALID, ERR_NOMEM. out is initialized here; close it either way. */
int agent__env_resolve(const json_t *pod, const json_t *container, const char *field,
                       agent_pods_lookup_cb lookup, void *lookup_data, const char *pod_ip,
                       const char *host_ip, struct agent__envset *out, struct err *e);
void agent__envset_close(struct agent__envset *s);

/* Adds the Kubernetes service variables of services (v1 Service objects
 * with a ClusterIP) to out, as kubelet does: <SVC>_SERVICE_HOST,
 * _SERVICE_PORT, _SERVICE_PORT_<NAME>, and the docker-link <SVC>_PORT,
 * _PORT_<p>_<PROTO>{,_PROTO,_PORT,_ADDR}; names already in out win.
 * links false (spec.enableServiceLinks: false): nothing is added. */
int agent__env_services(const json_t *services, bool links, struct agent__envset *out,
                        struct err *e);

/* Replaces the files of a Secret or ConfigMap volume in dir (its tmpfs,
 * bound read-only into the containers) with obj's current content: the
 * new files are projected into a staging dir on the same tmpfs and renamed
 * into place one entry at a time (a reader sees an old or a new file,
 * never a partial one); entries of keys that are gone are removed.
 * Errors as agent__volume_project; on error dir keeps what it had. */
int agent__volume_refresh(const char *dir, const char *kind, const json_t *obj, const json_t *src,
                          const char *field, struct err *e);
struct agent__setup;
/* The refresh of a running pod's Secret/ConfigMap volumes: s->vols (with
 * their current objects), s->uid, s->rt; s->rv / s->err the first failure. */
void agent__refresh_run(struct agent__setup *s);

/* The pod's resolv.conf text into buf: with dns_ip the cluster DNS first
 * (search <ns>.svc.cluster.local svc.cluster.local cluster.local, ndots:5),
 * then the node's non-loopback nameservers for names outside the cluster;
 * without, the node's own file (host_resolv, may be NULL: empty). */
int agent__resolv_conf(const char *dns_ip, const char *ns, const char *host_resolv, char *buf,
                       size_t cap, struct err *e);

/* base64 (standard, padded) to bytes; *out owned (free), NUL-terminated. */
int agent__b64_decode(const char *in, char **out, size_t *n, struct err *e);

/* ---- volumes and logs (pods_files.c) ---- */

/* Writes the files of a Secret or ConfigMap volume into the existing dir:
 * kind "Secret" (data, base64) or "ConfigMap" (data, binaryData). obj may be
 * NULL (optional source: nothing written). src is the volume's secret /
 * configMap object: items [{key, path, mode}] (only those, paths may have
 * subdirs, no ".." or absolute paths), defaultMode (default 0644), optional.
 * field names src in errors. Blocking. Returns 0, ERR_NOTFOUND (a missing
 * key that is not optional), ERR_INVALID, ERR_IO. */
int agent__volume_project(const char *dir, const char *kind, const json_t *obj, const json_t *src,
                          const char *field, struct err *e);

/* DIR/logs/<ns>_<pod>_<uid>/<ctr>/<restart>.log into buf. ERR_INVALID when
 * it does not fit. */
int agent__log_path(const char *dir, const char *ns, const char *pod, const char *uid,
                    const char *ctr, int restart, char *buf, size_t cap, struct err *e);

/* When path is larger than max_bytes: copies it to path.1 (replacing an
 * older one) and truncates it; writers with O_APPEND carry on at the new
 * end. *rotated says whether it did. Blocking. Returns 0 or ERR_IO. */
int agent__log_rotate(const char *path, uint64_t max_bytes, bool *rotated, struct err *e);

/* Unmounts (lazily) every mount point at or below dir, deepest first, as
 * /proc/self/mountinfo lists them. Returns 0 or ERR_IO (the first failure). */
int agent__umount_below(const char *dir, struct err *e);

/* ---- probes (pods_probe.c) ---- */

/* Runs one probe (a v1 Probe object) against a container once. netns: the
 * sandbox's netns path (httpGet/tcpSocket connect to 127.0.0.1 inside it,
 * or to httpGet.host when set), NULL for the host's. r/id: runc, for exec.
 * *ok is the result; a timeout (timeoutSeconds, default 1) is a failure.
 * Blocking. Returns 0, or ERR_INVALID for a probe with no handler. */
int agent__probe_run(const json_t *probe, const struct agent__runc *r, const char *id,
                     const char *netns, bool *ok, char *msg, size_t msg_cap, struct err *e);

/* ---- blocking jobs of the driver (pods_work.c), thread pool only ---- */

/* What every job reads; set up by agent__pods_new, read-only afterwards. */
struct agent__pods_rt {
    char dir[PATH_MAX - 128];
    char sbroot[PATH_MAX]; /* DIR/sandboxes */
    bool net;                      /* pod network on: CNI ADD at setup, DEL at teardown */
    struct agent__cni cni;         /* plugin path and result cache (DIR/cni/cache) */
    char cni_conf_dir[PATH_MAX];   /* where the conflist is */
    struct agent__runc runc;
    struct agent__cg cg;
    struct agent_image_store *images;
    struct agent_image_pull_opts pull;
};

/* Where a launch failed: the waiting reason follows from it. */
enum { AGENT_LAUNCH_IMAGE = 1, AGENT_LAUNCH_CONFIG, AGENT_LAUNCH_RUN };

/* Starts one container: image per pullPolicy, overlay rootfs, config.json,
 * runc create + start with its log, state.json. */
struct agent__launch {
    const struct agent__pods_rt *rt;
    json_t *pod;             /* owned */
    const json_t *container; /* inside pod */
    char field[64];          /* "spec.containers[0]" */
    char uid[64], ctr[64], id[160], ns[64], name[256];
    char policy[16]; /* Always, IfNotPresent, Never */
    struct agent__envset env;
    struct agent__mount *mounts; /* strings owned (mount_strs) */
    size_t n_mounts;
    char **mount_strs;
    struct agent__sandbox sb;
    int restart;  /* this instance's restartCount: names the log file */
    json_t *last; /* lastState.terminated for state.json, owned, may be NULL */
    struct agent_pull_cred cred; /* from spec.imagePullSecrets (wiped after the pull) */
    bool has_cred;
    /* out */
    int failed_at; /* 0 or AGENT_LAUNCH_* */
    struct err err;
    pid_t pid;
    char started_at[32];
    char image_id[AGENT_IMAGE_REF_SIZE + AGENT_IMAGE_DIGEST_SIZE];
};
void agent__launch_run(struct agent__launch *l);
void agent__launch_free(struct agent__launch *l); /* frees l too */

/* After a container's init exited (or to collect one found stopped):
 * reaps it, reads its cgroup's OOM count, runc delete, unmounts its rootfs,
 * writes state.json. */
struct agent__finish {
    const struct agent__pods_rt *rt;
    char uid[64], ctr[64], id[160];
    pid_t pid;
    char started_at[32];
    int restarts;
    json_t *last; /* owned, may be NULL */
    char image_id[AGENT_IMAGE_REF_SIZE + AGENT_IMAGE_DIGEST_SIZE];
    struct agent__term term; /* out */
};
void agent__finish_run(struct agent__finish *f);

enum {
    AGENT_VOL_EMPTY = 1,
    AGENT_VOL_MEMORY,
    AGENT_VOL_HOST,
    AGENT_VOL_SECRET,
    AGENT_VOL_CONFIGMAP
};
struct agent__vol {
    char name[256];
    int type;
    json_t *src; /* the volume's source object, owned */
    json_t *obj; /* Secret / ConfigMap, owned, NULL if absent (optional) */
};

/* Sets a pod up, or finds it set up already (adoption): sandbox, etc
 * files, volumes; for adoption the runc state and state.json of each id. */
struct agent__setup {
    const struct agent__pods_rt *rt;
    char uid[64], hostname[64], ns[64], name[256];
    bool host_network;
    char dns_ip[16];     /* cluster DNS for resolv.conf; "": the node's resolv.conf */
    bool attach;         /* CNI ADD the sandbox (rt->net and not hostNetwork) */
    json_t *port_mappings; /* the containers' hostPorts for the portmap plugin, owned, or NULL */
    struct agent__vol *vols;
    size_t n_vols;
    char (*ids)[160];
    size_t n_ids;
    /* out */
    int rv;
    struct err err;
    bool adopted;
    struct agent__sandbox sb;
    char pod_ip[16]; /* the CNI result's (kept in pods/<uid>/ip for adoption), or "" */
    struct agent__runc_state *states; /* n_ids; status 0 when runc has none */
    json_t **files;                   /* n_ids; state.json or NULL */
};
void agent__setup_run(struct agent__setup *s);
void agent__setup_free(struct agent__setup *s); /* frees s too */

/* Removes everything of pod uid: runc containers (SIGKILL), mounts under
 * its dir, its cgroups, sandbox, dirs and logs. Idempotent. */
int agent__teardown_run(const struct agent__pods_rt *rt, const char *uid, struct err *e);

/* Pod uids this node has anything of (runc containers "<uid>_*",
 * sandboxes, pod cgroups, pod dirs): a new object uid -> true. */
int agent__scan_run(const struct agent__pods_rt *rt, json_t **uids, struct err *e);

#endif
