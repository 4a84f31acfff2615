/* libFuzzer target for the tarball reader of POST /v1/scan/deps (tar and tar.gz). Checks: no
 * crash or leak, every path it returns is a relative path inside the project, every file
 * lies inside the unpacked stream, and the project loader accepts the map or says why. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guards/deps/project.h"
#include "guards/deps/tar.h"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct deps_tar t;
    struct deps_tar_limits lim = {.max_bytes = (size_t)4 << 20, .max_entries = 4096};
    char err[512];
    if (deps_tar_read((const char *)data, size, &lim, &t, err, sizeof(err)) != 0) {
        FUZZ_CHECK(err[0] != '\0');
        return 0;
    }
    for (size_t i = 0; i < t.n; i++) {
        FUZZ_CHECK(deps_path_ok(t.files[i].path));
        FUZZ_CHECK(t.files[i].data >= t.buf);
    }
    struct deps_project *p = NULL;
    struct deps_project_error pe;
    if (deps_project_load(t.files, t.n, NULL, &p, &pe) == 0)
        deps_project_free(p);
    else
        FUZZ_CHECK(pe.message[0] != '\0');
    deps_tar_free(&t);
    return 0;
}
