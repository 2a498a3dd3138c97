/* agent/sandbox: a pod's network, IPC and UTS namespaces, kept alive by
 * bind mounts of nsfs files (the `ip netns add` way), not by a pause
 * process. Why: nothing to supervise or restart, nothing that a stray
 * `kill -9` or the OOM killer can take away from a running pod, no rootfs
 * or binary to ship for it, and the namespaces survive an agent restart
 * untouched; CNI gets a plain netns path. The price: no shared pid
 * namespace for the pod (shareProcessNamespace), which needs a process. */
#include "agent/runtime.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

static bool uid_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n > 0 && n <= 128 && strchr(s, '/') == NULL && s[0] != '.';
}

static int paths(const char *root, const char *uid, struct agent__sandbox *sb, struct err *e)
{
    memset(sb, 0, sizeof *sb);
    if (root == NULL || root[0] != '/')
        return err_setf(e, ERR_INVALID, "sandbox root: must be an absolute path");
    if (!uid_ok(uid))
        return err_setf(e, ERR_INVALID, "pod uid: must be a name without '/'");
    if (snprintf(sb->dir, sizeof sb->dir, "%s/%s", root, uid) >= (int)sizeof sb->dir - 8)
        return err_setf(e, ERR_INVALID, "sandbox %s: path too long", uid);
    snprintf(sb->netns, sizeof sb->netns, "%s/net", sb->dir);
    snprintf(sb->ipcns, sizeof sb->ipcns, "%s/ipc", sb->dir);
    snprintf(sb->utsns, sizeof sb->utsns, "%s/uts", sb->dir);
    snprintf(sb->shm, sizeof sb->shm, "%s/shm", sb->dir);
    return 0;
}

static bool is_nsfs(const char *path)
{
    struct statfs fs;
    return statfs(path, &fs) == 0 && (unsigned long)fs.f_type == (unsigned long)NSFS_MAGIC;
}

/* Steps of the child, reported back through a pipe with their errno. */
enum { STEP_UNSHARE = 1, STEP_HOSTNAME, STEP_LO, STEP_NET, STEP_IPC, STEP_UTS };
static const char *const step_names[] = {"",         "unshare",  "sethostname", "loopback up",
                                         "bind net", "bind ipc", "bind uts"};

/* In the forked child: only async-signal-safe calls (the parent may be
 * threaded), no allocation, then _exit. */
static void child(const struct agent__sandbox *sb, int fd)
{
    struct ifreq ifr;
    int step, s, err;

    step = STEP_UNSHARE;
    if (unshare(CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS) != 0)
        goto fail;
    step = STEP_HOSTNAME;
    if (sethostname(sb->hostname, strlen(sb->hostname)) != 0)
        goto fail;
    /* CNI's bridge plugin sets up eth0 only; 127.0.0.1 must work too */
    step = STEP_LO;
    s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        goto fail;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, "lo", 3);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0)
        goto fail;
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0)
        goto fail;
    close(s);
    step = STEP_NET;
    if (mount("/proc/self/ns/net", sb->netns, NULL, MS_BIND, NULL) != 0)
        goto fail;
    step = STEP_IPC;
    if (mount("/proc/self/ns/ipc", sb->ipcns, NULL, MS_BIND, NULL) != 0)
        goto fail;
    step = STEP_UTS;
    if (mount("/proc/self/ns/uts", sb->utsns, NULL, MS_BIND, NULL) != 0)
        goto fail;
    _exit(0);
fail:
    err = errno;
    if (write(fd, (int[]){step, err}, 2 * sizeof(int)) < 0)
        _exit(2);
    _exit(1);
}

static int touch(const char *path, struct err *e)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
    if (fd < 0)
        return err_setf(e, ERR_IO, "%s: %s", path, strerror(errno));
    close(fd);
    return 0;
}

static int make_namespaces(struct agent__sandbox *sb, struct err *e)
{
    int p[2], msg[2] = {0, 0}, status;
    ssize_t n;
    pid_t pid;

    if (pipe2(p, O_CLOEXEC) != 0)
        return err_setf(e, ERR_IO, "pipe: %s", strerror(errno));
    pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return err_setf(e, ERR_IO, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        close(p[0]);
        child(sb, p[1]);
    }
    close(p[1]);
    do
        n = read(p[0], msg, sizeof msg);
    while (n < 0 && errno == EINTR);
    close(p[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (n == (ssize_t)sizeof msg && msg[0] > 0 && msg[0] <= STEP_UTS)
        return err_setf(e, ERR_IO, "%s: %s", step_names[msg[0]], strerror(msg[1]));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return err_setf(e, ERR_IO, "namespace helper failed (status %d)", status);
    return 0;
}

static int write_file(const char *path, const char *text, struct err *e)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    size_t len = strlen(text);
    if (fd < 0)
        return err_setf(e, ERR_IO, "%s: %s", path, strerror(errno));
    if (write(fd, text, len) != (ssize_t)len) {
        int er = errno;
        close(fd);
        return err_setf(e, ERR_IO, "%s: write: %s", path, strerror(er));
    }
    close(fd);
    return 0;
}

int agent__sandbox_create(const char *root, const char *pod_uid, const char *hostname,
                          struct agent__sandbox *sb, struct err *e)
{
    char hfile[PATH_MAX + 16], line[80];
    struct err e2;
    size_t hl = hostname ? strlen(hostname) : 0;
    int rv;

    if ((rv = paths(root, pod_uid, sb, e)) != 0)
        return rv;
    if (hl == 0 || hl > 63 || strchr(hostname, '\n') != NULL)
        return err_setf(e, ERR_INVALID, "hostname: must be 1-63 bytes");
    snprintf(sb->hostname, sizeof sb->hostname, "%s", hostname);
    if (mkdir(root, 0700) != 0 && errno != EEXIST)
        return err_setf(e, ERR_IO, "sandbox root %s: %s", root, strerror(errno));
    if (mkdir(sb->dir, 0700) != 0) {
        if (errno == EEXIST)
            return err_setf(e, ERR_CONFLICT, "sandbox %s: already exists", pod_uid);
        return err_setf(e, ERR_IO, "sandbox %s: %s", sb->dir, strerror(errno));
    }
    snprintf(hfile, sizeof hfile, "%s/hostname", sb->dir);
    snprintf(line, sizeof line, "%s\n", hostname);
    if ((rv = touch(sb->netns, e)) != 0 || (rv = touch(sb->ipcns, e)) != 0 ||
        (rv = touch(sb->utsns, e)) != 0 || (rv = write_file(hfile, line, e)) != 0)
        goto fail;
    if (mkdir(sb->shm, 0755) != 0) {
        rv = err_setf(e, ERR_IO, "%s: %s", sb->shm, strerror(errno));
        goto fail;
    }
    /* one /dev/shm for the pod, as the sandbox's shm in containerd */
    if (mount("shm", sb->shm, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k") !=
        0) {
        rv = err_setf(e, ERR_IO, "%s: mount tmpfs: %s", sb->shm, strerror(errno));
        goto fail;
    }
    rv = make_namespaces(sb, e);
    if (rv != 0)
        goto fail;
    return 0;
fail:
    err_wrapf(e, "sandbox %s", pod_uid);
    agent__sandbox_destroy(sb, &e2);
    return rv;
}

int agent__sandbox_open(const char *root, const char *pod_uid, struct agent__sandbox *sb,
                        struct err *e)
{
    char hfile[PATH_MAX + 16];
    ssize_t n;
    int rv, fd;

    if ((rv = paths(root, pod_uid, sb, e)) != 0)
        return rv;
    if (!is_nsfs(sb->netns) || !is_nsfs(sb->ipcns) || !is_nsfs(sb->utsns))
        return err_setf(e, ERR_NOTFOUND, "sandbox %s: no namespaces mounted in %s", pod_uid,
                        sb->dir);
    snprintf(hfile, sizeof hfile, "%s/hostname", sb->dir);
    fd = open(hfile, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        n = read(fd, sb->hostname, sizeof sb->hostname - 1);
        close(fd);
        sb->hostname[n > 0 ? n : 0] = '\0';
        sb->hostname[strcspn(sb->hostname, "\n")] = '\0';
    }
    return 0;
}

/* Unmounts (lazily: a CNI plugin may still hold the netns open) and
 * unlinks one file; first error into e. */
static void undo(const char *path, bool dir, int *rv, struct err *e)
{
    if (path[0] == '\0')
        return;
    while (umount2(path, MNT_DETACH) == 0)
        ; /* stacked mounts from a repeated create */
    if ((dir ? rmdir(path) : unlink(path)) != 0 && errno != ENOENT && *rv == 0)
        *rv = err_setf(e, ERR_IO, "%s: %s", path, strerror(errno));
}

int agent__sandbox_destroy(struct agent__sandbox *sb, struct err *e)
{
    char hfile[PATH_MAX + 16];
    int rv = 0;

    if (sb->dir[0] == '\0')
        return 0;
    undo(sb->netns, false, &rv, e);
    undo(sb->ipcns, false, &rv, e);
    undo(sb->utsns, false, &rv, e);
    undo(sb->shm, true, &rv, e);
    snprintf(hfile, sizeof hfile, "%s/hostname", sb->dir);
    if (unlink(hfile) != 0 && errno != ENOENT && rv == 0)
        rv = err_setf(e, ERR_IO, "%s: %s", hfile, strerror(errno));
    if (rmdir(sb->dir) != 0 && errno != ENOENT && rv == 0)
        rv = err_setf(e, ERR_IO, "%s: %s", sb->dir, strerror(errno));
    return rv;
}

int agent__sandbox_list(const char *root, char ***uids, size_t *n, struct err *e)
{
    struct dirent *de;
    DIR *d;

    *uids = NULL;
    *n = 0;
    d = opendir(root);
    if (d == NULL)
        return errno == ENOENT ? 0
                               : err_setf(e, ERR_IO, "sandbox root %s: %s", root, strerror(errno));
    while ((de = readdir(d)) != NULL) {
        char **nv, *c;
        if (de->d_type != DT_DIR || !uid_ok(de->d_name))
            continue;
        c = strdup(de->d_name);
        nv = c ? realloc(*uids, (*n + 1) * sizeof *nv) : NULL;
        if (nv == NULL) {
            free(c);
            closedir(d);
            agent__strv_free(*uids, *n);
            *uids = NULL;
            *n = 0;
            return err_setf(e, ERR_NOMEM, "sandbox list: out of memory");
        }
        nv[(*n)++] = c;
        *uids = nv;
    }
    closedir(d);
    return 0;
}
