# Warnings, sanitizers and fuzzing instrumentation, applied to every target we build.
add_compile_options(-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
    -Wformat=2 -Wvla -Wpointer-arith -Wcast-align -Wundef -fno-common)
add_compile_definitions(_GNU_SOURCE)
if(CITYTALLY_WERROR)
    add_compile_options(-Werror)
endif()
if(CITYTALLY_SANITIZE)
    # Tests that measure memory skip their bounds: ASan's shadow and quarantine are not ours.
    add_compile_definitions(CT_SANITIZED=1)
    add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined
        -fno-omit-frame-pointer)
    add_link_options(-fsanitize=address,undefined)
endif()
if(CITYTALLY_FUZZ)
    if(NOT CMAKE_C_COMPILER_ID STREQUAL "Clang")
        message(FATAL_ERROR "CITYTALLY_FUZZ needs clang: configure with -DCMAKE_C_COMPILER=clang")
    endif()
    add_compile_options(-fsanitize=fuzzer-no-link,address,undefined
        -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
    add_link_options(-fsanitize=address,undefined)
endif()
