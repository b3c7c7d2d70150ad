/* Loads the installed plugin through what find_package(plexbridge) gave:
 * the header's folder and the library's path. Exit 0 when the plugin's ABI
 * is the header's and the package's. */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "plexbridge_plugin.h"

int main(void) {
    void* lib = dlopen(PLUGIN, RTLD_NOW | RTLD_LOCAL);
    pb_abi_version_fn version;
    uint32_t v;
    char abi[16];
    if (lib == NULL) {
        fprintf(stderr, "cannot load %s: %s\n", PLUGIN, dlerror());
        return 1;
    }
    *(void**)(&version) = dlsym(lib, PB_ABI_VERSION_SYMBOL);
    if (version == NULL || dlsym(lib, PB_ENTRY_SYMBOL) == NULL) {
        fprintf(stderr, "%s lacks the entry points\n", PLUGIN);
        return 1;
    }
    v = version();
    dlclose(lib); /* version points into the library: not called after this */
    snprintf(abi, sizeof abi, "%u.%u", (unsigned)PB_ABI_MAJOR(v), (unsigned)PB_ABI_MINOR(v));
    printf("%s speaks ABI %s; the header %d.%d; the package %s\n", PLUGIN, abi, PB_ABI_VERSION_MAJOR,
           PB_ABI_VERSION_MINOR, ABI_FROM_PACKAGE);
    return v == PB_ABI_VERSION && strcmp(abi, ABI_FROM_PACKAGE) == 0 ? 0 : 1;
}
