/// The per-run timeout: the job variable `timeout_seconds` (a number > 0, or null for none), else
/// the worker's default (`--run-timeout-seconds`). Prefect's own worker has no such limit.
public enum RunTimeout {
    public static let jobVariable = "timeout_seconds"

    public static func resolve(jobVariables: [String: JSONValue], default fallback: Double?) throws -> Double? {
        switch jobVariables[jobVariable] {
        case nil: return fallback
        case .null?: return nil
        case .number(let seconds)? where seconds > 0 && seconds.isFinite: return seconds
        case .string(let text)?:
            if let seconds = Double(text), seconds > 0, seconds.isFinite { return seconds }
            throw JobConfigurationError.invalidTimeout(text)
        case let other?:
            throw JobConfigurationError.invalidTimeout(other.compactJSONText)
        }
    }
}
