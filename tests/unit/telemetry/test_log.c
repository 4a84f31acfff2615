/* Unit tests for telemetry/log.c: record formats, escaping, credential hiding, truncation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "telemetry/log.h"

#define TS 1790000000123LL /* 2026-09-21T14:13:20.123Z */

static void test_text_record(void **state)
{
    char buf[512];
    (void)state;
    size_t n = tel_log_format_record(buf, sizeof(buf), TEL_LOG_TEXT, TEL_LOG_INFO, TS, "listening",
                                     (const struct tel_field[]){TEL_STR("host", "127.0.0.1"),
                                                                TEL_UINT("port", 8080),
                                                                TEL_INT("delta", -3),
                                                                TEL_BOOL("tls", false),
                                                                TEL_DBL("ratio", 0.25),
                                                                {0}});
    assert_int_equal(n, strlen(buf));
    assert_string_equal(buf, "2026-09-21T14:13:20.123Z info listening host=127.0.0.1 port=8080 "
                             "delta=-3 tls=false ratio=0.25");
}

static void test_text_quotes_values_that_would_split(void **state)
{
    char buf[512];
    (void)state;
    tel_log_format_record(buf, sizeof(buf), TEL_LOG_TEXT, TEL_LOG_WARN, TS, "e",
                          (const struct tel_field[]){TEL_STR("a", "two words"),
                                                     TEL_STR("b", "k=v"),
                                                     TEL_STR("c", ""),
                                                     TEL_STR("d", "line\nbreak"),
                                                     {0}});
    assert_string_equal(buf, "2026-09-21T14:13:20.123Z warn e a=\"two words\" b=\"k=v\" c=\"\" "
                             "d=\"line\\nbreak\"");
}

static void test_json_record(void **state)
{
    char buf[512];
    (void)state;
    tel_log_format_record(buf, sizeof(buf), TEL_LOG_JSON, TEL_LOG_ERROR, TS, "listen_failed",
                          (const struct tel_field[]){
                              TEL_STR("reason", "say \"no\"\\\x01"), TEL_UINT("port", 1), {0}});
    assert_string_equal(buf, "{\"ts\":\"2026-09-21T14:13:20.123Z\",\"level\":\"error\","
                             "\"event\":\"listen_failed\",\"reason\":\"say \\\"no\\\"\\\\\\u0001\","
                             "\"port\":1}");
}

static void test_no_fields(void **state)
{
    char buf[256];
    (void)state;
    tel_log_format_record(buf, sizeof(buf), TEL_LOG_JSON, TEL_LOG_DEBUG, TS, "stopped",
                          (const struct tel_field[]){{0}});
    assert_string_equal(buf, "{\"ts\":\"2026-09-21T14:13:20.123Z\",\"level\":\"debug\","
                             "\"event\":\"stopped\"}");
}

static void test_credentials_hidden_by_key(void **state)
{
    char buf[512];
    (void)state;
    tel_log_format_record(buf, sizeof(buf), TEL_LOG_TEXT, TEL_LOG_INFO, TS, "upstream",
                          (const struct tel_field[]){TEL_STR("Authorization", "Bearer sk-live-123"),
                                                     TEL_STR("x-api-key", "sk-ant-1"),
                                                     TEL_STR("api_key", "k"),
                                                     TEL_STR("session_token", "t"),
                                                     TEL_STR("name", "openai"),
                                                     {0}});
    assert_null(strstr(buf, "sk-live"));
    assert_null(strstr(buf, "sk-ant"));
    assert_non_null(strstr(buf, "Authorization=[hidden] x-api-key=[hidden] api_key=[hidden] "
                                "session_token=[hidden] name=openai"));
}

static void test_truncation_keeps_json_valid(void **state)
{
    char big[2000];
    char buf[200];
    (void)state;
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    size_t n = tel_log_format_record(buf, sizeof(buf), TEL_LOG_JSON, TEL_LOG_INFO, TS, "e",
                                     (const struct tel_field[]){TEL_STR("v", big), {0}});
    assert_true(n < sizeof(buf));
    assert_string_equal(buf, "{\"ts\":\"2026-09-21T14:13:20.123Z\",\"level\":\"info\","
                             "\"event\":\"e\",\"truncated\":true}");
    n = tel_log_format_record(buf, sizeof(buf), TEL_LOG_TEXT, TEL_LOG_INFO, TS, "e",
                              (const struct tel_field[]){TEL_STR("v", big), {0}});
    assert_true(n < sizeof(buf));
    assert_int_equal(strlen(buf), n);
    assert_memory_equal(buf + n - 3, "...", 3);
}

static void test_level_filter_and_write(void **state)
{
    int fds[2];
    char buf[512];
    (void)state;
    assert_int_equal(pipe(fds), 0);
    tel_log_setup(TEL_LOG_WARN, TEL_LOG_JSON, fds[1]);
    assert_false(tel_log_enabled(TEL_LOG_INFO));
    assert_true(tel_log_enabled(TEL_LOG_ERROR));
    tel_log(TEL_LOG_INFO, "dropped", TEL_STR("k", "v"));
    tel_log(TEL_LOG_WARN, "kept", TEL_INT("n", 7));
    close(fds[1]);
    ssize_t n = read(fds[0], buf, sizeof(buf) - 1);
    assert_true(n > 0);
    buf[n] = '\0';
    close(fds[0]);
    assert_null(strstr(buf, "dropped"));
    assert_non_null(strstr(buf, "\"event\":\"kept\",\"n\":7}\n"));
    assert_int_equal(buf[n - 1], '\n');
    size_t lines = 0;
    for (ssize_t i = 0; i < n; i++)
        lines += buf[i] == '\n';
    assert_int_equal(lines, 1);
    tel_log_setup(TEL_LOG_INFO, TEL_LOG_TEXT, STDERR_FILENO);
}

static void test_parse_names(void **state)
{
    enum tel_log_level lv;
    enum tel_log_format fm;
    (void)state;
    assert_int_equal(tel_log_level_parse("debug", &lv), 0);
    assert_int_equal(lv, TEL_LOG_DEBUG);
    assert_true(tel_log_level_parse("verbose", &lv) < 0);
    assert_int_equal(tel_log_format_parse("json", &fm), 0);
    assert_int_equal(fm, TEL_LOG_JSON);
    assert_true(tel_log_format_parse("xml", &fm) < 0);
    assert_string_equal(tel_log_level_name(TEL_LOG_WARN), "warn");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_record),
        cmocka_unit_test(test_text_quotes_values_that_would_split),
        cmocka_unit_test(test_json_record),
        cmocka_unit_test(test_no_fields),
        cmocka_unit_test(test_credentials_hidden_by_key),
        cmocka_unit_test(test_truncation_keeps_json_valid),
        cmocka_unit_test(test_level_filter_and_write),
        cmocka_unit_test(test_parse_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
