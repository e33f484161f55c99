import FoundationEssentials

/// One log line for the Prefect API (`POST /logs/`), shown in the UI under its flow run.
public struct FlowRunLog: Sendable, Equatable {
    /// The logger name the UI shows: `prefect.flow_runs.worker` for the worker's own lines, as
    /// Prefect's worker sends them.
    public var name: String
    /// Python's numeric level: 10 debug, 20 info, 30 warning, 40 error, 50 critical.
    public var level: Int
    public var message: String
    public var timestamp: Date
    public var flowRunId: String

    public static let workerLoggerName = "prefect.flow_runs.worker"
    public static let outputLoggerName = "prefect.flow_runs.output"
    /// Prefect's own limit per record (`PREFECT_LOGGING_TO_API_MAX_LOG_SIZE`, 1 MB).
    public static let maxMessageBytes = 1_000_000

    public init(name: String, level: Int, message: String, timestamp: Date, flowRunId: String) {
        self.name = name
        self.level = level
        self.message = Self.truncated(message)
        self.timestamp = timestamp
        self.flowRunId = flowRunId
    }

    static func truncated(_ message: String) -> String {
        guard message.utf8.count > maxMessageBytes else { return message }
        let kept = String(decoding: message.utf8.prefix(maxMessageBytes - 20), as: UTF8.self)
        return kept + "... [truncated]"
    }

    /// The approximate size of the record in a request body.
    public var approximateBytes: Int { message.utf8.count + 200 }
}
