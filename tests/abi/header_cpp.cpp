// The public header compiles as C++ too (self-contained, no other include).
#include "plexbridge_plugin.h"

extern "C" int pb_header_c_check(void);

int pb_header_cpp_check() {
    pb_route_desc r;
    PB_STRUCT_INIT(r);
    r.auth = PB_ROUTE_AUTH_HOST_APIKEY;
    return static_cast<int>(r.struct_size == sizeof r) + pb_header_c_check();
}
