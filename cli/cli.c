#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#include "cli/daemon.h"
#include "cli/internal.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: skiff <command> [options]\n"
               "\n"
               "commands:\n"
               "  init      create a cluster and run its first node\n"
               "  join      join a running cluster with a token and run the node\n"
               "  run       restart an existing node from its data dir\n"
               "  up        start a local cluster of N nodes in network namespaces (down, reset)\n"
               "  token     create, list or revoke join tokens\n"
               "  get       list or show objects of any kind (-o wide|yaml|json|name, -w)\n"
               "  describe  show one object in detail\n"
               "  apply     create or update objects from manifests (server-side apply)\n"
               "  create    create objects from manifests, or a configmap, secret, namespace\n"
               "  delete    delete objects by manifest, name, label selector or --all\n"
               "  scale     set the replicas of a deployment or replicaset\n"
               "  autoscale create a HorizontalPodAutoscaler for a deployment or replicaset\n"
               "  logs      print a container's output\n"
               "  exec      run a command in a running container\n"
               "  image     import, list or remove images in this node's store\n"
               "  rollout   status, history, undo, pause, resume or restart a deployment rollout\n"
               "  cluster   cluster status\n"
               "  version   print the version\n"
               "\n"
               "Run 'skiff <command> --help' for a command's options. Client commands take\n"
               "--kubeconfig FILE (default $KUBECONFIG, ~/.kube/config, then\n"
               "" CLI_DEFAULT_KUBECONFIG ") and -s/--server IP:PORT.\n");
}

int cli_main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "init") == 0)
        return cli_init(argc - 1, argv + 1);
    if (strcmp(argv[1], "join") == 0)
        return cli_join(argc - 1, argv + 1);
    if (strcmp(argv[1], "run") == 0)
        return cli_run(argc - 1, argv + 1);
    if (strcmp(argv[1], "get") == 0)
        return cli_get(argc - 1, argv + 1);
    if (strcmp(argv[1], "cluster") == 0)
        return cli_cluster(argc - 1, argv + 1);
    if (strcmp(argv[1], "create") == 0)
        return cli_create(argc - 1, argv + 1);
    if (strcmp(argv[1], "delete") == 0)
        return cli_delete(argc - 1, argv + 1);
    if (strcmp(argv[1], "apply") == 0)
        return cli_apply(argc - 1, argv + 1);
    if (strcmp(argv[1], "describe") == 0)
        return cli_describe(argc - 1, argv + 1);
    if (strcmp(argv[1], "scale") == 0)
        return cli_scale(argc - 1, argv + 1);
    if (strcmp(argv[1], "autoscale") == 0)
        return cli_autoscale(argc - 1, argv + 1);
    if (strcmp(argv[1], "logs") == 0)
        return cli_logs(argc - 1, argv + 1);
    if (strcmp(argv[1], "exec") == 0)
        return cli_exec(argc - 1, argv + 1);
    if (strcmp(argv[1], "image") == 0)
        return cli_image(argc - 1, argv + 1);
    if (strcmp(argv[1], "rollout") == 0)
        return cli_rollout(argc - 1, argv + 1);
    if (strcmp(argv[1], "token") == 0)
        return cli_token(argc - 1, argv + 1);
    if (strcmp(argv[1], "up") == 0)
        return cli_up(argc - 1, argv + 1);
    if (strcmp(argv[1], "down") == 0)
        return cli_down(argc - 1, argv + 1);
    if (strcmp(argv[1], "reset") == 0)
        return cli_reset(argc - 1, argv + 1);
    if (strcmp(argv[1], "version") == 0) {
        printf("skiff 0.1.0\n");
        return 0;
    }
    fprintf(stderr, "skiff: unknown command %s\n", argv[1]);
    usage(stderr);
    return 2;
}
