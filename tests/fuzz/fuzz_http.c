/* libFuzzer target: raw bytes from a client through proxy_conn (llhttp, limits, responses). */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "policy/config.h"
#include "proxy/conn.h"
#include "proxy/server.h"
#include "telemetry/log.h"

#define INPUT_MAX    65536
#define PIECES_MAX   256 /* writes per input, so that one input stays fast */
#define SETTLE_TURNS 8
#define LOOPS_MAX    (PIECES_MAX + 64)
#define OUT_KEEP     8192 /* server output kept for check_output */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct policy_config *fuzz_cfg;
static int null_fd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    /* Small caps so that inputs of a few KiB reach 431, 413 and 414; short timers that the
     * loop below never waits for. */
    static const char *const settings[][2] = {
        {"limits.max_header_bytes", "1KiB"},       {"limits.max_body_bytes", "2KiB"},
        {"limits.client_header_timeout", "100ms"}, {"limits.client_body_timeout", "100ms"},
        {"limits.keepalive_timeout", "100ms"},
    };
    struct policy_error err;
    (void)argc;
    (void)argv;
    fuzz_cfg = policy_config_new();
    if (fuzz_cfg == NULL)
        abort();
    for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
        if (policy_config_set(fuzz_cfg, "fuzz", settings[i][0], settings[i][1], &err) != 0)
            abort();
    }
    if (policy_config_validate(fuzz_cfg, &err) != 0)
        abort();
    /* Log everything, to nowhere: request ids and peers go through the log formatters. */
    null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (null_fd < 0)
        abort();
    return 0;
}

/* FNV-1a: piece sizes and options come from the input without taking bytes from it, so
 * the seeds stay plain HTTP. */
static uint64_t input_hash(const uint8_t *data, size_t size)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 0x100000001b3ull;
    return h ^ size;
}

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static bool starts_status(const char *p, size_t len)
{
    static const char status[] = "HTTP/1.1 ";
    size_t n = len < sizeof(status) - 1 ? len : sizeof(status) - 1;
    return memcmp(p, status, n) == 0;
}

/* What the server wrote must be a sequence of well-formed responses: a status line, then
 * lines ending in CRLF with no stray CR, LF or NUL (no header injection), then
 * Content-Length bytes of body, or none (HEAD). The kept output may end anywhere. */
static void check_output(const char *out, size_t len)
{
    size_t pos = 0;
    while (pos < len) {
        const char *p = out + pos, *end, *cl;
        size_t left = len - pos, head, body = 0;
        if (!starts_status(p, left))
            abort();
        end = memmem(p, left, "\r\n\r\n", 4);
        if (end == NULL)
            return; /* cut short */
        for (const char *q = p; q < end + 2; q++) {
            if (*q == '\0' || (*q == '\r' && q[1] != '\n') || (*q == '\n' && q[-1] != '\r'))
                abort();
        }
        head = (size_t)(end - p) + 4;
        cl = memmem(p, head, "\r\nContent-Length: ", 18);
        if (cl == NULL)
            abort(); /* every response says how long it is */
        body = strtoul(cl + 18, NULL, 10);
        if (head + body >= left || starts_status(p + head + body, left - head - body))
            pos += head + body;
        else if (starts_status(p + head, left - head))
            pos += head; /* the answer to a HEAD request */
        else
            abort();
    }
}

/* Read and keep the start of what the server wrote; the rest is discarded. */
static void drain_output(int fd, char *keep, size_t *kept)
{
    char buf[16384];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        size_t room = OUT_KEEP - *kept;
        size_t take = (size_t)n < room ? (size_t)n : room;
        memcpy(keep + *kept, buf, take);
        *kept += take;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char out[OUT_KEEP];
    struct proxy_server srv;
    struct proxy_worker w;
    struct proxy_conn *c;
    int sv[2];
    size_t off = 0, kept = 0;
    uint64_t seed, rnd;
    bool half_close, whole;
    if (size > INPUT_MAX)
        return 0;
    seed = input_hash(data, size);
    rnd = seed | 1;
    whole = (seed & 3) == 0;      /* one write */
    half_close = (seed & 4) != 0; /* shutdown(SHUT_WR) after the input, else a forced close */
    tel_log_setup(TEL_LOG_DEBUG, (seed & 8) ? TEL_LOG_JSON : TEL_LOG_TEXT, null_fd);

    memset(&srv, 0, sizeof(srv));
    memset(&w, 0, sizeof(w));
    srv.cfg = policy_config_ref(fuzz_cfg);
    srv.workers = &w;
    srv.n_workers = 1;
    w.srv = &srv;
    w.id = 0;
    w.rng = seed | 1;
    w.base = event_base_new();
    if (w.base == NULL)
        abort();
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
        abort();
    /* As worker_accept_cb does: the connection goes at the head of the worker's list. */
    c = proxy_conn_new(&w, sv[0], NULL, 0);
    if (c != NULL) {
        c->next = w.conns;
        if (w.conns)
            w.conns->prev = c;
        w.conns = c;
        w.n_conns++;
    }

    size_t piece_min = size / PIECES_MAX + 1;
    int settle = 0; /* turns after the last write: the server reads 16 KiB per turn */
    for (int loop = 0; loop < LOOPS_MAX && w.conns != NULL && settle < SETTLE_TURNS; loop++) {
        if (off < size) {
            size_t n = whole ? size - off : piece_min + (size_t)(next_rand(&rnd) % 512);
            if (n > size - off)
                n = size - off;
            ssize_t wr = write(sv[1], data + off, n);
            if (wr > 0)
                off += (size_t)wr;
            else if (wr < 0 && errno != EAGAIN && errno != EINTR)
                off = size; /* the server closed: stop writing */
            if (off == size && half_close)
                shutdown(sv[1], SHUT_WR);
        }
        event_base_loop(w.base, EVLOOP_NONBLOCK);
        drain_output(sv[1], out, &kept);
        if (off == size)
            settle++;
    }
    /* Whatever is still open is closed as worker_main does after a drain. */
    while (w.conns != NULL) {
        c = w.conns;
        proxy_conn_close(c, false);
        event_base_loop(w.base, EVLOOP_NONBLOCK);
        if (w.conns == c)
            abort(); /* the deferred free did not run */
    }
    drain_output(sv[1], out, &kept);
    check_output(out, kept);
    close(sv[1]);
    event_base_free(w.base);
    policy_config_unref(srv.cfg);
    return 0;
}
