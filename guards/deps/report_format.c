/* Supply-chain scanner: the report formats by name, for the CLI and the endpoint alike. */
#include "guards/deps/report_formats.h"

#include <errno.h>
#include <strings.h>

static const struct {
    const char *name, *media_type;
} formats[] = {
    [DEPS_FMT_JSON] = {"json", "application/json"},
    [DEPS_FMT_TABLE] = {"table", "text/plain; charset=utf-8"},
    [DEPS_FMT_SARIF] = {"sarif", "application/sarif+json"},
    [DEPS_FMT_CYCLONEDX] = {"cyclonedx", "application/vnd.cyclonedx+json; version=1.6"},
    [DEPS_FMT_GITHUB] = {"github", "text/plain; charset=utf-8"},
};

int deps_report_format_parse(const char *name, enum deps_report_format *out)
{
    for (size_t i = 0; name && i < sizeof(formats) / sizeof(formats[0]); i++) {
        if (strcasecmp(name, formats[i].name) == 0) {
            *out = (enum deps_report_format)i;
            return 0;
        }
    }
    return -EINVAL;
}

const char *deps_report_format_media_type(enum deps_report_format f)
{
    return formats[f].media_type;
}

void deps_report_write_format(enum deps_report_format f, const struct deps_report *r,
                              const struct deps_report_meta *meta, struct deps_buf *b)
{
    switch (f) {
    case DEPS_FMT_TABLE:
        deps_report_write_table(r, b);
        break;
    case DEPS_FMT_SARIF:
        deps_report_write_sarif(r, meta, b);
        break;
    case DEPS_FMT_CYCLONEDX:
        deps_report_write_cyclonedx(r, meta, b);
        break;
    case DEPS_FMT_GITHUB:
        deps_report_write_github(r, b);
        break;
    default:
        deps_report_write_json(r, meta, b);
        break;
    }
}
