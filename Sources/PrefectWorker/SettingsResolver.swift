import FoundationEssentials
import Logging
import PrefectAPI
import PrefectWorkerCore
import Systemd

#if canImport(Glibc)
import Glibc
#endif

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
        guard let value, !value.description.trimmingSpaces().isEmpty else { return }
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

    /// A setting's typed value: the highest layer's, else the catalog's default. A value that is
    /// not valid is one line naming where it came from and what it must be.
    public subscript<Value>(_ setting: SettingKey<Value>) -> Value {
        get throws {
            guard let given = layers.value(setting.key) else { return setting.defaultValue }
            guard let value = setting.value(of: given.text, items: given.items) else {
                throw SettingsError(setting: given.label, problem: setting.problem(with: given.text))
            }
            return value
        }
    }

    public static func resolve(flags: CommandLineSettings, environment: [String: String]) throws -> WorkerConfiguration {
        try SettingsResolver(flags: flags, environment: environment).configuration()
    }

    public func configuration() throws -> WorkerConfiguration {
        let api = try apiConfiguration()
        guard let pool = try self[.pool] else {
            throw SettingsError(setting: "--pool", problem: "is not set; name the work pool to serve (or PREFECT_WORKER_POOL, or pool in the config file)")
        }
        let name = try self[.name] ?? "ProcessWorker \(UUID().uuidString.lowercased())"
        if name.contains("/") || name.contains("%") {
            throw SettingsError(setting: label(SettingKey<String?>.name.key), problem: "'\(name)' may not contain '/' or '%'; choose another name")
        }
        var configuration = WorkerConfiguration(
            api: api, poolName: pool, workQueues: try self[.workQueues], workerName: name, limit: try self[.limit],
            prefetchSeconds: try self[.prefetchSeconds], heartbeatSeconds: try self[.heartbeatSeconds],
            querySeconds: try self[.querySeconds], runOnce: try self[.runOnce],
            python: try self[.python] ?? WorkerPython.discover(environment: environment),
            createPoolIfNotFound: try self[.createPoolIfNotFound], environment: environment)
        configuration.baseJobTemplate = try baseJobTemplate()
        configuration.cancelGraceSeconds = try self[.cancelGraceSeconds]
        configuration.drainSeconds = try self[.drainSeconds]
        configuration.crashedHooksSeconds = try self[.crashedHooksSeconds]
        configuration.stateDirectory = try stateDirectory()
        configuration.runTimeoutSeconds = try self[.runTimeoutSeconds]
        configuration.outputLinesPerSecond = try self[.outputLinesPerSecond]
        configuration.outputBurstLines = try self[.outputBurstLines]
        configuration.outputToAPI = try self[.outputToAPI]
        configuration.useEventStream = try self[.eventStream]
        configuration.maxRuns = try self[.maxRuns]
        configuration.exitAfterIdleSeconds = try self[.exitAfterIdle]
        if try self[.withHealthcheck] || self[.withMetrics] {
            configuration.healthcheck = HealthcheckAddress(host: try self[.webserverHost] ?? "127.0.0.1", port: try self[.webserverPort])
        }
        configuration.healthPollIntervals = try self[.healthPollIntervals]
        // The worker's secrets are its own: flow runs get them only when asked for.
        configuration.passCredentialsToRuns = try credentialPassing()
        configuration.prefectProfileValues = layers.prefectFiles.profileValues
        configuration.environmentPolicy = ChildEnvironment.Policy(allow: try self[.envAllow], deny: try self[.envDeny])
        return configuration
    }

    private func apiConfiguration() throws -> PrefectAPIConfiguration {
        guard let apiURL = try self[.apiURL] else {
            throw SettingsError(setting: "PREFECT_API_URL", problem: "is not set in the environment, the configuration file or Prefect's profile; set it to your server's API, e.g. `prefect config set PREFECT_API_URL=http://127.0.0.1:4200/api`")
        }
        guard let url = URL(string: apiURL), let scheme = url.scheme, ["http", "https"].contains(scheme.lowercased()), url.host != nil else {
            throw SettingsError(setting: label(SettingKey<String?>.apiURL.key), problem: "is not an http(s) URL ('\(apiURL)'); set it like http://127.0.0.1:4200/api")
        }
        let credentials = try Credentials.resolve(self)
        var api = PrefectAPIConfiguration(
            baseURL: apiURL, apiKey: credentials.apiKey, authString: credentials.authString,
            customHeaders: try customHeaders(secret("client_custom_headers")),
            requestTimeoutSeconds: try self[.apiRequestTimeout])
        api.tls = try tlsSettings()
        api.proxy = try proxy(for: url)
        api.clientRetry = try clientRetrySettings()
        api.csrfSupportEnabled = try self[.clientCsrfSupportEnabled]
        return api
    }

    /// `base_job_template`: a JSON object read from the file now, so a bad file stops the start
    /// with one line instead of failing when the pool is created.
    func baseJobTemplate() throws -> (template: JSONValue, file: String)? {
        guard let path = try self[.baseJobTemplate] else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SettingsError(setting: label(SettingKey<String?>.baseJobTemplate.key), problem: "names '\(path)', which cannot be read; check the path and its permissions")
        }
        guard let template = try? JSONDecoder().decode(JSONValue.self, from: data), case .object(let fields) = template else {
            throw SettingsError(
                setting: label(SettingKey<String?>.baseJobTemplate.key),
                problem: "names '\(path)', which is not a JSON object; give a base job template like `prefect work-pool get-default-base-job-template --type process` prints")
        }
        guard fields["job_configuration"] != nil, fields["variables"] != nil else {
            throw SettingsError(
                setting: label(SettingKey<String?>.baseJobTemplate.key),
                problem: "names '\(path)', which has no \"job_configuration\" and \"variables\"; give a base job template like `prefect work-pool get-default-base-job-template --type process` prints")
        }
        return (template, path)
    }

    /// Prefect's client retry settings, with Prefect's defaults and ranges.
    func clientRetrySettings() throws -> ClientRetrySettings {
        var settings = ClientRetrySettings()
        if layers.value("client_max_retries") != nil, let retries = try self[.clientMaxRetries] { settings.maxRetries = retries }
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
        settings.jitterFactor = try self[.clientRetryJitterFactor]
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
        if let path = try self[.apiSslCertFile] {
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw SettingsError(setting: label(SettingKey<String?>.apiSslCertFile.key), problem: "names '\(path)', which cannot be read; give a PEM file of CA certificates")
            }
            tls.caFile = path
        }
        tls.insecureSkipVerify = try self[.apiTlsInsecureSkipVerify]
        return tls
    }

    /// The proxy for the API's host: `https_proxy` for https, `http_proxy` for http, none when
    /// `no_proxy` matches the host.
    private func proxy(for url: URL) throws -> ProxySetting? {
        let setting: SettingKey<String?> = url.scheme?.lowercased() == "https" ? .httpsProxy : .httpProxy
        let key = setting.key
        guard let text = try self[setting], let host = url.host else { return nil }
        if ProxySetting.bypasses(host: host, noProxy: try self[.noProxy]) { return nil }
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
        let text = String(decoding: data, as: UTF8.self).trimming(while: \.isNewline)
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
        switch given.text.trimmingSpaces().uppercased() {
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

    /// `state_dir`, systemd's `$STATE_DIRECTORY` (first entry), then `/var/lib/prefect-worker` for
    /// root or `$XDG_STATE_HOME` / `~/.local/state` + `/prefect-worker`.
    func stateDirectory() throws -> String {
        if let configured = try self[.stateDir] { return configured }
        if let systemd = Self.nonEmpty(environment["STATE_DIRECTORY"]) {
            return String(systemd.split(separator: ":").first ?? Substring(systemd))
        }
        if getuid() == 0 { return "/var/lib/prefect-worker" }
        if let xdg = Self.nonEmpty(environment["XDG_STATE_HOME"]) { return xdg + "/prefect-worker" }
        return (environment["HOME"] ?? "/tmp") + "/.local/state/prefect-worker"
    }

    static func nonEmpty(_ value: String?) -> String? {
        guard let value, !value.trimmingSpaces().isEmpty else { return nil }
        return value
    }

    func customHeaders(_ text: String?) throws -> [String: String] {
        guard let text = Self.nonEmpty(text) else { return [:] }
        let problem = "must be a JSON object of header names to string values, e.g. {\"X-Team\": \"data\"}"
        let setting = layers.value("client_custom_headers")?.label ?? label("client_custom_headers_file")
        guard let object = (try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)))?.objectValue else {
            throw SettingsError(setting: setting, problem: problem)
        }
        var headers: [String: String] = [:]
        for (name, value) in object {
            guard let value = value.stringValue else { throw SettingsError(setting: setting, problem: problem) }
            headers[name] = value
        }
        return headers
    }
}

