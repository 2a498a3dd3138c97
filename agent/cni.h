/* agent/cni: the pod network through the CNI exec protocol (spec 1.0.0, and
 * the 0.3.x/0.4.0 results older plugins print), as the Debian
 * containernetworking-plugins (bridge, host-local, loopback, ...) speak it.
 * Owns the conflist (reading one from a config dir, writing skiff's
 * default), running the plugins of a list for ADD/CHECK/DEL with the CNI_*
 * environment and the config on stdin, prevResult chaining, the result
 * cache that DEL and CHECK need, and the plugins' error JSON. Knows nothing
 * of Pods or the API: the caller passes a container id and a netns path.
 *
 * Also the one small "run a helper binary" primitive the node's network
 * pieces share (agent/svcrules runs nft, agent/netroutes runs ip):
 * agent__netexec.
 *
 * Threads: every call is plain blocking C with no global state, for the
 * libuv thread pool. Children start with posix_spawn and every exec has a
 * deadline (killed with SIGKILL when it passes). Two calls may run at once
 * for different container ids; the plugins' own locks (host-local's lock
 * file) protect shared state. */
#ifndef SKIFF_AGENT_CNI_H
#define SKIFF_AGENT_CNI_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "lib/err.h"

#define AGENT_CNI_PLUGIN_DIR  "/usr/lib/cni" /* Debian's path, not /opt/cni/bin */
#define AGENT_CNI_VERSION     "1.0.0"
#define AGENT_CNI_BRIDGE      "skiff0"
#define AGENT_CNI_NETWORK     "skiff"
#define AGENT_CNI_CONF_FILE   "10-skiff.conflist"
#define AGENT_CNI_TIMEOUT_MS  20000
#define AGENT_CNI_IPS_MAX     8
#define AGENT_CNI_ROUTES_MAX  16
#define AGENT_CNI_IFACES_MAX  8
#define AGENT_NETEXEC_OUT_MAX (1 << 20) /* bytes of stdout/stderr kept */

/* ------------------------------------------------------------------ */
/* Running a helper binary                                             */

struct agent__netexec {
    const char *const *argv; /* argv[0]: absolute path or a name looked up in PATH */
    const char *const *env;  /* NULL-terminated "K=V" list; NULL: inherit environ */
    const char *in;          /* written to stdin, then closed; NULL: /dev/null */
    size_t in_len;
    int timeout_ms; /* <= 0: 10 s */
};

/* Output of agent__netexec: owned, free with agent__netexec_out_close. */
struct agent__netexec_out {
    char *out, *err; /* NUL-terminated (never NULL after success) */
    size_t out_len, err_len;
    int exit_code; /* 0..255, or 128 + signal */
};

/* Runs x->argv to its exit or deadline, feeding x->in and capturing stdout
 * and stderr (at most AGENT_NETEXEC_OUT_MAX each; the rest is read and
 * dropped). Returns 0 when the program ran and exited (any exit code: see
 * out->exit_code), ERR_TIMEOUT (killed at the deadline; out still filled),
 * ERR_NOTFOUND (no such program), ERR_IO or ERR_NOMEM. On error out holds
 * nothing to free unless the code is ERR_TIMEOUT (always safe to close). */
int agent__netexec_run(const struct agent__netexec *x, struct agent__netexec_out *out,
                       struct err *e);
void agent__netexec_out_close(struct agent__netexec_out *out);

/* ------------------------------------------------------------------ */
/* Conflists                                                           */

/* A parsed network configuration list. Owned; free with
 * agent__cni_conflist_free. */
struct agent__cni_conflist {
    char name[128];       /* the network name */
    char cni_version[16]; /* "1.0.0", "0.4.0", ... */
    char path[PATH_MAX];  /* file it came from, "" when parsed from text */
    json_t *plugins;      /* the "plugins" array (owned reference) */
    bool disable_check;   /* "disableCheck": true */
};

/* Parses a .conflist (a JSON object with name, cniVersion and a non-empty
 * plugins array of objects each with a "type" that is a plain file name) or,
 * as libcni does, a single-plugin .conf (wrapped into a one-element list).
 * where names the source in errors. Returns 0 (*out owned), ERR_INVALID
 * naming the field ("plugins[1].type: required string") or ERR_NOMEM. */
int agent__cni_conflist_parse(const char *text, size_t len, const char *where,
                              struct agent__cni_conflist **out, struct err *e);

/* Loads the first file of dir (by name, as libcni) ending in .conflist,
 * .conf or .json. Returns 0, ERR_NOTFOUND (none), ERR_IO or a parse error
 * (wrapped with the path). */
int agent__cni_conflist_load(const char *dir, struct agent__cni_conflist **out, struct err *e);

void agent__cni_conflist_free(struct agent__cni_conflist *l);

/* skiff's default list as JSON text (owned, free()): bridge `bridge` (NULL:
 * AGENT_CNI_BRIDGE; a node picks its own name so that several nodes can share
 * one network namespace in tests) with isGateway, hairpinMode (no ipMasq:
 * the node's nft table masquerades only what leaves the cluster CIDR) and
 * host-local IPAM over pod_cidr (an IPv4 CIDR; routes 0.0.0.0/0, dataDir
 * data_dir), then portmap (hostPort, capability portMappings), then loopback.
 * Returns 0, ERR_INVALID (pod_cidr, data_dir) or ERR_NOMEM. */
int agent__cni_default_conflist(const char *pod_cidr, const char *bridge, const char *data_dir,
                                char **out, struct err *e);

/* Writes the default list to <conf_dir>/AGENT_CNI_CONF_FILE (conf_dir made
 * 0755 when missing, file replaced atomically, untouched when identical).
 * Returns 0, ERR_INVALID or ERR_IO. */
int agent__cni_write_default(const char *conf_dir, const char *pod_cidr, const char *bridge,
                             const char *data_dir, struct err *e);

/* ------------------------------------------------------------------ */
/* Results                                                             */

struct agent__cni_ip {
    char address[64]; /* CIDR form: "10.244.0.5/24" */
    char gateway[48]; /* "" when none */
    int version;      /* 4 or 6 */
    int interface;    /* index into interfaces, -1 when absent */
};

struct agent__cni_route {
    char dst[64]; /* "0.0.0.0/0" */
    char gw[48];  /* "" when none */
};

struct agent__cni_iface {
    char name[32];
    char mac[32];
    char sandbox[PATH_MAX]; /* "" for host-side interfaces */
};

/* A parsed ADD result. raw is the plugin's JSON (owned), kept to pass on as
 * prevResult and to cache. Close with agent__cni_result_close. */
struct agent__cni_result {
    char cni_version[16];
    struct agent__cni_iface ifaces[AGENT_CNI_IFACES_MAX];
    size_t n_ifaces;
    struct agent__cni_ip ips[AGENT_CNI_IPS_MAX];
    size_t n_ips;
    struct agent__cni_route routes[AGENT_CNI_ROUTES_MAX];
    size_t n_routes;
    json_t *raw;
};

/* Parses a plugin's stdout on success: a 1.0.0 / 0.4.0 / 0.3.x result
 * (interfaces, ips, routes) or a 0.1.0 / 0.2.0 one (ip4/ip6 with routes).
 * Addresses are checked (inet_pton). Extra entries past the _MAX counts are
 * ignored. Returns 0 (res owns raw), ERR_INVALID naming the field, or
 * ERR_NOMEM; on error res holds nothing. */
int agent__cni_result_parse(const char *text, size_t len, struct agent__cni_result *res,
                            struct err *e);

/* The first IPv4 address of res without its prefix ("10.244.0.5") into buf,
 * or "" when there is none. Returns buf. */
const char *agent__cni_result_ipv4(const struct agent__cni_result *res, char *buf, size_t cap);

void agent__cni_result_close(struct agent__cni_result *res);

/* Turns a failed plugin run into an error: the plugin's error JSON on stdout
 * ({"code": N, "msg": "...", "details": "..."}) gives "<plugin>: <msg>: <details>
 * (code N)", else the first line of stderr, else the exit code. Returns
 * ERR_IO (or ERR_NOTFOUND for CNI code 3, "unknown container", on DEL
 * callers treat as done). */
int agent__cni_error_from(const char *plugin, const char *out, const char *err_text, int exit_code,
                          struct err *e);

/* ------------------------------------------------------------------ */
/* The driver                                                          */

/* How to run plugins. Caller owns it; plain data. */
struct agent__cni {
    char plugin_path[PATH_MAX]; /* ':'-separated dirs, CNI_PATH; default AGENT_CNI_PLUGIN_DIR */
    char cache_dir[PATH_MAX];   /* ADD results kept for DEL/CHECK; "" disables the cache */
    int timeout_ms;             /* per plugin exec; <= 0: AGENT_CNI_TIMEOUT_MS */
};

/* Fills c. plugin_path NULL → AGENT_CNI_PLUGIN_DIR; cache_dir NULL → none.
 * Returns 0 or ERR_INVALID (too long). */
int agent__cni_init(struct agent__cni *c, const char *plugin_path, const char *cache_dir,
                    int timeout_ms, struct err *e);

/* One attachment: what CNI_CONTAINERID / CNI_NETNS / CNI_IFNAME / CNI_ARGS
 * carry. Borrowed strings. */
struct agent__cni_attach {
    const char *container_id; /* [A-Za-z0-9][A-Za-z0-9_.-]*, as the spec asks */
    const char *netns;        /* "/var/run/netns/x" or "/proc/<pid>/ns/net"; may be
                                 NULL or "" for DEL when the netns is gone */
    const char *ifname;       /* NULL → "eth0" */
    const char *args;         /* CNI_ARGS "K=V;K=V" (K8S_POD_NAMESPACE=..;...) or NULL;
                                 "IgnoreUnknown=1;" is put in front unless present */
    const json_t *port_mappings; /* [{hostPort, containerPort, protocol, hostIP}] or NULL:
                                    runtimeConfig.portMappings of plugins declaring the
                                    portMappings capability (the portmap plugin) */
};

/* ADD: runs every plugin of l in order, each getting the previous one's
 * result as prevResult; the last result is the answer (*res, close it). On
 * a failure the plugins that already ran are DELeted again (reverse order)
 * so nothing leaks, and the plugin's message is returned (ERR_IO,
 * ERR_TIMEOUT, ERR_INVALID for a bad result). With a cache dir the result
 * is stored for DEL/CHECK. */
int agent__cni_add(const struct agent__cni *c, const struct agent__cni_conflist *l,
                   const struct agent__cni_attach *a, struct agent__cni_result *res, struct err *e);

/* DEL: runs every plugin in reverse order with the cached result (when
 * there is one) as prevResult, carrying on past failures so that every
 * plugin gets to release what it holds; then drops the cache entry when all
 * succeeded. Idempotent: DEL of an unknown container or a gone netns is 0.
 * Call it before the netns is destroyed (bridge's ipMasq teardown needs the
 * interface) and again after, if the first call failed. Returns 0 or the
 * first failure. */
int agent__cni_del(const struct agent__cni *c, const struct agent__cni_conflist *l,
                   const struct agent__cni_attach *a, struct err *e);

/* CHECK (cniVersion >= 0.4.0, not disableCheck): runs every plugin in
 * order with the cached ADD result. Returns 0, ERR_NOTFOUND (no cached
 * result), ERR_INVALID (version too old or checks disabled: nothing ran)
 * or the plugin's error. */
int agent__cni_check(const struct agent__cni *c, const struct agent__cni_conflist *l,
                     const struct agent__cni_attach *a, struct err *e);

#endif
