# cmake -DGENERATED=... -DCHECKED_IN=... -P check_manifest.cmake
# Fails, saying how to fix it, when the checked-in manifest differs from the
# one generated from the code.
file(READ "${GENERATED}" generated)
file(READ "${CHECKED_IN}" checked_in)
if(NOT generated STREQUAL checked_in)
  message(FATAL_ERROR "manifest/plugin.json is stale: it no longer matches the settings table, routes and events.\n"
                      "Refresh it with: cmake --build <build dir> --target update-manifest\n"
                      "(generated copy: ${GENERATED})")
endif()
message(STATUS "manifest/plugin.json matches the code")
