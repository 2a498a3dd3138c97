/* cli: the skiff command. Daemon subcommands (init, join, run) and client
 * subcommands (get, cluster, token). Talks to api/ over HTTPS like any client. */
#ifndef SKIFF_CLI_CLI_H
#define SKIFF_CLI_CLI_H

int cli_main(int argc, char **argv);

#endif
