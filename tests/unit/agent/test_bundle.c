/* OCI config.json from a Pod, a container and an image config, checked
 * field by field against what kubelet + containerd would give runc; and
 * Kubernetes quantities and $(VAR) expansion. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/runtime.h"
#include "lib/fs.h"

/* ---- helpers ---- */

/* A JSON value from printf-style text written with ' for ". */
static json_t *J(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *J(const char *fmt, ...)
{
    char buf[8192];
    json_error_t jerr;
    json_t *v;
    va_list ap;
    int n;
    size_t i;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof buf);
    for (i = 0; buf[i] != '\0'; i++)
        if (buf[i] == '\'')
            buf[i] = '"';
    v = json_loads(buf, JSON_DECODE_ANY, &jerr);
    if (v == NULL)
        fail_msg("bad test JSON at %d: %s: %s", jerr.position, jerr.text, buf);
    return v;
}

/* Asserts that v (borrowed) equals the JSON text (with '). */
static void assert_json(const json_t *v, const char *text)
{
    json_t *want = J("%s", text);
    if (!json_equal(v, want)) {
        char *got = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        char *exp = json_dumps(want, JSON_COMPACT | JSON_ENCODE_ANY);
        print_error("got:  %s\nwant: %s\n", got ? got : "(null)", exp);
        free(got);
        free(exp);
        json_decref(want);
        fail();
    }
    json_decref(want);
}

/* config["a"]["b"]... by a path "a.b.c" (numbers index arrays) */
static const json_t *at(const json_t *v, const char *path)
{
    char buf[256], *save = NULL, *tok;
    snprintf(buf, sizeof buf, "%s", path);
    for (tok = strtok_r(buf, ".", &save); tok && v; tok = strtok_r(NULL, ".", &save)) {
        if (json_is_array(v))
            v = json_array_get(v, strtoul(tok, NULL, 10));
        else
            v = json_object_get(v, tok);
    }
    return v;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

struct fx {
    char root[64]; /* temp dir: rootfs with etc/passwd and etc/group */
    json_t *pod, *img;
    struct agent__bundle_spec s;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    char p[128];
    snprintf(f->root, sizeof f->root, "/tmp/skiff-bundle-XXXXXX");
    assert_non_null(mkdtemp(f->root));
    snprintf(p, sizeof p, "%s/etc", f->root);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/etc/passwd", f->root);
    write_text(p, "root:x:0:0:root:/root:/bin/sh\n"
                  "# a comment\n"
                  "app:x:1000:1001::/home/app:/bin/sh\n"
                  "nobody:x:65534:65534::/:/bin/false\n");
    snprintf(p, sizeof p, "%s/etc/group", f->root);
    write_text(p, "root:x:0:\n"
                  "wheel:x:10:root\n"
                  "staff:x:50:bob,app\n"
                  "app:x:1001:\n"
                  "nogroup:x:65534:\n");
    f->pod = J("{'metadata': {'name': 'web-0', 'namespace': 'default', 'uid': 'u1'},"
               " 'spec': {'securityContext': {'supplementalGroups': [3000], 'fsGroup': 2000},"
               "  'containers': ["
               "   {'name': 'side', 'image': 'x'},"
               "   {'name': 'app', 'image': 'busybox',"
               "    'command': ['/bin/sh', '-c'],"
               "    'args': ['echo $(GREETING) $(MISSING) $$(GREETING) $(PORT)'],"
               "    'workingDir': '/work',"
               "    'securityContext': {'runAsUser': 1000, 'readOnlyRootFilesystem': true,"
               "     'allowPrivilegeEscalation': false,"
               "     'capabilities': {'add': ['NET_ADMIN', 'sys_time'],"
               "                      'drop': ['MKNOD', 'CAP_NET_RAW']}},"
               "    'resources': {'limits': {'memory': '64Mi', 'cpu': '500m'},"
               "                  'requests': {'cpu': '250m', 'memory': '32Mi'}}}]}}");
    f->img = J("{'Entrypoint': ['/entry'], 'Cmd': ['def'],"
               " 'Env': ['PATH=/img/bin', 'GREETING=image', 'IMG=1'],"
               " 'WorkingDir': '/img', 'User': 'nobody'}");
    f->s.pod = f->pod;
    f->s.container = at(f->pod, "spec.containers.1");
    f->s.image_config = f->img;
    f->s.rootfs = f->root;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    json_decref(f->pod);
    json_decref(f->img);
    fs_rmtree(f->root);
    free(f);
    return 0;
}

/* config for f->s; fails the test on error */
static json_t *config_ok(struct fx *f)
{
    json_t *cfg = NULL;
    struct err e = {0};
    int rv = agent__bundle_config(&f->s, &cfg, &e);
    if (rv != 0)
        fail_msg("bundle_config: %s", e.msg);
    assert_non_null(cfg);
    return cfg;
}

/* the error of config for f->s, which must fail with code */
static const char *config_err(struct fx *f, int code, struct err *e)
{
    json_t *cfg = NULL;
    assert_int_equal(agent__bundle_config(&f->s, &cfg, e), code);
    assert_null(cfg);
    return e->msg;
}

static void assert_contains(const char *s, const char *sub)
{
    if (strstr(s, sub) == NULL)
        fail_msg("\"%s\" does not contain \"%s\"", s, sub);
}

/* ---- the rich pod ---- */

static void test_config_rich_pod_field_by_field(void **state)
{
    struct fx *f = *state;
    const struct agent__env env[] = {
        {"SVC_HOST", "10.0.0.1", true},
        {"GREETING", "hello $(SVC_HOST)", false},
        {"PORT", "8080", false},
        {"SECRET", "$(GREETING)", true}, /* from valueFrom: never expanded */
        {"PATH_X", "$(PORT)$(LATER)", false},
        {"LATER", "x", false},
    };
    const struct agent__mount mounts[] = {
        {"/h/sub", "/data/sub", false, false},
        {"/h/data", "/data", true, false},
        {NULL, "/cache", false, true},
    };
    json_t *cfg;

    f->s.env = env;
    f->s.n_env = 6;
    f->s.mounts = mounts;
    f->s.n_mounts = 3;
    f->s.netns_path = "/run/sb/net";
    f->s.ipcns_path = "/run/sb/ipc";
    f->s.utsns_path = "/run/sb/uts";
    f->s.hosts_path = "/run/pod/hosts";
    f->s.resolv_path = "/run/pod/resolv.conf";
    f->s.hostname_path = "/run/pod/hostname";
    f->s.termination_log_path = "/run/pod/c1-termination-log";
    f->s.cgroups_path = "/skiff-n1/podu1/c1";
    cfg = config_ok(f);

    assert_string_equal(json_string_value(at(cfg, "ociVersion")), "1.0.2");
    /* command replaces Entrypoint and drops Cmd; $(VAR) from the container env */
    assert_json(at(cfg, "process.args"),
                "['/bin/sh', '-c', 'echo hello 10.0.0.1 $(MISSING) $(GREETING) 8080']");
    /* PATH and GREETING replaced in place; container env after the image's */
    assert_json(at(cfg, "process.env"),
                "['PATH=/img/bin', 'HOSTNAME=web-0', 'GREETING=hello 10.0.0.1', 'IMG=1',"
                " 'SVC_HOST=10.0.0.1', 'PORT=8080', 'SECRET=$(GREETING)',"
                " 'PATH_X=8080$(LATER)', 'LATER=x']");
    assert_string_equal(json_string_value(at(cfg, "process.cwd")), "/work");
    assert_false(json_is_true(at(cfg, "process.terminal")));
    /* runAsUser 1000 wins over the image's nobody; gid from /etc/passwd;
     * primary, member-of, supplementalGroups, fsGroup */
    assert_json(at(cfg, "process.user"),
                "{'uid': 1000, 'gid': 1001, 'additionalGids': [1001, 50, 3000, 2000]}");
    assert_true(json_is_true(at(cfg, "process.noNewPrivileges")));
    assert_json(at(cfg, "process.capabilities.bounding"),
                "['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL',"
                " 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE',"
                " 'CAP_NET_ADMIN', 'CAP_SYS_CHROOT', 'CAP_SYS_TIME', 'CAP_AUDIT_WRITE',"
                " 'CAP_SETFCAP']");
    assert_true(json_equal(at(cfg, "process.capabilities.bounding"),
                           at(cfg, "process.capabilities.effective")));
    assert_true(json_equal(at(cfg, "process.capabilities.bounding"),
                           at(cfg, "process.capabilities.permitted")));
    assert_null(at(cfg, "process.capabilities.inheritable"));
    assert_null(at(cfg, "process.capabilities.ambient"));

    assert_true(json_is_true(at(cfg, "root.readonly")));
    assert_string_equal(json_string_value(at(cfg, "root.path")), f->root);
    assert_string_equal(json_string_value(at(cfg, "hostname")), "web-0");

    assert_json(
        at(cfg, "linux.namespaces"),
        "[{'type': 'pid'}, {'type': 'mount'},"
        " {'type': 'network', 'path': '/run/sb/net'}, {'type': 'uts', 'path': '/run/sb/uts'},"
        " {'type': 'ipc', 'path': '/run/sb/ipc'}]");
    assert_string_equal(json_string_value(at(cfg, "linux.cgroupsPath")), "/skiff-n1/podu1/c1");
    /* 64Mi; 500m → 50 ms per 100 ms; 250m → 256 shares */
    assert_json(at(cfg, "linux.resources"),
                "{'devices': [{'allow': false, 'access': 'rwm'}],"
                " 'memory': {'limit': 67108864},"
                " 'cpu': {'shares': 256, 'quota': 50000, 'period': 100000}}");
    assert_json(at(cfg, "linux.maskedPaths"),
                "['/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats',"
                " '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi',"
                " '/sys/firmware', '/sys/devices/virtual/powercap']");
    assert_json(at(cfg, "linux.readonlyPaths"),
                "['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']");

    /* defaults, kubelet's files (ro: the root is read-only), volumes by depth */
    assert_json(
        at(cfg, "mounts"),
        "[{'destination': '/proc', 'type': 'proc', 'source': 'proc',"
        "  'options': ['nosuid', 'noexec', 'nodev']},"
        " {'destination': '/dev', 'type': 'tmpfs', 'source': 'tmpfs',"
        "  'options': ['nosuid', 'strictatime', 'mode=755', 'size=65536k']},"
        " {'destination': '/dev/pts', 'type': 'devpts', 'source': 'devpts',"
        "  'options': ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620',"
        "  'gid=5']},"
        " {'destination': '/dev/shm', 'type': 'tmpfs', 'source': 'shm',"
        "  'options': ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k']},"
        " {'destination': '/dev/mqueue', 'type': 'mqueue', 'source': 'mqueue',"
        "  'options': ['nosuid', 'noexec', 'nodev']},"
        " {'destination': '/sys', 'type': 'sysfs', 'source': 'sysfs',"
        "  'options': ['nosuid', 'noexec', 'nodev', 'ro']},"
        " {'destination': '/sys/fs/cgroup', 'type': 'cgroup', 'source': 'cgroup',"
        "  'options': ['nosuid', 'noexec', 'nodev', 'relatime', 'ro']},"
        " {'destination': '/etc/hosts', 'type': 'bind', 'source': '/run/pod/hosts',"
        "  'options': ['rbind', 'rprivate', 'ro']},"
        " {'destination': '/etc/resolv.conf', 'type': 'bind',"
        "  'source': '/run/pod/resolv.conf', 'options': ['rbind', 'rprivate', 'ro']},"
        " {'destination': '/etc/hostname', 'type': 'bind', 'source': '/run/pod/hostname',"
        "  'options': ['rbind', 'rprivate', 'ro']},"
        " {'destination': '/dev/termination-log', 'type': 'bind',"
        "  'source': '/run/pod/c1-termination-log', 'options': ['rbind', 'rprivate', 'rw']},"
        " {'destination': '/data', 'type': 'bind', 'source': '/h/data',"
        "  'options': ['rbind', 'rprivate', 'ro']},"
        " {'destination': '/cache', 'type': 'tmpfs', 'source': 'tmpfs',"
        "  'options': ['nosuid', 'nodev', 'mode=1777', 'rw']},"
        " {'destination': '/data/sub', 'type': 'bind', 'source': '/h/sub',"
        "  'options': ['rbind', 'rprivate', 'rw']}]");
    json_decref(cfg);
}

static void test_config_write_produces_the_same_json(void **state)
{
    struct fx *f = *state;
    char path[128];
    json_t *cfg = config_ok(f), *back;
    struct err e;

    assert_int_equal(agent__bundle_write(&f->s, f->root, &e), 0);
    snprintf(path, sizeof path, "%s/config.json", f->root);
    back = json_load_file(path, 0, NULL);
    assert_non_null(back);
    assert_true(json_equal(cfg, back));
    json_decref(back);
    json_decref(cfg);
}

/* ---- process args: Kubernetes' command/args vs Entrypoint/Cmd ---- */

static void test_args_from_image_when_container_gives_none(void **state)
{
    struct fx *f = *state;
    json_t *c = (json_t *)f->s.container, *cfg;

    json_object_del(c, "command");
    json_object_del(c, "args");
    cfg = config_ok(f);
    assert_json(at(cfg, "process.args"), "['/entry', 'def']");
    json_decref(cfg);

    /* args only: Entrypoint + args (expanded), Cmd dropped */
    json_object_set_new(c, "args", J("['-v', '$(NOPE)']"));
    cfg = config_ok(f);
    assert_json(at(cfg, "process.args"), "['/entry', '-v', '$(NOPE)']");
    json_decref(cfg);

    /* command only: the image's Cmd is dropped too */
    json_object_del(c, "args");
    json_object_set_new(c, "command", J("['/bin/true']"));
    cfg = config_ok(f);
    assert_json(at(cfg, "process.args"), "['/bin/true']");
    json_decref(cfg);
}

static void test_image_args_are_not_expanded(void **state)
{
    struct fx *f = *state;
    const struct agent__env env[] = {{"A", "1", false}};
    json_t *c = (json_t *)f->s.container, *cfg;

    json_object_del(c, "command");
    json_object_del(c, "args");
    json_object_set_new((json_t *)f->img, "Cmd", J("['$(A)']"));
    f->s.env = env;
    f->s.n_env = 1;
    cfg = config_ok(f);
    assert_json(at(cfg, "process.args"), "['/entry', '$(A)']");
    json_decref(cfg);
}

static void test_no_command_anywhere_is_invalid(void **state)
{
    struct fx *f = *state;
    json_t *c = (json_t *)f->s.container;
    struct err e;

    json_object_del(c, "command");
    json_object_del(c, "args");
    f->s.image_config = NULL;
    assert_contains(config_err(f, ERR_INVALID, &e), "spec.containers[1].command: no command");
}

static void test_whole_image_config_is_accepted(void **state)
{
    struct fx *f = *state;
    json_t *whole = J("{'architecture': 'amd64', 'config': {'Cmd': ['/bin/sh'], 'User': '1234'}}");
    json_t *cfg;

    json_object_del((json_t *)f->s.container, "command");
    json_object_del((json_t *)f->s.container, "args");
    json_object_del(json_object_get((json_t *)f->s.container, "securityContext"), "runAsUser");
    f->s.image_config = whole;
    cfg = config_ok(f);
    assert_json(at(cfg, "process.args"), "['/bin/sh']");
    /* a numeric user without a passwd entry: gid 0 */
    assert_json(at(cfg, "process.user"),
                "{'uid': 1234, 'gid': 0, 'additionalGids': [0, 3000, 2000]}");
    /* workingDir from the container; no image WorkingDir here */
    assert_string_equal(json_string_value(at(cfg, "process.cwd")), "/work");
    json_decref(cfg);
    json_decref(whole);
}

static void test_bad_image_config_fields_are_named(void **state)
{
    struct fx *f = *state;
    json_t *c = (json_t *)f->s.container;
    struct err e;

    json_object_set_new((json_t *)f->img, "Env", J("['A=1', 7]"));
    assert_string_equal(config_err(f, ERR_INVALID, &e),
                        "image config.Env[1]: must be a string NAME=VALUE");
    json_object_set_new((json_t *)f->img, "Env", J("'A=1'"));
    assert_string_equal(config_err(f, ERR_INVALID, &e),
                        "image config.Env: must be an array of strings");
    json_object_del((json_t *)f->img, "Env");

    json_object_del(c, "command");
    json_object_del(c, "args");
    json_object_set_new((json_t *)f->img, "Cmd", J("[1]"));
    assert_string_equal(config_err(f, ERR_INVALID, &e), "image config.Cmd[0]: must be a string");
    json_object_set_new((json_t *)f->img, "Cmd", J("['x']"));

    json_object_set_new((json_t *)f->img, "WorkingDir", J("'rel'"));
    json_object_del(c, "workingDir");
    assert_contains(config_err(f, ERR_INVALID, &e), "image config.WorkingDir: must be an absolute");
    json_object_set_new((json_t *)f->img, "WorkingDir", J("'/img'"));

    json_object_set_new(c, "args", J("['ok', {}]"));
    assert_string_equal(config_err(f, ERR_INVALID, &e),
                        "spec.containers[1].args[1]: must be a string");
}

/* ---- users ---- */

static void test_image_user_name_and_group_resolve_in_rootfs(void **state)
{
    struct fx *f = *state;
    json_t *sc = json_object_get((json_t *)f->s.container, "securityContext"), *cfg;

    json_object_del(sc, "runAsUser");
    json_object_set_new((json_t *)f->img, "User", json_string("app:staff"));
    cfg = config_ok(f);
    assert_json(at(cfg, "process.user"),
                "{'uid': 1000, 'gid': 50, 'additionalGids': [50, 3000, 2000]}");
    json_decref(cfg);

    json_object_set_new((json_t *)f->img, "User", json_string("app"));
    cfg = config_ok(f);
    assert_json(at(cfg, "process.user"),
                "{'uid': 1000, 'gid': 1001, 'additionalGids': [1001, 50, 3000, 2000]}");
    json_decref(cfg);

    /* runAsGroup alone overrides the image's group */
    json_object_set_new(sc, "runAsGroup", json_integer(77));
    cfg = config_ok(f);
    assert_json(at(cfg, "process.user"),
                "{'uid': 1000, 'gid': 77, 'additionalGids': [77, 50, 3000, 2000]}");
    json_decref(cfg);

    /* uid:gid numbers need no files */
    json_object_del(sc, "runAsGroup");
    json_object_set_new((json_t *)f->img, "User", json_string("5:6"));
    cfg = config_ok(f);
    assert_json(at(cfg, "process.user"), "{'uid': 5, 'gid': 6, 'additionalGids': [6, 3000, 2000]}");
    json_decref(cfg);
}

static void test_unknown_user_or_group_is_invalid(void **state)
{
    struct fx *f = *state;
    json_t *sc = json_object_get((json_t *)f->s.container, "securityContext");
    struct err e;

    json_object_del(sc, "runAsUser");
    json_object_set_new((json_t *)f->img, "User", json_string("bob"));
    assert_string_equal(config_err(f, ERR_INVALID, &e),
                        "image config.User: unknown user \"bob\" (not in the image's /etc/passwd)");
    json_object_set_new((json_t *)f->img, "User", json_string("app:nope"));
    assert_string_equal(
        config_err(f, ERR_INVALID, &e),
        "image config.User: unknown group \"nope\" (not in the image's /etc/group)");
    json_object_set_new((json_t *)f->img, "User", json_string("app:"));
    assert_contains(config_err(f, ERR_INVALID, &e), "image config.User: must be user[:group]");
    json_object_set_new(sc, "runAsUser", json_integer(-1));
    assert_contains(config_err(f, ERR_INVALID, &e), "spec.containers[1].securityContext.runAsUser");
}

static void test_run_as_non_root_refuses_uid_0(void **state)
{
    struct fx *f = *state;
    json_t *sc = json_object_get((json_t *)f->s.container, "securityContext"), *cfg;
    struct err e;

    json_object_set_new(sc, "runAsNonRoot", json_true());
    cfg = config_ok(f); /* uid 1000 is fine */
    json_decref(cfg);
    json_object_set_new(sc, "runAsUser", json_integer(0));
    assert_contains(config_err(f, ERR_INVALID, &e),
                    "spec.containers[1].securityContext.runAsNonRoot");
}

static void test_passwd_symlink_does_not_escape_the_rootfs(void **state)
{
    struct fx *f = *state;
    json_t *sc = json_object_get((json_t *)f->s.container, "securityContext");
    char p[128];
    struct err e;

    /* /etc/passwd -> /etc/passwd.real: resolved inside the rootfs, so the
     * host's /etc/passwd (which has "root") is never read */
    snprintf(p, sizeof p, "%s/etc/passwd", f->root);
    unlink(p);
    assert_int_equal(symlink("/etc/passwd.real", p), 0);
    snprintf(p, sizeof p, "%s/etc/passwd.real", f->root);
    write_text(p, "inside:x:42:42::/:/bin/sh\n");
    json_object_del(sc, "runAsUser");
    json_object_set_new((json_t *)f->img, "User", json_string("inside"));
    json_decref(config_ok(f));
    json_object_set_new((json_t *)f->img, "User", json_string("daemon"));
    assert_contains(config_err(f, ERR_INVALID, &e), "unknown user \"daemon\"");
}

/* ---- capabilities and privileged ---- */

static void test_capabilities_all_and_single(void **state)
{
    struct fx *f = *state;
    json_t *sc = json_object_get((json_t *)f->s.container, "securityContext"), *cfg;

    json_object_set_new(sc, "capabilities", J("{'add': ['ALL'], 'drop': ['CHOWN']}"));
    cfg = config_ok(f);
    assert_int_equal(json_array_size(at(cfg, "process.capabilities.bounding")), 40);
    assert_string_equal(json_string_value(at(cfg, "process.capabilities.bounding.0")),
                        "CAP_DAC_OVERRIDE");
    json_decref(cfg);

    json_object_set_new(sc, "capabilities", J("{'drop': ['all'], 'add': ['NET_BIND_SERVICE']}"));
    cfg = config_ok(f);
    assert_json(at(cfg, "process.capabilities.effective"), "['CAP_NET_BIND_SERVICE']");
    json_decref(cfg);
}

static void test_unknown_capability_is_invalid(void **state)
{
    struct fx *f = *state;
    json_t *sc = json_object_get((json_t *)f->s.container, "securityContext");
    struct err e;

    json_object_set_new(sc, "capabilities", J("{'add': ['NET_ADMIN', 'NET_ADMN']}"));
    assert_string_equal(
        config_err(f, ERR_INVALID, &e),
        "spec.containers[1].securityContext.capabilities.add[1]: unknown capability "
        "\"NET_ADMN\"");
}

static void test_privileged_gets_everything(void **state)
{
    struct fx *f = *state;
    json_t *sc = json_object_get((json_t *)f->s.container, "securityContext"), *cfg;

    json_object_set_new(sc, "privileged", json_true());
    cfg = config_ok(f);
    assert_int_equal(json_array_size(at(cfg, "process.capabilities.bounding")), 41);
    assert_null(at(cfg, "linux.maskedPaths"));
    assert_null(at(cfg, "linux.readonlyPaths"));
    assert_json(at(cfg, "linux.resources.devices"), "[{'allow': true, 'access': 'rwm'}]");
    assert_string_equal(json_string_value(at(cfg, "mounts.5.destination")), "/sys");
    assert_string_equal(json_string_value(at(cfg, "mounts.5.options.3")), "rw");
    json_decref(cfg);
}

static void test_defaults_without_security_context(void **state)
{
    struct fx *f = *state;
    json_t *c = (json_t *)f->s.container, *cfg;

    json_object_del(c, "securityContext");
    json_object_del(c, "resources");
    json_object_del(c, "workingDir");
    cfg = config_ok(f);
    assert_json(at(cfg, "process.capabilities.bounding"),
                "['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL',"
                " 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW',"
                " 'CAP_SYS_CHROOT', 'CAP_MKNOD', 'CAP_AUDIT_WRITE', 'CAP_SETFCAP']");
    assert_false(json_is_true(at(cfg, "process.noNewPrivileges")));
    assert_false(json_is_true(at(cfg, "root.readonly")));
    /* image user nobody: 65534/65534 */
    assert_json(at(cfg, "process.user"),
                "{'uid': 65534, 'gid': 65534, 'additionalGids': [65534, 3000, 2000]}");
    assert_string_equal(json_string_value(at(cfg, "process.cwd")), "/img");
    /* BestEffort: 2 shares, no quota, no memory limit */
    assert_json(at(cfg, "linux.resources"),
                "{'devices': [{'allow': false, 'access': 'rwm'}], 'cpu': {'shares': 2}}");
    /* no sandbox paths: fresh namespaces; no cgroupsPath */
    assert_json(at(cfg, "linux.namespaces"),
                "[{'type': 'pid'}, {'type': 'mount'}, {'type': 'network'}, {'type': 'uts'},"
                " {'type': 'ipc'}]");
    assert_null(at(cfg, "linux.cgroupsPath"));
    json_decref(cfg);
}

static void test_host_namespaces_and_hostname(void **state)
{
    struct fx *f = *state;
    json_t *spec = json_object_get(f->pod, "spec"), *cfg;

    json_object_set_new(spec, "hostname", json_string("custom-"));
    cfg = config_ok(f);
    assert_string_equal(json_string_value(at(cfg, "hostname")), "custom");
    json_decref(cfg);
    json_object_set_new(spec, "hostNetwork", json_true());
    json_object_set_new(spec, "hostPID", json_true());
    cfg = config_ok(f);
    assert_json(at(cfg, "linux.namespaces"), "[{'type': 'mount'}, {'type': 'ipc'}]");
    assert_null(at(cfg, "hostname"));
    json_decref(cfg);
}

static void test_cpu_limit_only_sets_shares_from_it_and_small_quota_is_clamped(void **state)
{
    struct fx *f = *state;
    json_t *c = (json_t *)f->s.container, *cfg;

    json_object_set_new(c, "resources", J("{'limits': {'cpu': '5m', 'memory': '1G'}}"));
    cfg = config_ok(f);
    assert_json(at(cfg, "linux.resources.cpu"), "{'shares': 5, 'quota': 1000, 'period': 100000}");
    assert_json(at(cfg, "linux.resources.memory"), "{'limit': 1000000000}");
    json_decref(cfg);
    json_object_set_new(c, "resources", J("{'limits': {'cpu': 2}, 'requests': {'cpu': '0.1'}}"));
    cfg = config_ok(f);
    assert_json(at(cfg, "linux.resources.cpu"),
                "{'shares': 102, 'quota': 200000, 'period': 100000}");
    json_decref(cfg);
}

static void test_bad_quantity_names_the_field(void **state)
{
    struct fx *f = *state;
    json_t *c = (json_t *)f->s.container;
    struct err e;

    json_object_set_new(c, "resources", J("{'limits': {'memory': '12x'}}"));
    assert_string_equal(config_err(f, ERR_INVALID, &e),
                        "spec.containers[1].resources.limits.memory: unable to parse quantity's "
                        "suffix, got \"12x\"");
    json_object_set_new(c, "resources", J("{'requests': {'cpu': '-1'}}"));
    assert_string_equal(
        config_err(f, ERR_INVALID, &e),
        "spec.containers[1].resources.requests.cpu: must not be negative, got \"-1\"");
    json_object_set_new(c, "resources", J("{'limits': {'cpu': true}}"));
    assert_string_equal(config_err(f, ERR_INVALID, &e),
                        "spec.containers[1].resources.limits.cpu: must be a quantity string");
}

static void test_bad_inputs(void **state)
{
    struct fx *f = *state;
    const struct agent__mount rel[] = {{"/h", "data", false, false}};
    const struct agent__env bad[] = {{"A=B", "x", false}};
    struct err e;

    f->s.mounts = rel;
    f->s.n_mounts = 1;
    assert_string_equal(config_err(f, ERR_INVALID, &e),
                        "mounts[0].destination: must be an absolute path");
    f->s.n_mounts = 0;
    f->s.env = bad;
    f->s.n_env = 1;
    assert_contains(config_err(f, ERR_INVALID, &e), "spec.containers[1].env[0].name");
    f->s.n_env = 0;
    f->s.rootfs = "rel";
    assert_string_equal(config_err(f, ERR_INVALID, &e), "rootfs: must be an absolute path");
    f->s.rootfs = f->root;
    f->s.container = NULL;
    assert_string_equal(config_err(f, ERR_INVALID, &e), "container: must be an object");
}

/* ---- quantities ---- */

static void test_quantities_exact(void **state)
{
    static const struct {
        const char *q;
        int64_t milli, value;
    } t[] = {
        {"500m", 500, 1},
        {"0.5", 500, 1},
        {"1", 1000, 1},
        {"64Mi", 67108864000, 67108864},
        {"1G", 1000000000000, 1000000000},
        {"1Gi", 1073741824000, 1073741824},
        {"2e3", 2000000, 2000},
        {"1.5Gi", 1610612736000, 1610612736},
        {"100n", 1, 1},
        {"1k", 1000000, 1000},
        {"1Ki", 1024000, 1024},
        {"0", 0, 0},
        {"+3", 3000, 3},
        {".25", 250, 1},
        {"1E", INT64_MAX, 1000000000000000000}, /* milli overflows: checked below */
    };
    struct err e;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof t / sizeof t[0]; i++) {
        json_t *q = json_string(t[i].q);
        int64_t v;
        assert_int_equal(agent__qty_value(q, "q", &v, &e), 0);
        assert_int_equal(v, t[i].value);
        if (t[i].milli != INT64_MAX) {
            assert_int_equal(agent__qty_milli(q, "q", &v, &e), 0);
            assert_int_equal(v, t[i].milli);
        } else {
            assert_int_equal(agent__qty_milli(q, "q", &v, &e), ERR_INVALID);
        }
        json_decref(q);
    }
}

static void test_quantities_numbers_and_bad(void **state)
{
    static const char *const bad[] = {"",   "-1",   "1.2.3", "5Z",   "1e",
                                      "Mi", "1 Mi", "9Ei",   "1e41", "12mi"};
    json_t *q;
    struct err e;
    int64_t v;
    size_t i;

    (void)state;
    q = json_integer(2);
    assert_int_equal(agent__qty_milli(q, "q", &v, &e), 0);
    assert_int_equal(v, 2000);
    json_decref(q);
    q = json_real(0.25);
    assert_int_equal(agent__qty_milli(q, "q", &v, &e), 0);
    assert_int_equal(v, 250);
    json_decref(q);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        q = json_string(bad[i]);
        if (agent__qty_value(q, "x.y", &v, &e) != ERR_INVALID)
            fail_msg("\"%s\" accepted as %lld", bad[i], (long long)v);
        assert_contains(e.msg, "x.y: ");
        json_decref(q);
    }
}

/* ---- $(VAR) expansion ---- */

static void test_expand_rules(void **state)
{
    const struct agent__env env[] = {{"A", "1", false}, {"B", "two", false}, {"A", "3", false}};
    static const struct {
        const char *in, *out;
    } t[] = {
        {"$(A)", "3"}, /* a later entry wins */
        {"x$(B)y$(A)", "xtwoy3"},
        {"$(C)", "$(C)"},  /* undefined: kept */
        {"$$(A)", "$(A)"}, /* escaped */
        {"$$", "$"},
        {"$x", "$x"},
        {"a$", "a$"},
        {"$(A", "$(A"}, /* incomplete */
        {"$()", "$()"},
        {"", ""},
        {"$$$(B)", "$two"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof t / sizeof t[0]; i++) {
        char *s = agent__expand(t[i].in, env, 3);
        assert_non_null(s);
        if (strcmp(s, t[i].out) != 0)
            fail_msg("expand(\"%s\") = \"%s\", want \"%s\"", t[i].in, s, t[i].out);
        free(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_config_rich_pod_field_by_field, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_write_produces_the_same_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_args_from_image_when_container_gives_none, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_image_args_are_not_expanded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_command_anywhere_is_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_whole_image_config_is_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_image_config_fields_are_named, setup, teardown),
        cmocka_unit_test_setup_teardown(test_image_user_name_and_group_resolve_in_rootfs, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unknown_user_or_group_is_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_as_non_root_refuses_uid_0, setup, teardown),
        cmocka_unit_test_setup_teardown(test_passwd_symlink_does_not_escape_the_rootfs, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_capabilities_all_and_single, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_capability_is_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_privileged_gets_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(test_defaults_without_security_context, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_namespaces_and_hostname, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_cpu_limit_only_sets_shares_from_it_and_small_quota_is_clamped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_quantity_names_the_field, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_inputs, setup, teardown),
        cmocka_unit_test(test_quantities_exact),
        cmocka_unit_test(test_quantities_numbers_and_bad),
        cmocka_unit_test(test_expand_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
