/* cli/internal.h: shared by the cli/ sources only. Client subcommands
 * (cli/client.c) and kubeconfig reading/writing (cli/kubeconfig.c). */
#ifndef SKIFF_CLI_INTERNAL_H
#define SKIFF_CLI_INTERNAL_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "lib/err.h"

#define CLI_DEFAULT_KUBECONFIG "/var/lib/skiff/admin.kubeconfig"

/* ---- client subcommands: each returns the process exit code ----
 * argv[0] is the subcommand itself ("get", "cluster", ...). */
int cli_get(int argc, char **argv);     /* skiff get nodes|configmaps [NAME] ... */
int cli_cluster(int argc, char **argv); /* skiff cluster status [-o json] */
int cli_create(int argc, char **argv);  /* skiff create configmap NAME --from-literal k=v */
int cli_delete(int argc, char **argv);  /* skiff delete configmap NAME */
int cli_token(int argc, char **argv);   /* skiff token create|list|revoke */
/* "90s", "30m", "24h", "7d" or plain seconds (cli/daemon.c); -1 if malformed. */
int cli_parse_duration(const char *v, long *seconds);

/* ---- kubeconfig (kubectl's format) ---- */

struct cli_kubeconfig {
    char *server; /* "https://IP:PORT" */
    char *ca_pem; /* decoded certificate-authority-data, or the certificate-authority file */
    size_t ca_len;
    char *token;   /* users[].user.token; NULL when absent */
    char *context; /* the context used */
};

/* Parses a kubeconfig (YAML text, borrowed) and resolves current-context
 * (or the first context when none is set) to its cluster and user.
 * ERR_INVALID naming the missing or bad field ("clusters[local].server:
 * required"). On success close with cli_kubeconfig_close. */
int cli_kubeconfig_parse(const char *yaml, size_t len, struct cli_kubeconfig *out, struct err *e);
/* Reads path and parses it; ERR_IO naming the path. */
int cli_kubeconfig_load(const char *path, struct cli_kubeconfig *out, struct err *e);
void cli_kubeconfig_close(struct cli_kubeconfig *k);

/* Writes an admin kubeconfig (cluster "skiff", user "admin", context
 * "skiff-admin") for server ("IP:PORT" or "https://IP:PORT"), the CA
 * certificate PEM and the bearer token. Mode 0600, written to a temporary
 * file then renamed over path, so a reader never sees half a file.
 * ERR_IO naming path. */
int cli_kubeconfig_write(const char *path, const char *server, const char *ca_pem,
                         const char *token, struct err *e);

/* Prints j as YAML (kubectl -o yaml) to f. */
int cli_yaml_print(FILE *f, const json_t *j, struct err *e);

#endif
