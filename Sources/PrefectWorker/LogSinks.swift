import Logging
import PrefectWorkerCore
import Systemd

/// Where log records go: the local sink of the chosen format (journal, JSON or logfmt), and for
/// the records about a flow run also the Prefect API. Makes the worker's loggers.
public struct LogSinks: Sendable {
    public let format: LogFormat
    public let level: Logger.Level
    public let runLogs: RunLogShipper

    public init(format: LogFormat, level: Logger.Level, runLogs: RunLogShipper = RunLogShipper()) {
        self.format = format
        self.level = level
        self.runLogs = runLogs
    }

    /// The handler of the chosen format: what `LoggingSystem.bootstrap` installs for every logger.
    public func localHandler(label: String) -> any LogHandler {
        var handler: any LogHandler
        switch format {
        case .journal: handler = JournalLogHandler()
        case .json: handler = JSONLogHandler()
        case .logfmt: handler = LogfmtLogHandler(label: label)
        }
        handler.logLevel = level
        return handler
    }

    /// The worker's own logger: the local sink, plus the Prefect API for the lines about a run.
    public func workerLogger(label: String = "prefect-worker") -> Logger {
        let shipper = runLogs
        return Logger(label: label) { label in
            MultiplexLogHandler([
                localHandler(label: label),
                PrefectAPILogHandler(shipper: shipper, name: FlowRunLog.workerLoggerName, messageOnly: false),
            ])
        }
    }

    /// The logger of a run's output lines, with the run's identity from `runLogger`: the local
    /// sink, plus the Prefect API when the run asks for it (`output_to_api`).
    func outputLogger(like runLogger: Logger, toAPI: Bool) -> Logger {
        let shipper = runLogs
        var logger = Logger(label: "prefect-worker.output") { label in
            toAPI
                ? MultiplexLogHandler([
                    localHandler(label: label),
                    PrefectAPILogHandler(shipper: shipper, name: FlowRunLog.outputLoggerName, messageOnly: true),
                ])
                : localHandler(label: label)
        }
        for key in Self.runIdentityKeys { logger[metadataKey: key] = runLogger[metadataKey: key] }
        return logger
    }

    /// The metadata that says which run (and which worker) a record is about; in the journal they
    /// are PREFECT_FLOW_RUN_ID, PREFECT_FLOW_RUN_NAME, PREFECT_DEPLOYMENT_ID, PREFECT_WORK_POOL and
    /// PREFECT_WORKER_NAME.
    static let runIdentityKeys = ["flow_run_id", "flow_run_name", "deployment_id", "work_pool", "worker_name"]
}
