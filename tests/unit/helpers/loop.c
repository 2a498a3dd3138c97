/* Loop helpers for unit tests. See helpers.h. */
#include "tests/unit/helpers/helpers.h"

#include <stdio.h>

#define CLOSE_DEADLINE_MS 10000

void helpers_tick_cb(uv_timer_t *t)
{
    (void)t;
}

static void print_open(uv_handle_t *h, void *arg)
{
    (void)arg;
    fprintf(stderr, "helpers_loop_close: handle still open: %s %p%s%s\n",
            uv_handle_type_name(uv_handle_get_type(h)), (void *)h, uv_is_active(h) ? " active" : "",
            uv_is_closing(h) ? " closing" : "");
}

int helpers_loop_close(uv_loop_t *loop)
{
    uv_timer_t guard;
    uint64_t deadline = uv_now(loop) + CLOSE_DEADLINE_MS;
    int rv;

    /* An unreferenced timer bounds each wait without keeping the loop alive,
     * so a leaked active handle (a listener, a running timer) fails the test
     * after the deadline instead of hanging it. */
    uv_timer_init(loop, &guard);
    uv_timer_start(&guard, helpers_tick_cb, 10, 10);
    uv_unref((uv_handle_t *)&guard);
    while (uv_loop_alive(loop) && uv_now(loop) < deadline)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    rv = uv_loop_close(loop);
    if (rv != 0)
        uv_walk(loop, print_open, NULL);
    return rv;
}
