import FoundationEssentials

/// How the worker's API credentials (key, auth string, custom headers) reach a flow run
/// (`pass_credentials_to_runs`). A Prefect engine needs them to talk to the API; a plain command
/// does not, and an environment is readable by every process of the run and lands in crash dumps
/// and `ps e` output, so by default the engine gets them in a private per-run profile file.
public enum CredentialPassing: String, Sendable, CaseIterable {
    /// Engine runs: a per-run Prefect profile file (0600); plain commands: nothing.
    case auto
    /// Every run: in its environment, as Prefect's worker does.
    case always
    /// No run gets them.
    case never

    public enum Delivery: Sendable, Equatable {
        case none
        case environment
        case profileFile
    }

    /// `true`/`false` are the setting's old boolean values (always/never).
    public init?(setting text: String) {
        switch text.trimmingSpaces().lowercased() {
        case "auto": self = .auto
        case "always", "true", "1", "yes", "on": self = .always
        case "never", "false", "0", "no", "off": self = .never
        default: return nil
        }
    }

    /// How a run gets the credentials; `none` when the worker has none to give.
    public func delivery(reporting: StateReporting, hasCredentials: Bool) -> Delivery {
        guard hasCredentials else { return .none }
        switch (self, reporting) {
        case (.never, _), (.auto, .worker): return .none
        case (.always, _): return .environment
        case (.auto, .engine): return .profileFile
        }
    }
}

/// The per-run Prefect profile file an engine run reads its credentials from: Prefect's
/// profiles format, one profile, active. Every value is written as a TOML string, as
/// `prefect config set` writes them.
public enum RunProfile {
    public static let name = "prefect-worker-run"
    public static let fileName = "profiles.toml"

    public static func text(settings: [String: String]) -> String {
        var lines = ["active = \"\(name)\"", "", "[profiles.\(name)]"]
        for (key, value) in settings.sorted(by: { $0.key < $1.key }) {
            lines.append("\(key) = \(JSONValue.quote(value))")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The variables that point the run's Prefect at the file.
    public static func environment(path: String) -> [String: String] {
        ["PREFECT_PROFILES_PATH": path, "PREFECT_PROFILE": name]
    }
}
