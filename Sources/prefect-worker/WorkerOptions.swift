import ArgumentParser
import PrefectWorker
import PrefectWorkerCore

/// The flags of every setting (`SettingsCatalog`), shared by `start` and `config show`. A flag
/// beats its environment variable, which beats the configuration file.
struct WorkerOptions: ParsableArguments {
    @Option(name: .customLong("config"), help: "The configuration file (TOML; env PREFECT_WORKER_CONFIG, default /etc/prefect-worker/config.toml when it exists).")
    var configFile: String?

    // The server.
    @Option(help: .setting("api_url"))
    var apiURL: String?
    @Option(help: .setting("api_key_file"))
    var apiKeyFile: String?
    @Option(help: .setting("api_auth_string_file"))
    var apiAuthStringFile: String?
    @Option(help: .setting("client_custom_headers_file"))
    var clientCustomHeadersFile: String?
    @Option(help: .setting("api_request_timeout"))
    var apiRequestTimeout: Double?
    @Option(help: .setting("api_ssl_cert_file"))
    var apiSslCertFile: String?
    @Flag(help: .setting("api_tls_insecure_skip_verify"))
    var apiTlsInsecureSkipVerify = false
    @Option(help: .setting("https_proxy"))
    var httpsProxy: String?
    @Option(help: .setting("http_proxy"))
    var httpProxy: String?
    @Option(help: .setting("no_proxy"))
    var noProxy: String?

    // The pool.
    @Option(name: [.short, .long], help: .setting("pool"))
    var pool: String?
    @Option(name: [.customShort("q"), .long], help: .setting("work_queues"))
    var workQueue: [String] = []
    @Flag(help: "Take runs from all work queues, whatever the environment or file says (as Prefect's flag).")
    var emptyWorkQueue = false
    @Option(name: [.short, .long], help: .setting("name"))
    var name: String?
    @Option(name: [.short, .long], help: .setting("limit"))
    var limit: Int?
    @Option(help: .setting("prefetch_seconds"))
    var prefetchSeconds: Double?
    @Option(help: .setting("heartbeat_seconds"))
    var heartbeatSeconds: Double?
    @Option(help: .setting("query_seconds"))
    var querySeconds: Double?
    @Flag(inversion: .prefixedNo, help: .setting("event_stream"))
    var eventStream: Bool?
    @Flag(inversion: .prefixedNo, help: .setting("create_pool_if_not_found"))
    var createPoolIfNotFound: Bool?
    @Option(help: .setting("base_job_template"))
    var baseJobTemplate: String?
    @Option(help: .setting("prefect_profile"))
    var profile: String?
    @Option(help: .setting("prefect_profiles_path"))
    var prefectProfilesPath: String?
    @Option(help: .setting("prefect_home"))
    var prefectHome: String?
    @Option(help: .setting("client_max_retries"))
    var clientMaxRetries: Int?
    @Option(help: .setting("client_retry_extra_codes"))
    var clientRetryExtraCodes: String?
    @Option(help: .setting("client_retry_jitter_factor"))
    var clientRetryJitterFactor: Double?
    @Flag(inversion: .prefixedNo, help: .setting("client_csrf_support_enabled"))
    var clientCsrfSupportEnabled: Bool?
    @Option(help: .setting("python"))
    var python: String?

    // Runs.
    @Option(help: .setting("cancel_grace_seconds"))
    var cancelGraceSeconds: Double?
    @Option(help: .setting("crashed_hooks_seconds"))
    var crashedHooksSeconds: Double?
    @Option(help: .setting("run_timeout_seconds"))
    var runTimeoutSeconds: Double?
    @Option(help: .setting("drain_seconds"))
    var drainSeconds: Double?
    @Option(help: .setting("state_dir"))
    var stateDir: String?
    @Flag(inversion: .prefixedNo, help: .setting("run_once"))
    var runOnce: Bool?
    @Option(help: .setting("max_runs"))
    var maxRuns: Int?
    @Option(name: .customLong("exit-after-idle"), help: .setting("exit_after_idle"))
    var exitAfterIdle: Double?

    // Logs and output.
    @Option(help: .setting("log_format"))
    var logFormat: String?
    @Option(help: .setting("logging_level"))
    var logLevel: String?
    @Option(help: .setting("output_lines_per_second"))
    var outputLinesPerSecond: Double?
    @Option(help: .setting("output_burst_lines"))
    var outputBurstLines: Double?
    @Flag(help: .setting("output_to_api"))
    var outputToAPI = false

    // What runs inherit.
    @Option(help: .setting("pass_credentials_to_runs"))
    var passCredentialsToRuns: String?
    @Option(help: .setting("env_allow"))
    var envAllow: String?
    @Option(help: .setting("env_deny"))
    var envDeny: String?

    // The web server.
    @Flag(inversion: .prefixedNo, help: .setting("with_healthcheck"))
    var withHealthcheck: Bool?
    @Flag(help: .setting("with_metrics"))
    var withMetrics = false
    @Option(help: .setting("webserver_host"))
    var webserverHost: String?
    @Option(help: .setting("webserver_port"))
    var webserverPort: Int?
    @Option(help: .setting("health_poll_intervals"))
    var healthPollIntervals: Double?

    /// The given flags by setting key.
    var settings: CommandLineSettings {
        var flags = CommandLineSettings()
        flags.set("api_url", apiURL)
        flags.set("api_key_file", apiKeyFile)
        flags.set("api_auth_string_file", apiAuthStringFile)
        flags.set("client_custom_headers_file", clientCustomHeadersFile)
        flags.set("api_request_timeout", apiRequestTimeout)
        flags.set("api_ssl_cert_file", apiSslCertFile)
        flags.set("api_tls_insecure_skip_verify", apiTlsInsecureSkipVerify)
        flags.set("https_proxy", httpsProxy)
        flags.set("http_proxy", httpProxy)
        flags.set("no_proxy", noProxy)
        flags.set("pool", pool)
        flags.set("work_queues", list: workQueue)
        if emptyWorkQueue && workQueue.isEmpty { flags.values["work_queues"] = [""] }
        flags.set("name", name)
        flags.set("limit", limit)
        flags.set("prefetch_seconds", prefetchSeconds)
        flags.set("heartbeat_seconds", heartbeatSeconds)
        flags.set("query_seconds", querySeconds)
        flags.set("event_stream", inverted: eventStream)
        flags.set("create_pool_if_not_found", inverted: createPoolIfNotFound)
        flags.set("base_job_template", baseJobTemplate)
        flags.set("python", python)
        flags.set("prefect_profile", profile)
        flags.set("prefect_profiles_path", prefectProfilesPath)
        flags.set("prefect_home", prefectHome)
        flags.set("client_max_retries", clientMaxRetries)
        flags.set("client_retry_extra_codes", clientRetryExtraCodes)
        flags.set("client_retry_jitter_factor", clientRetryJitterFactor)
        flags.set("client_csrf_support_enabled", inverted: clientCsrfSupportEnabled)
        flags.set("cancel_grace_seconds", cancelGraceSeconds)
        flags.set("crashed_hooks_seconds", crashedHooksSeconds)
        flags.set("run_timeout_seconds", runTimeoutSeconds)
        flags.set("drain_seconds", drainSeconds)
        flags.set("state_dir", stateDir)
        flags.set("run_once", inverted: runOnce)
        flags.set("max_runs", maxRuns)
        flags.set("exit_after_idle", exitAfterIdle)
        flags.set("log_format", logFormat)
        flags.set("logging_level", logLevel)
        flags.set("output_lines_per_second", outputLinesPerSecond)
        flags.set("output_burst_lines", outputBurstLines)
        flags.set("output_to_api", outputToAPI)
        flags.set("pass_credentials_to_runs", passCredentialsToRuns)
        flags.set("env_allow", envAllow)
        flags.set("env_deny", envDeny)
        flags.set("with_healthcheck", inverted: withHealthcheck)
        flags.set("with_metrics", withMetrics)
        flags.set("webserver_host", webserverHost)
        flags.set("webserver_port", webserverPort)
        flags.set("health_poll_intervals", healthPollIntervals)
        return flags
    }

    /// The settings of all layers: the flags, `environment`, and the configuration file.
    func resolver(environment: [String: String]) throws -> SettingsResolver {
        let file = try ConfigFileLocation.load(flag: configFile, environment: environment)
        return try SettingsResolver(flags: settings, environment: environment, configFile: file, prefectFiles: .current)
    }
}

extension ArgumentHelp {
    /// A setting's flag help from the catalog (`SettingsCatalog`): its summary, its variable and its
    /// default, written once there.
    static func setting(_ key: String) -> ArgumentHelp {
        guard let setting = SettingsCatalog.setting(key) else { preconditionFailure("'\(key)' is not in SettingsCatalog") }
        let summary = setting.summary.replacing("`", with: "")
        return ArgumentHelp("\(summary) (env \(setting.environment); default: \(setting.defaultText.replacing("`", with: "")))")
    }
}
