# Every external library is found through pkg-config. A missing one stops the
# configure step with the Debian package that provides it.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)

function(ct_require_pkg prefix module debian_package)
    pkg_check_modules(${prefix} IMPORTED_TARGET ${module})
    if(NOT ${prefix}_FOUND)
        message(FATAL_ERROR
            "citytally needs ${module} (pkg-config). On Debian 12: apt-get install ${debian_package}"
            " (or run deploy/install-deps.sh)")
    endif()
endfunction()

ct_require_pkg(ZMQ libzmq libzmq3-dev)
ct_require_pkg(MSGPACK msgpack libmsgpack-dev)
ct_require_pkg(PQ libpq libpq-dev)
ct_require_pkg(SQLITE sqlite3 libsqlite3-dev)
ct_require_pkg(INIH inih libinih-dev)
ct_require_pkg(MHD libmicrohttpd libmicrohttpd-dev)
ct_require_pkg(SYSTEMD libsystemd libsystemd-dev)
ct_require_pkg(XLSXWRITER xlsxwriter libxlsxwriter-dev)
if(CITYTALLY_TESTS)
    ct_require_pkg(CRITERION criterion libcriterion-dev)
endif()
