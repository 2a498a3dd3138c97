/* cli/daemon.h: the daemon subcommands (cli/daemon.c). Private to cli/. */
#ifndef SKIFF_CLI_DAEMON_H
#define SKIFF_CLI_DAEMON_H

#include "lib/err.h"

int cli_init(int argc, char **argv);
int cli_join(int argc, char **argv);
int cli_run(int argc, char **argv);

/* "90s", "30m", "24h", "7d" or plain seconds; -1 if malformed. */
int cli_parse_duration(const char *v, long *seconds);

/* Writes a kubeconfig (mode 0600) for server "IP:PORT" with the CA and a
 * bearer token (cli/client.c). */
int cli_kubeconfig_write(const char *path, const char *server, const char *ca_pem,
                         const char *token, struct err *e);

#endif
