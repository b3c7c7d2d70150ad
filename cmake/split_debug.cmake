# Splits libplexbridge's debug info off at build time, as Debian's dh_strip
# does: the stripped copy is what gets installed and packaged (the build
# tree's library, which the tests load, keeps everything), and the debug
# info goes where gdb looks for it by build id.
#   -DLIB=<built library> -DOUT=<kit dir> -DOBJCOPY=... -DREADELF=...
# Leaves OUT/lib/<name> (stripped, with a debuglink) and
# OUT/debug/lib/debug/.build-id/xx/yyyy.debug.
cmake_minimum_required(VERSION 3.25)
get_filename_component(name ${LIB} NAME)
execute_process(COMMAND ${READELF} --notes ${LIB} OUTPUT_VARIABLE notes COMMAND_ERROR_IS_FATAL ANY)
if(NOT notes MATCHES "Build ID: ([0-9a-f][0-9a-f])([0-9a-f]+)")
  message(FATAL_ERROR "${LIB} has no build id: link with -Wl,--build-id")
endif()
set(debug_dir ${OUT}/debug/lib/debug/.build-id/${CMAKE_MATCH_1})
set(debug_file ${debug_dir}/${CMAKE_MATCH_2}.debug)
file(REMOVE_RECURSE ${OUT}/debug ${OUT}/lib/${name})
file(MAKE_DIRECTORY ${debug_dir} ${OUT}/lib)
execute_process(COMMAND ${OBJCOPY} --only-keep-debug --compress-debug-sections ${LIB} ${debug_file}
                COMMAND_ERROR_IS_FATAL ANY)
execute_process(COMMAND ${OBJCOPY} --strip-unneeded --remove-section=.comment --remove-section=.note
                        --add-gnu-debuglink=${debug_file} ${LIB} ${OUT}/lib/${name}
                COMMAND_ERROR_IS_FATAL ANY)
file(CHMOD ${debug_file} ${OUT}/lib/${name} PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
