import Foundation
import PrefectAPI
import PrefectWorkerCore
import Systemd

/// A setting that is missing or malformed. One line naming the setting and the fix; the
/// executable prints it and exits with code 2.
public struct SettingsError: Error, CustomStringConvertible, Equatable {
    public let setting: String
    public let problem: String

    public init(setting: String, problem: String) {
        self.setting = setting
        self.problem = problem
    }

    public var description: String { "\(setting) \(problem)" }
}

/// Values given on the command line; nil = not given.
public struct CommandLineSettings: Sendable {
    public var pool: String
    public var workQueues: [String] = []
    public var name: String?
    public var limit: Int?
    public var prefetchSeconds: Double?
    public var runOnce = false
    public var python: String?
    public var createPoolIfNotFound = true
    public var cancelGraceSeconds: Double?
    public var runTimeoutSeconds: Double?
    public var drainSeconds: Double?
    public var stateDirectory: String?
    public var logFormat: String?
    public var withHealthcheck = false
    public var maxRuns: Int?
    public var exitAfterIdleSeconds: Double?

    public init(pool: String) {
        self.pool = pool
    }
}

/// Turns flags and environment variables into a `WorkerConfiguration`, with Prefect's names and
/// defaults (protocol doc section 1). A flag beats its environment variable.
public enum SettingsResolver {
    public static func resolve(flags: CommandLineSettings, environment env: [String: String]) throws -> WorkerConfiguration {
        guard let apiURL = nonEmpty(env["PREFECT_API_URL"]) else {
            throw SettingsError(setting: "PREFECT_API_URL", problem: "is not set; set it to your server's API, e.g. http://127.0.0.1:4200/api")
        }
        guard let url = URL(string: apiURL), let scheme = url.scheme, ["http", "https"].contains(scheme.lowercased()), url.host != nil else {
            throw SettingsError(setting: "PREFECT_API_URL", problem: "is not an http(s) URL ('\(apiURL)'); set it like http://127.0.0.1:4200/api")
        }
        let credentials = try Credentials.resolve(env)
        let api = PrefectAPIConfiguration(
            baseURL: apiURL, apiKey: credentials.apiKey, authString: credentials.authString,
            customHeaders: try customHeaders(Credentials.secret(env, "PREFECT_CLIENT_CUSTOM_HEADERS")),
            requestTimeoutSeconds: try seconds(env, "PREFECT_API_REQUEST_TIMEOUT", default: 60))

        guard !flags.pool.isEmpty else { throw SettingsError(setting: "--pool", problem: "is empty; name the work pool to serve") }
        let name = flags.name ?? "ProcessWorker \(UUID().uuidString.lowercased())"
        if name.isEmpty || name.contains("/") || name.contains("%") {
            throw SettingsError(setting: "--name", problem: "'\(name)' may not be empty or contain '/' or '%'; choose another name")
        }
        if let limit = flags.limit, limit < 1 {
            throw SettingsError(setting: "--limit", problem: "must be at least 1 (got \(limit)); omit it for no limit")
        }
        let prefetch = try flags.prefetchSeconds.map { value -> Double in
            guard value >= 0, value.isFinite else {
                throw SettingsError(setting: "--prefetch-seconds", problem: "must be a number >= 0 (got \(value))")
            }
            return value
        } ?? seconds(env, "PREFECT_WORKER_PREFETCH_SECONDS", default: 10, allowZero: true)

        var configuration = WorkerConfiguration(
            api: api, poolName: flags.pool, workQueues: flags.workQueues, workerName: name, limit: flags.limit,
            prefetchSeconds: prefetch,
            heartbeatSeconds: try seconds(env, "PREFECT_WORKER_HEARTBEAT_SECONDS", default: 30),
            querySeconds: try seconds(env, "PREFECT_WORKER_QUERY_SECONDS", default: 10),
            runOnce: flags.runOnce,
            python: flags.python ?? nonEmpty(env["PREFECT_WORKER_PYTHON"]) ?? "python3",
            createPoolIfNotFound: flags.createPoolIfNotFound,
            environment: env)
        configuration.cancelGraceSeconds = try flags.cancelGraceSeconds.map {
            try positive($0, "--cancel-grace-seconds", allowZero: true)
        } ?? seconds(env, "PREFECT_WORKER_CANCEL_GRACE_SECONDS", default: 30, allowZero: true)
        configuration.drainSeconds = try flags.drainSeconds.map {
            try positive($0, "--drain-seconds", allowZero: true)
        } ?? seconds(env, "PREFECT_WORKER_DRAIN_SECONDS", default: 300, allowZero: true)
        configuration.stateDirectory = stateDirectory(flag: flags.stateDirectory, env: env)
        if let timeout = flags.runTimeoutSeconds {
            configuration.runTimeoutSeconds = try positive(timeout, "--run-timeout-seconds", allowZero: false)
        } else if nonEmpty(env["PREFECT_WORKER_RUN_TIMEOUT_SECONDS"]) != nil {
            configuration.runTimeoutSeconds = try seconds(env, "PREFECT_WORKER_RUN_TIMEOUT_SECONDS", default: 0)
        }
        configuration.outputLinesPerSecond = try number(env, "PREFECT_WORKER_OUTPUT_LINES_PER_SECOND", default: 10_000, allowZero: true)
        configuration.outputBurstLines = try number(env, "PREFECT_WORKER_OUTPUT_BURST_LINES", default: 100_000, allowZero: false)
        configuration.outputToAPI = try bool(env, "PREFECT_WORKER_OUTPUT_TO_API") ?? false
        configuration.useEventStream = try bool(env, "PREFECT_WORKER_EVENT_STREAM") ?? true
        if let maxRuns = flags.maxRuns {
            guard maxRuns >= 1 else {
                throw SettingsError(setting: "--max-runs", problem: "must be at least 1 (got \(maxRuns)); omit it for no bound")
            }
            configuration.maxRuns = maxRuns
        }
        configuration.exitAfterIdleSeconds = try flags.exitAfterIdleSeconds.map {
            try positive($0, "--exit-after-idle", allowZero: false)
        }
        if flags.withHealthcheck {
            configuration.healthcheck = HealthcheckAddress(
                host: nonEmpty(env["PREFECT_WORKER_WEBSERVER_HOST"]) ?? "127.0.0.1", port: try port(env, "PREFECT_WORKER_WEBSERVER_PORT"))
        }
        // The worker's secrets are its own: flow runs get them only when asked for.
        configuration.passCredentialsToRuns = try bool(env, "PREFECT_WORKER_PASS_CREDENTIALS_TO_RUNS") ?? false
        configuration.environmentPolicy = ChildEnvironment.Policy(
            allow: ChildEnvironment.Policy.patterns(env["PREFECT_WORKER_ENV_ALLOW"]),
            deny: ChildEnvironment.Policy.patterns(env["PREFECT_WORKER_ENV_DENY"]))
        return configuration
    }

    /// `--log-format` or `PREFECT_WORKER_LOG_FORMAT`: auto (default), journal, json or logfmt.
    public static func logFormat(flag: String?, env: [String: String]) throws -> LogFormat {
        try logFormat(
            flag: flag, env: env, journalStreamIsStderr: Journal.isStderrConnected(environment: env),
            stderrIsTerminal: isatty(STDERR_FILENO) == 1, journalSocketPresent: Journal.isSocketPresent)
    }

    static func logFormat(
        flag: String?, env: [String: String], journalStreamIsStderr: Bool, stderrIsTerminal: Bool, journalSocketPresent: Bool
    ) throws -> LogFormat {
        let (setting, requested) = flag != nil ? ("--log-format", flag) : ("PREFECT_WORKER_LOG_FORMAT", nonEmpty(env["PREFECT_WORKER_LOG_FORMAT"]))
        guard let format = LogFormat.resolve(
            requested: requested, journalStreamIsStderr: journalStreamIsStderr, stderrIsTerminal: stderrIsTerminal)
        else {
            throw SettingsError(setting: setting, problem: "is '\(requested ?? "")'; use auto, journal, json or logfmt")
        }
        if format == .journal && !journalSocketPresent {
            // auto follows JOURNAL_STREAM; with no journald behind it, JSON on stderr still reaches
            // whoever reads that stream. Asked for by name, it is a mistake worth stopping for.
            if LogFormat(rawValue: requested?.lowercased() ?? "") == nil { return .json }
            throw SettingsError(
                setting: setting,
                problem: "is journal, but no journal listens at /run/systemd/journal/socket; start systemd-journald or use json")
        }
        return format
    }

    static func port(_ env: [String: String], _ name: String, default fallback: Int = 8080) throws -> Int {
        guard let text = nonEmpty(env[name]) else { return fallback }
        guard let port = Int(text.trimmingCharacters(in: .whitespaces)), (0...65535).contains(port) else {
            throw SettingsError(setting: name, problem: "must be a port number 0-65535 (got '\(text)')")
        }
        return port
    }

    static func bool(_ env: [String: String], _ name: String) throws -> Bool? {
        guard let text = nonEmpty(env[name]) else { return nil }
        switch text.trimmingCharacters(in: .whitespaces).lowercased() {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw SettingsError(setting: name, problem: "must be true or false (got '\(text)'); fix or unset it")
        }
    }

    static func number(_ env: [String: String], _ name: String, default fallback: Double, allowZero: Bool) throws -> Double {
        guard let text = nonEmpty(env[name]) else { return fallback }
        guard let value = Double(text.trimmingCharacters(in: .whitespaces)), value.isFinite, allowZero ? value >= 0 : value > 0 else {
            throw SettingsError(setting: name, problem: "must be a number \(allowZero ? ">= 0" : "> 0") (got '\(text)'); fix or unset it")
        }
        return value
    }

    /// `--state-dir`, `PREFECT_WORKER_STATE_DIR`, systemd's `$STATE_DIRECTORY` (first entry), then
    /// `/var/lib/prefect-worker` for root or `$XDG_STATE_HOME` / `~/.local/state` + `/prefect-worker`.
    static func stateDirectory(flag: String?, env: [String: String]) -> String {
        if let flag = nonEmpty(flag) { return flag }
        if let configured = nonEmpty(env["PREFECT_WORKER_STATE_DIR"]) { return configured }
        if let systemd = nonEmpty(env["STATE_DIRECTORY"]) {
            return String(systemd.split(separator: ":").first ?? Substring(systemd))
        }
        if getuid() == 0 { return "/var/lib/prefect-worker" }
        if let xdg = nonEmpty(env["XDG_STATE_HOME"]) { return xdg + "/prefect-worker" }
        return (env["HOME"] ?? "/tmp") + "/.local/state/prefect-worker"
    }

    static func positive(_ value: Double, _ flag: String, allowZero: Bool) throws -> Double {
        guard value.isFinite, allowZero ? value >= 0 : value > 0 else {
            throw SettingsError(setting: flag, problem: "must be a number of seconds \(allowZero ? ">= 0" : "> 0") (got \(value))")
        }
        return value
    }

    static func nonEmpty(_ value: String?) -> String? {
        guard let value, !value.trimmingCharacters(in: .whitespaces).isEmpty else { return nil }
        return value
    }

    static func seconds(_ env: [String: String], _ name: String, default fallback: Double, allowZero: Bool = false) throws -> Double {
        guard let text = nonEmpty(env[name]) else { return fallback }
        guard let value = Double(text.trimmingCharacters(in: .whitespaces)), value.isFinite, allowZero ? value >= 0 : value > 0 else {
            throw SettingsError(setting: name, problem: "must be a number of seconds \(allowZero ? ">= 0" : "> 0") (got '\(text)'); fix or unset it")
        }
        return value
    }

    static func customHeaders(_ text: String?) throws -> [String: String] {
        guard let text = nonEmpty(text) else { return [:] }
        let problem = "must be a JSON object of header names to string values, e.g. {\"X-Team\": \"data\"} (got '\(text)')"
        guard let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else {
            throw SettingsError(setting: "PREFECT_CLIENT_CUSTOM_HEADERS", problem: problem)
        }
        var headers: [String: String] = [:]
        for (name, value) in object {
            guard let value = value as? String else { throw SettingsError(setting: "PREFECT_CLIENT_CUSTOM_HEADERS", problem: problem) }
            headers[name] = value
        }
        return headers
    }
}
