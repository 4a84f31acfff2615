#!/usr/bin/env bash
# Layout rule of DESIGN.md: proxy -> policy -> guards; proxy -> telemetry; policy -> telemetry;
# guards depends on nothing; only proxy knows libevent, llhttp and mbedTLS. Checked on the
# #include lines of every source file and on the link lines of every folder's CMakeLists.txt.
set -u
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
fail=0

# forbid FOLDER REGEX WHY [EXCEPT]: no source in FOLDER may include a header matching REGEX
# (EXCEPT: a regex of file:line:include hits that are allowed).
forbid() {
    local folder=$1 regex=$2 why=$3 except=${4:-^$} hits
    hits=$(grep -RnE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]($regex)" \
        --include='*.c' --include='*.h' "$root/$folder" 2>/dev/null | grep -vE "$except")
    if [ -n "$hits" ]; then
        printf 'layout: %s must not include %s:\n%s\n' "$folder" "$why" "$hits" >&2
        fail=1
    fi
}
io='event2/|llhttp\.h|mbedtls/'
forbid guards "proxy/|policy/|telemetry/" "other folders of the project"
forbid guards "$io|yaml\.h" "I/O libraries (libevent, llhttp, mbedTLS, libyaml)"
forbid telemetry "proxy/|policy/|guards/" "other folders of the project"
# One exception: telemetry/sha256.c computes HMAC-SHA-256 with mbedcrypto's md API (hash
# functions only, for the audit chain); TLS and networking stay in proxy.
forbid telemetry "$io" "libevent, llhttp or mbedTLS (only proxy knows them)" \
    "^$root/telemetry/sha256\.c:[0-9]+:#include <mbedtls/md\.h>$"
forbid policy "proxy/" "proxy headers"
forbid policy "$io" "libevent, llhttp or mbedTLS (only proxy knows them)"

# link FOLDER ALLOWED: the warden_* libraries a folder links must be among ALLOWED.
link() {
    local folder=$1 allowed=$2 libs lib
    libs=$(tr '\n' ' ' < "$root/$folder/CMakeLists.txt" |
        grep -oE 'target_link_libraries\([^)]*\)' | grep -oE '(warden_[a-z]+|PkgConfig::LIBEVENT|llhttp|mbedtls_all)' |
        grep -v "^warden_$folder\$" | sort -u)
    for lib in $libs; do
        case " $allowed " in
        *" $lib "*) ;;
        *) printf 'layout: %s/CMakeLists.txt links %s, which DESIGN.md does not allow\n' "$folder" "$lib" >&2
           fail=1 ;;
        esac
    done
}
link guards ""
link telemetry ""
link policy "warden_guards warden_telemetry"
link proxy "warden_policy warden_telemetry warden_guards PkgConfig::LIBEVENT llhttp mbedtls_all"

[ "$fail" = 0 ] && echo "layout: dependencies follow DESIGN.md"
exit "$fail"
