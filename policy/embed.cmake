# Turn a text file into a C translation unit holding it as a NUL-terminated byte array.
# usage: cmake -DIN=file -DOUT=file.c -DSYMBOL=name -DHEADER=dir/decl.h -P embed.cmake
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" n)
math(EXPR bytes "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
string(REGEX REPLACE "((0x..,){16})" "\\1\n    " body "${body}")
file(WRITE "${OUT}.tmp" "/* Generated from ${IN} by policy/embed.cmake: do not edit. */\n"
     "#include \"${HEADER}\"\n\nconst char ${SYMBOL}[] = {\n    ${body}0x00};\n"
     "const size_t ${SYMBOL}_len = ${bytes};\n")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
