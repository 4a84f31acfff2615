/* Mock upstream: reads the request fields replies depend on, with the guards JSON tokenizer. */
#include "mock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "guards/json.h"

/* Member names whose string values are what a user "said": the default reply echoes the last. */
static bool mock_is_echo_key(const char *k, size_t n)
{
    static const char *const keys[] = {"content", "text", "prompt", "input"};
    size_t i;

    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (strlen(keys[i]) == n && memcmp(keys[i], k, n) == 0)
            return true;
    }
    return false;
}

/* State of one pass over the body. */
struct mock_walk {
    char top_key[64]; /* member name at depth 1 ("" when longer than the field) */
    char sub_key[64]; /* member name at depth 2 */
    bool echo_key[GUARD_JSON_MAX_DEPTH + 2];
    /* string being collected */
    enum { MOCK_S_NONE = 0, MOCK_S_MODEL, MOCK_S_ENC, MOCK_S_ECHO } target;
    char cur[sizeof(((struct mock_req_info *)0)->model)];
    size_t cur_len;
    bool cur_overflow;
    /* the top-level "input" array */
    bool in_input;
    unsigned input_elems;
    bool input_all_numbers;
    bool model_overflow;
};

static void mock_walk_key(struct mock_walk *w, const struct guard_json_event *ev)
{
    char *dst = NULL;

    if (ev->depth == 1)
        dst = w->top_key;
    else if (ev->depth == 2)
        dst = w->sub_key;
    if (dst != NULL) {
        if (ev->len < sizeof(w->top_key)) {
            memcpy(dst, ev->str, ev->len);
            dst[ev->len] = '\0';
        } else {
            dst[0] = '\0';
        }
    }
    if (ev->depth < sizeof(w->echo_key))
        w->echo_key[ev->depth] = mock_is_echo_key(ev->str, ev->len);
}

/* The member name a value at this depth belongs to; NULL inside arrays. */
static const char *mock_walk_member(const struct mock_walk *w, const struct guard_json_event *ev)
{
    if (ev->in_array)
        return NULL;
    if (ev->depth == 1)
        return w->top_key;
    if (ev->depth == 2)
        return w->sub_key;
    return NULL;
}

static void mock_walk_string(struct mock_walk *w, struct mock_req_info *info,
                             const struct guard_json_event *ev)
{
    const char *member = mock_walk_member(w, ev);
    size_t room;

    info->string_bytes += ev->len;
    if (ev->flags & GUARD_JSON_F_BEGIN) {
        w->target = MOCK_S_NONE;
        w->cur_len = 0;
        w->cur_overflow = false;
        if (ev->depth == 1 && member != NULL && strcmp(member, "model") == 0)
            w->target = MOCK_S_MODEL;
        else if (ev->depth == 1 && member != NULL && strcmp(member, "encoding_format") == 0)
            w->target = MOCK_S_ENC;
        else if (!ev->in_array && ev->depth < sizeof(w->echo_key) && w->echo_key[ev->depth])
            w->target = MOCK_S_ECHO;
        if (ev->depth == 1 && member != NULL && strcmp(member, "input") == 0) {
            info->has_input = true;
            info->input_count = 1;
        }
        if (w->in_input && ev->depth == 2) {
            w->input_elems++;
            w->input_all_numbers = false;
        }
    }
    if (w->target != MOCK_S_NONE) {
        room = sizeof(w->cur) - 1 - w->cur_len;
        if (ev->len > room)
            w->cur_overflow = true;
        memcpy(w->cur + w->cur_len, ev->str, ev->len < room ? ev->len : room);
        w->cur_len += ev->len < room ? ev->len : room;
        w->cur[w->cur_len] = '\0';
    }
    if (!(ev->flags & GUARD_JSON_F_END) || w->target == MOCK_S_NONE)
        return;
    switch (w->target) {
    case MOCK_S_MODEL:
        info->has_model = true;
        w->model_overflow = w->cur_overflow;
        memcpy(info->model, w->cur, w->cur_len + 1);
        break;
    case MOCK_S_ENC:
        if (w->cur_len < sizeof(info->encoding_format))
            memcpy(info->encoding_format, w->cur, w->cur_len + 1);
        else
            snprintf(info->encoding_format, sizeof(info->encoding_format), "?");
        break;
    case MOCK_S_ECHO:
        info->echo_len = mock_utf8_cut(w->cur, w->cur_len, 48);
        memcpy(info->echo, w->cur, info->echo_len);
        info->echo[info->echo_len] = '\0';
        break;
    case MOCK_S_NONE:
        break;
    }
    w->target = MOCK_S_NONE;
}

/* A value other than a string begins: count "input" array elements and read flags. */
static void mock_walk_value(struct mock_walk *w, struct mock_req_info *info,
                            const struct guard_json_event *ev)
{
    const char *member = mock_walk_member(w, ev);
    char *end = NULL;
    long v;

    if (w->in_input && ev->depth == 2) {
        w->input_elems++;
        if (ev->tok != GUARD_JSON_NUMBER)
            w->input_all_numbers = false;
    }
    if (member == NULL)
        return;
    if (ev->depth == 1 && ev->tok == GUARD_JSON_TRUE && strcmp(member, "stream") == 0)
        info->stream = true;
    if (ev->depth == 2 && ev->tok == GUARD_JSON_TRUE && strcmp(w->top_key, "stream_options") == 0 &&
        strcmp(member, "include_usage") == 0)
        info->include_usage = true;
    if (ev->depth == 1 && ev->tok == GUARD_JSON_NUMBER && strcmp(member, "dimensions") == 0 &&
        ev->len < 16) {
        char num[16];
        memcpy(num, ev->str, ev->len);
        num[ev->len] = '\0';
        errno = 0;
        v = strtol(num, &end, 10);
        if (errno == 0 && end == num + ev->len && v > 0 && v <= 4096)
            info->dimensions = (unsigned)v;
    }
    if (ev->depth == 1 && ev->tok == GUARD_JSON_ARRAY_BEGIN && strcmp(member, "input") == 0) {
        w->in_input = true;
        w->input_elems = 0;
        w->input_all_numbers = true;
    }
}

int mock_req_inspect(const char *body, size_t n, struct mock_req_info *info, char *err,
                     size_t errsz)
{
    struct guard_json js;
    struct guard_json_event ev;
    struct mock_walk *w;
    const struct guard_json_error *je;
    int rc = -EBADMSG, r;

    memset(info, 0, sizeof(*info));
    w = calloc(1, sizeof(*w));
    if (w == NULL) {
        snprintf(err, errsz, "mock: out of memory");
        rc = -ENOMEM;
        goto out;
    }
    if (guard_json_init(&js, NULL) < 0) {
        snprintf(err, errsz, "mock: tokenizer init failed");
        goto out;
    }
    guard_json_feed(&js, body, n, true);
    while ((r = guard_json_next(&js, &ev)) > 0) {
        if (ev.depth == 0 && ev.tok == GUARD_JSON_OBJECT_BEGIN)
            info->is_object = true;
        switch (ev.tok) {
        case GUARD_JSON_KEY:
            mock_walk_key(w, &ev);
            break;
        case GUARD_JSON_STRING:
            mock_walk_string(w, info, &ev);
            break;
        case GUARD_JSON_ARRAY_END:
            if (ev.depth == 1 && w->in_input) {
                w->in_input = false;
                info->has_input = true;
                /* a flat list of numbers is one pre-tokenised input */
                info->input_count = w->input_elems > 0 && w->input_all_numbers ? 1 : w->input_elems;
            }
            break;
        case GUARD_JSON_OBJECT_END:
            break;
        default:
            mock_walk_value(w, info, &ev);
            break;
        }
    }
    if (r < 0) {
        je = guard_json_error(&js);
        snprintf(err, errsz, "mock: request body is not valid JSON (line %u, column %u: %s)",
                 (unsigned)je->line, (unsigned)je->column, je->message ? je->message : "?");
        goto out;
    }
    if (!guard_json_done(&js)) {
        snprintf(err, errsz, "mock: request body is not a complete JSON value");
        goto out;
    }
    /* a model name is never that long: better to refuse than to echo a different one */
    if (w->model_overflow) {
        snprintf(err, errsz, "mock: \"model\" is longer than %zu bytes", sizeof(info->model) - 1);
        goto out;
    }
    if (!info->is_object) {
        snprintf(err, errsz, "mock: request body must be a JSON object");
        goto out;
    }
    rc = 0;
out:
    free(w);
    return rc;
}
