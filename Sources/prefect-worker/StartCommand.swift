import ArgumentParser
import Foundation
import Logging
import PrefectAPI
import PrefectWorker
import ServiceLifecycle
import UnixSignals

/// `prefect-worker start`: the same flags as `prefect worker start --type process`.
struct StartCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start",
        abstract: "Start a worker that serves a process work pool.",
        discussion: """
            Environment variables, as Prefect's: PREFECT_API_URL (required), PREFECT_API_KEY (Bearer), \
            PREFECT_API_AUTH_STRING (Basic), PREFECT_CLIENT_CUSTOM_HEADERS (JSON object), each also from \
            the file named by the same name + _FILE, PREFECT_WORKER_ENV_ALLOW / PREFECT_WORKER_ENV_DENY (patterns), \
            PREFECT_API_REQUEST_TIMEOUT (60), PREFECT_WORKER_HEARTBEAT_SECONDS (30), \
            PREFECT_WORKER_QUERY_SECONDS (10), PREFECT_WORKER_PREFETCH_SECONDS (10), \
            PREFECT_WORKER_PYTHON (python3), PREFECT_WORKER_CANCEL_GRACE_SECONDS (30), \
            PREFECT_WORKER_RUN_TIMEOUT_SECONDS (none), PREFECT_WORKER_DRAIN_SECONDS (300), \
            PREFECT_WORKER_LOG_FORMAT (auto), PREFECT_WORKER_OUTPUT_LINES_PER_SECOND (10000), \
            PREFECT_WORKER_OUTPUT_BURST_LINES (100000), PREFECT_WORKER_OUTPUT_TO_API (false), \
            PREFECT_WORKER_PASS_CREDENTIALS_TO_RUNS, PREFECT_WORKER_EVENT_STREAM (true), \
            PREFECT_WORKER_WEBSERVER_HOST (127.0.0.1), PREFECT_WORKER_WEBSERVER_PORT (8080), PREFECT_LOGGING_LEVEL (INFO). Exit codes: 0 stopped cleanly, 1 cannot go on, 2 bad settings, \
            3 stopped with runs in flight that had to be cut. A flag beats its variable.
            """)

    @Option(name: [.short, .long], help: "The work pool to serve.")
    var pool: String

    @Option(name: [.customShort("q"), .long], help: "Only take runs from this work queue (repeatable; default: all queues).")
    var workQueue: [String] = []

    @Option(name: [.short, .long], help: "The worker's name (default: ProcessWorker <uuid>). No '/' or '%'.")
    var name: String?

    @Option(name: [.short, .long], help: "Run at most this many flow runs at once (default: no limit).")
    var limit: Int?

    @Option(help: "Claim runs scheduled up to this many seconds ahead (env PREFECT_WORKER_PREFETCH_SECONDS, default 10).")
    var prefetchSeconds: Double?

    @Flag(help: "Poll once, run what was claimed, wait for it, and exit.")
    var runOnce = false

    @Option(name: .customLong("type"), help: "Worker type; only 'process' (accepted for compatibility with prefect worker start).")
    var workerType: String = "process"

    @Option(help: "The Python that runs the Prefect engine for jobs without a command (env PREFECT_WORKER_PYTHON, default python3).")
    var python: String?

    @Flag(inversion: .prefixedNo, help: "Create the work pool if it does not exist.")
    var createPoolIfNotFound = true

    @Option(help: "Seconds between SIGTERM and SIGKILL when a run is cancelled (env PREFECT_WORKER_CANCEL_GRACE_SECONDS, default 30).")
    var cancelGraceSeconds: Double?

    @Option(help: "On SIGTERM/SIGINT, wait this long for runs in flight before stopping them (env PREFECT_WORKER_DRAIN_SECONDS, default 300).")
    var drainSeconds: Double?

    @Option(help: "Directory of the run ledger used for restart recovery (env PREFECT_WORKER_STATE_DIR, else $STATE_DIRECTORY, else /var/lib/prefect-worker as root or ~/.local/state/prefect-worker).")
    var stateDir: String?

    @Option(help: "Default per-run timeout in seconds; the job variable timeout_seconds overrides it (env PREFECT_WORKER_RUN_TIMEOUT_SECONDS, default none).")
    var runTimeoutSeconds: Double?

    @Option(help: "Where logs go: auto (journal under systemd, logfmt at a terminal, JSON lines otherwise), journal, json or logfmt (env PREFECT_WORKER_LOG_FORMAT).")
    var logFormat: String?

    @Option(help: "Take at most this many flow runs, then exit 0 once they are done (ephemeral hosts).")
    var maxRuns: Int?

    @Option(name: .customLong("exit-after-idle"), help: "Exit 0 after this many seconds with no flow run in flight (ephemeral hosts).")
    var exitAfterIdle: Double?

    @Flag(help: "Serve /health, /health/live and /health/ready on PREFECT_WORKER_WEBSERVER_HOST:PREFECT_WORKER_WEBSERVER_PORT (default 127.0.0.1:8080).")
    var withHealthcheck = false

    @Flag(help: "Serve Prometheus metrics at /metrics on the same address as --with-healthcheck (which serves them too).")
    var withMetrics = false

    func run() async throws {
        guard workerType == "process" else {
            throw SettingsError(setting: "--type", problem: "'\(workerType)' is not supported; this worker is a 'process' worker")
        }
        let environment = ProcessInfo.processInfo.environment
        var flags = CommandLineSettings(pool: pool)
        flags.workQueues = workQueue
        flags.name = name
        flags.limit = limit
        flags.prefetchSeconds = prefetchSeconds
        flags.runOnce = runOnce
        flags.python = python
        flags.createPoolIfNotFound = createPoolIfNotFound
        flags.cancelGraceSeconds = cancelGraceSeconds
        flags.runTimeoutSeconds = runTimeoutSeconds
        flags.drainSeconds = drainSeconds
        flags.stateDirectory = stateDir
        flags.logFormat = logFormat
        flags.withHealthcheck = withHealthcheck || withMetrics
        flags.maxRuns = maxRuns
        flags.exitAfterIdleSeconds = exitAfterIdle
        let configuration = try SettingsResolver.resolve(flags: flags, environment: environment)
        let level = try logLevel(environment["PREFECT_LOGGING_LEVEL"])

        let format = try SettingsResolver.logFormat(flag: logFormat, env: environment)
        let sinks = LogSinks(format: format, level: level)
        LoggingSystem.bootstrap { label in sinks.localHandler(label: label) }
        let logger = sinks.workerLogger()
        let metrics = WorkerMetrics()
        let api = HTTPPrefectAPI(configuration: configuration.api, logger: Logger(label: "prefect-worker.api"), metrics: metrics.factory)
        let shutdown = ShutdownController()
        let worker = WorkerService(api: api, configuration: configuration, shutdown: shutdown, logs: sinks, metrics: metrics)
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: worker, successTerminationBehavior: .gracefullyShutdownGroup)], logger: logger))
        // The first SIGTERM/SIGINT starts the drain; a second one cuts it short.
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        let outcome: Result<Void, Error> = await withTaskGroup(of: Result<Void, Error>?.self) { tasks in
            tasks.addTask {
                do { try await group.run(); return .success(()) } catch { return .failure(error) }
            }
            tasks.addTask {
                var received = 0
                for await signal in signals {
                    received += 1
                    if received == 1 {
                        logger.notice("received \(signal): stopping (send it again to stop the runs in flight now)")
                        await group.triggerGracefulShutdown()
                    } else {
                        shutdown.requestCut()
                    }
                }
                return nil
            }
            let first = await tasks.next() ?? nil
            tasks.cancelAll()
            return first ?? .success(())
        }
        try? await api.shutdown()
        try outcome.get()
        if shutdown.cutRuns > 0 {
            logger.warning("stopped with \(shutdown.cutRuns) flow run(s) cut short")
            throw ExitCode(3)
        }
    }

    private func logLevel(_ text: String?) throws -> Logger.Level {
        switch text?.uppercased() {
        case nil, "", "INFO": return .info
        case "DEBUG": return .debug
        case "WARNING", "WARN": return .warning
        case "ERROR": return .error
        case "CRITICAL": return .critical
        default:
            throw SettingsError(setting: "PREFECT_LOGGING_LEVEL", problem: "must be DEBUG, INFO, WARNING, ERROR or CRITICAL (got '\(text!)')")
        }
    }
}
