/* skiff logs POD [-c CONTAINER] [--tail N] [-p] [-f] [-n NS]: a container's
 * output through the API (GET .../pods/NAME/log), which reads it on the
 * pod's node from any node; -f streams it until the pod is deleted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/internal.h"

static void logs_usage(FILE *f)
{
    fprintf(f, "usage: skiff logs POD [-c CONTAINER] [--tail N] [-p] [-f] [-n NS]\n"
               "\n"
               "Prints a container's output (its current run, or the previous one with -p).\n"
               "\n"
               "options:\n"
               "  -c, --container NAME      the container (needed when the pod has several)\n"
               "      --tail N              only the last N lines\n"
               "  -p, --previous            the run before the last restart\n"
               "  -f, --follow              go on printing what it writes (across restarts)\n"
               "                            until the pod is deleted or Ctrl-C\n"
               "  -n, --namespace NS        the pod's namespace\n"
               "      --kubeconfig FILE     as for every client command\n"
               "  -s, --server IP:PORT      talk to this node\n");
}

/* takes out what cli__parse does not know; the rest goes to it */
static int split(int argc, char **argv, char **rest, int *n_rest, const char **ctr,
                 const char **tail, int *previous, int *follow)
{
    int i;
    *n_rest = 0;
    for (i = 0; i < argc; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "-c") == 0 || strcmp(a, "--container") == 0) && i + 1 < argc) {
            *ctr = argv[++i];
        } else if (strncmp(a, "--container=", 12) == 0) {
            *ctr = a + 12;
        } else if (strcmp(a, "--tail") == 0 && i + 1 < argc) {
            *tail = argv[++i];
        } else if (strncmp(a, "--tail=", 7) == 0) {
            *tail = a + 7;
        } else if (strcmp(a, "-p") == 0 || strcmp(a, "--previous") == 0) {
            *previous = 1;
        } else if (strcmp(a, "-f") == 0 || strcmp(a, "--follow") == 0) {
            *follow = 1;
        } else {
            rest[(*n_rest)++] = argv[i];
        }
    }
    return 0;
}

static int print_line(void *data, const char *line, size_t len)
{
    (void)data;
    fwrite(line, 1, len, stdout);
    fputc('\n', stdout);
    fflush(stdout); /* a follower reads it as it comes */
    return 0;
}

/* -f: the log as a stream, printed line by line (closes c). */
static int follow_logs(struct cli_client *c, char *path)
{
    size_t n = strlen(path);
    struct cli_resp r;
    struct err e;
    bool stopped;
    int rv;
    snprintf(path + n, 1024 - n, "&follow=true");
    rv = cli__stream(c, path, 0, print_line, NULL, &r, &stopped, &e);
    cli__client_close(c);
    if (rv != 0)
        return cli__fail("%s", e.msg);
    if (r.status != 200) {
        cli__print_server_error(&r, NULL);
        cli__resp_free(&r);
        return 1;
    }
    cli__resp_free(&r);
    return 0;
}

int cli_logs(int argc, char **argv)
{
    char **rest = calloc((size_t)argc + 1, sizeof *rest), *pos[2], path[1024];
    const char *ctr = NULL, *tail = NULL;
    int n_rest, previous = 0, follow = 0, rv;
    size_t n_pos;
    struct cli_opts o;
    struct cli_client c;
    struct cli_resp r;
    struct err e;

    if (rest == NULL)
        return cli__fail("out of memory");
    split(argc, argv, rest, &n_rest, &ctr, &tail, &previous, &follow);
    rv = cli__parse(n_rest, rest, &o, pos, &n_pos, 2, logs_usage);
    if (rv != 0) {
        free(rest);
        return rv < 0 ? 0 : rv;
    }
    if (n_pos != 1) {
        free(rest);
        logs_usage(stderr);
        return 2;
    }
    if (tail != NULL && strspn(tail, "0123456789") != strlen(tail)) {
        free(rest);
        return cli__fail("--tail: %s is not a number of lines", tail);
    }
    if (cli__client_open(&c, &o, &e) != 0) {
        cli__client_close(&c);
        free(rest);
        return cli__fail("%s", e.msg);
    }
    snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods/%s/log?x=1%s%s%s%s%s", cli__ns(&c, &o),
             strncmp(pos[0], "pod/", 4) == 0 ? pos[0] + 4 : pos[0], ctr ? "&container=" : "",
             ctr ? ctr : "", tail ? "&tailLines=" : "", tail ? tail : "",
             previous ? "&previous=true" : "");
    free(rest);
    if (follow && !previous)
        return follow_logs(&c, path);
    rv = cli__request(&c, "GET", path, NULL, "text/plain", NULL, &r, &e);
    cli__client_close(&c);
    if (rv != 0)
        return cli__fail("%s", e.msg);
    if (r.status != 200) {
        cli__print_server_error(&r, NULL);
        cli__resp_free(&r);
        return 1;
    }
    fwrite(r.body, 1, r.len, stdout);
    cli__resp_free(&r);
    return 0;
}
