/* consensus/aio.c: io_destroy(2) off the loop thread.
 *
 * raft_uv (canonical/raft 0.15) gives every open log segment its own kernel
 * AIO context: io_setup(2) when the segment starts being written and
 * io_destroy(2) when it is finalised, both on the loop thread. io_destroy
 * waits for an RCU grace period before it returns: 30 to 46 ms on our
 * machines (measured: io_setup 0.01 ms, io_destroy 32 ms, every time). With
 * the default 8 MiB segments a node rolls over about once a second under a
 * write load, and every node of the cluster does so at the same log index, so
 * all three loops froze for ~32 ms at once: every write in flight waited
 * for it, which was the whole of skiff's write-latency tail (p99 40-48 ms
 * against a 9 ms p50; bench/RESULTS.md).
 *
 * raft calls io_destroy through syscall(3) (glibc has no wrapper), from
 * uvWriterCleanUpAndFireCloseCb, once the writer has no request in flight
 * and never uses the context again. So the process defines syscall(): while
 * cons__aio_start() is in effect, SYS_io_destroy is queued to one helper
 * thread, which makes the real call; syscall() returns 0 at once (raft
 * ignores io_destroy's result). Every other call, and io_destroy when the
 * helper is not running or its queue is full, goes straight to the C
 * library's syscall(). cons__aio_stop() drains the queue and joins the
 * thread. A shared library's call to syscall() binds to the executable's
 * definition (ELF symbol interposition), which is how this reaches libraft;
 * the definition only lives in this file.
 *
 * Thread-safe; the start/stop pair is reference-counted (one per cons). */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "consensus/internal.h"

#define AIO_QUEUE_MAX 64

typedef long (*syscall_fn)(long, ...);

static pthread_once_t real_once = PTHREAD_ONCE_INIT;
static syscall_fn real_syscall;

static pthread_mutex_t life = PTHREAD_MUTEX_INITIALIZER; /* serialises start/stop */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;   /* the queue and flags */
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static pthread_t helper;
static unsigned users;     /* cons__aio_start() calls not yet stopped */
static bool running;       /* the helper thread exists and takes work */
static bool stopping;      /* the helper drains the queue and exits */
static long queue[AIO_QUEUE_MAX];
static unsigned q_head, q_len;
static uint64_t n_offloaded;

static void resolve_real(void)
{
    real_syscall = (syscall_fn)dlsym(RTLD_NEXT, "syscall");
}

static long call_real(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
    pthread_once(&real_once, resolve_real);
    if (real_syscall == NULL) {
        errno = ENOSYS;
        return -1;
    }
    return real_syscall(nr, a1, a2, a3, a4, a5, a6);
}

static void *helper_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&mu);
    for (;;) {
        while (q_len == 0 && !stopping)
            pthread_cond_wait(&cv, &mu);
        if (q_len == 0)
            break; /* stopping and drained */
        long ctx = queue[q_head];
        q_head = (q_head + 1) % AIO_QUEUE_MAX;
        q_len--;
        pthread_mutex_unlock(&mu);
        call_real(SYS_io_destroy, ctx, 0, 0, 0, 0, 0);
        pthread_mutex_lock(&mu);
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

/* true: ctx queued for the helper */
static bool offload(long ctx)
{
    bool queued = false;
    pthread_mutex_lock(&mu);
    if (running && !stopping && q_len < AIO_QUEUE_MAX) {
        queue[(q_head + q_len) % AIO_QUEUE_MAX] = ctx;
        q_len++;
        n_offloaded++;
        queued = true;
        pthread_cond_signal(&cv);
    }
    pthread_mutex_unlock(&mu);
    return queued;
}

/* C cannot forward a variable argument list, so this reads six longs
 * whatever the call, exactly as the C library's syscall() itself loads six
 * argument registers, the sixth from the caller's stack (x86-64). The caller's
 * frame is always mapped, but AddressSanitizer rightly sees a read past the
 * arguments of a shorter call: it is told not to instrument this one
 * function. */
__attribute__((no_sanitize_address)) long syscall(long nr, ...)
{
    va_list ap;
    long a[6];
    va_start(ap, nr);
    for (int i = 0; i < 6; i++)
        a[i] = va_arg(ap, long);
    va_end(ap);
    if (nr == SYS_io_destroy && offload(a[0]))
        return 0;
    return call_real(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

int cons__aio_start(struct err *e)
{
    pthread_mutex_lock(&life);
    if (users == 0) {
        pthread_mutex_lock(&mu);
        stopping = false;
        q_head = q_len = 0;
        pthread_mutex_unlock(&mu);
        int prv = pthread_create(&helper, NULL, helper_main, NULL);
        if (prv != 0) {
            pthread_mutex_unlock(&life);
            return err_setf(e, ERR_IO, "consensus: io_destroy helper thread: %s", strerror(prv));
        }
        pthread_mutex_lock(&mu);
        running = true;
        pthread_mutex_unlock(&mu);
    }
    users++;
    pthread_mutex_unlock(&life);
    return 0;
}

void cons__aio_stop(void)
{
    pthread_mutex_lock(&life);
    if (users == 0 || --users > 0) {
        pthread_mutex_unlock(&life);
        return;
    }
    pthread_mutex_lock(&mu);
    stopping = true;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
    pthread_join(helper, NULL); /* the helper drains the queue first */
    pthread_mutex_lock(&mu);
    running = false;
    pthread_mutex_unlock(&mu);
    pthread_mutex_unlock(&life);
}

uint64_t cons__aio_offloaded(void)
{
    pthread_mutex_lock(&mu);
    uint64_t n = n_offloaded;
    pthread_mutex_unlock(&mu);
    return n;
}
