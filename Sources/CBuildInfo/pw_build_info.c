#include "pw_build_info.h"

#ifndef PW_BUILD_GIT_COMMIT
#define PW_BUILD_GIT_COMMIT "unknown"
#endif

#ifndef PW_BUILD_SWIFT_VERSION
#define PW_BUILD_SWIFT_VERSION ""
#endif

const char *pw_build_git_commit(void) {
    return PW_BUILD_GIT_COMMIT;
}

const char *pw_build_swift_version(void) {
    return PW_BUILD_SWIFT_VERSION;
}
