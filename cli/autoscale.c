/* skiff autoscale: creates an autoscaling/v2 HorizontalPodAutoscaler for a
 * Deployment or ReplicaSet, as kubectl autoscale does (named after the
 * target, CPU utilization target when --cpu-percent is given). */
#include "cli/internal.h"

#include "api/api.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void autoscale_usage(FILE *f)
{
    fprintf(f, "usage: skiff autoscale KIND/NAME --max N [--min N] [--cpu-percent P] [-n NS]\n"
               "       skiff autoscale KIND NAME --max N [--min N] [--cpu-percent P] [-n NS]\n"
               "\n"
               "Creates a HorizontalPodAutoscaler (autoscaling/v2) named NAME that keeps the\n"
               "target (deployments, replicasets) between --min and --max replicas, at P %% of\n"
               "the pods' CPU requests (without --cpu-percent: the default, 80 %%).\n"
               "\n"
               "options:\n"
               "      --min N               lower limit of replicas (default 1)\n"
               "      --max N               upper limit of replicas (required)\n"
               "      --cpu-percent P       target average CPU utilization in percent\n"
               "      --name NAME           the autoscaler's name (default: the target's)\n"
               "  -n, --namespace NS        namespace (default: the context's, or \"default\")\n"
               "      --dry-run=server      validate on the server, create nothing\n"
               "  -o, --output json|yaml    print the created object\n"
               "      --kubeconfig FILE     default $KUBECONFIG, ~/.kube/config, "
               "then " CLI_DEFAULT_KUBECONFIG "\n"
               "  -s, --server IP:PORT      talk to this node instead of the kubeconfig's\n");
}

/* --flag N or --flag=N; *i moves past a separate value */
static int take_num(int argc, char **argv, int *i, const char *flag, long long *out, bool *seen)
{
    size_t fl = strlen(flag);
    const char *v = NULL;
    char *end;
    if (strncmp(argv[*i], flag, fl) != 0)
        return 0;
    if (argv[*i][fl] == '=')
        v = argv[*i] + fl + 1;
    else if (argv[*i][fl] == '\0' && *i + 1 < argc)
        v = argv[++*i];
    else if (argv[*i][fl] == '\0')
        return cli__fail("flag needs an argument: %s", flag) ? -1 : -1; /* printed */
    else
        return 0;
    errno = 0;
    *out = strtoll(v, &end, 10);
    if (errno != 0 || *end != '\0' || end == v || *out < 0 || *out > INT32_MAX) {
        cli__fail("%s: want a number >= 0, got \"%s\"", flag, v);
        return -1;
    }
    *seen = true;
    return 1;
}

/* "KIND/NAME" or "KIND NAME" */
static int target_of(char **pos, size_t n_pos, const struct api_kind **k, const char **name)
{
    char word[128];
    const char *slash = n_pos > 0 ? strchr(pos[0], '/') : NULL;
    if (n_pos == 1 && slash != NULL && slash[1] != '\0' && (size_t)(slash - pos[0]) < sizeof word) {
        snprintf(word, sizeof word, "%.*s", (int)(slash - pos[0]), pos[0]);
        *name = slash + 1;
    } else if (n_pos == 2 && slash == NULL) {
        snprintf(word, sizeof word, "%s", pos[0]);
        *name = pos[1];
    } else {
        return cli__fail("want KIND/NAME or KIND NAME");
    }
    if ((*k = api_kind_lookup(word)) == NULL)
        return cli__fail("the server doesn't have a resource type \"%s\"", word);
    if (!((*k)->subresources & API_SUB_SCALE))
        return cli__fail("cannot autoscale a %s: it has no /scale subresource", (*k)->kind);
    return 0;
}

int cli_autoscale(int argc, char **argv)
{
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    char *pos[2], path[1024], apiv[64], ref[300];
    const char *hpa_name = NULL, *name = NULL;
    long long min = 1, max = 0, cpu = 0;
    bool has_min = false, has_max = false, has_cpu = false;
    const struct api_kind *k = NULL, *hk = api_kind_lookup("horizontalpodautoscalers.autoscaling");
    struct cli_opts o;
    struct cli_client c;
    size_t n_pos;
    int n_rest = 0, i, rv;
    json_t *hpa = NULL, *out = NULL;
    char *body = NULL;
    struct err e;

    if (rest == NULL)
        return cli__fail("out of memory");
    /* our own flags first; the common ones go to cli__parse */
    for (i = 0; i < argc; i++) {
        int t = 0;
        if (i > 0 && (t = take_num(argc, argv, &i, "--min", &min, &has_min)) == 0 &&
            (t = take_num(argc, argv, &i, "--max", &max, &has_max)) == 0)
            t = take_num(argc, argv, &i, "--cpu-percent", &cpu, &has_cpu);
        if (t < 0) {
            free(rest);
            return 1;
        }
        if (t > 0)
            continue;
        if (i > 0 && strcmp(argv[i], "--name") == 0 && i + 1 < argc) {
            hpa_name = argv[++i];
            continue;
        }
        if (i > 0 && strncmp(argv[i], "--name=", 7) == 0) {
            hpa_name = argv[i] + 7;
            continue;
        }
        rest[n_rest++] = argv[i];
    }
    rv = cli__parse(n_rest, rest, &o, pos, &n_pos, 2, autoscale_usage);
    if (rv != 0) {
        free(rest);
        return rv < 0 ? 0 : rv;
    }
    if (!has_max) {
        free(rest);
        fprintf(stderr, "error: --max=MAXPODS is required and must be at least 1, max: 0\n");
        autoscale_usage(stderr);
        return 2;
    }
    if (target_of(pos, n_pos, &k, &name) != 0) {
        free(rest);
        return 1;
    }
    if (max < 1 || (has_min && min > max)) {
        free(rest);
        return cli__fail("--max=MAXPODS is required and must be at least 1 and at least --min, "
                         "max: %lld",
                         max);
    }
    if (hpa_name == NULL)
        hpa_name = name;
    api_kind_api_version(k, apiv, sizeof apiv);
    hpa = json_pack("{s:s, s:s, s:{s:s}, s:{s:{s:s, s:s, s:s}, s:I, s:I}}", "apiVersion",
                    "autoscaling/v2", "kind", "HorizontalPodAutoscaler", "metadata", "name",
                    hpa_name, "spec", "scaleTargetRef", "apiVersion", apiv, "kind", k->kind, "name",
                    name, "minReplicas", (json_int_t)min, "maxReplicas", (json_int_t)max);
    if (hpa != NULL && has_cpu)
        json_object_set_new(json_object_get(hpa, "spec"), "metrics",
                            json_pack("[{s:s, s:{s:s, s:{s:s, s:I}}}]", "type", "Resource",
                                      "resource", "name", "cpu", "target", "type", "Utilization",
                                      "averageUtilization", (json_int_t)cpu));
    body = hpa ? json_dumps(hpa, JSON_COMPACT) : NULL;
    json_decref(hpa);
    free(rest);
    if (body == NULL || hk == NULL) {
        free(body);
        return cli__fail("out of memory");
    }
    if (cli__client_open(&c, &o, &e) != 0) {
        cli__client_close(&c);
        free(body);
        return cli__fail("%s", e.msg);
    }
    rv = api_kind_path(hk, cli__ns(&c, &o), NULL, path, sizeof path, &e);
    if (rv == 0 && o.dry_run != NULL)
        rv = cli__path_add_query(path, sizeof path, "dryRun", "All", &e);
    if (rv != 0)
        rv = cli__fail("%s", e.msg);
    else
        rv = cli__call(&c, "POST", path, NULL, NULL, body, &out);
    cli__client_close(&c);
    free(body);
    if (rv == 0) {
        if (o.output != NULL && (strcmp(o.output, "json") == 0 || strcmp(o.output, "yaml") == 0)) {
            rv = cli__print_structured(o.output, out);
        } else {
            cli__kind_name(hk, hpa_name, ref, sizeof ref);
            printf("%s autoscaled%s\n", ref, o.dry_run ? " (server dry run)" : "");
        }
    }
    json_decref(out);
    return rv;
}
