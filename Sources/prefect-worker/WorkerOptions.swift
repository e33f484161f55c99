import ArgumentParser
import PrefectWorker

/// The flags of every setting (`SettingsCatalog`), shared by `start` and `config show`. A flag
/// beats its environment variable, which beats the configuration file.
struct WorkerOptions: ParsableArguments {
    @Option(name: .customLong("config"), help: "The configuration file (TOML; env PREFECT_WORKER_CONFIG, default /etc/prefect-worker/config.toml when it exists).")
    var configFile: String?

    // The server.
    @Option(help: "The Prefect API (env PREFECT_API_URL).")
    var apiURL: String?
    @Option(help: "A file holding the API key (env PREFECT_API_KEY_FILE).")
    var apiKeyFile: String?
    @Option(help: "A file holding user:password for basic auth (env PREFECT_API_AUTH_STRING_FILE).")
    var apiAuthStringFile: String?
    @Option(help: "A file holding a JSON object of extra request headers (env PREFECT_CLIENT_CUSTOM_HEADERS_FILE).")
    var clientCustomHeadersFile: String?
    @Option(help: "Seconds one API request may take (env PREFECT_API_REQUEST_TIMEOUT, default 60).")
    var apiRequestTimeout: Double?
    @Option(help: "PEM file of CA certificates trusted for an https API (env PREFECT_API_SSL_CERT_FILE).")
    var apiSslCertFile: String?
    @Flag(help: "Do not verify the API server's certificate; testing only (env PREFECT_API_TLS_INSECURE_SKIP_VERIFY).")
    var apiTlsInsecureSkipVerify = false
    @Option(help: "Proxy for an https API (env HTTPS_PROXY).")
    var httpsProxy: String?
    @Option(help: "Proxy for an http API (env HTTP_PROXY).")
    var httpProxy: String?
    @Option(help: "Comma-separated hosts reached without the proxy (env NO_PROXY).")
    var noProxy: String?

    // The pool.
    @Option(name: [.short, .long], help: "The work pool to serve (env PREFECT_WORKER_POOL).")
    var pool: String?
    @Option(name: [.customShort("q"), .long], help: "Only take runs from this work queue (repeatable; default: all queues).")
    var workQueue: [String] = []
    @Flag(help: "Take runs from all work queues, whatever the environment or file says (as Prefect's flag).")
    var emptyWorkQueue = false
    @Option(name: [.short, .long], help: "The worker's name (default: ProcessWorker <uuid>). No '/' or '%'.")
    var name: String?
    @Option(name: [.short, .long], help: "Run at most this many flow runs at once (default: no limit).")
    var limit: Int?
    @Option(help: "Claim runs scheduled up to this many seconds ahead (default 10).")
    var prefetchSeconds: Double?
    @Option(help: "Seconds between heartbeats (default 30).")
    var heartbeatSeconds: Double?
    @Option(help: "Seconds between polls (default 10).")
    var querySeconds: Double?
    @Flag(inversion: .prefixedNo, help: "Hear of new and cancelled runs from the server's event stream (default on).")
    var eventStream: Bool?
    @Flag(inversion: .prefixedNo, help: "Create the work pool if it does not exist (default on).")
    var createPoolIfNotFound: Bool?
    @Option(help: "A JSON file of the base job template the pool is created with when it does not exist (ignored, with a warning, when it does).")
    var baseJobTemplate: String?
    @Option(help: "The Prefect profile to read settings from (env PREFECT_PROFILE; default the profiles file's active one).")
    var profile: String?
    @Option(help: "Prefect's profiles file (env PREFECT_PROFILES_PATH, default $PREFECT_HOME/profiles.toml).")
    var prefectProfilesPath: String?
    @Option(help: "Prefect's home directory (env PREFECT_HOME, default ~/.prefect).")
    var prefectHome: String?
    @Option(help: "Retries of a failed request before a call fails (env PREFECT_CLIENT_MAX_RETRIES, default 5).")
    var clientMaxRetries: Int?
    @Option(help: "Comma-separated HTTP status codes to retry besides 408, 429, 502, 503 (env PREFECT_CLIENT_RETRY_EXTRA_CODES).")
    var clientRetryExtraCodes: String?
    @Option(help: "Random spread of retry delays, 0 = none (env PREFECT_CLIENT_RETRY_JITTER_FACTOR, default 0.2).")
    var clientRetryJitterFactor: Double?
    @Flag(inversion: .prefixedNo, help: "Send a CSRF token on writes when the server asks for one (env PREFECT_CLIENT_CSRF_SUPPORT_ENABLED, default on).")
    var clientCsrfSupportEnabled: Bool?
    @Option(help: "The Python that runs the Prefect engine for jobs without a command (default: the interpreter of `prefect` on PATH, else python3).")
    var python: String?

    // Runs.
    @Option(help: "Seconds between SIGTERM and SIGKILL when a run is cancelled (default 30).")
    var cancelGraceSeconds: Double?
    @Option(help: "Default per-run timeout in seconds; the job variable timeout_seconds overrides it (default none).")
    var runTimeoutSeconds: Double?
    @Option(help: "On SIGTERM/SIGINT, wait this long for runs in flight before stopping them (default 300).")
    var drainSeconds: Double?
    @Option(help: "Directory of the run ledger used for restart recovery (default $STATE_DIRECTORY, /var/lib/prefect-worker as root, ~/.local/state/prefect-worker).")
    var stateDir: String?
    @Flag(inversion: .prefixedNo, help: "Poll once, run what was claimed, wait for it, and exit (default off).")
    var runOnce: Bool?
    @Option(help: "Take at most this many flow runs, then exit 0 once they are done (ephemeral hosts).")
    var maxRuns: Int?
    @Option(name: .customLong("exit-after-idle"), help: "Exit 0 after this many seconds with no flow run in flight (ephemeral hosts).")
    var exitAfterIdle: Double?

    // Logs and output.
    @Option(help: "auto (journal under systemd, logfmt at a terminal, JSON lines otherwise), journal, json or logfmt.")
    var logFormat: String?
    @Option(help: "DEBUG, INFO, WARNING, ERROR or CRITICAL (env PREFECT_LOGGING_LEVEL, default INFO).")
    var logLevel: String?
    @Option(help: "A run's output lines per second that reach the log; 0 = no limit (default 10000).")
    var outputLinesPerSecond: Double?
    @Option(help: "A run's output lines that may come at once before the rate applies (default 100000).")
    var outputBurstLines: Double?
    @Flag(help: "Send runs' output lines to the Prefect API too.")
    var outputToAPI = false

    // What runs inherit.
    @Option(help: "How runs get the worker's API key, auth string and custom headers: auto (engine runs, in a private per-run profile file), always (every run's environment, as Prefect), never (default auto).")
    var passCredentialsToRuns: String?
    @Option(help: "Comma-separated shell patterns of the worker's variables runs inherit (default all).")
    var envAllow: String?
    @Option(help: "Comma-separated shell patterns of variables runs never inherit.")
    var envDeny: String?

    // The web server.
    @Flag(inversion: .prefixedNo, help: "Serve /health, /health/live and /health/ready (and /metrics) on the web server address (default off).")
    var withHealthcheck: Bool?
    @Flag(help: "Serve Prometheus metrics at /metrics (and the health endpoints) on the web server address.")
    var withMetrics = false
    @Option(help: "The web server's address (env PREFECT_WORKER_WEBSERVER_HOST, default 127.0.0.1).")
    var webserverHost: String?
    @Option(help: "The web server's port (env PREFECT_WORKER_WEBSERVER_PORT, default 8080).")
    var webserverPort: Int?
    @Option(help: "/health answers 503 after this many query intervals without a successful poll (default 30, as Prefect).")
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
