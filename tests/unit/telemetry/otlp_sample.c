/* Test helper: writes a realistic OTLP trace and metric body for otlp_decode.mjs to check. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "telemetry/otlp.h"

/* 2023-11-14T22:13:20Z, the base of every timestamp below (otlp_decode.mjs expects them). */
#define T0 1700000000000000000ull
#define MS 1000000ull

static void hex_to(uint8_t *out, const char *hex, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        for (size_t k = 0; k < 2; k++) {
            char c = hex[2 * i + k];
            v = v * 16 + (unsigned)(c <= '9' ? c - '0' : c - 'a' + 10);
        }
        out[i] = (uint8_t)v;
    }
}

static int write_file(const char *dir, const char *name, const struct tel_pbuf *b)
{
    char path[4096];
    int rc = -EIO;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        perror(path);
        goto out;
    }
    if (fwrite(b->data, 1, b->len, f) == b->len)
        rc = 0;
    if (fclose(f) != 0)
        rc = -EIO;
out:
    return rc;
}

static const struct tel_attr res_attrs[] = {
    {.key = "service.name", .type = TEL_ATTR_T_STRING, .v.str = {"warden", 6}},
    {.key = "service.version", .type = TEL_ATTR_T_STRING, .v.str = {"0.1.0", 5}},
    {.key = "deployment.environment.name", .type = TEL_ATTR_T_STRING, .v.str = {"test", 4}},
};
static const struct tel_otlp_resource res = {res_attrs, 3};
static const struct tel_otlp_scope scope = {"warden", "0.1.0"};

static int encode_traces(struct tel_pbuf *b)
{
    static const char *const no_rules[] = {NULL};
    const struct tel_attr server_ev_attrs[] = {
        tel_attr_str("gen_ai.evaluation.name", "warden.prompt_guard"),
        tel_attr_double("gen_ai.evaluation.score.value", 0.125),
        tel_attr_str("gen_ai.evaluation.score.label", "pass"),
        tel_attr_strs("warden.rule_ids", no_rules, 0),
        tel_attr_str("warden.action", "pass"),
    };
    const struct tel_span_event server_ev[] = {
        {"gen_ai.evaluation.result", T0 + 2 * MS, server_ev_attrs, 5},
    };
    const struct tel_attr server_attrs[] = {
        tel_attr_str("gen_ai.operation.name", "chat"),
        tel_attr_str("gen_ai.request.model", "gpt-4o-mini"),
        tel_attr_str("http.request.method", "POST"),
        tel_attr_str("url.path", "/v1/chat/completions"),
        tel_attr_int("http.response.status_code", 200),
        tel_attr_double("warden.overhead_ms", 1.75),
    };
    static const char *const reasons[] = {"stop", "length"};
    static const char *const rules[] = {"secrets.openai_key", "pii.email"};
    const struct tel_attr client_ev_attrs[] = {
        tel_attr_str("gen_ai.evaluation.name", "warden.output_guard"),
        tel_attr_double("gen_ai.evaluation.score.value", 0.98),
        tel_attr_str("gen_ai.evaluation.score.label", "blocked"),
        tel_attr_strs("warden.rule_ids", rules, 2),
        tel_attr_str("warden.action", "block"),
    };
    const struct tel_span_event client_ev[] = {
        {"gen_ai.evaluation.result", T0 + 240 * MS, client_ev_attrs, 5},
        {"warden.first_chunk", T0 + 90 * MS, NULL, 0},
    };
    const struct tel_attr client_attrs[] = {
        tel_attr_str("gen_ai.operation.name", "chat"),
        tel_attr_str("gen_ai.provider.name", "openai"),
        tel_attr_str("gen_ai.request.model", "gpt-4o-mini"),
        tel_attr_bool("gen_ai.request.stream", true),
        tel_attr_int("gen_ai.request.max_tokens", 256),
        tel_attr_double("gen_ai.request.temperature", 0.2),
        tel_attr_strn("gen_ai.response.model", "gpt-4o-mini-2024-07-18 (cut)", 22),
        tel_attr_str("gen_ai.response.id", "chatcmpl-123"),
        tel_attr_strs("gen_ai.response.finish_reasons", reasons, 2),
        tel_attr_int("gen_ai.usage.input_tokens", 1234),
        tel_attr_int("gen_ai.usage.output_tokens", 56),
        tel_attr_str("server.address", "api.openai.com"),
        tel_attr_int("server.port", 443),
        tel_attr_str("error.type", "output_blocked"),
        tel_attr_double("gen_ai.response.time_to_first_chunk", 0.0875),
        tel_attr_bool("warden.cached", false),
        tel_attr_str("warden.empty", ""),
        tel_attr_int("warden.negative", -42),
        tel_attr_int("warden.big", INT64_MAX),
        tel_attr_str("warden.utf8", "caf\xc3\xa9 \xe2\x9c\x93"),
    };
    struct tel_span spans[2] = {
        {
            .trace_state = "congo=t61rcWkgMzE",
            .flags = TEL_SPAN_F_SAMPLED | TEL_SPAN_F_HAS_IS_REMOTE | TEL_SPAN_F_IS_REMOTE,
            .name = "chat gpt-4o-mini",
            .kind = TEL_SPAN_KIND_SERVER,
            .start_time_unix_nano = T0,
            .end_time_unix_nano = T0 + 250 * MS,
            .attrs = server_attrs,
            .n_attrs = sizeof(server_attrs) / sizeof(server_attrs[0]),
            .events = server_ev,
            .n_events = 1,
            .status = TEL_SPAN_STATUS_OK,
        },
        {
            .flags = TEL_SPAN_F_SAMPLED | TEL_SPAN_F_HAS_IS_REMOTE,
            .name = "chat gpt-4o-mini",
            .kind = TEL_SPAN_KIND_CLIENT,
            .start_time_unix_nano = T0 + 3 * MS,
            .end_time_unix_nano = T0 + 245 * MS,
            .attrs = client_attrs,
            .n_attrs = sizeof(client_attrs) / sizeof(client_attrs[0]),
            .events = client_ev,
            .n_events = 2,
            .status = TEL_SPAN_STATUS_ERROR,
            .status_message = "output blocked: credential",
        },
    };
    hex_to(spans[0].trace_id, "4bf92f3577b34da6a3ce929d0e0e4736", 16);
    hex_to(spans[0].span_id, "00f067aa0ba902b7", 8);
    hex_to(spans[0].parent_span_id, "b7ad6b7169203331", 8);
    memcpy(spans[1].trace_id, spans[0].trace_id, 16);
    hex_to(spans[1].span_id, "53995c3f42cd8ad8", 8);
    memcpy(spans[1].parent_span_id, spans[0].span_id, 8);
    return tel_otlp_traces_encode(&res, &scope, spans, 2, b);
}

static int encode_metrics(struct tel_pbuf *b)
{
    const struct tel_attr chat_openai[] = {
        tel_attr_str("route", "/v1/chat/completions"),
        tel_attr_str("upstream", "openai"),
    };
    const struct tel_attr msg_anthropic[] = {
        tel_attr_str("route", "/v1/messages"),
        tel_attr_str("upstream", "anthropic"),
    };
    const struct tel_otlp_number_point requests[] = {
        {chat_openai, 2, T0, T0 + 60000 * MS, false, {.i = 42}},
        {msg_anthropic, 2, T0, T0 + 60000 * MS, false, {.i = 3}},
    };
    const struct tel_attr sig_traces[] = {tel_attr_str("signal", "traces")};
    const struct tel_attr sig_metrics[] = {tel_attr_str("signal", "metrics")};
    const struct tel_otlp_number_point depth[] = {
        {sig_traces, 1, 0, T0 + 60000 * MS, false, {.i = 17}},
        {sig_metrics, 1, 0, T0 + 60000 * MS, true, {.d = 0.5}},
    };
    const struct tel_otlp_number_point balance[] = {
        {NULL, 0, T0, T0 + 60000 * MS, true, {.d = -1.5}},
    };
    static const double token_bounds[] = {
        1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864};
    static const uint64_t input_counts[15] = {[5] = 1, [6] = 2};
    static const uint64_t output_counts[15] = {[2] = 1, [3] = 1};
    const struct tel_attr tok_input[] = {
        tel_attr_str("gen_ai.operation.name", "chat"),
        tel_attr_str("gen_ai.provider.name", "openai"),
        tel_attr_str("gen_ai.token.type", "input"),
    };
    const struct tel_attr tok_output[] = {
        tel_attr_str("gen_ai.operation.name", "chat"),
        tel_attr_str("gen_ai.provider.name", "openai"),
        tel_attr_str("gen_ai.token.type", "output"),
    };
    const struct tel_otlp_histogram_point tokens[] = {
        {
            .attrs = tok_input,
            .n_attrs = 3,
            .start_time_unix_nano = T0,
            .time_unix_nano = T0 + 60000 * MS,
            .count = 3,
            .sum = 3702,
            .bucket_counts = input_counts,
            .n_buckets = 15,
            .bounds = token_bounds,
            .n_bounds = 14,
            .has_min_max = true,
            .min = 1000,
            .max = 1468,
        },
        {
            .attrs = tok_output,
            .n_attrs = 3,
            .start_time_unix_nano = T0,
            .time_unix_nano = T0 + 60000 * MS,
            .count = 2,
            .sum = 68,
            .bucket_counts = output_counts,
            .n_buckets = 15,
            .bounds = token_bounds,
            .n_bounds = 14,
        },
    };
    static const double dur_bounds[] = {0.01, 0.02, 0.04, 0.08,  0.16,  0.32,  0.64,
                                        1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92};
    static const uint64_t dur_counts[15] = {[6] = 1};
    const struct tel_otlp_histogram_point duration[] = {
        {
            .start_time_unix_nano = T0,
            .time_unix_nano = T0 + 60000 * MS,
            .count = 1,
            .sum = 0.245,
            .bucket_counts = dur_counts,
            .n_buckets = 15,
            .bounds = dur_bounds,
            .n_bounds = 14,
            .has_min_max = true,
            .min = 0.245,
            .max = 0.245,
        },
    };
    const struct tel_otlp_metric metrics[] = {
        {
            .name = "warden.requests",
            .description = "Requests handled",
            .unit = "{request}",
            .type = TEL_OTLP_SUM,
            .monotonic = true,
            .points = requests,
            .n_points = 2,
        },
        {
            .name = "warden.exporter.queue.depth",
            .unit = "{item}",
            .type = TEL_OTLP_GAUGE,
            .points = depth,
            .n_points = 2,
        },
        {
            .name = "warden.test.balance",
            .type = TEL_OTLP_SUM,
            .points = balance,
            .n_points = 1,
        },
        {
            .name = "gen_ai.client.token.usage",
            .description = "Measures number of input and output tokens used",
            .unit = "{token}",
            .type = TEL_OTLP_HISTOGRAM,
            .hist_points = tokens,
            .n_points = 2,
        },
        {
            .name = "gen_ai.client.operation.duration",
            .description = "GenAI operation duration",
            .unit = "s",
            .type = TEL_OTLP_HISTOGRAM,
            .hist_points = duration,
            .n_points = 1,
        },
    };
    return tel_otlp_metrics_encode(&res, &scope, metrics, sizeof(metrics) / sizeof(metrics[0]), b);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTDIR (writes traces.pb and metrics.pb)\n", argv[0]);
        return 2;
    }
    struct tel_pbuf b;
    int rc;
    tel_pbuf_init(&b, 1 << 20);
    rc = encode_traces(&b);
    if (rc == 0)
        rc = write_file(argv[1], "traces.pb", &b);
    if (rc == 0)
        rc = encode_metrics(&b);
    if (rc == 0)
        rc = write_file(argv[1], "metrics.pb", &b);
    tel_pbuf_deinit(&b);
    if (rc != 0) {
        fprintf(stderr, "otlp_sample: %s\n", strerror(-rc));
        return 1;
    }
    return 0;
}
