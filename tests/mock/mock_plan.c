/* Mock upstream: a reply as a timed program of writes, pauses and a possible reset. */
#include "mock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MOCK_MAX_STEPS (64u * 1024 * 1024)

void mock_plan_init(struct mock_plan *p)
{
    memset(p, 0, sizeof(*p));
    mock_buf_init(&p->wire, MOCK_MAX_OUT);
}

void mock_plan_deinit(struct mock_plan *p)
{
    if (p == NULL)
        return;
    mock_buf_free(&p->wire);
    free(p->steps);
    memset(p, 0, sizeof(*p));
}

static struct mock_step *mock_plan_step(struct mock_plan *p, enum mock_step_kind kind)
{
    struct mock_step *ns;
    size_t ncap;

    if (p->err)
        return NULL;
    if (p->n_steps == p->cap_steps) {
        ncap = p->cap_steps ? p->cap_steps * 2 : 16;
        if (ncap > MOCK_MAX_STEPS) {
            p->err = -E2BIG;
            return NULL;
        }
        ns = realloc(p->steps, ncap * sizeof(*ns));
        if (ns == NULL) {
            p->err = -ENOMEM;
            return NULL;
        }
        p->steps = ns;
        p->cap_steps = ncap;
    }
    ns = &p->steps[p->n_steps++];
    memset(ns, 0, sizeof(*ns));
    ns->kind = kind;
    return ns;
}

void mock_plan_delay(struct mock_plan *p, unsigned ms)
{
    struct mock_step *st;

    if (ms == 0)
        return;
    st = mock_plan_step(p, MOCK_STEP_DELAY);
    if (st != NULL)
        st->ms = ms;
}

void mock_plan_reset(struct mock_plan *p)
{
    mock_plan_step(p, MOCK_STEP_RESET);
}

void mock_plan_bytes(struct mock_plan *p, const void *data, size_t n, size_t piece, unsigned gap_ms)
{
    struct mock_step *st, *prev;
    size_t off, k;

    if (p->err)
        return;
    off = p->wire.len;
    mock_buf_add(&p->wire, data, n);
    if (p->wire.err) {
        p->err = p->wire.err;
        return;
    }
    if (piece == 0) {
        /* whole writes that follow each other without a pause go out as one */
        prev = p->n_steps ? &p->steps[p->n_steps - 1] : NULL;
        if (prev != NULL && prev->kind == MOCK_STEP_BYTES && prev->off + prev->len == off &&
            gap_ms == 0) {
            prev->len += n;
            return;
        }
        piece = n;
    }
    while (n > 0) {
        k = n < piece ? n : piece;
        st = mock_plan_step(p, MOCK_STEP_BYTES);
        if (st == NULL)
            return;
        st->off = off;
        st->len = k;
        off += k;
        n -= k;
        if (n > 0)
            mock_plan_delay(p, gap_ms);
    }
}
