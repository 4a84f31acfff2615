/* Prompt guard over request bodies: the JSON of an LLM API request, tokenised as it arrives,
 * with the text of the fields a user or a tool controls streamed into a prompt scan. */
#ifndef WARDEN_GUARDS_PROMPT_BODY_H
#define WARDEN_GUARDS_PROMPT_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guards/json.h"
#include "guards/prompt.h"

/* Which request shape the body has, from the request path. */
enum guard_prompt_api {
    GUARD_PROMPT_API_NONE = 0,    /* not an LLM prompt (embeddings, files, ...): JSON only */
    GUARD_PROMPT_API_CHAT,        /* OpenAI chat completions: messages[].content */
    GUARD_PROMPT_API_RESPONSES,   /* OpenAI responses: input, instructions */
    GUARD_PROMPT_API_COMPLETIONS, /* OpenAI legacy completions: prompt */
    GUARD_PROMPT_API_MESSAGES,    /* Anthropic messages (and count_tokens): messages, system */
};

/* The API a request path belongs to, read as an upstream router may read it (query, fragment
 * and ";" parameters dropped, %XX decoded, case folded, "//" collapsed); base paths in front
 * are allowed. Only the first GUARD_PROMPT_PATH_MAX bytes count. */
#define GUARD_PROMPT_PATH_MAX 8192
enum guard_prompt_api guard_prompt_api_of(const char *path, size_t len);

#define GUARD_PROMPT_BODY_DEPTH 8  /* levels whose member names are tracked */
#define GUARD_PROMPT_MODEL_MAX  96 /* bytes of the request's model name kept */

struct guard_prompt_body {
    struct guard_json js;
    struct guard_prompt_scan *scan; /* borrowed; NULL to check the JSON only */
    enum guard_prompt_api api;
    bool scan_system;
    bool in_text;                             /* a text field is being streamed to the scan */
    uint8_t key[GUARD_PROMPT_BODY_DEPTH + 1]; /* member name at each depth (enum in .c) */
    uint8_t role;                             /* of the message being read */
    uint8_t item_type;                        /* `type` of the message or input item */
    uint8_t part_type;                        /* `type` of the content part */
    uint8_t collect;                          /* which short value is being collected */
    uint8_t text_src;  /* enum guard_prompt_src of the text field being streamed */
    bool field_open;   /* a scan field is open (text parts and same-role messages join) */
    uint8_t seen;      /* role/type keys seen in the current message (bits 0-1), part (2-3) */
    const char *error; /* why the body was refused (-EPROTO), static text */
    /* Where the proxy finds things in the body (byte offsets; 0 when absent). */
    uint64_t schema_start, schema_end; /* the JSON schema asked of the output: '{' .. after '}' */
    uint64_t system_at;   /* first byte of the first system prompt text (after its quote) */
    uint64_t msg_text_at; /* first text of the message being read */
    uint8_t schema_depth; /* the schema object is open at this depth (0: not) */
    /* The request's parameters, for telemetry (top-level members; later ones win). */
    char model[GUARD_PROMPT_MODEL_MAX + 1]; /* "" when absent; cut when longer */
    bool stream;
    int64_t max_tokens; /* max_tokens, max_completion_tokens or max_output_tokens; -1 absent */
    double temperature; /* NaN when absent */
    char small[24];     /* a role or type value being collected */
    size_t small_len;
};

/* Start a body. `scan` must have been reset by the caller (or be NULL: the body's JSON is
 * checked and, for a prompt API, its system prompt and output schema located). */
void guard_prompt_body_init(struct guard_prompt_body *b, enum guard_prompt_api api,
                            struct guard_prompt_scan *scan, bool scan_system,
                            const struct guard_json_limits *lim);

/* The next piece of the body; `last` after the final piece. Returns 0, or < 0 when the body
 * is not JSON (-EBADMSG) or exceeds a limit (-E2BIG): details in guard_json_error(&b->js);
 * -ENODATA when it ends before the JSON does; -EPROTO when it is ambiguous (a message naming
 * its role twice): b->error says why; or the scan's error (-EIO, -ENOMEM). */
int guard_prompt_body_feed(struct guard_prompt_body *b, const char *at, size_t len, bool last);

#endif
