/* Unit tests for the OpenTelemetry "key=value,..." list reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "telemetry/kvlist.h"

/* Read all of `text` into "k=v;" pairs (decoded), or "ERR <entry> <why>". */
static void read_all(const char *text, char *out, size_t cap)
{
    const char *p = text, *why = "";
    struct tel_kv kv = {0};
    char val[256];
    size_t n = 0;
    int r;
    out[0] = '\0';
    while ((r = tel_kv_next(&p, text + strlen(text), &kv, val, sizeof(val), &why)) > 0)
        n += (size_t)snprintf(out + n, cap - n, "%.*s=%s;", (int)kv.key_len, kv.key, val);
    if (r < 0)
        snprintf(out, cap, "ERR %zu %s", kv.entry, why);
}

static void test_kvlist(void **state)
{
    char out[512];
    (void)state;
    read_all("", out, sizeof(out));
    assert_string_equal(out, "");
    read_all(" a = 1 ,, b=x%20y ,c=", out, sizeof(out));
    assert_string_equal(out, "a=1;b=x y;c=;");
    read_all("service.name=api,deployment.environment=prod%2Ceu", out, sizeof(out));
    assert_string_equal(out, "service.name=api;deployment.environment=prod,eu;");
    read_all("a=1,b", out, sizeof(out));
    assert_string_equal(out, "ERR 2 has no '='");
    read_all(" =1", out, sizeof(out));
    assert_string_equal(out, "ERR 1 has an empty name");
    read_all("a=%4", out, sizeof(out));
    assert_string_equal(out, "ERR 1 has a '%' not followed by two hex digits");
    read_all("a=%zz1", out, sizeof(out));
    assert_string_equal(out, "ERR 1 has a '%' not followed by two hex digits");
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_kvlist)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
