# The host author kit: what `cmake --install` puts where a host author
# expects it (GNUInstallDirs), and the Debian packages CPack builds from it.
#   runtime  (libplexbridge1)        the stripped plugin, libplexbridge.so.1
#   dev      (libplexbridge-dev)     header, manifest, pkg-config, CMake package
#   dbg      (libplexbridge1-dbgsym) the plugin's debug info, by build id
# docs/host-integration.md ("Installing") says how a host uses each.

# A multiarch library folder, as Debian's own libraries use, wherever the
# prefix is (GNUInstallDirs picks one only for /usr).
if(NOT DEFINED CMAKE_INSTALL_LIBDIR AND CMAKE_LIBRARY_ARCHITECTURE)
  set(CMAKE_INSTALL_LIBDIR lib/${CMAKE_LIBRARY_ARCHITECTURE} CACHE PATH "Object code libraries (lib/<multiarch>)")
endif()
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# The soname is the ABI's major: a host that loads libplexbridge.so.1 gets
# any 1.x plugin. The plugin's own version (PROJECT_VERSION) is separate.
set_target_properties(plexbridge PROPERTIES VERSION ${PB_ABI_MAJOR}.${PB_ABI_MINOR} SOVERSION ${PB_ABI_MAJOR})
set(PB_PLUGIN_SONAME libplexbridge.so.${PB_ABI_MAJOR})
set(PB_PLUGIN_REALNAME libplexbridge.so.${PB_ABI_MAJOR}.${PB_ABI_MINOR})
target_link_options(plexbridge PRIVATE -Wl,--build-id)

set(PB_KIT_DIR ${CMAKE_BINARY_DIR}/kit)
find_program(PB_OBJCOPY NAMES ${CMAKE_OBJCOPY} objcopy REQUIRED)
find_program(PB_READELF NAMES ${CMAKE_READELF} readelf REQUIRED)
add_custom_command(TARGET plexbridge POST_BUILD
  COMMAND ${CMAKE_COMMAND} -DLIB=$<TARGET_FILE:plexbridge> -DOUT=${PB_KIT_DIR} -DOBJCOPY=${PB_OBJCOPY}
          -DREADELF=${PB_READELF} -P ${PROJECT_SOURCE_DIR}/cmake/split_debug.cmake
  COMMAND ${CMAKE_COMMAND} -E create_symlink ${PB_PLUGIN_REALNAME} ${PB_KIT_DIR}/lib/${PB_PLUGIN_SONAME}
  COMMAND ${CMAKE_COMMAND} -E create_symlink ${PB_PLUGIN_SONAME} ${PB_KIT_DIR}/lib/libplexbridge.so
  COMMENT "Splitting the plugin's debug info off for installing"
  VERBATIM)

install(FILES ${PB_KIT_DIR}/lib/${PB_PLUGIN_REALNAME} ${PB_KIT_DIR}/lib/${PB_PLUGIN_SONAME}
        DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime)
install(FILES ${PB_KIT_DIR}/lib/libplexbridge.so DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
install(DIRECTORY ${PB_KIT_DIR}/debug/ DESTINATION . COMPONENT dbg)
install(FILES ${PROJECT_SOURCE_DIR}/plugin_api/plexbridge_plugin.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        COMPONENT dev)
install(FILES ${PB_GENERATED_MANIFEST} DESTINATION ${CMAKE_INSTALL_DATADIR}/plexbridge COMPONENT dev)

# pkg-config, with paths relative to the .pc file (works under any prefix).
foreach(dir CMAKE_INSTALL_LIBDIR CMAKE_INSTALL_INCLUDEDIR CMAKE_INSTALL_DATADIR)
  if(IS_ABSOLUTE "${${dir}}")
    message(FATAL_ERROR "${dir} must be relative to the prefix (the kit's .pc and CMake files are relocatable)")
  endif()
endforeach()
file(RELATIVE_PATH PB_PC_TO_PREFIX /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
string(REGEX REPLACE "/$" "" PB_PC_TO_PREFIX "${PB_PC_TO_PREFIX}")
configure_file(${PROJECT_SOURCE_DIR}/packaging/plexbridge.pc.in ${PB_KIT_DIR}/plexbridge.pc @ONLY)
install(FILES ${PB_KIT_DIR}/plexbridge.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)

# find_package(plexbridge 1.1): the package's version is the ABI's, what a
# host depends on (same major, that minor or later); the plugin's own
# version is PLEXBRIDGE_PLUGIN_VERSION.
configure_package_config_file(${PROJECT_SOURCE_DIR}/packaging/plexbridgeConfig.cmake.in
  ${PB_KIT_DIR}/plexbridgeConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/plexbridge
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR CMAKE_INSTALL_LIBDIR CMAKE_INSTALL_DATADIR)
write_basic_package_version_file(${PB_KIT_DIR}/plexbridgeConfigVersion.cmake VERSION ${PB_ABI_MAJOR}.${PB_ABI_MINOR}
                                 COMPATIBILITY SameMajorVersion ARCH_INDEPENDENT)
install(FILES ${PB_KIT_DIR}/plexbridgeConfig.cmake ${PB_KIT_DIR}/plexbridgeConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/plexbridge COMPONENT dev)

# Whoever builds packages for others names themselves: -DPB_PACKAGE_MAINTAINER=...
# (.invalid: this default is a placeholder that can never receive mail).
set(PB_PACKAGE_MAINTAINER "The plexbridge authors <maintainers@plexbridge.invalid>"
    CACHE STRING "Maintainer of the Debian packages (name <address>)")
# Each Debian package carries its copyright and changelog.
# Its date is the release's, from CHANGELOG.md ("## 1.0.0: 2026-12-01"), so
# two builds (amd64 and arm64: Multi-Arch: same) ship the same file.
file(STRINGS ${PROJECT_SOURCE_DIR}/CHANGELOG.md PB_RELEASE_LINE REGEX "^## ${PROJECT_VERSION}: [0-9]+-[0-9]+-[0-9]+")
if(NOT PB_RELEASE_LINE MATCHES ": ([0-9]+-[0-9]+-[0-9]+)")
  message(FATAL_ERROR "CHANGELOG.md has no \"## ${PROJECT_VERSION}: YYYY-MM-DD\" section for this version")
endif()
execute_process(COMMAND date -u -R -d "${CMAKE_MATCH_1} 00:00:00 UTC" OUTPUT_VARIABLE PB_CHANGELOG_DATE
                OUTPUT_STRIP_TRAILING_WHITESPACE COMMAND_ERROR_IS_FATAL ANY)
configure_file(${PROJECT_SOURCE_DIR}/packaging/changelog.Debian.in ${PB_KIT_DIR}/changelog @ONLY)
find_program(PB_GZIP gzip REQUIRED)
add_custom_command(OUTPUT ${PB_KIT_DIR}/changelog.gz
  COMMAND ${PB_GZIP} -9nf -k ${PB_KIT_DIR}/changelog
  DEPENDS ${PB_KIT_DIR}/changelog VERBATIM)
add_custom_target(kit-changelog ALL DEPENDS ${PB_KIT_DIR}/changelog.gz)
foreach(pair "runtime;libplexbridge${PB_ABI_MAJOR}" "dev;libplexbridge-dev" "dbg;libplexbridge${PB_ABI_MAJOR}-dbgsym")
  list(GET pair 0 component)
  list(GET pair 1 package)
  install(FILES ${PROJECT_SOURCE_DIR}/packaging/copyright ${PB_KIT_DIR}/changelog.gz
          DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/${package} COMPONENT ${component})
endforeach()

# ---- CPack: the .deb files (`cpack -G DEB` in the build folder) -----------
set(CPACK_PACKAGE_NAME plexbridge)
set(CPACK_PACKAGE_CONTACT "${PB_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/packages)
set(CPACK_COMPONENTS_ALL runtime dev dbg)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
# Each package's description: its first line is the synopsis (no
# CPACK_PACKAGE_DESCRIPTION_SUMMARY, which CPack would put before each).

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME libplexbridge${PB_ABI_MAJOR})
# Multi-Arch: same (amd64 and arm64 side by side; the files they share are
# the same bytes) is added by scripts/package.sh: CPack 3.25 cannot.
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS ON)  # dpkg-shlibdeps: libc6, libssl3, libsodium23, libstdc++6...
# shlibs for the soname, and ldconfig run by trigger (Debian policy 8.1.1).
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_EXTRA ${PROJECT_SOURCE_DIR}/packaging/triggers)
set(CPACK_DEBIAN_RUNTIME_DESCRIPTION "Plex integration plugin for subtitle managers
plexbridge gives a subtitle manager (a host such as Bazarr) Sign in with Plex,
server discovery with failover, a refresh of the item in Plex after each
subtitle change, and Plex webhooks that start subtitle searches. Hosts load
libplexbridge.so.${PB_ABI_MAJOR} with dlopen() through a stable C ABI.")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libplexbridge-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "libplexbridge${PB_ABI_MAJOR} (= ${PROJECT_VERSION})")
set(CPACK_DEBIAN_DEV_DESCRIPTION "plexbridge plugin: files for hosts that embed it
The C header of the plexbridge plugin ABI, the plugin's manifest (settings,
routes and events), a pkg-config file and a CMake package, for subtitle
managers and other hosts that load the plugin.")

set(CPACK_DEBIAN_DBG_PACKAGE_NAME libplexbridge${PB_ABI_MAJOR}-dbgsym)
set(CPACK_DEBIAN_DBG_PACKAGE_SECTION debug)
set(CPACK_DEBIAN_DBG_PACKAGE_DEPENDS "libplexbridge${PB_ABI_MAJOR} (= ${PROJECT_VERSION})")
set(CPACK_DEBIAN_DBG_DESCRIPTION "debug symbols for libplexbridge${PB_ABI_MAJOR}
The debug information of the plexbridge plugin, found by gdb and valgrind
through the plugin's build id.")
include(CPack)

# Where the tests install the kit (tests/kit, examples/, python/): they see
# only what a host author gets.
set(PB_KIT_PREFIX ${CMAKE_BINARY_DIR}/kit-prefix)
set(PB_KIT_PKG_CONFIG_PATH ${PB_KIT_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig)
