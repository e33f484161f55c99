import CBuildInfo

/// What this binary is: its version (also in the User-Agent and the worker's heartbeat), the git
/// commit it was built from and the Swift toolchain that built it (`prefect-worker --version`, the
/// `prefect_worker_build_info` metric; Package.swift, scripts/build-release).
public enum PrefectWorkerVersion {
    public static let current = "0.1.0"

    /// The full commit id, "-dirty" after it when the checkout had changes; "unknown" when the build
    /// had no git checkout and no PREFECT_WORKER_GIT_COMMIT.
    public static let gitCommit = String(cString: pw_build_git_commit())

    /// As `swift --version` said at build time (scripts/build-release), else the compiler's
    /// language version this code was compiled with.
    public static let swiftVersion: String = {
        let told = String(cString: pw_build_swift_version())
        if !told.isEmpty { return told }
        #if compiler(>=6.4)
        return "6.4 or later"
        #elseif compiler(>=6.3)
        return "6.3"
        #else
        return "6.2"
        #endif
    }()

    /// `prefect-worker --version`: the version on the first line, for scripts; then the commit and
    /// the toolchain.
    public static var text: String {
        "\(current)\ncommit \(gitCommit)\nSwift \(swiftVersion)"
    }
}
