// swift-tools-version:6.2
import PackageDescription

/// The release binary carries no symbol table or debug info (a third of its size, and nothing the
/// worker reads at run time; PREFECT_WORKER_KEEP_SYMBOLS=1 keeps them); a debug build keeps both.
/// gold places the functions an idle worker runs first and together (config/idle-text-order.txt,
/// bench/idle_text_order.py): scattered over the text, they keep about 10 MB of code resident
/// (docs/architecture.md, "Idle memory"). README, "Building".
let releaseLinkerFlags =
    (Context.environment["PREFECT_WORKER_KEEP_SYMBOLS"] == "1" ? [] : ["-Xlinker", "--strip-all"])
    + ["-use-ld=gold", "-Xlinker", "--section-ordering-file=\(Context.packageDirectory)/config/idle-text-order.txt"]

/// What `prefect-worker --version` and the `prefect_worker_build_info` metric report: the commit of
/// the checkout (PREFECT_WORKER_GIT_COMMIT wins, for builds without `.git`, such as the container's)
/// and the toolchain's version, which scripts/build-release reads from `swift --version`
/// (docs/architecture.md, "Packaging").
let gitCommit = Context.environment["PREFECT_WORKER_GIT_COMMIT"]
    ?? Context.gitInformation.map { $0.currentCommit + ($0.hasUncommittedChanges ? "-dirty" : "") }
    ?? "unknown"
let buildInfoSettings: [CSetting] = [
    .define("PW_BUILD_GIT_COMMIT", to: "\"\(gitCommit)\""),
    .define("PW_BUILD_SWIFT_VERSION", to: "\"\(Context.environment["PREFECT_WORKER_SWIFT_VERSION"] ?? "")\""),
]

let package = Package(
    name: "prefect-worker",
    products: [
        .executable(name: "prefect-worker", targets: ["prefect-worker"]),
    ],
    dependencies: [
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        // Already under async-http-client; named for the event stream's WebSocket client.
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // Pure decisions: no I/O, no clock, no randomness of its own.
        .target(name: "PrefectWorkerCore"),
        // The commit and toolchain the binary was built from (`--version`, build_info metric).
        .target(name: "CBuildInfo", cSettings: buildInfoSettings),
        // The Prefect REST client and the event stream (WebSocket).
        .target(
            name: "PrefectAPI",
            dependencies: [
                "PrefectWorkerCore", "CBuildInfo",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]
        ),
        // posix_spawn with a new session, a working directory and default signal dispositions.
        .target(name: "CProcessSpawn"),
        // The Swift runtime's global-executor hook, for running tasks on NIO's event loops.
        .target(name: "CSwiftConcurrencyHook"),
        // libsystemd: sd_journal_sendv, sd_notify, sd_watchdog_enabled (apt libsystemd-dev).
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        // The journal LogHandler and sd_notify; the only target that imports CSystemd.
        .target(
            name: "Systemd",
            dependencies: [
                "CSystemd", "PrefectWorkerCore",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "ProcessSupervisor",
            dependencies: ["PrefectWorkerCore", "CProcessSpawn"]
        ),
        .target(
            name: "PrefectWorker",
            dependencies: [
                "PrefectWorkerCore", "PrefectAPI", "ProcessSupervisor", "Systemd",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .executableTarget(
            name: "prefect-worker",
            dependencies: [
                "PrefectWorker", "Systemd", "CSwiftConcurrencyHook",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            linkerSettings: [.unsafeFlags(releaseLinkerFlags, .when(configuration: .release))]
        ),
        .testTarget(name: "PrefectWorkerCoreTests", dependencies: ["PrefectWorkerCore"]),
        .testTarget(
            name: "PrefectAPITests",
            dependencies: [
                "PrefectAPI", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"), .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]),
        .testTarget(name: "ProcessSupervisorTests", dependencies: ["ProcessSupervisor", "PrefectWorkerCore", "PrefectAPI"]),
        .testTarget(name: "SystemdTests", dependencies: ["Systemd", .product(name: "Logging", package: "swift-log")]),
        .testTarget(
            name: "PrefectWorkerTests",
            dependencies: [
                "PrefectWorker", "PrefectWorkerCore", "PrefectAPI", "Systemd", .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
    ]
)
