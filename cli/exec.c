/* skiff exec POD [-c CONTAINER] [-n NS] [--timeout DUR] -- CMD ARGS...: runs
 * a command in a running container through the API (POST
 * .../pods/NAME/exec, answered by the pod's node, from any node), prints
 * what it wrote to stdout and stderr and exits with its exit code. Not
 * interactive: no stdin, no tty. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/internal.h"

#define EXEC_PATH_MAX 8192

static void exec_usage(FILE *f)
{
    fprintf(f, "usage: skiff exec POD [-c CONTAINER] [-n NS] [--timeout DUR] -- CMD [ARGS...]\n"
               "\n"
               "Runs CMD in a running container of POD (no stdin, no tty), prints its\n"
               "stdout and stderr and exits with its exit code (126/127 when it cannot be\n"
               "started). Errors of skiff itself exit 1.\n"
               "\n"
               "options:\n"
               "  -c, --container NAME      the container (needed when the pod has several)\n"
               "      --timeout DUR         kill the command after DUR (default 60s, at most 10m)\n"
               "  -n, --namespace NS        the pod's namespace\n"
               "      --kubeconfig FILE     as for every client command\n"
               "  -s, --server IP:PORT      talk to this node\n");
}

/* The JSON string member key of o to f, NULs and all. */
static void put_stream(const json_t *o, const char *key, FILE *f)
{
    const json_t *s = json_object_get(o, key);
    if (json_is_string(s))
        fwrite(json_string_value(s), 1, json_string_length(s), f);
    fflush(f);
}

int cli_exec(int argc, char **argv)
{
    char **rest = calloc((size_t)argc + 1, sizeof *rest), *pos[2], *path = NULL;
    const char *ctr = NULL, *pod;
    int n_rest = 0, dash = -1, rv, i, code = 1;
    long timeout_s = 60;
    size_t n_pos;
    struct cli_opts o;
    struct cli_client c;
    struct cli_resp r;
    struct err e;
    json_t *res;

    if (rest == NULL)
        return cli__fail("out of memory");
    /* what follows "--" is the command, untouched by option parsing */
    for (i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (i > 0 && strcmp(a, "--") == 0) {
            dash = i;
            break;
        }
        if ((strcmp(a, "-c") == 0 || strcmp(a, "--container") == 0) && i + 1 < argc)
            ctr = argv[++i];
        else if (strncmp(a, "--container=", 12) == 0)
            ctr = a + 12;
        else
            rest[n_rest++] = argv[i];
    }
    rv = cli__parse(n_rest, rest, &o, pos, &n_pos, 2, exec_usage);
    free(rest);
    if (rv != 0)
        return rv < 0 ? 0 : rv;
    if (n_pos != 1 || dash < 0 || dash + 1 >= argc) {
        if (n_pos == 1 && (dash < 0 || dash + 1 >= argc))
            fprintf(stderr, "error: you must specify at least one command for the container "
                            "(after --)\n");
        exec_usage(stderr);
        return 2;
    }
    if (o.timeout != NULL &&
        (cli_parse_duration(o.timeout, &timeout_s) != 0 || timeout_s <= 0 || timeout_s > 600))
        return cli__fail("--timeout: want a duration from 1s to 10m, got \"%s\"", o.timeout);
    pod = strncmp(pos[0], "pod/", 4) == 0 ? pos[0] + 4 : pos[0];
    if (cli__client_open(&c, &o, &e) != 0) {
        cli__client_close(&c);
        return cli__fail("%s", e.msg);
    }
    /* the request lasts as long as the command may, plus the answer */
    if (c.request_timeout_ms == 0)
        c.request_timeout_ms = (timeout_s + 15) * 1000;
    path = malloc(EXEC_PATH_MAX);
    if (path == NULL) {
        cli__client_close(&c);
        return cli__fail("out of memory");
    }
    {
        char ts[32];
        int n = snprintf(path, EXEC_PATH_MAX, "/api/v1/namespaces/%s/pods/%s/exec", cli__ns(&c, &o),
                         pod);
        rv = n > 0 && n < EXEC_PATH_MAX ? 0 : err_setf(&e, ERR_INVALID, "pod name too long");
        if (rv == 0 && ctr != NULL)
            rv = cli__path_add_query(path, EXEC_PATH_MAX, "container", ctr, &e);
        for (i = dash + 1; rv == 0 && i < argc; i++)
            rv = cli__path_add_query(path, EXEC_PATH_MAX, "command", argv[i], &e);
        snprintf(ts, sizeof ts, "%ld", timeout_s);
        if (rv == 0)
            rv = cli__path_add_query(path, EXEC_PATH_MAX, "stdout", "true", &e);
        if (rv == 0)
            rv = cli__path_add_query(path, EXEC_PATH_MAX, "stderr", "true", &e);
        if (rv == 0)
            rv = cli__path_add_query(path, EXEC_PATH_MAX, "timeoutSeconds", ts, &e);
    }
    if (rv == 0)
        rv = cli__request(&c, "POST", path, NULL, "application/json", "", &r, &e);
    free(path);
    cli__client_close(&c);
    if (rv != 0)
        return cli__fail("%s", e.msg);
    if (r.status != 200) {
        cli__print_server_error(&r, NULL);
        cli__resp_free(&r);
        return 1;
    }
    res = cli__resp_json(&r);
    cli__resp_free(&r);
    if (!json_is_integer(json_object_get(res, "exitCode"))) {
        json_decref(res);
        return cli__fail("exec: the server's answer has no exitCode");
    }
    put_stream(res, "stdout", stdout);
    put_stream(res, "stderr", stderr);
    if (json_is_true(json_object_get(res, "timedOut")))
        fprintf(stderr, "error: command timed out after %lds and was killed\n", timeout_s);
    else
        code = (int)json_integer_value(json_object_get(res, "exitCode"));
    json_decref(res);
    return code;
}
