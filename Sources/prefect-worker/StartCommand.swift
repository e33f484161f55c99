import ArgumentParser
import FoundationEssentials
import Logging
import PrefectAPI
import PrefectWorker
import PrefectWorkerCore
import ServiceLifecycle
import UnixSignals

/// `prefect-worker start`: the same flags as `prefect worker start --type process`.
struct StartCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start",
        abstract: "Start a worker that serves a process work pool.",
        discussion: """
            Every setting is a flag, an environment variable (Prefect's names) and a key of the \
            configuration file (--config, default /etc/prefect-worker/config.toml): a flag beats its \
            variable, which beats the file. `prefect-worker config keys` lists them all; \
            `prefect-worker config show` prints the effective values. Secrets (PREFECT_API_KEY, \
            PREFECT_API_AUTH_STRING, PREFECT_CLIENT_CUSTOM_HEADERS) have no flag: use the variable, \
            the file key, or the *_FILE variant. Exit codes: 0 stopped cleanly, 1 cannot go on, \
            2 bad settings, 3 stopped with runs in flight that had to be cut.
            """)

    @OptionGroup var options: WorkerOptions

    @Option(name: [.customShort("t"), .customLong("type")], help: "Worker type: only 'process'; omitted, the pool's type is read (it must be a process pool).")
    var workerType: String?

    @Option(help: "Accepted as Prefect's (always, if-not-present, never, prompt): a process worker has no package to install.")
    var installPolicy: String?

    @Flag(inversion: .prefixedNo, help: "Accepted as Prefect's; this worker never prompts.")
    var prompt: Bool?

    func run() async throws {
        if let workerType, workerType != "process" {
            throw SettingsError(setting: "--type", problem: "'\(workerType)' is not supported; this worker is a 'process' worker (omit --type or give process)")
        }
        let installPolicies = ["always", "if-not-present", "never", "prompt"]
        if let installPolicy, !installPolicies.contains(installPolicy) {
            throw SettingsError(setting: "--install-policy", problem: "'\(installPolicy)' is not one of \(installPolicies.joined(separator: ", "))")
        }
        let environment = ProcessInfo.processInfo.environment
        let settings = try options.resolver(environment: environment)
        let configuration = try settings.configuration()
        let level = try settings.logLevel()
        let format = try settings.logFormat()
        let sinks = LogSinks(format: format, level: level)
        LoggingSystem.bootstrap { label in sinks.localHandler(label: label) }
        let logger = sinks.workerLogger()
        for warning in settings.warnings { logger.warning("\(warning)") }
        if let profile = settings.prefectProfile {
            logger.debug("read Prefect's settings profile", metadata: ["profile": "\(profile.name)", "file": "\(profile.path)"])
        }
        if let installPolicy {
            logger.debug("--install-policy \(installPolicy): a process work pool needs no worker package, so there is nothing to install")
        }
        let metrics = WorkerMetrics()
        let clock = EventLoopClock()
        let api = HTTPPrefectAPI(
            configuration: configuration.api, logger: Logger(label: "prefect-worker.api"), metrics: metrics.factory, clock: clock)
        let drain = Drain(clock: clock)
        let worker = WorkerService(api: api, configuration: configuration, clock: clock, drain: drain, logs: sinks, metrics: metrics)
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: worker, successTerminationBehavior: .gracefullyShutdownGroup)], logger: logger))
        // The first SIGTERM/SIGINT stops (drain), a second one cuts the drain short (`Drain`).
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        let outcome: Result<Void, Error> = await withTaskGroup(of: Result<Void, Error>?.self) { tasks in
            tasks.addTask {
                do { try await group.run(); return .success(()) } catch { return .failure(error) }
            }
            tasks.addTask {
                for await signal in signals {
                    switch drain.signalReceived() {
                    case .stop:
                        logger.notice("received \(signal): stopping (send it again to stop the runs in flight now)")
                        await group.triggerGracefulShutdown()
                    case .cut:
                        break
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
        if drain.cutRuns > 0 {
            logger.warning("stopped with \(drain.cutRuns) flow run(s) cut short")
            throw ExitCode(3)
        }
    }
}
