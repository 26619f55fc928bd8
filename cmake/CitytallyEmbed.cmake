# ct_embed_files(TARGET SYMBOL_PREFIX FILE...) turns data files (SQL migrations, seed CSVs,
# the dashboard page) into a generated C source, so the binaries carry their own data and
# the files stay the single place where that data is edited.
function(ct_embed_files out_var name)
    set(out_c ${CMAKE_CURRENT_BINARY_DIR}/${name}.c)
    set(files ${ARGN})
    add_custom_command(
        OUTPUT ${out_c}
        COMMAND ${CMAKE_COMMAND} -DOUT=${out_c} -DNAME=${name} "-DFILES=${files}"
                -P ${PROJECT_SOURCE_DIR}/cmake/embed.cmake
        DEPENDS ${files} ${PROJECT_SOURCE_DIR}/cmake/embed.cmake
        COMMENT "Embedding ${name}"
        VERBATIM)
    set(${out_var} ${out_c} PARENT_SCOPE)
endfunction()
