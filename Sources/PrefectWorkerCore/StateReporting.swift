/// Who reports a flow run's RUNNING and final states: the child (a Prefect engine does this itself)
/// or the worker (for a plain command that knows nothing of Prefect).
///
/// Chosen by the job variable `state_reporting`: "engine", "worker" or "auto" (default). "auto"
/// means engine when the command is empty (the default engine command) or runs `prefect.engine` /
/// `prefect flow-run execute`, and worker otherwise. Whatever the choice, the worker never
/// overrides a final state a child already reported (see `FinalStateDecision`), so a wrong guess
/// cannot make worker and engine fight over a run.
public enum StateReporting: String, Sendable, Equatable {
    case engine
    case worker

    public static let jobVariable = "state_reporting"

    public static func resolve(jobVariables: [String: JSONValue], command: String?) throws -> StateReporting {
        switch jobVariables[jobVariable] {
        case nil, .null?:
            return auto(command: command)
        case .string(let value)?:
            switch value.lowercased() {
            case "", "auto": return auto(command: command)
            case "engine": return .engine
            case "worker": return .worker
            default: throw JobConfigurationError.invalidStateReporting(value)
            }
        case let other?:
            throw JobConfigurationError.invalidStateReporting(other.compactJSONText)
        }
    }

    static func auto(command: String?) -> StateReporting {
        guard let command, !command.isEmpty else { return .engine }
        if command.contains("prefect.engine") || command.contains("prefect flow-run execute") { return .engine }
        return .worker
    }
}
