/// A setting of `SettingsCatalog` read as a typed value: `try resolver[.heartbeatSeconds]`. The
/// key is checked against the catalog and the default is the catalog's own text, converted: each
/// default is written once, where the README's table and the flag help read it too. A misspelt
/// key is a failing unit test (`SettingKeyTests`), not a silent fallback.
public struct SettingKey<Value: Sendable>: Sendable {
    public let key: String
    /// What a valid value is, for the error line ("a number of seconds > 0").
    public let expected: String
    /// Appended to the error line ("fix or unset it").
    public let hint: String?
    /// The value of a (trimmed) text, or of a list's items; nil when it is not valid.
    let convert: @Sendable (_ text: String, _ items: [String]) -> Value?
    /// The value when no layer gives one (from the catalog's default text).
    let fallback: @Sendable (String) -> Value

    init(
        _ key: String, expected: String, hint: String? = "fix or unset it", convert: @escaping @Sendable (String) -> Value?,
        fallback: @escaping @Sendable (String) -> Value
    ) {
        self.init(key, expected: expected, hint: hint, convertItems: { text, _ in convert(text) }, fallback: fallback)
    }

    init(
        _ key: String, expected: String, hint: String? = "fix or unset it",
        convertItems: @escaping @Sendable (_ text: String, _ items: [String]) -> Value?, fallback: @escaping @Sendable (String) -> Value
    ) {
        self.key = key
        self.expected = expected
        self.hint = hint
        self.convert = convertItems
        self.fallback = fallback
    }

    /// The catalog's entry.
    public var setting: Setting {
        guard let setting = SettingsCatalog.setting(key) else { preconditionFailure("'\(key)' is not in SettingsCatalog") }
        return setting
    }

    /// The value when no layer gives one.
    public var defaultValue: Value { fallback(setting.defaultText) }

    /// The value of a given text (and, for a list, its items), or nil when it is not valid.
    public func value(of text: String, items: [String]? = nil) -> Value? {
        convert(text.trimmingBlanks, items ?? [text])
    }

    /// The one line for an invalid value.
    public func problem(with text: String) -> String {
        "must be \(expected) (got '\(text)')" + (hint.map { "; \($0)" } ?? "")
    }
}

extension SettingKey where Value == Double {
    /// Seconds, > 0 (or >= 0); the default is the catalog's number.
    static func seconds(_ key: String, allowZero: Bool = false) -> Self {
        number(key, allowZero: allowZero, expected: "a number of seconds \(allowZero ? ">= 0" : "> 0")")
    }

    static func number(_ key: String, allowZero: Bool, expected: String? = nil) -> Self {
        Self(
            key, expected: expected ?? "a number \(allowZero ? ">= 0" : "> 0")",
            convert: { text in
                guard let value = Double(text), value.isFinite, allowZero ? value >= 0 : value > 0 else { return nil }
                return value
            },
            fallback: { text in
                guard let value = Double(text) else { preconditionFailure("the default of '\(key)' is not a number: \(text)") }
                return value
            })
    }

    public static var apiRequestTimeout: Self { .seconds("api_request_timeout") }
    public static var prefetchSeconds: Self { .seconds("prefetch_seconds", allowZero: true) }
    public static var heartbeatSeconds: Self { .seconds("heartbeat_seconds") }
    public static var querySeconds: Self { .seconds("query_seconds") }
    public static var cancelGraceSeconds: Self { .seconds("cancel_grace_seconds", allowZero: true) }
    public static var drainSeconds: Self { .seconds("drain_seconds", allowZero: true) }
    public static var crashedHooksSeconds: Self { .seconds("crashed_hooks_seconds", allowZero: true) }
    public static var outputLinesPerSecond: Self { .number("output_lines_per_second", allowZero: true) }
    public static var outputBurstLines: Self { .number("output_burst_lines", allowZero: false) }
    public static var healthPollIntervals: Self { .number("health_poll_intervals", allowZero: false) }
    public static var clientRetryJitterFactor: Self { .number("client_retry_jitter_factor", allowZero: true) }
}

extension SettingKey where Value == Double? {
    /// Seconds > 0 with no default ("none").
    static func optionalSeconds(_ key: String) -> Self {
        Self(
            key, expected: "a number of seconds > 0",
            convert: { text in
                guard let value = Double(text), value.isFinite, value > 0 else { return nil }
                return .some(value)
            },
            fallback: { Double($0) })
    }

    public static var runTimeoutSeconds: Self { .optionalSeconds("run_timeout_seconds") }
    public static var exitAfterIdle: Self { .optionalSeconds("exit_after_idle") }
}

extension SettingKey where Value == Int? {
    /// A whole number of at least `minimum`; no default unless the catalog's text is a number.
    static func integer(_ key: String, atLeast minimum: Int, hint: String) -> Self {
        Self(
            key, expected: "a whole number of at least \(minimum)", hint: hint,
            convert: { text in
                guard let value = Int(text), value >= minimum else { return nil }
                return .some(value)
            },
            fallback: { Int($0) })
    }

    public static var limit: Self { .integer("limit", atLeast: 1, hint: "omit it for no limit") }
    public static var maxRuns: Self { .integer("max_runs", atLeast: 1, hint: "omit it for no bound") }
    public static var clientMaxRetries: Self { .integer("client_max_retries", atLeast: 0, hint: "0 sends each request once") }
}

extension SettingKey where Value == Int {
    public static var webserverPort: Self {
        Self(
            "webserver_port", expected: "a port number 0-65535", hint: nil,
            convert: { text in Int(text).flatMap { (0...65535).contains($0) ? $0 : nil } },
            fallback: { text in
                guard let port = Int(text) else { preconditionFailure("the default of 'webserver_port' is not a number: \(text)") }
                return port
            })
    }
}

extension SettingKey where Value == Bool {
    /// true/false, 1/0, yes/no, on/off; the default is the catalog's true/false.
    static func boolean(_ key: String) -> Self {
        Self(
            key, expected: "true or false",
            convert: { text in
                switch text.lowercased() {
                case "1", "true", "yes", "on": return true
                case "0", "false", "no", "off": return false
                default: return nil
                }
            },
            fallback: { text in
                guard let value = Bool(text) else { preconditionFailure("the default of '\(key)' is not true or false: \(text)") }
                return value
            })
    }

    public static var apiTlsInsecureSkipVerify: Self { .boolean("api_tls_insecure_skip_verify") }
    public static var clientCsrfSupportEnabled: Self { .boolean("client_csrf_support_enabled") }
    public static var eventStream: Self { .boolean("event_stream") }
    public static var createPoolIfNotFound: Self { .boolean("create_pool_if_not_found") }
    public static var runOnce: Self { .boolean("run_once") }
    public static var outputToAPI: Self { .boolean("output_to_api") }
    public static var withHealthcheck: Self { .boolean("with_healthcheck") }
    public static var withMetrics: Self { .boolean("with_metrics") }
}

extension SettingKey where Value == String? {
    /// Text; blank is the same as not given. The catalog's default text describes what happens
    /// then ("the profiles file's `active`"), so the typed default is nil and the caller decides.
    static func text(_ key: String) -> Self {
        Self(key, expected: "text", convert: { $0.isEmpty ? .some(nil) : .some($0) }, fallback: { _ in nil })
    }

    public static var apiURL: Self { .text("api_url") }
    public static var apiSslCertFile: Self { .text("api_ssl_cert_file") }
    public static var httpsProxy: Self { .text("https_proxy") }
    public static var httpProxy: Self { .text("http_proxy") }
    public static var pool: Self { .text("pool") }
    public static var name: Self { .text("name") }
    public static var baseJobTemplate: Self { .text("base_job_template") }
    public static var python: Self { .text("python") }
    public static var stateDir: Self { .text("state_dir") }
    public static var webserverHost: Self {
        Self("webserver_host", expected: "text", convert: { $0.isEmpty ? .some(nil) : .some($0) }, fallback: { .some($0) })
    }
}

extension SettingKey where Value == [String] {
    /// A list (repeated flags, a comma-separated variable, a TOML array); empty by default.
    static func list(_ key: String) -> Self {
        Self(key, expected: "a list", convertItems: { _, items in items }, fallback: { _ in [] })
    }

    public static var workQueues: Self { .list("work_queues") }
    public static var noProxy: Self { .list("no_proxy") }
    public static var envAllow: Self { .list("env_allow") }
    public static var envDeny: Self { .list("env_deny") }
}

extension String {
    /// Without leading and trailing spaces and tabs.
    var trimmingBlanks: String {
        var text = Substring(self)
        while let first = text.first, first == " " || first == "\t" { text.removeFirst() }
        while let last = text.last, last == " " || last == "\t" { text.removeLast() }
        return String(text)
    }
}
