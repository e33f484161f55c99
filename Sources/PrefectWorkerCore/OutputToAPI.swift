/// Whether a run's output lines also go to the Prefect API (`POST /logs/`), so the UI shows them:
/// the job variable `output_to_api` (true/false), else the worker's setting. Off by default: a
/// Prefect engine ships the flow's own logs itself, and sending its raw output too would show
/// every line twice; a plain command that knows nothing of Prefect is where it helps.
public enum OutputToAPI {
    public static let jobVariable = "output_to_api"

    public static func resolve(jobVariables: [String: JSONValue], default fallback: Bool) throws -> Bool {
        switch jobVariables[jobVariable] {
        case nil, .null?: return fallback
        case .bool(let value)?: return value
        case .string(let text)?:
            switch text.lowercased() {
            case "true", "1", "yes": return true
            case "false", "0", "no": return false
            default: throw JobConfigurationError.invalidOutputToAPI("'\(text)'")
            }
        case let other?:
            throw JobConfigurationError.invalidOutputToAPI(other.compactJSONText)
        }
    }
}
