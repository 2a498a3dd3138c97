/* skiff image import|ls|rm: the node's OCI image store (DATA_DIR/agent/
 * images), worked on directly, on the machine of the node. An import while
 * the node runs is seen at the next lookup of that image (the store re-reads
 * its index on a miss). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/image.h"
#include "cli/daemon.h"
#include "cli/internal.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: skiff image import FILE [--ref NAME] [--data-dir DIR]\n"
               "       skiff image ls [--data-dir DIR]\n"
               "       skiff image rm REF [--data-dir DIR]\n"
               "\n"
               "The node's image store (DIR/agent/images, default DIR " DEFAULT_DATA_DIR ").\n"
               "import takes an OCI archive (skopeo copy ... oci-archive:FILE) or a\n"
               "docker-save tar; --ref names the image when the archive has no name.\n"
               "Pods use it with imagePullPolicy IfNotPresent or Never.\n");
}

static int open_store(const char *data_dir, struct agent_image_store **s)
{
    char dir[1200];
    struct err e;
    snprintf(dir, sizeof dir, "%s/agent/images", data_dir);
    if (cli__dirs_make(dir, &e) != 0 || agent_image_store_open(dir, s, &e) != 0) {
        fprintf(stderr, "skiff image: %s\n", e.msg);
        return 1;
    }
    return 0;
}

int cli_image(int argc, char **argv)
{
    static const struct option opts[] = {{"data-dir", required_argument, NULL, 'd'},
                                         {"ref", required_argument, NULL, 'r'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *data_dir = DEFAULT_DATA_DIR, *ref = NULL, *cmd;
    struct agent_image_store *s = NULL;
    struct err e;
    int c, rv = 0;

    optind = 1;
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    cmd = argv[1];
    optind = 2;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            data_dir = optarg;
            break;
        case 'r':
            ref = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (strcmp(cmd, "import") == 0) {
        char digest[AGENT_IMAGE_DIGEST_SIZE];
        if (optind != argc - 1) {
            fprintf(stderr, "skiff image import: one FILE expected\n");
            return 2;
        }
        if (open_store(data_dir, &s) != 0)
            return 1;
        fprintf(stderr, "skiff image: importing %s\n", argv[optind]);
        if (agent_image_import(s, argv[optind], ref, NULL, digest, &e) != 0) {
            fprintf(stderr, "skiff image import: %s\n", e.msg);
            rv = 1;
        } else {
            printf("imported %s%s%s\n", digest, ref ? " as " : "", ref ? ref : "");
        }
    } else if (strcmp(cmd, "ls") == 0) {
        struct agent_image_info *rows = NULL;
        size_t n = 0, i;
        if (open_store(data_dir, &s) != 0)
            return 1;
        if (agent_image_list(s, &rows, &n, &e) != 0) {
            fprintf(stderr, "skiff image ls: %s\n", e.msg);
            rv = 1;
        } else {
            printf("%-50s %-20s %12s %s\n", "IMAGE", "DIGEST", "SIZE", "CREATED");
            for (i = 0; i < n; i++)
                printf("%-50s %-20.19s %12llu %s\n", rows[i].ref[0] ? rows[i].ref : "<none>",
                       rows[i].digest, (unsigned long long)rows[i].size, rows[i].created);
        }
        free(rows);
    } else if (strcmp(cmd, "rm") == 0) {
        if (optind != argc - 1) {
            fprintf(stderr, "skiff image rm: one REF expected\n");
            return 2;
        }
        if (open_store(data_dir, &s) != 0)
            return 1;
        if (agent_image_remove(s, argv[optind], &e) != 0) {
            fprintf(stderr, "skiff image rm: %s\n", e.msg);
            rv = 1;
        } else {
            printf("removed %s\n", argv[optind]);
        }
    } else {
        fprintf(stderr, "skiff image: unknown subcommand %s\n", cmd);
        usage(stderr);
        return 2;
    }
    agent_image_store_free(s);
    return rv;
}
