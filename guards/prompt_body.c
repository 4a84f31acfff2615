/* Prompt guard over request bodies: which JSON strings of an OpenAI or Anthropic request are
 * text a user or a tool controls, found while the body streams, without building a tree. */
#include "guards/prompt_body.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Member names the walker cares about. */
enum body_key {
    K_OTHER = 0,
    K_MESSAGES,
    K_INPUT,
    K_PROMPT,
    K_SYSTEM,
    K_INSTRUCTIONS,
    K_CONTENT,
    K_ROLE,
    K_TYPE,
    K_TEXT,
    K_OUTPUT,
    K_RESPONSE_FORMAT, /* chat: response_format.json_schema.schema */
    K_JSON_SCHEMA,
    K_SCHEMA,
    K_FORMAT,        /* responses: text.format.schema; messages: output_config.format.schema */
    K_OUTPUT_CONFIG, /* messages (GA structured outputs) */
    K_OUTPUT_FORMAT, /* messages (beta structured outputs): output_format.schema */
    K_MODEL,         /* top-level parameters, for telemetry */
    K_STREAM,
    K_MAX_TOKENS,
    K_TEMPERATURE,
};

enum body_role {
    R_UNKNOWN = 0, /* not (yet) seen: scored as user text, the cautious side */
    R_USER,
    R_TOOL,
    R_SYSTEM,
    R_ASSISTANT,
};

enum body_type {
    T_UNKNOWN = 0,
    T_TOOL_RESULT,          /* Anthropic content block carrying a tool's output */
    T_FUNCTION_CALL_OUTPUT, /* OpenAI responses input item carrying a tool's output */
    T_OTHER,
};

/* What a string value is to the walker. */
enum body_use {
    U_IGNORE = 0,
    U_TEXT,
    U_ROLE,
    U_ITEM_TYPE,
    U_PART_TYPE,
};

static bool eq(const char *s, size_t n, const char *lit)
{
    return n == strlen(lit) && memcmp(s, lit, n) == 0;
}

static uint8_t key_of(const char *s, size_t n)
{
    static const struct {
        const char *name;
        uint8_t key;
    } keys[] = {
        {"messages", K_MESSAGES},
        {"input", K_INPUT},
        {"prompt", K_PROMPT},
        {"system", K_SYSTEM},
        {"instructions", K_INSTRUCTIONS},
        {"content", K_CONTENT},
        {"role", K_ROLE},
        {"type", K_TYPE},
        {"text", K_TEXT},
        {"output", K_OUTPUT},
        {"response_format", K_RESPONSE_FORMAT},
        {"json_schema", K_JSON_SCHEMA},
        {"schema", K_SCHEMA},
        {"format", K_FORMAT},
        {"output_config", K_OUTPUT_CONFIG},
        {"output_format", K_OUTPUT_FORMAT},
        {"model", K_MODEL},
        {"stream", K_STREAM},
        {"max_tokens", K_MAX_TOKENS},
        {"max_completion_tokens", K_MAX_TOKENS},
        {"max_output_tokens", K_MAX_TOKENS},
        {"temperature", K_TEMPERATURE},
    };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (eq(s, n, keys[i].name))
            return keys[i].key;
    }
    return K_OTHER;
}

static uint8_t role_of(const char *s, size_t n)
{
    if (eq(s, n, "user"))
        return R_USER;
    if (eq(s, n, "tool") || eq(s, n, "function") || eq(s, n, "ipython"))
        return R_TOOL;
    if (eq(s, n, "system") || eq(s, n, "developer"))
        return R_SYSTEM;
    if (eq(s, n, "assistant") || eq(s, n, "model"))
        return R_ASSISTANT;
    return R_UNKNOWN;
}

static uint8_t type_of(const char *s, size_t n)
{
    if (eq(s, n, "tool_result"))
        return T_TOOL_RESULT;
    if (n >= 12 && memcmp(s + n - 12, "_call_output", 12) == 0)
        return T_FUNCTION_CALL_OUTPUT; /* function_, custom_tool_, local_shell_call_output ... */
    return T_OTHER;
}

static int hex_val(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

enum guard_prompt_api guard_prompt_api_of(const char *path, size_t len)
{
    /* The path as an upstream's router may read it: the query, a fragment and ";" parameters
     * dropped, %XX decoded, case folded, "//" collapsed, trailing "/" dropped. Reading it
     * more narrowly than the upstream would let "/v1/chat/completion%73" through unscanned. */
    char norm[GUARD_PROMPT_PATH_MAX];
    size_t n = 0;
    for (size_t i = 0; i < len && n < sizeof(norm); i++) {
        char c = path[i];
        if (c == '?' || c == '#')
            break;
        if (c == ';') { /* a segment parameter: skip to the next '/' */
            while (i + 1 < len && path[i + 1] != '/' && path[i + 1] != '?' && path[i + 1] != '#')
                i++;
            continue;
        }
        if (c == '%' && i + 2 < len && hex_val(path[i + 1]) >= 0 && hex_val(path[i + 2]) >= 0) {
            c = (char)(hex_val(path[i + 1]) << 4 | hex_val(path[i + 2]));
            i += 2;
        }
        if (c >= 'A' && c <= 'Z')
            c = (char)(c | 0x20);
        if (c == '/' && n > 0 && norm[n - 1] == '/')
            continue;
        norm[n++] = c;
    }
    while (n > 1 && norm[n - 1] == '/')
        n--;
    static const struct {
        const char *suffix;
        enum guard_prompt_api api;
    } apis[] = {
        {"/chat/completions", GUARD_PROMPT_API_CHAT},
        {"/responses", GUARD_PROMPT_API_RESPONSES},
        {"/completions", GUARD_PROMPT_API_COMPLETIONS},
        {"/messages", GUARD_PROMPT_API_MESSAGES},
        {"/messages/count_tokens", GUARD_PROMPT_API_MESSAGES},
    };
    /* By suffix, so base paths (/openai/deployments/x/chat/completions) are recognised. */
    for (size_t i = 0; i < sizeof(apis) / sizeof(apis[0]); i++) {
        size_t k = strlen(apis[i].suffix);
        if (n >= k && memcmp(norm + n - k, apis[i].suffix, k) == 0)
            return apis[i].api;
    }
    return GUARD_PROMPT_API_NONE;
}

void guard_prompt_body_init(struct guard_prompt_body *b, enum guard_prompt_api api,
                            struct guard_prompt_scan *scan, bool scan_system,
                            const struct guard_json_limits *lim)
{
    memset(b, 0, sizeof(*b));
    guard_json_init(&b->js, lim);
    b->max_tokens = -1;
    b->temperature = NAN;
    b->scan = api == GUARD_PROMPT_API_NONE ? NULL : scan;
    b->api = api;
    b->scan_system = scan_system;
}

/* Is the container opened at depth d an array? Bits kept for the tracked depths. */
static bool arr_at(const struct guard_prompt_body *b, unsigned d)
{
    return d <= GUARD_PROMPT_BODY_DEPTH && (b->key[d] & 0x80u);
}

static uint8_t key_at(const struct guard_prompt_body *b, unsigned d)
{
    return d <= GUARD_PROMPT_BODY_DEPTH ? (uint8_t)(b->key[d] & 0x7fu) : K_OTHER;
}

/* The source of a message's text by its role. */
static int role_src(const struct guard_prompt_body *b)
{
    switch (b->role) {
    case R_TOOL:
        return GUARD_PROMPT_SRC_TOOL;
    case R_SYSTEM:
        return GUARD_PROMPT_SRC_SYSTEM;
    case R_ASSISTANT:
        return -1; /* the application's own history of model turns */
    default:
        return GUARD_PROMPT_SRC_USER;
    }
}

/* Decide what the string value at depth d is; *src for U_TEXT. */
static enum body_use classify(const struct guard_prompt_body *b, unsigned d, bool in_array,
                              int *src)
{
    uint8_t top = key_at(b, 1);
    bool msgs = (top == K_MESSAGES &&
                 (b->api == GUARD_PROMPT_API_CHAT || b->api == GUARD_PROMPT_API_MESSAGES)) ||
                (top == K_INPUT && b->api == GUARD_PROMPT_API_RESPONSES);
    *src = GUARD_PROMPT_SRC_USER;
    if (d == 1 && !in_array) {
        if ((top == K_INPUT && b->api == GUARD_PROMPT_API_RESPONSES) ||
            (top == K_PROMPT && b->api == GUARD_PROMPT_API_COMPLETIONS))
            return U_TEXT;
        if ((top == K_SYSTEM && b->api == GUARD_PROMPT_API_MESSAGES) ||
            (top == K_INSTRUCTIONS && b->api == GUARD_PROMPT_API_RESPONSES)) {
            *src = GUARD_PROMPT_SRC_SYSTEM;
            return U_TEXT;
        }
        return U_IGNORE;
    }
    if (d == 2 && in_array && top == K_PROMPT && b->api == GUARD_PROMPT_API_COMPLETIONS)
        return U_TEXT;
    if (d == 3 && !in_array && top == K_SYSTEM && b->api == GUARD_PROMPT_API_MESSAGES &&
        arr_at(b, 1) && key_at(b, 3) == K_TEXT) {
        *src = GUARD_PROMPT_SRC_SYSTEM;
        return U_TEXT;
    }
    if (!msgs || !arr_at(b, 1) || d < 3 || arr_at(b, 2))
        return U_IGNORE;
    /* messages[i].* : a member of a message or input item */
    if (d == 3 && !in_array) {
        switch (key_at(b, 3)) {
        case K_ROLE:
            return U_ROLE;
        case K_TYPE:
            return U_ITEM_TYPE;
        case K_CONTENT:
            *src = role_src(b);
            return U_TEXT;
        case K_OUTPUT: /* a tool's output, whatever order "type" comes in */
            *src = GUARD_PROMPT_SRC_TOOL;
            return U_TEXT;
        default:
            return U_IGNORE;
        }
    }
    /* output: [{"type":"input_text","text":...}] */
    if (key_at(b, 3) == K_OUTPUT && arr_at(b, 3) && d == 5 && !in_array && !arr_at(b, 4) &&
        key_at(b, 5) == K_TEXT) {
        *src = GUARD_PROMPT_SRC_TOOL;
        return U_TEXT;
    }
    if (key_at(b, 3) != K_CONTENT || !arr_at(b, 3))
        return U_IGNORE;
    if (d == 4 && in_array) { /* content: ["text", ...] */
        *src = role_src(b);
        return U_TEXT;
    }
    if (arr_at(b, 4))
        return U_IGNORE;
    /* messages[i].content[j].* : a content part */
    if (d == 5 && !in_array) {
        switch (key_at(b, 5)) {
        case K_TYPE:
            return U_PART_TYPE;
        case K_TEXT:
            *src = b->part_type == T_TOOL_RESULT ? GUARD_PROMPT_SRC_TOOL : role_src(b);
            return U_TEXT;
        case K_CONTENT: /* tool_result content as a string */
            *src = GUARD_PROMPT_SRC_TOOL;
            return U_TEXT;
        default:
            return U_IGNORE;
        }
    }
    /* messages[i].content[j].content[k].text : a block of a tool result */
    if (d == 7 && !in_array && key_at(b, 5) == K_CONTENT && arr_at(b, 5) && !arr_at(b, 6) &&
        key_at(b, 7) == K_TEXT) {
        *src = GUARD_PROMPT_SRC_TOOL;
        return U_TEXT;
    }
    return U_IGNORE;
}

/* Is the object opened at depth d the JSON schema the request asks the output to follow?
 * OpenAI chat: response_format.json_schema.schema; responses: text.format.schema; Anthropic:
 * output_config.format.schema, or the beta output_format.schema. */
static bool is_schema_object(const struct guard_prompt_body *b, unsigned d)
{
    for (unsigned i = 1; i < d; i++) {
        if (arr_at(b, i))
            return false;
    }
    uint8_t k1 = key_at(b, 1), k2 = key_at(b, 2), k3 = key_at(b, 3);
    switch (b->api) {
    case GUARD_PROMPT_API_CHAT:
        return d == 3 && k1 == K_RESPONSE_FORMAT && k2 == K_JSON_SCHEMA && k3 == K_SCHEMA;
    case GUARD_PROMPT_API_RESPONSES:
        return d == 3 && k1 == K_TEXT && k2 == K_FORMAT && k3 == K_SCHEMA;
    case GUARD_PROMPT_API_MESSAGES:
        return (d == 3 && k1 == K_OUTPUT_CONFIG && k2 == K_FORMAT && k3 == K_SCHEMA) ||
               (d == 2 && k1 == K_OUTPUT_FORMAT && k2 == K_SCHEMA);
    default:
        return false;
    }
}

static int on_string(struct guard_prompt_body *b, const struct guard_json_event *ev)
{
    int src = -1;
    if (ev->flags & GUARD_JSON_F_BEGIN) {
        b->in_text = false;
        b->collect = U_IGNORE;
        b->small_len = 0;
        enum body_use use = classify(b, ev->depth, ev->in_array, &src);
        /* Where the system prompt starts: a top-level one at once; a message's first text
         * is kept until the message ends and shows its role. */
        if (use == U_TEXT && src == GUARD_PROMPT_SRC_SYSTEM && ev->depth <= 3 &&
            key_at(b, 1) != K_MESSAGES && key_at(b, 1) != K_INPUT) {
            if (b->system_at == 0)
                b->system_at = ev->offset + 1;
        } else if (use == U_TEXT && ev->depth >= 3 && b->msg_text_at == 0) {
            b->msg_text_at = ev->offset + 1;
        }
        if (b->scan == NULL)
            use = use == U_TEXT ? U_IGNORE : use; /* roles and types still followed */
        if (use == U_TEXT) {
            if (src < 0 || (src == GUARD_PROMPT_SRC_SYSTEM && !b->scan_system))
                return 0;
            /* The text parts of a message, and messages of one role in a row, are one text
             * to the provider: one field here too, so a phrase split across them is seen. */
            int rc = 0;
            if (b->field_open && b->text_src == (uint8_t)src)
                rc = guard_prompt_scan_text(b->scan, (enum guard_prompt_src)src, "\n", 1, false);
            else if (b->field_open)
                rc = guard_prompt_scan_text(b->scan, (enum guard_prompt_src)b->text_src, "", 0,
                                            true);
            if (rc < 0)
                return rc;
            b->field_open = true;
            b->in_text = true;
            b->text_src = (uint8_t)src;
        } else {
            b->collect = (uint8_t)use;
        }
    }
    bool end = (ev->flags & GUARD_JSON_F_END) != 0;
    if (b->in_text) {
        int rc = guard_prompt_scan_text(b->scan, (enum guard_prompt_src)b->text_src, ev->str,
                                        ev->len, false);
        if (end)
            b->in_text = false;
        return rc;
    }
    if (b->collect == U_IGNORE)
        return 0;
    if (b->small_len <= sizeof(b->small)) {
        size_t room = sizeof(b->small) - b->small_len;
        if (ev->len > room) {
            b->small_len = sizeof(b->small) + 1; /* too long to be a known name */
        } else {
            memcpy(b->small + b->small_len, ev->str, ev->len);
            b->small_len += ev->len;
        }
    }
    if (!end)
        return 0;
    size_t len = b->small_len > sizeof(b->small) ? 0 : b->small_len;
    if (b->collect == U_ROLE)
        b->role = role_of(b->small, len);
    else if (b->collect == U_ITEM_TYPE)
        b->item_type = type_of(b->small, len);
    else if (b->collect == U_PART_TYPE)
        b->part_type = type_of(b->small, len);
    b->collect = U_IGNORE;
    return 0;
}

/* The top-level "model", kept whole up to GUARD_PROMPT_MODEL_MAX bytes. */
static void keep_model(struct guard_prompt_body *b, const struct guard_json_event *ev)
{
    size_t have = (ev->flags & GUARD_JSON_F_BEGIN) ? 0 : strlen(b->model);
    size_t n = ev->len < GUARD_PROMPT_MODEL_MAX - have ? ev->len : GUARD_PROMPT_MODEL_MAX - have;
    memcpy(b->model + have, ev->str, n);
    b->model[have + n] = '\0';
}

static int on_event(struct guard_prompt_body *b, const struct guard_json_event *ev)
{
    unsigned d = ev->depth;
    switch (ev->tok) {
    case GUARD_JSON_KEY:
        if (d >= 1 && d <= GUARD_PROMPT_BODY_DEPTH)
            b->key[d] = key_of(ev->str, ev->len);
        /* A message or part naming its role or type twice would be read one way here and
         * maybe the other way upstream (most parsers keep the last): refuse it. */
        if ((d == 3 || d == 5) && b->scan && (b->key[d] == K_ROLE || b->key[d] == K_TYPE)) {
            uint8_t bit = (uint8_t)((b->key[d] == K_ROLE ? 1u : 2u) << (d == 5 ? 2 : 0));
            if (b->seen & bit) {
                b->error = b->key[d] == K_ROLE ? "a message gives \"role\" twice"
                                               : "an item gives \"type\" twice";
                return -EPROTO;
            }
            b->seen |= bit;
        }
        return 0;
    case GUARD_JSON_OBJECT_BEGIN:
    case GUARD_JSON_ARRAY_BEGIN:
        if (d <= GUARD_PROMPT_BODY_DEPTH) {
            b->key[d] |= ev->tok == GUARD_JSON_ARRAY_BEGIN ? 0x80u : 0;
            b->key[d] &= ev->tok == GUARD_JSON_ARRAY_BEGIN ? 0xffu : 0x7fu;
        }
        if (d + 1 <= GUARD_PROMPT_BODY_DEPTH)
            b->key[d + 1] = K_OTHER;
        if (ev->tok == GUARD_JSON_OBJECT_BEGIN && b->schema_depth == 0 && d <= 3 &&
            is_schema_object(b, d)) {
            b->schema_start = ev->offset;
            b->schema_end = 0;
            b->schema_depth = (uint8_t)d;
        }
        if (ev->tok == GUARD_JSON_OBJECT_BEGIN && d == 2) {
            b->role = R_UNKNOWN;
            b->item_type = T_UNKNOWN;
            b->seen = 0;
            b->msg_text_at = 0;
        } else if (ev->tok == GUARD_JSON_OBJECT_BEGIN && d == 4) {
            b->part_type = T_UNKNOWN;
            b->seen &= 3u;
        }
        return 0;
    case GUARD_JSON_OBJECT_END:
    case GUARD_JSON_ARRAY_END:
        if (d <= GUARD_PROMPT_BODY_DEPTH)
            b->key[d] &= 0x7fu;
        if (ev->tok == GUARD_JSON_OBJECT_END && b->schema_depth != 0 && d == b->schema_depth) {
            b->schema_end = guard_json_offset(&b->js);
            b->schema_depth = 0;
        }
        if (ev->tok == GUARD_JSON_OBJECT_END && d == 2 && b->role == R_SYSTEM &&
            b->system_at == 0 && b->msg_text_at != 0 &&
            (key_at(b, 1) == K_MESSAGES || key_at(b, 1) == K_INPUT))
            b->system_at = b->msg_text_at;
        return 0;
    case GUARD_JSON_STRING:
        if (d == 1 && !ev->in_array && key_at(b, 1) == K_MODEL)
            keep_model(b, ev);
        return b->api != GUARD_PROMPT_API_NONE ? on_string(b, ev) : 0;
    case GUARD_JSON_NUMBER:
        if (d == 1 && !ev->in_array &&
            (key_at(b, 1) == K_MAX_TOKENS || key_at(b, 1) == K_TEMPERATURE) && ev->len < 64) {
            char num[64], *end;
            memcpy(num, ev->str, ev->len);
            num[ev->len] = '\0';
            if (key_at(b, 1) == K_TEMPERATURE) {
                b->temperature = strtod(num, NULL);
            } else {
                long long v = strtoll(num, &end, 10);
                b->max_tokens = end != num && *end == '\0' && v >= 0 ? (int64_t)v : -1;
            }
        }
        return 0;
    case GUARD_JSON_TRUE:
    case GUARD_JSON_FALSE:
        if (d == 1 && !ev->in_array && key_at(b, 1) == K_STREAM)
            b->stream = ev->tok == GUARD_JSON_TRUE;
        return 0;
    default:
        return 0;
    }
}

int guard_prompt_body_feed(struct guard_prompt_body *b, const char *at, size_t len, bool last)
{
    struct guard_json_event ev;
    int rc;
    guard_json_feed(&b->js, at, len, last);
    while ((rc = guard_json_next(&b->js, &ev)) > 0) {
        if ((rc = on_event(b, &ev)) < 0)
            return rc;
    }
    if (rc == 0 && last && !guard_json_done(&b->js))
        rc = -ENODATA; /* the document stops early */
    if (rc == 0 && last && b->field_open) {
        b->field_open = false;
        rc = guard_prompt_scan_text(b->scan, (enum guard_prompt_src)b->text_src, "", 0, true);
    }
    return rc;
}
