/* agent/pods_work: the blocking half of the pod driver. Each function is a
 * uv_queue_work body: it touches only its request and the read-only
 * runtime (struct agent__pods_rt), and leaves the machine either with the
 * thing done or with nothing half-made that a teardown could not remove. */
#include "agent/pods.h"

#include <dirent.h>
#include <openssl/crypto.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/fs.h"
#include "lib/log.h"

static int mkdirs(const char *path, mode_t mode, struct err *e)
{
    char p[PATH_MAX];
    size_t i;
    if (snprintf(p, sizeof p, "%s", path) >= (int)sizeof p)
        return err_setf(e, ERR_INVALID, "%s: path too long", path);
    for (i = 1; p[i]; i++) {
        if (p[i] != '/')
            continue;
        p[i] = '\0';
        if (mkdir(p, mode) != 0 && errno != EEXIST)
            return err_setf(e, ERR_IO, "mkdir %s: %s", p, strerror(errno));
        p[i] = '/';
    }
    if (mkdir(p, mode) != 0 && errno != EEXIST)
        return err_setf(e, ERR_IO, "mkdir %s: %s", p, strerror(errno));
    return 0;
}

static int write_file(const char *path, const char *data, size_t n, mode_t mode, struct err *e)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return err_setf(e, ERR_IO, "open %s: %s", path, strerror(errno));
    while (n > 0) {
        ssize_t w = write(fd, data, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            close(fd);
            return err_setf(e, ERR_IO, "write %s: %s", path, strerror(errno));
        }
        data += w;
        n -= (size_t)w;
    }
    close(fd);
    return 0;
}

static void pod_dir(const struct agent__pods_rt *rt, const char *uid, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/pods/%s", rt->dir, uid);
}

static void ctr_dir(const struct agent__pods_rt *rt, const char *uid, const char *ctr, char *buf,
                    size_t cap)
{
    snprintf(buf, cap, "%s/pods/%s/c/%s", rt->dir, uid, ctr);
}

/* state.json: what adoption after a restart needs to report the container
 * as before (tmp + rename: a crash leaves the old or the new one) */
static void state_write(const char *dir, json_t *st)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    snprintf(path, sizeof path, "%s/state.json", dir);
    snprintf(tmp, sizeof tmp, "%s/.state.json.tmp", dir);
    if (st == NULL)
        return;
    if (json_dump_file(st, tmp, JSON_COMPACT) == 0 && rename(tmp, path) == 0)
        return;
    LOG_WARN("agent", "state_write_failed", "path=%s err=\"%s\"", path, strerror(errno));
    unlink(tmp);
}

/* ------------------------------------------------------------------ */
/* launch                                                              */

static void on_progress(void *data, const char *ref, const char *digest, uint64_t done,
                        uint64_t total)
{
    (void)data;
    if (done == total)
        LOG_INFO("agent", "image_blob_pulled", "image=%s blob=%.19s bytes=%llu", ref, digest,
                 (unsigned long long)total);
    else
        LOG_DEBUG("agent", "image_pull_progress", "image=%s blob=%.19s done=%llu total=%llu", ref,
                  digest, (unsigned long long)done, (unsigned long long)total);
}

static int ensure_image(struct agent__launch *l, const char *image, char digest[], struct err *e)
{
    struct agent_image_pull_opts o = l->rt->pull;
    struct agent_image_ref ref;
    char name[AGENT_IMAGE_REF_SIZE];
    int rv;

    rv = agent_image_resolve(l->rt->images, image, digest, e);
    if (strcmp(l->policy, "Never") == 0) {
        if (rv != 0)
            return err_setf(e, ERR_NOTFOUND,
                            "container image \"%s\" is not present with pull policy of Never",
                            image);
    } else if (rv != 0 || strcmp(l->policy, "Always") == 0) {
        struct agent_image_registry regs[AGENT_PULLSECRET_REGS_MAX + 1];
        o.progress = on_progress;
        /* spec.imagePullSecrets: the node's registries plus these credentials */
        if (l->has_cred && agent_image_ref_parse(image, &ref, e) == 0 &&
            o.n_registries <= AGENT_PULLSECRET_REGS_MAX) {
            size_t n = 0;
            agent__pullsecret_registries(o.registries, o.n_registries, ref.registry, &l->cred,
                                         regs, &n);
            o.registries = regs;
            o.n_registries = n;
        }
        LOG_INFO("agent", "image_pull", "pod=%s/%s image=%s policy=%s", l->ns, l->name, image,
                 l->policy);
        rv = agent_image_pull(l->rt->images, image, &o, digest, e);
        OPENSSL_cleanse(&l->cred, sizeof l->cred);
        if (rv != 0)
            return err_wrapf(e, "failed to pull image \"%s\"", image);
        LOG_INFO("agent", "image_pulled", "pod=%s/%s image=%s digest=%s", l->ns, l->name, image,
                 digest);
    }
    /* imageID as kubelet shows it: repo@digest */
    if (agent_image_ref_parse(image, &ref, e) == 0) {
        snprintf(ref.digest, sizeof ref.digest, "%s", digest);
        ref.tag[0] = '\0';
        if (agent_image_ref_format(&ref, name, sizeof name, e) == 0)
            snprintf(l->image_id, sizeof l->image_id, "%s", name);
    }
    if (l->image_id[0] == '\0')
        snprintf(l->image_id, sizeof l->image_id, "%s", digest);
    err_clear(e);
    return 0;
}

static int mount_rootfs(struct agent__launch *l, const char *digest, const char *bdir,
                        struct err *e)
{
    char upper[PATH_MAX], work[PATH_MAX], root[PATH_MAX], **dirs = NULL;
    size_t n = 0;
    int rv;

    snprintf(upper, sizeof upper, "%s/upper", bdir);
    snprintf(work, sizeof work, "%s/work", bdir);
    snprintf(root, sizeof root, "%s/rootfs", bdir);
    /* a fresh writable layer per instance, as a new container in kubelet */
    agent__umount_below(root, e);
    err_clear(e);
    fs_rmtree(upper);
    fs_rmtree(work);
    if ((rv = mkdirs(root, 0755, e)) != 0)
        return rv;
    if ((rv = agent_image_layers(l->rt->images, digest, &dirs, &n, e)) != 0)
        return rv;
    rv = agent_image_mount((const char *const *)dirs, n, upper, work, root, e);
    agent_image_layers_free(dirs, n);
    return rv;
}

static json_t *state_json(const char *state, pid_t pid, const char *started, int restarts,
                          const json_t *last, const char *image_id)
{
    json_t *st = json_pack("{s:s, s:i, s:s, s:i, s:s}", "state", state, "pid", (int)pid,
                           "startedAt", started, "restartCount", restarts, "imageID", image_id);
    if (st != NULL && last != NULL)
        json_object_set(st, "lastState", (json_t *)last);
    return st;
}

void agent__launch_run(struct agent__launch *l)
{
    const struct agent__pods_rt *rt = l->rt;
    const char *image = json_string_value(json_object_get(l->container, "image"));
    char digest[AGENT_IMAGE_DIGEST_SIZE], bdir[PATH_MAX], pdir[PATH_MAX], root[PATH_MAX];
    char term[PATH_MAX], hosts[PATH_MAX], resolv[PATH_MAX], hn[PATH_MAX], cgp[PATH_MAX];
    char logp[PATH_MAX], *slash;
    struct agent__bundle_spec s = {0};
    json_t *icfg = NULL, *st;
    struct err *e = &l->err;
    int rv;

    l->failed_at = AGENT_LAUNCH_IMAGE;
    if (image == NULL || image[0] == '\0') {
        err_setf(e, ERR_INVALID, "%s.image: required", l->field);
        return;
    }
    if (ensure_image(l, image, digest, e) != 0 ||
        agent_image_config(rt->images, digest, &icfg, e) != 0)
        return;
    l->failed_at = AGENT_LAUNCH_RUN;
    pod_dir(rt, l->uid, pdir, sizeof pdir);
    ctr_dir(rt, l->uid, l->ctr, bdir, sizeof bdir);
    snprintf(root, sizeof root, "%s/rootfs", bdir);
    if (mkdirs(bdir, 0700, e) != 0 || mount_rootfs(l, digest, bdir, e) != 0)
        goto out;
    snprintf(term, sizeof term, "%s/termination-log", bdir);
    snprintf(hosts, sizeof hosts, "%s/etc/hosts", pdir);
    snprintf(resolv, sizeof resolv, "%s/etc/resolv.conf", pdir);
    snprintf(hn, sizeof hn, "%s/etc/hostname", pdir);
    if (write_file(term, "", 0, 0666, e) != 0 ||
        agent__cg_path(&rt->cg, l->uid, l->ctr, cgp, sizeof cgp, e) != 0 ||
        agent__log_path(rt->dir, l->ns, l->name, l->uid, l->ctr, l->restart, logp, sizeof logp,
                        e) != 0)
        goto out_umount;
    slash = strrchr(logp, '/');
    *slash = '\0';
    rv = mkdirs(logp, 0755, e);
    *slash = '/';
    if (rv != 0)
        goto out_umount;
    s.pod = l->pod;
    s.container = l->container;
    s.image_config = icfg;
    s.rootfs = root;
    s.env = l->env.v;
    s.n_env = l->env.n;
    s.mounts = l->mounts;
    s.n_mounts = l->n_mounts;
    s.netns_path = l->sb.netns;
    s.ipcns_path = l->sb.ipcns;
    s.utsns_path = l->sb.utsns;
    s.shm_path = l->sb.shm;
    s.hosts_path = hosts;
    s.resolv_path = resolv;
    s.hostname_path = hn;
    s.termination_log_path = term;
    s.cgroups_path = cgp;
    if (agent__bundle_write(&s, bdir, e) != 0) {
        l->failed_at = AGENT_LAUNCH_CONFIG;
        goto out_umount;
    }
    /* a container of that name left by a crash between create and here
     * (runc keeps its state in ROOT/ID): only then is a runc delete worth
     * its exec on the start path */
    {
        char state_dir[PATH_MAX * 2];
        snprintf(state_dir, sizeof state_dir, "%s/%s", rt->runc.root, l->id);
        if (access(state_dir, F_OK) == 0)
            agent__runc_delete(&rt->runc, l->id, true, e);
        err_clear(e);
    }
    if (agent__runc_create(&rt->runc, l->id, bdir, logp, logp, &l->pid, e) != 0)
        goto out_umount;
    if (agent__runc_start(&rt->runc, l->id, e) != 0) {
        struct err e2;
        int code;
        agent__runc_kill(&rt->runc, l->id, SIGKILL, true, &e2);
        agent__ctr_wait(l->pid, 2000, &code, &e2);
        agent__runc_delete(&rt->runc, l->id, true, &e2);
        goto out_umount;
    }
    agent__now_rfc3339(l->started_at);
    st = state_json("running", l->pid, l->started_at, l->restart, l->last, l->image_id);
    state_write(bdir, st);
    json_decref(st);
    l->failed_at = 0;
    goto out;
out_umount : {
    struct err e2;
    agent__umount_below(root, &e2);
}
out:
    json_decref(icfg);
}

void agent__launch_free(struct agent__launch *l)
{
    size_t i;
    if (l == NULL)
        return;
    json_decref(l->pod);
    json_decref(l->last);
    agent__envset_close(&l->env);
    for (i = 0; l->mount_strs != NULL && i < 2 * l->n_mounts; i++)
        free(l->mount_strs[i]);
    free(l->mount_strs);
    free(l->mounts);
    OPENSSL_cleanse(&l->cred, sizeof l->cred); /* no password left in freed memory */
    free(l);
}

/* ------------------------------------------------------------------ */
/* finish                                                              */

void agent__finish_run(struct agent__finish *f)
{
    const struct agent__pods_rt *rt = f->rt;
    char bdir[PATH_MAX], cgp[PATH_MAX], p[PATH_MAX];
    struct agent__cg_stats cs = {0};
    struct err e;
    bool exited = false;
    int code = AGENT_CTR_EXIT_UNKNOWN;
    json_t *st;
    FILE *fp;

    if (f->pid > 0 && agent__ctr_wait(f->pid, 2000, &code, &e) != 0)
        agent__ctr_reap(f->pid, &exited, &code, &e);
    /* the OOM counter lives in the container's cgroup, which runc delete
     * removes: read it first */
    if (agent__cg_path(&rt->cg, f->uid, f->ctr, cgp, sizeof cgp, &e) == 0)
        agent__cg_stats(&rt->cg, cgp, &cs, &e);
    agent__runc_delete(&rt->runc, f->id, true, &e);
    ctr_dir(rt, f->uid, f->ctr, bdir, sizeof bdir);
    snprintf(p, sizeof p, "%s/rootfs", bdir);
    agent__umount_below(p, &e);
    snprintf(p, sizeof p, "%s/upper", bdir);
    fs_rmtree(p);
    snprintf(p, sizeof p, "%s/work", bdir);
    fs_rmtree(p);

    memset(&f->term, 0, sizeof f->term);
    if (code == AGENT_CTR_EXIT_UNKNOWN) {
        f->term.exit_code = 137;
        snprintf(f->term.reason, sizeof f->term.reason, "ContainerStatusUnknown");
        snprintf(f->term.message, sizeof f->term.message,
                 "The container could not be located when the pod was terminated");
    } else {
        f->term.exit_code = code;
        snprintf(f->term.reason, sizeof f->term.reason, "%s", code == 0 ? "Completed" : "Error");
    }
    if (cs.oom_kills > 0 && f->term.exit_code != 0) {
        snprintf(f->term.reason, sizeof f->term.reason, "OOMKilled");
        f->term.message[0] = '\0';
    }
    if (f->term.exit_code > 128 && f->term.exit_code < 128 + 65)
        f->term.signal = f->term.exit_code - 128;
    snprintf(p, sizeof p, "%s/termination-log", bdir);
    if ((fp = fopen(p, "r")) != NULL) {
        char buf[sizeof f->term.message];
        size_t n = fread(buf, 1, sizeof buf - 1, fp);
        buf[n] = '\0';
        if (n > 0)
            snprintf(f->term.message, sizeof f->term.message, "%s", buf);
        fclose(fp);
    }
    snprintf(f->term.started_at, sizeof f->term.started_at, "%s", f->started_at);
    agent__now_rfc3339(f->term.finished_at);
    snprintf(f->term.container_id, sizeof f->term.container_id, "runc://%s", f->id);
    st = state_json("terminated", 0, f->started_at, f->restarts, f->last, f->image_id);
    if (st != NULL) {
        json_object_set_new(st, "exitCode", json_integer(f->term.exit_code));
        json_object_set_new(st, "reason", json_string(f->term.reason));
        json_object_set_new(st, "finishedAt", json_string(f->term.finished_at));
        json_object_set_new(st, "message", json_string(f->term.message));
    }
    state_write(bdir, st);
    json_decref(st);
}

/* ------------------------------------------------------------------ */
/* setup                                                               */

static int host_path(const json_t *src, struct err *e)
{
    const char *path = json_string_value(json_object_get(src, "path"));
    const char *type = json_string_value(json_object_get(src, "type"));
    struct stat st;
    int fd;
    if (path == NULL || path[0] != '/')
        return err_setf(e, ERR_INVALID, "hostPath.path: must be an absolute path");
    if (type == NULL || type[0] == '\0')
        return 0;
    if (strcmp(type, "DirectoryOrCreate") == 0)
        return mkdirs(path, 0755, e);
    if (strcmp(type, "FileOrCreate") == 0) {
        fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
            return err_setf(e, ERR_IO, "hostPath %s: %s", path, strerror(errno));
        close(fd);
        return 0;
    }
    if (stat(path, &st) != 0)
        return err_setf(e, ERR_NOTFOUND, "hostPath type check failed: %s does not exist", path);
    if ((strcmp(type, "Directory") == 0 && !S_ISDIR(st.st_mode)) ||
        (strcmp(type, "File") == 0 && !S_ISREG(st.st_mode)) ||
        (strcmp(type, "Socket") == 0 && !S_ISSOCK(st.st_mode)) ||
        (strcmp(type, "CharDevice") == 0 && !S_ISCHR(st.st_mode)) ||
        (strcmp(type, "BlockDevice") == 0 && !S_ISBLK(st.st_mode)))
        return err_setf(e, ERR_INVALID, "hostPath type check failed: %s is not a %s", path, type);
    return 0;
}

static int setup_volume(const struct agent__pods_rt *rt, const char *uid,
                        const struct agent__vol *v, struct err *e)
{
    char dir[PATH_MAX], opts[64], field[300];
    int64_t size = 0;
    int rv;

    if (v->type == AGENT_VOL_HOST)
        return host_path(v->src, e);
    snprintf(dir, sizeof dir, "%s/pods/%s/volumes/%s", rt->dir, uid, v->name);
    if ((rv = mkdirs(dir, 0777, e)) != 0)
        return rv;
    if (v->type == AGENT_VOL_EMPTY) {
        chmod(dir, 0777); /* kubelet's emptyDir is world-writable */
        return 0;
    }
    if (v->type == AGENT_VOL_MEMORY) {
        const json_t *lim = json_object_get(v->src, "sizeLimit");
        if (lim != NULL && (rv = agent__qty_value(lim, "emptyDir.sizeLimit", &size, e)) != 0)
            return rv;
        snprintf(opts, sizeof opts, size > 0 ? "mode=1777,size=%lld" : "mode=1777",
                 (long long)size);
    } else {
        snprintf(opts, sizeof opts, "mode=0755,size=%d", 4 << 20);
    }
    /* Secrets never touch the disk: their files live on a tmpfs */
    if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, opts) != 0)
        return err_setf(e, ERR_IO, "volume %s: mount tmpfs: %s", v->name, strerror(errno));
    if (v->type == AGENT_VOL_MEMORY)
        return 0;
    snprintf(field, sizeof field, "volumes[%s].%s", v->name,
             v->type == AGENT_VOL_SECRET ? "secret" : "configMap");
    return agent__volume_project(dir, v->type == AGENT_VOL_SECRET ? "Secret" : "ConfigMap", v->obj,
                                 v->src, field, e);
}

static int etc_files(const struct agent__pods_rt *rt, const struct agent__setup *s, struct err *e)
{
    char dir[PATH_MAX], p[PATH_MAX], hosts[512], *resolv = NULL, *out;
    size_t n = 0;
    FILE *f;
    int rv;

    snprintf(dir, sizeof dir, "%s/pods/%s/etc", rt->dir, s->uid);
    if ((rv = mkdirs(dir, 0755, e)) != 0)
        return rv;
    snprintf(hosts, sizeof hosts,
             "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost "
             "ip6-localhost ip6-loopback\n");
    snprintf(p, sizeof p, "%s/hosts", dir);
    if ((rv = write_file(p, hosts, strlen(hosts), 0644, e)) != 0)
        return rv;
    snprintf(p, sizeof p, "%s/hostname", dir);
    snprintf(hosts, sizeof hosts, "%s\n", s->hostname);
    if ((rv = write_file(p, hosts, strlen(hosts), 0644, e)) != 0)
        return rv;
    /* the cluster DNS (dns_ip) or the node's resolver (dnsPolicy Default) */
    if ((f = fopen("/etc/resolv.conf", "r")) != NULL) {
        resolv = calloc(1, 65536);
        if (resolv != NULL)
            n = fread(resolv, 1, 65535, f);
        fclose(f);
    }
    out = malloc(65536 + 1024);
    if (out == NULL) {
        free(resolv);
        return err_setf(e, ERR_NOMEM, "resolv.conf: out of memory");
    }
    (void)n;
    rv = agent__resolv_conf(s->dns_ip, s->ns, resolv, out, 65536 + 1024, e);
    snprintf(p, sizeof p, "%s/resolv.conf", dir);
    if (rv == 0)
        rv = write_file(p, out, strlen(out), 0644, e);
    free(out);
    free(resolv);
    return rv;
}

static void adopt_states(struct agent__setup *s)
{
    char p[PATH_MAX];
    size_t i;
    for (i = 0; i < s->n_ids; i++) {
        const char *ctr = strchr(s->ids[i], '_') + 1;
        struct err e;
        if (agent__runc_state(&s->rt->runc, s->ids[i], &s->states[i], &e) != 0)
            memset(&s->states[i], 0, sizeof s->states[i]);
        snprintf(p, sizeof p, "%s/pods/%s/c/%s/state.json", s->rt->dir, s->uid, ctr);
        s->files[i] = json_load_file(p, 0, NULL);
    }
}

/* The pod IP, kept next to the pod's files for adoption. */
static void read_ip(const struct agent__pods_rt *rt, struct agent__setup *s)
{
    char p[PATH_MAX];
    FILE *f;
    snprintf(p, sizeof p, "%s/pods/%s/ip", rt->dir, s->uid);
    s->pod_ip[0] = '\0';
    if ((f = fopen(p, "r")) != NULL) {
        if (fscanf(f, "%15s", s->pod_ip) != 1)
            s->pod_ip[0] = '\0';
        fclose(f);
    }
}

/* CNI ADD of the sandbox's netns (container id = the pod uid). */
static int attach(const struct agent__pods_rt *rt, struct agent__setup *s, struct err *e)
{
    struct agent__cni_conflist *l = NULL;
    struct agent__cni_result res;
    char args[512], p[PATH_MAX];
    struct agent__cni_attach a = {s->uid, s->sb.netns, "eth0", args, s->port_mappings};
    int rv;

    snprintf(args, sizeof args, "K8S_POD_NAMESPACE=%s;K8S_POD_NAME=%s;K8S_POD_UID=%s", s->ns,
             s->name, s->uid);
    if ((rv = agent__cni_conflist_load(rt->cni_conf_dir, &l, e)) != 0)
        return err_wrapf(e, "pod network");
    rv = agent__cni_add(&rt->cni, l, &a, &res, e);
    agent__cni_conflist_free(l);
    if (rv != 0)
        return err_wrapf(e, "pod network");
    agent__cni_result_ipv4(&res, s->pod_ip, sizeof s->pod_ip);
    agent__cni_result_close(&res);
    snprintf(p, sizeof p, "%s/pods/%s/ip", rt->dir, s->uid);
    return write_file(p, s->pod_ip, strlen(s->pod_ip), 0644, e);
}

static bool cached(const struct agent__pods_rt *rt, const char *uid)
{
    DIR *d = opendir(rt->cni.cache_dir);
    struct dirent *de;
    bool found = false;
    if (d == NULL)
        return false;
    while (!found && (de = readdir(d)) != NULL)
        found = strstr(de->d_name, uid) != NULL;
    closedir(d);
    return found;
}

/* CNI DEL (idempotent: nothing cached, nothing to do). */
static int detach(const struct agent__pods_rt *rt, const char *uid, const char *netns,
                  struct err *e)
{
    struct agent__cni_conflist *l = NULL;
    struct agent__cni_attach a = {uid, netns, "eth0", NULL, NULL};
    char ipf[PATH_MAX];
    int rv;
    if (!rt->net)
        return 0;
    /* nothing attached (no IP file, no cached result): skip the plugins,
     * which a fresh pod's setup would otherwise run for nothing */
    snprintf(ipf, sizeof ipf, "%s/pods/%s/ip", rt->dir, uid);
    if (access(ipf, F_OK) != 0 && !cached(rt, uid))
        return 0;
    if ((rv = agent__cni_conflist_load(rt->cni_conf_dir, &l, e)) != 0)
        return rv == ERR_NOTFOUND ? 0 : rv; /* never configured: never attached */
    rv = agent__cni_del(&rt->cni, l, &a, e);
    agent__cni_conflist_free(l);
    return rv;
}

void agent__setup_run(struct agent__setup *s)
{
    const struct agent__pods_rt *rt = s->rt;
    struct err *e = &s->err, e2;
    char pdir[PATH_MAX], sbdir[PATH_MAX * 2];
    size_t i;

    s->states = calloc(s->n_ids ? s->n_ids : 1, sizeof *s->states);
    s->files = calloc(s->n_ids ? s->n_ids : 1, sizeof *s->files);
    if (s->states == NULL || s->files == NULL) {
        s->rv = err_setf(e, ERR_NOMEM, "setup: out of memory");
        return;
    }
    s->rv = agent__sandbox_open(rt->sbroot, s->uid, &s->sb, e);
    if (s->rv == 0) {
        s->adopted = true;
        adopt_states(s);
        read_ip(rt, s);
        return;
    }
    /* whatever a half-done setup or a lost sandbox left goes first (a new
     * uid has neither dir: skip the runc list the teardown costs) */
    pod_dir(rt, s->uid, pdir, sizeof pdir);
    snprintf(sbdir, sizeof sbdir, "%s/%s", rt->sbroot, s->uid);
    if (access(pdir, F_OK) == 0 || access(sbdir, F_OK) == 0)
        agent__teardown_run(rt, s->uid, &e2);
    err_clear(e);
    pod_dir(rt, s->uid, pdir, sizeof pdir);
    s->rv = agent__sandbox_create(rt->sbroot, s->uid, s->hostname, &s->sb, e);
    if (s->rv != 0)
        return;
    if ((s->rv = mkdirs(pdir, 0755, e)) != 0 || (s->rv = etc_files(rt, s, e)) != 0)
        goto undo;
    for (i = 0; i < s->n_vols; i++)
        if ((s->rv = setup_volume(rt, s->uid, &s->vols[i], e)) != 0)
            goto undo;
    if (s->attach && (s->rv = attach(rt, s, e)) != 0)
        goto undo;
    return;
undo:
    agent__teardown_run(rt, s->uid, &e2);
}

void agent__refresh_run(struct agent__setup *s)
{
    char dir[PATH_MAX], field[300];
    size_t i;
    for (i = 0; i < s->n_vols; i++) {
        const struct agent__vol *v = &s->vols[i];
        int rv;
        snprintf(dir, sizeof dir, "%s/pods/%s/volumes/%s", s->rt->dir, s->uid, v->name);
        snprintf(field, sizeof field, "volumes[%s].%s", v->name,
                 v->type == AGENT_VOL_SECRET ? "secret" : "configMap");
        rv = agent__volume_refresh(dir, v->type == AGENT_VOL_SECRET ? "Secret" : "ConfigMap",
                                   v->obj, v->src, field, &s->err);
        if (rv != 0 && s->rv == 0)
            s->rv = rv;
    }
}

void agent__setup_free(struct agent__setup *s)
{
    size_t i;
    if (s == NULL)
        return;
    for (i = 0; i < s->n_vols; i++) {
        json_decref(s->vols[i].src);
        json_decref(s->vols[i].obj);
    }
    for (i = 0; s->files != NULL && i < s->n_ids; i++)
        json_decref(s->files[i]);
    json_decref(s->port_mappings);
    free(s->files);
    free(s->states);
    free(s->vols);
    free(s->ids);
    free(s);
}

/* ------------------------------------------------------------------ */
/* teardown and scan                                                   */

static bool id_of_pod(const char *id, const char *uid)
{
    size_t n = strlen(uid);
    return strncmp(id, uid, n) == 0 && id[n] == '_';
}

static void remove_logs(const struct agent__pods_rt *rt, const char *uid)
{
    char dir[PATH_MAX], p[PATH_MAX];
    struct dirent *de;
    size_t ul = strlen(uid);
    DIR *d;
    snprintf(dir, sizeof dir, "%s/logs", rt->dir);
    if ((d = opendir(dir)) == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n > ul && de->d_name[n - ul - 1] == '_' && strcmp(de->d_name + n - ul, uid) == 0) {
            snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
            fs_rmtree(p);
        }
    }
    closedir(d);
}

int agent__teardown_run(const struct agent__pods_rt *rt, const char *uid, struct err *e)
{
    struct agent__runc_state *l = NULL;
    struct agent__sandbox sb;
    char pdir[PATH_MAX], cgp[PATH_MAX];
    struct err e2;
    size_t n = 0, i;
    int rv = 0, code;
    bool sb_open;

    if (agent__runc_list(&rt->runc, &l, &n, e) != 0)
        return err_wrapf(e, "teardown %s", uid);
    for (i = 0; i < n; i++) {
        if (!id_of_pod(l[i].id, uid))
            continue;
        agent__runc_kill(&rt->runc, l[i].id, SIGKILL, true, &e2);
        /* reap our own children so no zombie remains; others are pid 1's */
        if (l[i].pid > 0)
            agent__ctr_wait(l[i].pid, 2000, &code, &e2);
        if (agent__runc_delete(&rt->runc, l[i].id, true, &e2) != 0 && rv == 0)
            rv = err_setf(e, e2.code, "teardown %s: %s", uid, e2.msg);
    }
    free(l);
    pod_dir(rt, uid, pdir, sizeof pdir);
    if (agent__umount_below(pdir, &e2) != 0 && rv == 0)
        rv = err_setf(e, e2.code, "teardown %s: %s", uid, e2.msg);
    if (agent__cg_path(&rt->cg, uid, NULL, cgp, sizeof cgp, &e2) == 0 &&
        agent__cg_remove(&rt->cg, cgp, &e2) != 0 && rv == 0)
        rv = err_setf(e, e2.code, "teardown %s: %s", uid, e2.msg);
    /* paths filled even when gone */
    sb_open = agent__sandbox_open(rt->sbroot, uid, &sb, &e2) == 0;
    /* IP lease and host-side veth go before the netns does */
    if (detach(rt, uid, sb_open ? sb.netns : NULL, &e2) != 0 && rv == 0)
        rv = err_setf(e, e2.code, "teardown %s: pod network: %s", uid, e2.msg);
    if (agent__sandbox_destroy(&sb, &e2) != 0 && rv == 0)
        rv = err_setf(e, e2.code, "teardown %s: %s", uid, e2.msg);
    fs_rmtree(pdir);
    remove_logs(rt, uid);
    return rv;
}

int agent__scan_run(const struct agent__pods_rt *rt, json_t **uids, struct err *e)
{
    struct agent__runc_state *l = NULL;
    char **v = NULL, dir[PATH_MAX];
    struct dirent *de;
    size_t n = 0, i;
    json_t *o = json_object();
    DIR *d;
    int rv;

    *uids = NULL;
    if (o == NULL)
        return err_setf(e, ERR_NOMEM, "scan: out of memory");
    if ((rv = agent__runc_list(&rt->runc, &l, &n, e)) != 0)
        goto fail;
    for (i = 0; i < n; i++) {
        const char *us = strchr(l[i].id, '_');
        if (us != NULL) {
            char uid[256];
            snprintf(uid, sizeof uid, "%.*s", (int)(us - l[i].id), l[i].id);
            json_object_set_new(o, uid, json_true());
        }
    }
    free(l);
    if ((rv = agent__sandbox_list(rt->sbroot, &v, &n, e)) != 0)
        goto fail;
    for (i = 0; i < n; i++)
        json_object_set_new(o, v[i], json_true());
    agent__strv_free(v, n);
    if ((rv = agent__cg_list_pods(&rt->cg, &v, &n, e)) != 0)
        goto fail;
    for (i = 0; i < n; i++)
        json_object_set_new(o, v[i], json_true());
    agent__strv_free(v, n);
    snprintf(dir, sizeof dir, "%s/pods", rt->dir);
    if ((d = opendir(dir)) != NULL) {
        while ((de = readdir(d)) != NULL)
            if (de->d_name[0] != '.')
                json_object_set_new(o, de->d_name, json_true());
        closedir(d);
    }
    *uids = o;
    return 0;
fail:
    json_decref(o);
    return rv;
}
