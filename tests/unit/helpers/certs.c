/* Test PKI (openssl CLI), temp dirs and loopback ports. See helpers.h. */
#include "tests/unit/helpers/helpers.h"

#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* P-256 keys: fast to make, and what the cluster PKI uses. */
static const char *script_head =
    "set -e; cd '%s'; "
    "k='-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes'; "
    "openssl req -x509 $k -keyout ca.key -out ca.crt -days 2 -subj /CN=skiff-test-ca; "
    "openssl req -x509 $k -keyout evilca.key -out evilca.crt -days 2 -subj /CN=evil-ca; "
    "openssl req $k -keyout evil.key -out evil.csr -subj /CN=evil; "
    "openssl x509 -req -in evil.csr -CA evilca.crt -CAkey evilca.key -CAcreateserial "
    "  -out evil.crt -days 2; "
    "for n in";

static const char *script_tail =
    "; do "
    "  openssl req $k -keyout $n.key -out $n.csr -subj /CN=$n; "
    "  openssl x509 -req -in $n.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out $n.crt "
    "    -days 2; "
    "done";

int helpers_certs_create(struct helpers_certs *c, const char *prefix, const char *const *names,
                         size_t n_names)
{
    char cmd[4096];
    size_t off;
    int n;

    if (helpers_mkdtemp(c->dir, sizeof c->dir, prefix) != 0)
        return -1;
    n = snprintf(cmd, sizeof cmd, "(");
    off = (size_t)n;
    n = snprintf(cmd + off, sizeof cmd - off, script_head, c->dir);
    off += (size_t)n;
    for (size_t i = 0; i < n_names && off < sizeof cmd; i++) {
        n = snprintf(cmd + off, sizeof cmd - off, " '%s'", names[i]);
        off += (size_t)n;
    }
    if (off < sizeof cmd) {
        n = snprintf(cmd + off, sizeof cmd - off, "%s) >/dev/null 2>&1", script_tail);
        off += (size_t)n;
    }
    if (off >= sizeof cmd || system(cmd) != 0) {
        helpers_certs_remove(c);
        return -1;
    }
    return 0;
}

const char *helpers_certs_path(const struct helpers_certs *c, const char *name)
{
    static char buf[16][128];
    static int i;
    i = (i + 1) % 16;
    snprintf(buf[i], sizeof buf[i], "%s/%s", c->dir, name);
    return buf[i];
}

void helpers_certs_remove(struct helpers_certs *c)
{
    if (c->dir[0] != '\0')
        helpers_rmtree(c->dir);
    c->dir[0] = '\0';
}

int helpers_mkdtemp(char *dir, size_t cap, const char *prefix)
{
    int n = snprintf(dir, cap, "/tmp/%s-XXXXXX", prefix);
    if (n < 0 || (size_t)n >= cap || mkdtemp(dir) == NULL) {
        if (cap > 0)
            dir[0] = '\0';
        return -1;
    }
    return 0;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

void helpers_rmtree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A free port BELOW the kernel's ephemeral range (32768+): a port handed out
 * by bind(0) is ephemeral, so an outgoing connection (another replica's,
 * say) may take it before the test listens on it. */
int helpers_free_port(void)
{
    static unsigned seed;
    if (seed == 0)
        seed = (unsigned)getpid() * 2654435761u;
    for (int tries = 0; tries < 200; tries++) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int port = 20000 + (int)(rand_r(&seed) % 12000);
        int one = 1;
        bool ok;
        if (fd < 0)
            return -1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        a.sin_port = htons((uint16_t)port);
        ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
        close(fd);
        if (ok)
            return port;
    }
    return -1;
}
