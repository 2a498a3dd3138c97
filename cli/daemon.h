/* cli/daemon.h: the daemon subcommands (cli/daemon.c). Private to cli/. */
#ifndef SKIFF_CLI_DAEMON_H
#define SKIFF_CLI_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "lib/err.h"

int cli_init(int argc, char **argv);
int cli_join(int argc, char **argv);
int cli_run(int argc, char **argv);

/* "90s", "30m", "24h", "7d" or plain seconds; -1 if malformed. */
int cli_parse_duration(const char *v, long *seconds);

/* Writes a kubeconfig (mode 0600) for server "IP:PORT" with the CA and a
 * bearer token (cli/client.c). */
int cli_kubeconfig_write(const char *path, const char *server, const char *ca_pem,
                         const char *token, const char *cert_pem, const char *key_pem,
                         struct err *e);

#define DEFAULT_DATA_DIR  "/var/lib/skiff"
#define DEFAULT_API_PORT  6443
#define DEFAULT_PEER_PORT 6444
#define CAPACITY_MAX      256 /* --capacity, canonical "cpu=2,memory=4Gi,pods=20" */

struct node_conf {
    char name[64];
    uint64_t id;
    char api_listen[64];
    char peer_listen[64];
    char advertise[64];
    unsigned election_ms, heartbeat_ms, snapshot_threshold, voters, dead_voter_ms, store_mb;
    unsigned node_grace_ms, pod_eviction_ms;
    unsigned metrics_period_ms; /* 0 = AGENT_METRICS_PERIOD_MS */
    /* HPA controller (tests shorten them; 0 = sched.h defaults) and its
     * test-only metrics file (a PodMetricsList served instead of the API) */
    unsigned hpa_sync_ms, hpa_downscale_window_ms;
    char fake_metrics[1024];
    bool fake_runtime;
    bool no_controllers;
    bool no_runtime;
    bool no_pod_network; /* pods get a sandbox with loopback only (no CNI, routes, rules, DNS) */
    char capacity[CAPACITY_MAX]; /* "" = the machine's; else what the agent reports */
};

struct opts {
    const char *data_dir, *listen, *peer_listen, *advertise, *name, *server, *token;
    unsigned election_ms, heartbeat_ms, snapshot_threshold, voters, dead_voter_ms, store_mb;
    unsigned node_grace_ms, pod_eviction_ms;
    unsigned metrics_period_ms;
    unsigned hpa_sync_ms, hpa_downscale_window_ms;
    const char *fake_metrics;
    bool fake_runtime;
    bool no_controllers;
    bool no_runtime;
    const char *capacity; /* --capacity, validated by cli__capacity_check */
    bool no_pod_network;
    const char *cluster_cidr, *service_cidr; /* init: api/netconf.h settings */
    unsigned node_mask;
    long token_ttl_s;
};

/* cli/nodeconf.c */
void cli__daemon_usage(FILE *f, const char *cmd);
/* 0, 1 (--help printed: exit 0) or 2 (bad usage, printed) */
int cli__opts_parse(const char *cmd, int argc, char **argv, struct opts *o);
void cli__path_join(char *out, size_t n, const char *dir, const char *file);
int cli__conf_save(const char *dir, const struct node_conf *nc, struct err *e);
int cli__conf_load(const char *dir, struct node_conf *nc, struct err *e);
int cli__conf_from_opts(const struct opts *o, struct node_conf *nc, struct err *e);
int cli__port_of(const char *addr);
void cli__addr_fmt(char *out, size_t n, const char *ip, const char *listen);
int cli__file_write(const char *path, const char *data, mode_t mode, struct err *e);
int cli__dirs_make(const char *dir, struct err *e);
void cli__node_files_remove(const char *dir);
void cli__token_random(char *out, size_t n);
uint64_t cli__id_random(void);
/* Validates a --capacity value ("cpu=2,memory=4Gi,pods=20": keys cpu,
 * memory, pods, ephemeral-storage, each at most once, positive quantities,
 * pods an integer) and writes it canonically (as given, no blanks) into
 * out. ERR_INVALID naming the bad part. */
int cli__capacity_check(const char *v, char *out, size_t size, struct err *e);

#endif
