#ifndef PW_BUILD_INFO_H
#define PW_BUILD_INFO_H

/// The git commit the binary was built from ("unknown" outside a git checkout, with "-dirty" after
/// it when the tree had changes). Package.swift defines it for this file alone, so a new commit
/// recompiles one C file, not the Swift modules.
const char *pw_build_git_commit(void);

/// The Swift toolchain's version as scripts/build-release read it from `swift --version`, or ""
/// when the build did not say (the Swift side then names the compiler's version it knows).
const char *pw_build_swift_version(void);

#endif
