/// What a flow run's job template renders to for a process worker (docs/prefect-worker-protocol.md §6).
public struct JobConfiguration: Sendable, Equatable {
    /// The command line to run; `nil` means "the Prefect engine" (`<python> -m prefect.engine`).
    public var command: String?
    /// The job's environment; a `nil` value means "unset this variable in the child".
    public var env: [String: String?]
    public var workingDir: String?
    public var streamOutput: Bool
    public var name: String?
    public var labels: [String: String]

    public init(
        command: String? = nil, env: [String: String?] = [:], workingDir: String? = nil,
        streamOutput: Bool = true, name: String? = nil, labels: [String: String] = [:]
    ) {
        self.command = command
        self.env = env
        self.workingDir = workingDir
        self.streamOutput = streamOutput
        self.name = name
        self.labels = labels
    }
}

/// Why a job template could not be turned into a `JobConfiguration`. Each case names the field and
/// the fix, because the message ends up as the CRASHED state's message of that one run.
public enum JobConfigurationError: Error, Equatable, CustomStringConvertible {
    case templateMissingJobConfiguration
    case wrongType(field: String, expected: String, found: String)
    case invalidStateReporting(String)
    case invalidTimeout(String)
    case invalidOutputToAPI(String)

    public var description: String {
        switch self {
        case .templateMissingJobConfiguration:
            return "the work pool's base job template has no 'job_configuration' object; "
                + "fix the pool's template or set it to {} so the worker uses the default process template"
        case .wrongType(let field, let expected, let found):
            return "job configuration field '\(field)' must be \(expected) but is \(found); "
                + "fix the deployment's or flow run's job variables or the pool's template"
        case .invalidStateReporting(let value):
            return "job variable 'state_reporting' is '\(value)'; use \"auto\", \"engine\" or \"worker\""
        case .invalidTimeout(let value):
            return "job variable 'timeout_seconds' is \(value); use a number of seconds > 0, or null for no timeout"
        case .invalidOutputToAPI(let value):
            return "job variable 'output_to_api' is \(value); use true or false"
        }
    }
}
