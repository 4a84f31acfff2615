/* The declarative configuration key table: what each key is, its default and its checks. */
#ifndef WARDEN_POLICY_CONFIG_KEYS_H
#define WARDEN_POLICY_CONFIG_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum policy_type {
    POLICY_T_STR = 0,  /* char *; "" or null leaves it empty */
    POLICY_T_PATH,     /* char *, a file name; checked to be readable by validate */
    POLICY_T_INT,      /* int64_t in [min, max] */
    POLICY_T_BOOL,     /* bool: true/false/yes/no/on/off */
    POLICY_T_FLOAT,    /* double in [fmin, fmax] */
    POLICY_T_DURATION, /* int64_t milliseconds: "250ms", "30s", "5m", "1h" */
    POLICY_T_SIZE,     /* int64_t bytes: "512", "64KiB", "8MiB", "1GiB", "10MB" */
    POLICY_T_ENUM,     /* int, index into choices */
    POLICY_T_ADDR,     /* struct policy_addr: host:port or [v6]:port */
    POLICY_T_URL,      /* struct policy_url: http(s)://host[:port][/base/path] */
    POLICY_T_SECTION,  /* a mapping of the keys of `sub`, stored inline at offset */
    POLICY_T_MAP,      /* name -> mapping of `sub`; array + count, entries merge by name */
    POLICY_T_LIST,     /* sequence of mappings of `sub`; array + count, later layers first */
};

struct policy_table;

struct policy_key {
    const char *name;
    enum policy_type type;
    const char *def; /* default as YAML text; NULL: empty / zero */
    size_t offset;   /* in the parent struct */
    const char *desc;
    int64_t min, max;               /* INT, DURATION (ms), SIZE (bytes) */
    double fmin, fmax;              /* FLOAT */
    const char *const *choices;     /* ENUM: NULL-terminated */
    const struct policy_table *sub; /* SECTION, MAP, LIST */
    size_t count_offset;            /* MAP, LIST: offset of the size_t count */
    bool has_loc;                   /* scalars: record where the value was set ... */
    size_t loc_offset;              /* ... in a struct policy_loc at this offset */
};

/* The keys of one mapping. For MAP and LIST entries: the element size, and where the
 * entry keeps its name (MAP) and its location. */
struct policy_table {
    const struct policy_key *keys;
    size_t n_keys;
    size_t elem_size;
    size_t name_offset; /* MAP entries: char *name */
    size_t loc_offset;  /* MAP/LIST entries: struct policy_loc */
};

/* The root table of struct policy_config. */
extern const struct policy_table policy_config_table;

/* Human name of a type for messages and docs ("integer", "duration", ...). */
const char *policy_type_name(enum policy_type type);

#endif
