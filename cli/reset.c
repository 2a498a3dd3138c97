/* skiff reset: undoes what a node made on its machine, after the node has
 * stopped. Runs in the caller's network namespace (skiff down runs it in
 * each node's): the runc containers under DIR/agent/runc, every mount below
 * DIR (pod sandboxes' namespace files and shm, overlay rootfs, volumes), the
 * node's cgroups (skiff-NODE in every hierarchy), its nft table
 * (ip skiff-NODE), its pod routes (proto 0x53), its pod bridge (skbHASH,
 * agent/nodenet.h; skiff0 too when this node's runtime made it), and finally DIR itself (CNI
 * leases, images, the replica) unless --keep-data.
 *
 * Each step goes on when an earlier one failed (a half-cleaned node is
 * better than an untouched one) and the exit code says whether any did.
 * Nothing outside what the node's own names select is touched. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <net/if.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/cni.h"
#include "agent/netroutes.h"
#include "agent/nodenet.h"
#include "agent/runtime.h"
#include "agent/svcrules.h"
#include "cli/daemon.h"
#include "cli/internal.h"

#define RESET_EXEC_MS    20000
#define RESET_MOUNTS_MAX 4096

/* ---- pure parts ---- */

/* mountinfo escapes space, tab, newline and backslash as \ooo */
static void mi_unescape(const char *s, size_t len, char *out, size_t cap)
{
    size_t i, o = 0;
    for (i = 0; i < len && o + 1 < cap; i++) {
        if (s[i] == '\\' && i + 3 < len && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
            s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
            out[o++] = (char)((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
            i += 3;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
}

static size_t depth(const char *p)
{
    size_t d = 0;
    for (; *p; p++)
        d += *p == '/';
    return d;
}

static int by_depth_desc(const void *a, const void *b)
{
    const char *const *x = a, *const *y = b;
    size_t dx = depth(*x), dy = depth(*y);
    if (dx != dy)
        return dx < dy ? 1 : -1;
    return strcmp(*y, *x);
}

/* The mount points strictly below dir (dir itself is not ours to unmount:
 * it may be the machine's own partition for /var/lib/skiff) in mountinfo
 * (text, borrowed), deepest first; a point mounted twice is listed twice.
 * *out is owned (free each, then the array). Returns 0 or ERR_NOMEM. */
static int reset_mounts_below(const char *mountinfo, const char *dir, char ***out, size_t *n,
                              struct err *e)
{
    const char *p = mountinfo;
    size_t dl = strlen(dir), cap = 0;
    char **v = NULL;

    while (dl > 1 && dir[dl - 1] == '/')
        dl--;
    *out = NULL;
    *n = 0;
    while (p != NULL && *p != '\0') {
        const char *line = p, *nl = strchr(p, '\n'), *f = line;
        size_t len = nl ? (size_t)(nl - p) : strlen(p), field = 0, fl;
        char mnt[PATH_MAX];
        p = nl ? nl + 1 : NULL;
        /* the mount point is the 5th space-separated field */
        while (field < 4 && f < line + len) {
            const char *sp = memchr(f, ' ', (size_t)(line + len - f));
            if (sp == NULL)
                break;
            f = sp + 1;
            field++;
        }
        if (field != 4)
            continue;
        fl = strcspn(f, " \n");
        if (f + fl > line + len)
            fl = (size_t)(line + len - f);
        mi_unescape(f, fl, mnt, sizeof mnt);
        if (strncmp(mnt, dir, dl) != 0 || mnt[dl] != '/' || mnt[dl + 1] == '\0')
            continue;
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            char **nv = realloc(v, nc * sizeof *nv);
            if (nv == NULL)
                goto nomem;
            v = nv;
            cap = nc;
        }
        if ((v[*n] = strdup(mnt)) == NULL)
            goto nomem;
        (*n)++;
    }
    if (*n > 1)
        qsort(v, *n, sizeof *v, by_depth_desc);
    *out = v;
    return 0;
nomem:
    for (size_t i = 0; i < *n; i++)
        free(v[i]);
    free(v);
    *n = 0;
    return err_setf(e, ERR_NOMEM, "mountinfo: out of memory");
}

/* ---- steps ---- */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* rm -rf that stays on dir's file system (FTW_MOUNT): should a mount be
 * left below dir after all, what it shows is not ours to delete. */
static void rmtree_one_fs(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "re");
    char *text = NULL;
    size_t cap = 0;
    if (f == NULL)
        return NULL;
    if (getdelim(&text, &cap, '\0', f) < 0) {
        free(text);
        text = NULL;
    }
    fclose(f);
    return text;
}

/* Runs argv; 0 when it exited 0. *out (may be NULL) gets its stdout
 * (owned). A failure is printed unless quiet. */
static int run(bool quiet, char **out, const char *const *argv)
{
    struct agent__netexec x = {.argv = argv, .timeout_ms = RESET_EXEC_MS};
    struct agent__netexec_out o;
    struct err e;
    int rv = agent__netexec_run(&x, &o, &e);
    if (rv == 0 && o.exit_code != 0) {
        size_t n = strcspn(o.err, "\n");
        rv = err_setf(&e, ERR_IO, "%s %s: %.*s (exit %d)", argv[0], argv[1] ? argv[1] : "",
                      (int)(n > 200 ? 200 : n), o.err, o.exit_code);
    }
    if (rv != 0 && !quiet)
        fprintf(stderr, "  %s\n", e.msg);
    if (rv == 0 && out != NULL) {
        *out = o.out;
        o.out = NULL;
    }
    agent__netexec_out_close(&o);
    return rv;
}

#define RUN(quiet, out, ...) run(quiet, out, (const char *const[]){__VA_ARGS__, NULL})

/* A process other than us holding a file of DIR's replica or raft log
 * open: the node (its LMDB environment stays open while it runs). */
static long node_running(const char *dir)
{
    char store[PATH_MAX + 16], raft[PATH_MAX + 16], p[64], link[PATH_MAX];
    size_t sl, rl;
    DIR *d = opendir("/proc"), *fds;
    struct dirent *de, *fe;
    long found = 0;

    snprintf(store, sizeof store, "%s/store/", dir);
    snprintf(raft, sizeof raft, "%s/raft/", dir);
    sl = strlen(store);
    rl = strlen(raft);
    while (d != NULL && found == 0 && (de = readdir(d)) != NULL) {
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        if (*end != '\0' || pid <= 0 || pid == (long)getpid())
            continue;
        snprintf(p, sizeof p, "/proc/%ld/fd", pid);
        if ((fds = opendir(p)) == NULL)
            continue;
        while (found == 0 && (fe = readdir(fds)) != NULL) {
            char fp[96];
            ssize_t n;
            snprintf(fp, sizeof fp, "%s/%s", p, fe->d_name);
            n = readlink(fp, link, sizeof link - 1);
            if (n <= 0)
                continue;
            link[n] = '\0';
            if (strncmp(link, store, sl) == 0 || strncmp(link, raft, rl) == 0)
                found = pid;
        }
        closedir(fds);
    }
    if (d != NULL)
        closedir(d);
    return found;
}

static int step_containers(const char *dir)
{
    char root[PATH_MAX + 16], *list = NULL;
    int failed = 0;

    snprintf(root, sizeof root, "%s/agent/runc", dir);
    if (access(root, F_OK) != 0)
        return 0;
    if (RUN(false, &list, "runc", "--root", root, "list", "-q") != 0) {
        fprintf(stderr, "  runc: cannot list the containers in %s\n", root);
        return 1;
    }
    for (char *id = strtok(list, "\n"); id != NULL; id = strtok(NULL, "\n")) {
        if (id[0] == '\0')
            continue;
        (void)RUN(true, NULL, "runc", "--root", root, "kill", "--all", id, "KILL");
        if (RUN(false, NULL, "runc", "--root", root, "delete", "-f", id) == 0)
            printf("container %s: killed and deleted\n", id);
        else
            failed++;
    }
    free(list);
    return failed;
}

/* CNI DEL of every pod sandbox the node attached (its IP lease, veth and
 * the bridge plugin's masquerade rules), before the sandboxes' network
 * namespaces are unmounted: the bridge plugin finds the addresses to
 * un-masquerade inside them. */
static int step_cni(const char *dir)
{
    char confd[PATH_MAX + 32], cache[PATH_MAX + 32], sbroot[PATH_MAX + 32];
    struct agent__cni_conflist *l = NULL;
    struct agent__cni cni;
    struct dirent *de;
    struct err e;
    int failed = 0;
    DIR *d;

    snprintf(confd, sizeof confd, "%s/agent/cni/net.d", dir);
    snprintf(cache, sizeof cache, "%s/agent/cni/cache", dir);
    snprintf(sbroot, sizeof sbroot, "%s/agent/sandboxes", dir);
    if (access(confd, F_OK) != 0 || (d = opendir(sbroot)) == NULL)
        return 0;
    if (agent__cni_conflist_load(confd, &l, &e) != 0 ||
        agent__cni_init(&cni, getenv("SKIFF_CNI_PATH"), cache, 0, &e) != 0) {
        closedir(d);
        agent__cni_conflist_free(l);
        if (e.code == ERR_NOTFOUND)
            return 0;
        fprintf(stderr, "  cni: %s\n", e.msg);
        return 1;
    }
    while ((de = readdir(d)) != NULL) {
        char netns[PATH_MAX * 2];
        struct agent__cni_attach a = {de->d_name, netns, "eth0", NULL, NULL};
        if (de->d_name[0] == '.')
            continue;
        snprintf(netns, sizeof netns, "%s/%s/net", sbroot, de->d_name);
        if (access(netns, F_OK) != 0)
            netns[0] = '\0';
        if (agent__cni_del(&cni, l, &a, &e) == 0) {
            printf("pod %s: network detached\n", de->d_name);
        } else {
            fprintf(stderr, "  pod %s: cni DEL: %s\n", de->d_name, e.msg);
            failed++;
        }
    }
    closedir(d);
    agent__cni_conflist_free(l);
    return failed;
}

/* Unmounts (lazily, deepest first) every mount below dir, several rounds:
 * a point can carry stacked mounts. */
static int step_mounts(const char *dir, bool report_left)
{
    int round, failed = 0;
    for (round = 0; round < 8; round++) {
        char *mi = read_all("/proc/self/mountinfo"), **v = NULL;
        size_t n = 0, i;
        struct err e;
        if (mi == NULL || reset_mounts_below(mi, dir, &v, &n, &e) != 0) {
            free(mi);
            fprintf(stderr, "  mounts: cannot read /proc/self/mountinfo\n");
            return 1;
        }
        free(mi);
        if (n == 0)
            return 0;
        failed = 0;
        for (i = 0; i < n; i++) {
            if (report_left) {
                fprintf(stderr, "  still mounted: %s\n", v[i]);
                failed++;
            } else if (umount2(v[i], MNT_DETACH) == 0) {
                printf("unmounted %s\n", v[i]);
            } else if (errno != EINVAL && errno != ENOENT) {
                fprintf(stderr, "  umount %s: %s\n", v[i], strerror(errno));
                failed++;
            }
            free(v[i]);
        }
        free(v);
        if (report_left)
            return failed;
    }
    return failed;
}

/* SIGKILL to every process left in a cgroup dir and below (a container
 * runc no longer knows, a hook): rmdir fails while one is there. */
static void cg_kill_tree(const char *dir, int level)
{
    char p[PATH_MAX + 32], *procs;
    DIR *d;
    struct dirent *de;

    if (level > 8)
        return;
    snprintf(p, sizeof p, "%s/cgroup.procs", dir);
    if ((procs = read_all(p)) != NULL) {
        for (char *s = strtok(procs, "\n"); s != NULL; s = strtok(NULL, "\n")) {
            long pid = strtol(s, NULL, 10);
            if (pid > 1 && pid != (long)getpid()) {
                printf("killing pid %ld left in cgroup %s\n", pid, dir);
                kill((pid_t)pid, SIGKILL);
            }
        }
        free(procs);
    }
    if ((d = opendir(dir)) == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        if (de->d_type != DT_DIR || de->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        cg_kill_tree(p, level + 1);
    }
    closedir(d);
}

static int step_cgroups(const char *node)
{
    struct agent__cg cg;
    char path[256], dir[PATH_MAX + 256];
    struct err e = {0};
    bool any = false;
    size_t i;

    if (agent__cg_init(&cg, node, &e) == ERR_INVALID && strstr(e.msg, "no cgroup") != NULL) {
        /* e.g. under `ip netns exec`, which mounts a fresh /sys: no cgroup
         * of this node can be seen, so none can be removed from here */
        printf("no cgroup hierarchy mounted here: cgroups skipped\n");
        return 0;
    }
    if (e.code != 0 || agent__cg_path(&cg, NULL, NULL, path, sizeof path, &e) != 0) {
        fprintf(stderr, "  cgroups: %s\n", e.msg);
        return 1;
    }
    for (i = 0; i <= cg.n_v1; i++) {
        const char *mnt = i < cg.n_v1 ? cg.v1[i].mnt : cg.unified;
        if (mnt[0] == '\0')
            continue;
        snprintf(dir, sizeof dir, "%s%s", mnt, path);
        if (access(dir, F_OK) == 0) {
            any = true;
            cg_kill_tree(dir, 0);
        }
    }
    if (!any)
        return 0;
    if (agent__cg_remove(&cg, path, &e) != 0) {
        fprintf(stderr, "  cgroups: %s\n", e.msg);
        return 1;
    }
    printf("removed cgroup %s (every hierarchy)\n", path);
    return 0;
}

static int step_net(const char *node, bool cni_bridge)
{
    char table[128], bridge[16], *routes = NULL;
    struct err e;
    int failed = 0;

    if (agent__svc_table_name(node, table, sizeof table, &e) != 0) {
        fprintf(stderr, "  nft: %s\n", e.msg);
        failed++;
    } else if (RUN(true, NULL, "nft", "list", "table", "ip", table) == 0) {
        if (RUN(false, NULL, "nft", "delete", "table", "ip", table) == 0)
            printf("deleted nft table ip %s\n", table);
        else
            failed++;
    }
    if (RUN(false, &routes, "ip", "-4", "route", "show", "proto", AGENT_ROUTES_PROTO) == 0 &&
        routes[strspn(routes, " \n")] != '\0') {
        if (RUN(false, NULL, "ip", "-4", "route", "flush", "proto", AGENT_ROUTES_PROTO) == 0)
            printf("flushed the pod routes (proto %s)\n", AGENT_ROUTES_PROTO);
        else
            failed++;
    }
    free(routes);
    /* the node's pod bridge is named after the node, so it is this node's */
    agent__nodenet_bridge(node, bridge);
    if (if_nametoindex(bridge) != 0) {
        if (RUN(false, NULL, "ip", "link", "del", bridge) == 0)
            printf("deleted the pod bridge %s\n", bridge);
        else
            failed++;
    }
    /* the default conflist's shared name: only a node with a runtime made it */
    if (cni_bridge && if_nametoindex(AGENT_CNI_BRIDGE) != 0) {
        if (RUN(false, NULL, "ip", "link", "del", AGENT_CNI_BRIDGE) == 0)
            printf("deleted the CNI bridge %s\n", AGENT_CNI_BRIDGE);
        else
            failed++;
    }
    return failed;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: skiff reset [--data-dir DIR] [--name NODE] [--keep-data] [--no-net]\n"
            "\n"
            "Undoes what a stopped node made on this machine: its runc containers,\n"
            "every mount below DIR (default " DEFAULT_DATA_DIR "), its cgroups\n"
            "(skiff-NODE), its nft table (ip skiff-NODE), its pod routes and pod\n"
            "bridge (and " AGENT_CNI_BRIDGE " when its runtime made it), then DIR itself unless\n"
            "--keep-data. NODE defaults to the name in DIR/node.json. --no-net skips\n"
            "the network steps (the node ran in a namespace that is gone). Refuses\n"
            "while the node runs.\n");
}

int cli_reset(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data-dir", required_argument, NULL, 'd'}, {"name", required_argument, NULL, 'n'},
        {"keep-data", no_argument, NULL, 'k'},      {"no-net", no_argument, NULL, 'N'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
    const char *dir_arg = DEFAULT_DATA_DIR, *name = NULL;
    char dir[PATH_MAX];
    bool keep = false, net = true, have_dir, cni_bridge = false;
    struct node_conf nc;
    struct err e;
    int c, failed = 0;
    long pid;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir_arg = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 'k':
            keep = true;
            break;
        case 'N':
            net = false;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    if (geteuid() != 0) {
        fprintf(stderr, "skiff reset: must run as root\n");
        return 1;
    }
    /* mountinfo has canonical paths */
    have_dir = realpath(dir_arg, dir) != NULL;
    if (!have_dir)
        snprintf(dir, sizeof dir, "%s", dir_arg);
    memset(&nc, 0, sizeof nc);
    if (have_dir && cli__conf_load(dir, &nc, &e) == 0) {
        if (name == NULL)
            name = nc.name;
        /* only a real runtime runs the CNI plugins that make skiff0 */
        cni_bridge = !nc.fake_runtime && !nc.no_runtime;
    }
    if (name == NULL) {
        fprintf(stderr, "skiff reset: no node in %s (no readable node.json); give --name NODE\n",
                dir);
        return 1;
    }
    if (have_dir && (pid = node_running(dir)) != 0) {
        fprintf(stderr, "skiff reset: node %s is running (pid %ld has %s open); stop it first\n",
                name, pid, dir);
        return 1;
    }
    printf("resetting node %s (data dir %s)\n", name, dir);
    if (have_dir) {
        failed += step_containers(dir);
        if (net)
            failed += step_cni(dir);
        failed += step_mounts(dir, false);
    }
    failed += step_cgroups(name);
    if (net)
        failed += step_net(name, cni_bridge);
    if (have_dir && !keep) {
        /* rm -rf would descend into anything still mounted below dir */
        if (step_mounts(dir, true) != 0) {
            fprintf(stderr, "  not removing %s: mounts left below it\n", dir);
            failed++;
        } else {
            rmtree_one_fs(dir);
            if (access(dir, F_OK) == 0) {
                fprintf(stderr, "  %s: not removed entirely\n", dir);
                failed++;
            } else {
                printf("removed %s\n", dir);
            }
        }
    }
    if (failed != 0) {
        fprintf(stderr, "skiff reset: %d step(s) failed (see above)\n", failed);
        return 1;
    }
    printf("node %s reset\n", name);
    return 0;
}
