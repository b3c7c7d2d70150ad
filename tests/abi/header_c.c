/* The public header compiles as C11, and its macros work in C. */
#include "plexbridge_plugin.h"

int pb_header_c_check(void) {
    pb_host_api host;
    pb_plugin_api plugin;
    PB_STRUCT_INIT(host);
    PB_STRUCT_INIT(plugin);
    host.abi_version = PB_ABI_VERSION;
    return PB_HAS_FIELD(&host, pb_host_api, request_search) && plugin.struct_size == sizeof plugin &&
           PB_ABI_MAJOR(host.abi_version) == PB_ABI_VERSION_MAJOR;
}
