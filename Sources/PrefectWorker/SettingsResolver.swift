import Foundation
import Logging
import PrefectAPI
import PrefectWorkerCore
import Systemd

/// Values given on the command line, by setting key (`SettingsCatalog`); several for a repeated
/// list flag. A key that is absent was not given.
public struct CommandLineSettings: Sendable {
    public var values: [String: [String]] = [:]

    public init(pool: String? = nil) {
        if let pool { values["pool"] = [pool] }
    }

    /// Records a flag's value when it was given (nil, false or empty = not given: a unit's
    /// `--pool ${UNSET}` must not hide the file's value).
    public mutating func set(_ key: String, _ value: (any CustomStringConvertible)?) {
        guard let value, !value.description.trimmingCharacters(in: .whitespaces).isEmpty else { return }
        if let flag = value as? Bool, !flag { return }
        values[key] = [value.description]
    }

    /// Records a `--[no-]flag` pair: given either way.
    public mutating func set(_ key: String, inverted value: Bool?) {
        if let value { values[key] = [value ? "true" : "false"] }
    }

    public mutating func set(_ key: String, list: [String]) {
        if !list.isEmpty { values[key] = list }
    }
}

/// Turns flags, environment variables and the configuration file into a `WorkerConfiguration`,
/// with Prefect's names and defaults (docs/prefect-worker-protocol.md §1): flag > environment > file > default.
/// Every error names where the bad value came from.
public struct SettingsResolver: Sendable {
    let layers: SettingLayers
    let environment: [String: String]

    /// `prefectFiles`: where Prefect's own settings files are read from (nil: not read).
    public init(
        flags: CommandLineSettings, environment: [String: String], configFile: (path: String, text: String)? = nil,
        prefectFiles: PrefectFilesLocation? = nil
    ) throws {
        var layers = try SettingLayers(flags: flags.values, environment: environment, file: configFile)
        if let prefectFiles { layers.prefectFiles = try prefectFiles.load(layers: layers, environment: environment) }
        self.layers = layers
        self.environment = environment
    }

    /// What Prefect would warn about in its files (a missing profile, unreadable `.env` lines).
    public var warnings: [String] { layers.prefectFiles.warnings }

    /// The Prefect profile settings were read from, and its file.
    public var prefectProfile: (name: String, path: String)? { layers.prefectFiles.profile }

    /// The value of a setting and where it came from; nil = its default.
    public func value(_ key: String) -> SettingValue? { layers.value(key) }

    public static func resolve(flags: CommandLineSettings, environment: [String: String]) throws -> WorkerConfiguration {
        try SettingsResolver(flags: flags, environment: environment).configuration()
    }

    public func configuration() throws -> WorkerConfiguration {
        let api = try apiConfiguration()
        guard let pool = string("pool") else {
            throw SettingsError(setting: "--pool", problem: "is not set; name the work pool to serve (or PREFECT_WORKER_POOL, or pool in the config file)")
        }
        let name = string("name") ?? "ProcessWorker \(UUID().uuidString.lowercased())"
        if name.contains("/") || name.contains("%") {
            throw SettingsError(setting: label("name"), problem: "'\(name)' may not contain '/' or '%'; choose another name")
        }
        let limit = try integer("limit", atLeast: 1, hint: "omit it for no limit")
        var configuration = WorkerConfiguration(
            api: api, poolName: pool, workQueues: layers.value("work_queues")?.items ?? [], workerName: name, limit: limit,
            prefetchSeconds: try seconds("prefetch_seconds", default: 10, allowZero: true),
            heartbeatSeconds: try seconds("heartbeat_seconds", default: 30),
            querySeconds: try seconds("query_seconds", default: 10),
            runOnce: try bool("run_once") ?? false,
            python: string("python") ?? WorkerPython.discover(environment: environment),
            createPoolIfNotFound: try bool("create_pool_if_not_found") ?? true,
            environment: environment)
        configuration.baseJobTemplate = try baseJobTemplate()
        configuration.cancelGraceSeconds = try seconds("cancel_grace_seconds", default: 30, allowZero: true)
        configuration.drainSeconds = try seconds("drain_seconds", default: 300, allowZero: true)
        configuration.stateDirectory = stateDirectory()
        if layers.value("run_timeout_seconds") != nil {
            configuration.runTimeoutSeconds = try seconds("run_timeout_seconds", default: 0)
        }
        configuration.outputLinesPerSecond = try number("output_lines_per_second", default: 10_000, allowZero: true)
        configuration.outputBurstLines = try number("output_burst_lines", default: 100_000, allowZero: false)
        configuration.outputToAPI = try bool("output_to_api") ?? false
        configuration.useEventStream = try bool("event_stream") ?? true
        configuration.maxRuns = try integer("max_runs", atLeast: 1, hint: "omit it for no bound")
        if layers.value("exit_after_idle") != nil {
            configuration.exitAfterIdleSeconds = try seconds("exit_after_idle", default: 0)
        }
        if try bool("with_healthcheck") ?? false || bool("with_metrics") ?? false {
            configuration.healthcheck = HealthcheckAddress(host: string("webserver_host") ?? "127.0.0.1", port: try port("webserver_port"))
        }
        configuration.healthPollIntervals = try number(
            "health_poll_intervals", default: HealthReport.prefectsPollIntervals, allowZero: false)
        // The worker's secrets are its own: flow runs get them only when asked for.
        configuration.passCredentialsToRuns = try credentialPassing()
        configuration.prefectProfileValues = layers.prefectFiles.profileValues
        configuration.environmentPolicy = ChildEnvironment.Policy(
            allow: layers.value("env_allow")?.items ?? [], deny: layers.value("env_deny")?.items ?? [])
        return configuration
    }

    private func apiConfiguration() throws -> PrefectAPIConfiguration {
        guard let apiURL = string("api_url") else {
            throw SettingsError(setting: "PREFECT_API_URL", problem: "is not set in the environment, the configuration file or Prefect's profile; set it to your server's API, e.g. `prefect config set PREFECT_API_URL=http://127.0.0.1:4200/api`")
        }
        guard let url = URL(string: apiURL), let scheme = url.scheme, ["http", "https"].contains(scheme.lowercased()), url.host != nil else {
            throw SettingsError(setting: label("api_url"), problem: "is not an http(s) URL ('\(apiURL)'); set it like http://127.0.0.1:4200/api")
        }
        let credentials = try Credentials.resolve(self)
        var api = PrefectAPIConfiguration(
            baseURL: apiURL, apiKey: credentials.apiKey, authString: credentials.authString,
            customHeaders: try customHeaders(secret("client_custom_headers")),
            requestTimeoutSeconds: try seconds("api_request_timeout", default: 60))
        api.tls = try tlsSettings()
        api.proxy = try proxy(for: url)
        api.clientRetry = try clientRetrySettings()
        api.csrfSupportEnabled = try bool("client_csrf_support_enabled") ?? true
        return api
    }

    /// `base_job_template`: a JSON object read from the file now, so a bad file stops the start
    /// with one line instead of failing when the pool is created.
    func baseJobTemplate() throws -> (template: JSONValue, file: String)? {
        guard let path = string("base_job_template") else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SettingsError(setting: label("base_job_template"), problem: "names '\(path)', which cannot be read; check the path and its permissions")
        }
        guard let template = try? JSONDecoder().decode(JSONValue.self, from: data), case .object(let fields) = template else {
            throw SettingsError(
                setting: label("base_job_template"),
                problem: "names '\(path)', which is not a JSON object; give a base job template like `prefect work-pool get-default-base-job-template --type process` prints")
        }
        guard fields["job_configuration"] != nil, fields["variables"] != nil else {
            throw SettingsError(
                setting: label("base_job_template"),
                problem: "names '\(path)', which has no \"job_configuration\" and \"variables\"; give a base job template like `prefect work-pool get-default-base-job-template --type process` prints")
        }
        return (template, path)
    }

    /// Prefect's client retry settings, with Prefect's defaults and ranges.
    func clientRetrySettings() throws -> ClientRetrySettings {
        var settings = ClientRetrySettings()
        if let retries = try integer("client_max_retries", atLeast: 0, hint: "0 sends each request once") { settings.maxRetries = retries }
        if let given = layers.value("client_retry_extra_codes") {
            var codes: Set<Int> = []
            for item in given.items {
                guard let code = Int(item), (100...599).contains(code) else {
                    throw SettingsError(setting: given.label, problem: "must be HTTP status codes 100-599, comma-separated (got '\(item)'), e.g. 500,504")
                }
                codes.insert(code)
            }
            settings.extraCodes = codes
        }
        settings.jitterFactor = try number("client_retry_jitter_factor", default: settings.jitterFactor, allowZero: true)
        return settings
    }

    /// `pass_credentials_to_runs`: auto (default), always, never (true/false: always/never).
    func credentialPassing() throws -> CredentialPassing {
        guard let given = layers.value("pass_credentials_to_runs") else { return .auto }
        guard let passing = CredentialPassing(setting: given.text) else {
            throw SettingsError(setting: given.label, problem: "must be auto, always or never (got '\(given.text)')")
        }
        return passing
    }

    /// `api_ssl_cert_file` (checked to be readable now, not at the first request) and the
    /// insecure switch.
    private func tlsSettings() throws -> PrefectAPIConfiguration.TLS {
        var tls = PrefectAPIConfiguration.TLS()
        if let path = string("api_ssl_cert_file") {
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw SettingsError(setting: label("api_ssl_cert_file"), problem: "names '\(path)', which cannot be read; give a PEM file of CA certificates")
            }
            tls.caFile = path
        }
        tls.insecureSkipVerify = try bool("api_tls_insecure_skip_verify") ?? false
        return tls
    }

    /// The proxy for the API's host: `https_proxy` for https, `http_proxy` for http, none when
    /// `no_proxy` matches the host.
    private func proxy(for url: URL) throws -> ProxySetting? {
        let key = url.scheme?.lowercased() == "https" ? "https_proxy" : "http_proxy"
        guard let text = string(key), let host = url.host else { return nil }
        if ProxySetting.bypasses(host: host, noProxy: layers.value("no_proxy")?.items ?? []) { return nil }
        guard let proxy = ProxySetting(text) else {
            throw SettingsError(setting: label(key), problem: "is not a proxy URL ('\(text)'); set it like http://proxy.example.com:3128")
        }
        return proxy
    }

    /// A secret from its setting or from the file its `_file` setting names (trailing newline
    /// dropped); not both from the same layer. The higher layer wins.
    func secret(_ key: String) throws -> String? {
        let direct = layers.value(key)
        let file = layers.value(key + "_file")
        if let direct, let file, direct.origin.rank == file.origin.rank {
            throw SettingsError(setting: file.label, problem: "is set and so is \(direct.label); keep one of them")
        }
        if let direct, file == nil || direct.origin.rank < file!.origin.rank { return direct.text }
        guard let file else { return nil }
        guard let data = FileManager.default.contents(atPath: file.text) else {
            throw SettingsError(setting: file.label, problem: "names '\(file.text)', which cannot be read; check the path and its permissions")
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .newlines)
        return text.isEmpty ? nil : text
    }

    /// `log_format`: auto (default), journal, json or logfmt.
    public func logFormat() throws -> LogFormat {
        try logFormat(
            journalStreamIsStderr: Journal.isStderrConnected(environment: environment),
            stderrIsTerminal: isatty(STDERR_FILENO) == 1, journalSocketPresent: Journal.isSocketPresent)
    }

    func logFormat(journalStreamIsStderr: Bool, stderrIsTerminal: Bool, journalSocketPresent: Bool) throws -> LogFormat {
        let given = layers.value("log_format")
        let setting = given?.label ?? "PREFECT_WORKER_LOG_FORMAT"
        let requested = given?.text
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

    static func logFormat(
        flag: String?, env: [String: String], journalStreamIsStderr: Bool, stderrIsTerminal: Bool, journalSocketPresent: Bool
    ) throws -> LogFormat {
        var flags = CommandLineSettings()
        flags.set("log_format", flag)
        return try SettingsResolver(flags: flags, environment: env).logFormat(
            journalStreamIsStderr: journalStreamIsStderr, stderrIsTerminal: stderrIsTerminal, journalSocketPresent: journalSocketPresent)
    }

    /// `logging_level` (Prefect's `PREFECT_LOGGING_LEVEL`).
    public func logLevel() throws -> Logger.Level {
        guard let given = layers.value("logging_level") else { return .info }
        switch given.text.trimmingCharacters(in: .whitespaces).uppercased() {
        case "INFO": return .info
        case "DEBUG": return .debug
        case "WARNING", "WARN": return .warning
        case "ERROR": return .error
        case "CRITICAL": return .critical
        default:
            throw SettingsError(setting: given.label, problem: "must be DEBUG, INFO, WARNING, ERROR or CRITICAL (got '\(given.text)')")
        }
    }

    // MARK: - Typed values

    func label(_ key: String) -> String {
        layers.value(key)?.label ?? SettingsCatalog.setting(key)?.environment ?? key
    }

    func string(_ key: String) -> String? {
        guard let text = layers.value(key)?.text.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
        return text
    }

    func port(_ key: String, default fallback: Int = 8080) throws -> Int {
        guard let given = layers.value(key) else { return fallback }
        guard let port = Int(given.text.trimmingCharacters(in: .whitespaces)), (0...65535).contains(port) else {
            throw SettingsError(setting: given.label, problem: "must be a port number 0-65535 (got '\(given.text)')")
        }
        return port
    }

    func bool(_ key: String) throws -> Bool? {
        guard let given = layers.value(key) else { return nil }
        switch given.text.trimmingCharacters(in: .whitespaces).lowercased() {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw SettingsError(setting: given.label, problem: "must be true or false (got '\(given.text)'); fix or unset it")
        }
    }

    func integer(_ key: String, atLeast minimum: Int, hint: String) throws -> Int? {
        guard let given = layers.value(key) else { return nil }
        guard let value = Int(given.text.trimmingCharacters(in: .whitespaces)), value >= minimum else {
            throw SettingsError(setting: given.label, problem: "must be a whole number of at least \(minimum) (got '\(given.text)'); \(hint)")
        }
        return value
    }

    func number(_ key: String, default fallback: Double, allowZero: Bool) throws -> Double {
        guard let given = layers.value(key) else { return fallback }
        guard let value = Double(given.text.trimmingCharacters(in: .whitespaces)), value.isFinite, allowZero ? value >= 0 : value > 0 else {
            throw SettingsError(setting: given.label, problem: "must be a number \(allowZero ? ">= 0" : "> 0") (got '\(given.text)'); fix or unset it")
        }
        return value
    }

    func seconds(_ key: String, default fallback: Double, allowZero: Bool = false) throws -> Double {
        guard let given = layers.value(key) else { return fallback }
        guard let value = Double(given.text.trimmingCharacters(in: .whitespaces)), value.isFinite, allowZero ? value >= 0 : value > 0 else {
            throw SettingsError(
                setting: given.label, problem: "must be a number of seconds \(allowZero ? ">= 0" : "> 0") (got '\(given.text)'); fix or unset it")
        }
        return value
    }

    /// `state_dir`, systemd's `$STATE_DIRECTORY` (first entry), then `/var/lib/prefect-worker` for
    /// root or `$XDG_STATE_HOME` / `~/.local/state` + `/prefect-worker`.
    func stateDirectory() -> String {
        if let configured = string("state_dir") { return configured }
        if let systemd = Self.nonEmpty(environment["STATE_DIRECTORY"]) {
            return String(systemd.split(separator: ":").first ?? Substring(systemd))
        }
        if getuid() == 0 { return "/var/lib/prefect-worker" }
        if let xdg = Self.nonEmpty(environment["XDG_STATE_HOME"]) { return xdg + "/prefect-worker" }
        return (environment["HOME"] ?? "/tmp") + "/.local/state/prefect-worker"
    }

    static func nonEmpty(_ value: String?) -> String? {
        guard let value, !value.trimmingCharacters(in: .whitespaces).isEmpty else { return nil }
        return value
    }

    func customHeaders(_ text: String?) throws -> [String: String] {
        guard let text = Self.nonEmpty(text) else { return [:] }
        let problem = "must be a JSON object of header names to string values, e.g. {\"X-Team\": \"data\"}"
        let setting = layers.value("client_custom_headers")?.label ?? label("client_custom_headers_file")
        guard let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else {
            throw SettingsError(setting: setting, problem: problem)
        }
        var headers: [String: String] = [:]
        for (name, value) in object {
            guard let value = value as? String else { throw SettingsError(setting: setting, problem: problem) }
            headers[name] = value
        }
        return headers
    }
}

