# Installation layout and Debian packages: `cpack -G DEB` (see deploy/build-debs.sh) makes
# citytally-aggregator and citytally-collector, one CMake install component each.
#
# Each package carries its binary, a man page made by help2man from --help, its systemd
# unit(s), sysusers.d and tmpfiles.d entries, its example config twice (as the conffile
# /etc/citytally/NAME.conf, which dpkg never overwrites once edited, and under
# /usr/share/doc/PKG/examples/), the README and contract, the data files, and maintainer
# scripts generated from deploy/debian/*.in. Configure with -DCMAKE_INSTALL_PREFIX=/usr
# for packages; the config then goes to /etc, as GNUInstallDirs puts it for that prefix.

set(ct_deploy ${PROJECT_SOURCE_DIR}/deploy)
set(ct_pkg_dir ${CMAKE_BINARY_DIR}/packaging)
# Not CMAKE_INSTALL_LIBDIR: a multiarch libdir (lib/x86_64-linux-gnu) is not where systemd
# looks for units, sysusers.d or tmpfiles.d.
set(ct_systemd_dir lib/systemd/system)

# ---- man pages from --help ----------------------------------------------------------
find_program(CT_HELP2MAN help2man)
set(ct_manpages "")
if(CT_HELP2MAN)
    foreach(prog aggregator collector)
        if(prog STREQUAL "aggregator")
            set(what "the bureau's daemon and admin commands of citytally")
        else()
            set(what "a reporting unit's agent of citytally")
        endif()
        set(page ${ct_pkg_dir}/citytally-${prog}.1)
        add_custom_command(
            OUTPUT ${page}.gz
            COMMAND ${CMAKE_COMMAND} -E make_directory ${ct_pkg_dir}
            COMMAND ${CT_HELP2MAN} --no-info --no-discard-stderr --section=1
                    --name=${what} --output=${page} $<TARGET_FILE:citytally-${prog}>
            COMMAND gzip -9nf ${page}
            DEPENDS citytally-${prog}
            COMMENT "Generating the man page of citytally-${prog} with help2man"
            VERBATIM)
        list(APPEND ct_manpages ${page}.gz)
        install(FILES ${page}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT ${prog})
    endforeach()
    add_custom_target(ct_manpages ALL DEPENDS ${ct_manpages})
else()
    message(STATUS "help2man not found: no man pages (apt-get install help2man)")
endif()

# ---- files of each component --------------------------------------------------------
foreach(prog aggregator collector)
    set(pkg citytally-${prog})
    set(doc ${CMAKE_INSTALL_DATAROOTDIR}/doc/${pkg})
    install(FILES ${ct_deploy}/examples/${prog}.conf
        DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/citytally COMPONENT ${prog})
    install(FILES ${ct_deploy}/examples/${prog}.conf DESTINATION ${doc}/examples
        COMPONENT ${prog})
    install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/docs/CONTRACT.md
        DESTINATION ${doc} COMPONENT ${prog})
    # Both packages create the same user; each carries the entry so either installs alone.
    install(FILES ${ct_deploy}/sysusers.d/citytally.conf DESTINATION lib/sysusers.d
        RENAME ${pkg}.conf COMPONENT ${prog})
    install(FILES ${ct_deploy}/tmpfiles.d/${pkg}.conf DESTINATION lib/tmpfiles.d
        COMPONENT ${prog})
endforeach()
install(FILES ${ct_deploy}/systemd/citytally-aggregator.service DESTINATION ${ct_systemd_dir}
    COMPONENT aggregator)
install(FILES ${ct_deploy}/systemd/citytally-collector.service
    ${ct_deploy}/systemd/citytally-collector@.service DESTINATION ${ct_systemd_dir}
    COMPONENT collector)
# The facts the aggregator seeds from (also compiled in), for `targets import` of an
# edited copy and for reading.
install(FILES ${PROJECT_SOURCE_DIR}/data/districts.csv ${PROJECT_SOURCE_DIR}/data/indicators.csv
    ${PROJECT_SOURCE_DIR}/data/targets-2015.csv
    DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/citytally COMPONENT aggregator)
# Sample CSV files a unit can drop into its spool to try the system (deploy/sample/).
if(EXISTS ${ct_deploy}/sample)
    install(DIRECTORY ${ct_deploy}/sample/ DESTINATION
        ${CMAKE_INSTALL_DATAROOTDIR}/doc/citytally-collector/examples/sample COMPONENT collector)
endif()

# ---- maintainer scripts ---------------------------------------------------------------
function(ct_maintainer_scripts prog)
    set(PKG citytally-${prog})
    set(BIN /usr/bin/citytally-${prog})
    set(CONFFILE /etc/citytally/${prog}.conf)
    set(MAIN_UNIT citytally-${prog}.service)
    if(prog STREQUAL "aggregator")
        set(UNITS citytally-aggregator.service)
        set(STOP_UNITS citytally-aggregator.service)
        set(STATE_DIR /var/lib/citytally-aggregator)
        set(PURGE_NOTE ": the CURVE server key")
        set(MKDIRS "        install -d -o citytally -g citytally -m 0700 ${STATE_DIR}")
        set(key ${STATE_DIR}/server.key)
    else()
        set(UNITS "citytally-collector.service 'citytally-collector@*.service'")
        set(STOP_UNITS ${UNITS})
        set(STATE_DIR /var/lib/citytally-collector)
        set(PURGE_NOTE ": outboxes with any figures not yet delivered, keys, the spool")
        set(MKDIRS "        install -d -o citytally -g citytally -m 0750 ${STATE_DIR}\n        install -d -o citytally -g citytally -m 3770 ${STATE_DIR}/spool")
        set(key ${STATE_DIR}/agent.key)
    endif()
    # keygen arrives with the security issue; until then postinst says how to make a key.
    set(KEYGEN "    # A CURVE key pair, once; the secret half never leaves this host.
    if [ ! -e ${key} ]; then
        if runuser -u citytally -- ${BIN} keygen ${key} >/dev/null 2>&1; then
            echo \"${PKG}: made the CURVE key pair ${key} (public half: ${key}.pub)\"
        else
            echo \"${PKG}: no CURVE key yet; make one with: runuser -u citytally -- ${BIN} keygen ${key}\"
        fi
    fi
")
    set(out ${ct_pkg_dir}/${prog})
    foreach(script postinst prerm postrm)
        configure_file(${ct_deploy}/debian/${script}.in ${out}/${script} @ONLY
            FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
            WORLD_READ WORLD_EXECUTE)
    endforeach()
    file(WRITE ${out}/conffiles "${CONFFILE}\n")
    string(TOUPPER ${prog} up)
    set(CPACK_DEBIAN_${up}_PACKAGE_CONTROL_EXTRA
        "${out}/postinst;${out}/prerm;${out}/postrm;${out}/conffiles" PARENT_SCOPE)
endfunction()
ct_maintainer_scripts(aggregator)
ct_maintainer_scripts(collector)

# ---- CPack ----------------------------------------------------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME citytally)
set(CPACK_PACKAGE_VENDOR "citytally")
set(CPACK_PACKAGE_CONTACT "citytally maintainers <citytally@localhost>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL aggregator collector)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SECTION misc)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# dpkg-shlibdeps adds each linked library's runtime package (libzmq5, libpq5,
# libxlsxwriter4, ...) to Depends.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_DEBIAN_AGGREGATOR_PACKAGE_NAME citytally-aggregator)
set(CPACK_DEBIAN_AGGREGATOR_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_AGGREGATOR_PACKAGE_SUGGESTS "postgresql (>= 15)")
set(CPACK_COMPONENT_AGGREGATOR_DESCRIPTION
    "Zhengzhou 2015 S&T targets: the bureau's aggregator daemon
citytally-aggregator receives the reporting units' figures over ZeroMQ (CURVE),
commits each exactly once to PostgreSQL, and reports progress against the 35
targets of the 2015 work plan: report command, live feed, /api/progress, a
dashboard for the bureau, an Excel workbook and a printable bulletin, and
Prometheus /metrics.")

set(CPACK_DEBIAN_COLLECTOR_PACKAGE_NAME citytally-collector)
set(CPACK_DEBIAN_COLLECTOR_PACKAGE_DEPENDS "adduser")
set(CPACK_COMPONENT_COLLECTOR_DESCRIPTION
    "Zhengzhou 2015 S&T targets: a reporting unit's collector daemon
citytally-collector imports a unit's figures from CSV files (UTF-8 or GBK)
dropped into a spool folder, keeps them in a durable SQLite outbox and delivers
them to the bureau's aggregator until each is acknowledged.")

include(CPack)
