/* Mock upstream: command line, listener, signals and the event loop. */
#include "mock.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

static void mock_usage(FILE *f)
{
    fprintf(f, "usage: mock_upstream --listen ADDR:PORT [--record FILE]\n"
               "  Mock OpenAI/Anthropic upstream for tests. PORT 0 picks a free port; the\n"
               "  first line on stdout is 'listening ADDR:PORT'. See tests/mock/README.md.\n");
}

/* ADDR:PORT or [ADDR6]:PORT with a numeric address; unlike evutil_parse_sockaddr_port this
 * accepts port 0, which asks the kernel for a free port. */
static int mock_parse_listen(const char *s, struct sockaddr_storage *ss, int *sl)
{
    const char *colon = strrchr(s, ':'), *hs = s;
    char host[INET6_ADDRSTRLEN + 2], *end = NULL;
    size_t hl;
    long port;
    int rc = -1;

    if (colon == NULL)
        goto out;
    hl = (size_t)(colon - s);
    if (hl >= 2 && s[0] == '[' && colon[-1] == ']') {
        hs = s + 1;
        hl -= 2;
    }
    if (hl == 0 || hl >= sizeof(host))
        goto out;
    memcpy(host, hs, hl);
    host[hl] = '\0';
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (errno != 0 || end == colon + 1 || *end != '\0' || port < 0 || port > 65535)
        goto out;
    memset(ss, 0, sizeof(*ss));
    if (evutil_inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
        ((struct sockaddr_in *)ss)->sin_family = AF_INET;
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
        *sl = (int)sizeof(struct sockaddr_in);
    } else if (evutil_inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
        ((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
        *sl = (int)sizeof(struct sockaddr_in6);
    } else {
        goto out;
    }
    rc = 0;
out:
    return rc;
}

static void mock_signal_cb(evutil_socket_t sig, short what, void *arg)
{
    struct mock_server *srv = arg;

    (void)sig;
    (void)what;
    event_base_loopexit(srv->base, NULL);
}

/* Prints the bound address in the form tests parse: `listening 127.0.0.1:PORT`. */
static int mock_print_listening(struct mock_server *srv)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char host[INET6_ADDRSTRLEN];
    evutil_socket_t fd = evconnlistener_get_fd(srv->listener);
    int rc = -1;

    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
        goto out;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;
        if (inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host)) == NULL)
            goto out;
        printf("listening %s:%u\n", host, (unsigned)ntohs(sin->sin_port));
    } else {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ss;
        if (inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host)) == NULL)
            goto out;
        printf("listening [%s]:%u\n", host, (unsigned)ntohs(sin6->sin6_port));
    }
    fflush(stdout);
    rc = 0;
out:
    return rc;
}

int main(int argc, char **argv)
{
    struct mock_server srv;
    struct event_config *cfg = NULL;
    struct sockaddr_storage ss;
    int sl = (int)sizeof(ss), i, rc = 2;
    const char *listen_addr = NULL, *record = NULL;

    memset(&srv, 0, sizeof(srv));
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            listen_addr = argv[++i];
        } else if (strcmp(argv[i], "--record") == 0 && i + 1 < argc) {
            record = argv[++i];
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            mock_usage(stdout);
            rc = 0;
            goto out;
        } else {
            fprintf(stderr, "mock_upstream: unexpected argument '%s'\n", argv[i]);
            mock_usage(stderr);
            goto out;
        }
    }
    if (listen_addr == NULL) {
        mock_usage(stderr);
        goto out;
    }
    if (mock_parse_listen(listen_addr, &ss, &sl) < 0) {
        fprintf(stderr, "mock_upstream: bad --listen address '%s'\n", listen_addr);
        goto out;
    }
    rc = 1;
    srv.rec = calloc(MOCK_MAX_RECORDS, sizeof(*srv.rec));
    srv.rec_len = calloc(MOCK_MAX_RECORDS, sizeof(*srv.rec_len));
    srv.rec_resp = calloc(MOCK_MAX_RECORDS, sizeof(*srv.rec_resp));
    if (srv.rec == NULL || srv.rec_len == NULL || srv.rec_resp == NULL) {
        fprintf(stderr, "mock_upstream: out of memory\n");
        goto out;
    }
    if (record != NULL) {
        srv.rec_file = fopen(record, "a");
        if (srv.rec_file == NULL) {
            fprintf(stderr, "mock_upstream: cannot open %s: %s\n", record, strerror(errno));
            goto out;
        }
    }
    /* a client that hangs up mid-reply must not kill the mock */
    signal(SIGPIPE, SIG_IGN);
    /* delay_ms=1 must mean about 1 ms: the default coarse clock ticks every 4 ms */
    cfg = event_config_new();
    if (cfg == NULL || event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER) < 0) {
        fprintf(stderr, "mock_upstream: event_config failed\n");
        goto out;
    }
    srv.base = event_base_new_with_config(cfg);
    if (srv.base == NULL) {
        fprintf(stderr, "mock_upstream: event_base_new failed\n");
        goto out;
    }
    srv.listener = evconnlistener_new_bind(srv.base, mock_conn_accept, &srv,
                                           LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 128,
                                           (struct sockaddr *)&ss, sl);
    if (srv.listener == NULL) {
        fprintf(stderr, "mock_upstream: cannot listen on %s: %s\n", listen_addr, strerror(errno));
        goto out;
    }
    srv.ev_sigterm = evsignal_new(srv.base, SIGTERM, mock_signal_cb, &srv);
    srv.ev_sigint = evsignal_new(srv.base, SIGINT, mock_signal_cb, &srv);
    if (srv.ev_sigterm == NULL || srv.ev_sigint == NULL || evsignal_add(srv.ev_sigterm, NULL) < 0 ||
        evsignal_add(srv.ev_sigint, NULL) < 0) {
        fprintf(stderr, "mock_upstream: cannot install signal handlers\n");
        goto out;
    }
    if (mock_print_listening(&srv) < 0) {
        fprintf(stderr, "mock_upstream: getsockname failed: %s\n", strerror(errno));
        goto out;
    }
    if (event_base_dispatch(srv.base) < 0) {
        fprintf(stderr, "mock_upstream: event loop failed\n");
        goto out;
    }
    rc = 0;
out:
    mock_conn_close_all(&srv);
    if (srv.listener != NULL)
        evconnlistener_free(srv.listener);
    if (srv.ev_sigterm != NULL)
        event_free(srv.ev_sigterm);
    if (srv.ev_sigint != NULL)
        event_free(srv.ev_sigint);
    if (srv.base != NULL)
        event_base_free(srv.base);
    if (cfg != NULL)
        event_config_free(cfg);
    if (srv.rec != NULL && srv.rec_len != NULL && srv.rec_resp != NULL)
        mock_record_clear(&srv); /* pending records still go to the record file */
    mock_queue_clear(&srv);
    free(srv.rec);
    free(srv.rec_len);
    free(srv.rec_resp);
    if (srv.rec_file != NULL)
        fclose(srv.rec_file);
    libevent_global_shutdown();
    return rc;
}
