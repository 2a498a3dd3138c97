/* jepsen/check: judges a history file.
 *   check HISTORY register|set [--max-states N] [--window N]
 *   check HISTORY orch --state STATE [--max-states N] [--window N]
 * Prints the op counts and the verdict. orch: the history's Deployment
 * replicas as registers (linearizability) and the state file's converged
 * cluster (jepsen_orch_check); invalid when either is. Exit: 0 valid, 1 anomaly found,
 * 2 usage or unreadable history, 3 unknown (search budget exhausted, or a
 * set history without a successful read). */
#include "jepsen/checker.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
    fprintf(stderr, "usage: check HISTORY register|set|orch [--state STATE] [--max-states N] "
                    "[--window N]\n");
    exit(2);
}

static size_t parse_size(const char *s)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*s == '\0' || *end != '\0')
        usage();
    return (size_t)v;
}

static int verdict_exit(enum jepsen_verdict v)
{
    return v == JEPSEN_VALID ? 0 : v == JEPSEN_INVALID ? 1 : 3;
}

int main(int argc, char **argv)
{
    struct jepsen_linear_opts lo = {0};
    struct jepsen_history h = {0};
    struct jepsen_op *ops = NULL;
    struct jepsen_counts c;
    struct err e = {0};
    const char *state_path = NULL;
    json_t *state = NULL;
    json_error_t je;
    size_t n;
    int rc = 2;

    if (argc < 3)
        usage();
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--max-states") == 0 && i + 1 < argc)
            lo.max_states = parse_size(argv[++i]);
        else if (strcmp(argv[i], "--window") == 0 && i + 1 < argc)
            lo.window_max = parse_size(argv[++i]);
        else if (strcmp(argv[i], "--state") == 0 && i + 1 < argc)
            state_path = argv[++i];
        else
            usage();
    }
    bool orch = strcmp(argv[2], "orch") == 0;
    if ((strcmp(argv[2], "register") != 0 && strcmp(argv[2], "set") != 0 && !orch) ||
        orch != (state_path != NULL))
        usage();
    if (orch && (state = json_load_file(state_path, 0, &je)) == NULL) {
        err_setf(&e, ERR_IO, "%s: %s", state_path, je.text);
        goto fail;
    }
    if (jepsen_history_load(argv[1], &h, &e) != 0 || jepsen_history_ops(&h, &ops, &n, &e) != 0)
        goto fail;
    jepsen_ops_count(ops, n, &c);
    free(ops);
    printf("ops=%zu ok=%zu fail=%zu info=%zu\n", c.ops, c.ok, c.fail, c.info);
    if (strcmp(argv[2], "register") == 0 || orch) {
        struct jepsen_linear_result r;
        if (jepsen_linear_check(&h, &lo, &r, &e) != 0)
            goto fail;
        jepsen_linear_result_print(&h, &r, stdout);
        rc = verdict_exit(r.verdict);
        jepsen_linear_result_close(&r);
    }
    if (orch) {
        struct jepsen_orch_result r;
        if (jepsen_orch_check(&h, state, &r, &e) != 0)
            goto fail;
        jepsen_orch_result_print(&r, stdout);
        if (r.verdict == JEPSEN_INVALID || rc == 0)
            rc = verdict_exit(r.verdict);
        jepsen_orch_result_close(&r);
    } else if (strcmp(argv[2], "set") == 0) {
        struct jepsen_set_result r;
        if (jepsen_set_check(&h, &r, &e) != 0)
            goto fail;
        jepsen_set_result_print(&r, stdout);
        rc = verdict_exit(r.verdict);
        jepsen_set_result_close(&r);
    }
    jepsen_history_close(&h);
    json_decref(state);
    return rc;
fail:
    fprintf(stderr, "check: %s\n", e.msg);
    jepsen_history_close(&h);
    json_decref(state);
    return 2;
}
