/// One setting of the worker: its configuration file key, environment variable and flag. The
/// catalog is the one list every layer, `config show` and the README's table come from.
public struct Setting: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case string, integer, number, boolean, list

        /// What a file value must be, for error messages.
        var expected: String {
            switch self {
            case .string: return "a string"
            case .integer: return "an integer"
            case .number: return "a number"
            case .boolean: return "true or false"
            case .list: return "an array of strings"
            }
        }
    }

    /// The configuration file key.
    public let key: String
    public let environment: String
    /// Other spellings read when `environment` is unset (`https_proxy` for `HTTPS_PROXY`).
    public let environmentAliases: [String]
    /// The long flag of `prefect-worker start`; nil for secrets, which a command line would show
    /// to every user of the host (their `_file` setting has a flag).
    public let flag: String?
    public let kind: Kind
    /// The default as the README shows it.
    public let defaultText: String
    public let isSecret: Bool
    public let summary: String
    /// The setting's path in Prefect's `prefect.toml` (`api.url`) when it is one of Prefect's own
    /// settings: only those are read from Prefect's files (profile, `prefect.toml`, `.env`), by
    /// this path or by `environment`.
    public let prefectPath: String?

    init(
        _ key: String, _ environment: String, flag: String?, _ kind: Kind, default defaultText: String,
        secret: Bool = false, aliases: [String] = [], prefect prefectPath: String? = nil, _ summary: String
    ) {
        self.key = key
        self.prefectPath = prefectPath
        self.environment = environment
        self.environmentAliases = aliases
        self.flag = flag
        self.kind = kind
        self.defaultText = defaultText
        self.isSecret = secret
        self.summary = summary
    }
}

public enum SettingsCatalog {
    /// `--config` / `PREFECT_WORKER_CONFIG`: the file itself is not a key of the file.
    public static let configFileFlag = "--config"
    public static let configFileEnvironment = "PREFECT_WORKER_CONFIG"
    public static let defaultConfigFile = "/etc/prefect-worker/config.toml"

    public static let all: [Setting] = [
        // The server and how to reach it.
        Setting("api_url", "PREFECT_API_URL", flag: "--api-url", .string, default: "(required)", prefect: "api.url",
                "The Prefect API, e.g. `http://127.0.0.1:4200/api` or Cloud's workspace URL."),
        Setting("api_key", "PREFECT_API_KEY", flag: nil, .string, default: "none", secret: true, prefect: "api.key",
                "Sent as `Authorization: Bearer` (Cloud). Engine runs get it in a per-run profile file (see `pass_credentials_to_runs`)."),
        Setting("api_key_file", "PREFECT_API_KEY_FILE", flag: "--api-key-file", .string, default: "none",
                "A file holding the API key (trailing newline dropped); systemd credential `prefect-api-key` also works."),
        Setting("api_auth_string", "PREFECT_API_AUTH_STRING", flag: nil, .string, default: "none", secret: true, prefect: "api.auth_string",
                "`user:password` for a server with basic auth; wins over the key."),
        Setting("api_auth_string_file", "PREFECT_API_AUTH_STRING_FILE", flag: "--api-auth-string-file", .string, default: "none",
                "A file holding the auth string; systemd credential `prefect-api-auth-string` also works."),
        Setting("client_custom_headers", "PREFECT_CLIENT_CUSTOM_HEADERS", flag: nil, .string, default: "none", secret: true, prefect: "client.custom_headers",
                "A JSON object of extra request headers, e.g. `{\"X-Team\": \"data\"}`."),
        Setting("client_custom_headers_file", "PREFECT_CLIENT_CUSTOM_HEADERS_FILE", flag: "--client-custom-headers-file", .string,
                default: "none", "A file holding the custom headers' JSON."),
        Setting("api_request_timeout", "PREFECT_API_REQUEST_TIMEOUT", flag: "--api-request-timeout", .number, default: "60", prefect: "api.request_timeout",
                "Seconds one API request may take."),
        Setting("api_ssl_cert_file", "PREFECT_API_SSL_CERT_FILE", flag: "--api-ssl-cert-file", .string, default: "system trust store", prefect: "api.ssl_cert_file",
                "A PEM file of CA certificates to trust for an https API (REST and event stream), instead of the system's."),
        Setting("api_tls_insecure_skip_verify", "PREFECT_API_TLS_INSECURE_SKIP_VERIFY", flag: "--api-tls-insecure-skip-verify",
                .boolean, default: "false", prefect: "api.tls_insecure_skip_verify", "Do not verify the server's certificate (testing only)."),
        Setting("https_proxy", "HTTPS_PROXY", flag: "--https-proxy", .string, default: "none", aliases: ["https_proxy"],
                "Proxy for an https API, `http://[user:password@]host:port` (CONNECT)."),
        Setting("http_proxy", "HTTP_PROXY", flag: "--http-proxy", .string, default: "none", aliases: ["http_proxy"],
                "Proxy for an http API."),
        Setting("no_proxy", "NO_PROXY", flag: "--no-proxy", .list, default: "none", aliases: ["no_proxy"],
                "Hosts reached without the proxy: names, domain suffixes (`.example.com`), IPs, `*` for all."),
        Setting("client_max_retries", "PREFECT_CLIENT_MAX_RETRIES", flag: "--client-max-retries", .integer, default: "5",
                prefect: "client.max_retries", "Retries of a failed request (429, 502, 503, 408, connection errors) before a call fails; periodic calls retry forever anyway."),
        Setting("client_retry_extra_codes", "PREFECT_CLIENT_RETRY_EXTRA_CODES", flag: "--client-retry-extra-codes", .list, default: "none",
                prefect: "client.retry_extra_codes", "More HTTP status codes to retry, e.g. `500,504`."),
        Setting("client_retry_jitter_factor", "PREFECT_CLIENT_RETRY_JITTER_FACTOR", flag: "--client-retry-jitter-factor", .number,
                default: "0.2", prefect: "client.retry_jitter_factor", "Random spread of retry delays (0 = none)."),
        Setting("client_csrf_support_enabled", "PREFECT_CLIENT_CSRF_SUPPORT_ENABLED", flag: "--client-csrf-support-enabled",
                .boolean, default: "true", prefect: "client.csrf_support_enabled",
                "Send a CSRF token on writes when the server asks for one (`--no-client-csrf-support-enabled` to never)."),
        // Where Prefect's own settings files are (read below this worker's own layers).
        Setting("prefect_profile", "PREFECT_PROFILE", flag: "--profile", .string, default: "the profiles file's `active`",
                "The profile of Prefect's profiles file to read settings from (as `prefect --profile`)."),
        Setting("prefect_profiles_path", "PREFECT_PROFILES_PATH", flag: "--prefect-profiles-path", .string,
                default: "$PREFECT_HOME/profiles.toml", "Prefect's profiles file (also read from `.env` and `prefect.toml` as Prefect does)."),
        Setting("prefect_home", "PREFECT_HOME", flag: "--prefect-home", .string, default: "~/.prefect",
                "Prefect's home directory, where its profiles file is by default."),
        // The pool and how runs are taken.
        Setting("pool", "PREFECT_WORKER_POOL", flag: "--pool", .string, default: "(required)",
                "The work pool to serve (created as a process pool when missing, unless `create_pool_if_not_found = false`)."),
        Setting("work_queues", "PREFECT_WORKER_WORK_QUEUES", flag: "--work-queue", .list, default: "all queues",
                "Only take runs from these work queues (flag repeatable; variable comma-separated)."),
        Setting("name", "PREFECT_WORKER_NAME", flag: "--name", .string, default: "ProcessWorker <uuid>",
                "The worker's name in the pool; no `/` or `%`."),
        Setting("limit", "PREFECT_WORKER_LIMIT", flag: "--limit", .integer, default: "no limit", "Flow runs in flight at most."),
        Setting("prefetch_seconds", "PREFECT_WORKER_PREFETCH_SECONDS", flag: "--prefetch-seconds", .number, default: "10", prefect: "worker.prefetch_seconds",
                "Claim runs scheduled up to this many seconds ahead."),
        Setting("heartbeat_seconds", "PREFECT_WORKER_HEARTBEAT_SECONDS", flag: "--heartbeat-seconds", .number, default: "30", prefect: "worker.heartbeat_seconds",
                "Seconds between worker heartbeats."),
        Setting("query_seconds", "PREFECT_WORKER_QUERY_SECONDS", flag: "--query-seconds", .number, default: "10", prefect: "worker.query_seconds",
                "Seconds between polls (while the event stream is down; up to max(this, 30) while it is up)."),
        Setting("event_stream", "PREFECT_WORKER_EVENT_STREAM", flag: "--event-stream", .boolean, default: "true",
                "Hear of new and cancelled runs at once from the server's event stream (`--no-event-stream` to poll only)."),
        Setting("create_pool_if_not_found", "PREFECT_WORKER_CREATE_POOL_IF_NOT_FOUND", flag: "--create-pool-if-not-found",
                .boolean, default: "true", "Create the pool when it does not exist (`--no-create-pool-if-not-found`)."),
        Setting("base_job_template", "PREFECT_WORKER_BASE_JOB_TEMPLATE", flag: "--base-job-template", .string, default: "Prefect's process template",
                "A JSON file of the base job template a pool created by the worker gets (ignored, with a warning, when the pool exists)."),
        Setting("python", "PREFECT_WORKER_PYTHON", flag: "--python", .string, default: "the `prefect` on PATH's Python, else python3",
                "The Python that runs `-m prefect.engine` for jobs without a command (checked at start to import prefect)."),
        // Runs' lifetimes.
        Setting("cancel_grace_seconds", "PREFECT_WORKER_CANCEL_GRACE_SECONDS", flag: "--cancel-grace-seconds", .number,
                default: "30", "Seconds between SIGTERM and SIGKILL when a run is cancelled or timed out."),
        Setting("crashed_hooks_seconds", "PREFECT_WORKER_CRASHED_HOOKS_SECONDS", flag: "--crashed-hooks-seconds", .number,
                default: "60", "Deadline of the helper process that runs an engine flow's `on_crashed` hooks after the worker reported it CRASHED; 0 runs none."),
        Setting("run_timeout_seconds", "PREFECT_WORKER_RUN_TIMEOUT_SECONDS", flag: "--run-timeout-seconds", .number,
                default: "none", "Default per-run timeout; the job variable `timeout_seconds` overrides it."),
        Setting("drain_seconds", "PREFECT_WORKER_DRAIN_SECONDS", flag: "--drain-seconds", .number, default: "300",
                "On SIGTERM/SIGINT, wait this long for runs in flight before stopping them."),
        Setting("state_dir", "PREFECT_WORKER_STATE_DIR", flag: "--state-dir", .string,
                default: "$STATE_DIRECTORY, /var/lib/prefect-worker (root) or ~/.local/state/prefect-worker",
                "Where the run ledger for restart recovery lives."),
        Setting("run_once", "PREFECT_WORKER_RUN_ONCE", flag: "--run-once", .boolean, default: "false",
                "Poll once, run what was claimed, wait for it, exit."),
        Setting("max_runs", "PREFECT_WORKER_MAX_RUNS", flag: "--max-runs", .integer, default: "none",
                "Take this many runs, then exit 0 once they are done."),
        Setting("exit_after_idle", "PREFECT_WORKER_EXIT_AFTER_IDLE", flag: "--exit-after-idle", .number, default: "none",
                "Exit 0 after this many seconds with no run in flight."),
        // Logs and output.
        Setting("log_format", "PREFECT_WORKER_LOG_FORMAT", flag: "--log-format", .string, default: "auto",
                "`auto` (journal under systemd, logfmt at a terminal, JSON otherwise), `journal`, `json` or `logfmt`."),
        Setting("logging_level", "PREFECT_LOGGING_LEVEL", flag: "--log-level", .string, default: "INFO", prefect: "logging.level",
                "DEBUG, INFO, WARNING, ERROR or CRITICAL."),
        Setting("output_lines_per_second", "PREFECT_WORKER_OUTPUT_LINES_PER_SECOND", flag: "--output-lines-per-second", .number,
                default: "10000", "A run's output lines per second that reach the log (0 = no limit)."),
        Setting("output_burst_lines", "PREFECT_WORKER_OUTPUT_BURST_LINES", flag: "--output-burst-lines", .number,
                default: "100000", "A run's output lines that may come at once before the rate applies."),
        Setting("output_to_api", "PREFECT_WORKER_OUTPUT_TO_API", flag: "--output-to-api", .boolean, default: "false",
                "Send runs' output lines to the Prefect API too (job variable `output_to_api` overrides)."),
        // What runs inherit.
        Setting("pass_credentials_to_runs", "PREFECT_WORKER_PASS_CREDENTIALS_TO_RUNS", flag: "--pass-credentials-to-runs",
                .string, default: "auto",
                "How runs get the worker's API key / auth string / custom headers: `auto` engine runs in a private per-run profile file, plain commands not at all; `always` in every run's environment (as Prefect); `never`."),
        Setting("env_allow", "PREFECT_WORKER_ENV_ALLOW", flag: "--env-allow", .list, default: "all",
                "Shell patterns of the worker's environment variables runs inherit."),
        Setting("env_deny", "PREFECT_WORKER_ENV_DENY", flag: "--env-deny", .list, default: "none",
                "Shell patterns of variables runs never inherit (wins over the allow list)."),
        // The web server.
        Setting("with_healthcheck", "PREFECT_WORKER_WITH_HEALTHCHECK", flag: "--with-healthcheck", .boolean, default: "false",
                "Serve /health, /health/live, /health/ready (and /metrics)."),
        Setting("with_metrics", "PREFECT_WORKER_WITH_METRICS", flag: "--with-metrics", .boolean, default: "false",
                "Serve Prometheus metrics at /metrics (and the health endpoints)."),
        Setting("webserver_host", "PREFECT_WORKER_WEBSERVER_HOST", flag: "--webserver-host", .string, default: "127.0.0.1", prefect: "worker.webserver.host",
                "Where the web server listens (Prefect's default is 0.0.0.0)."),
        Setting("webserver_port", "PREFECT_WORKER_WEBSERVER_PORT", flag: "--webserver-port", .integer, default: "8080", prefect: "worker.webserver.port",
                "The web server's port."),
        Setting("health_poll_intervals", "PREFECT_WORKER_HEALTH_POLL_INTERVALS", flag: "--health-poll-intervals", .number,
                default: "30", "`/health` answers 503 after this many query intervals without a successful poll (Prefect's rule; `/health/ready` stays strict)."),
    ]

    public static func setting(_ key: String) -> Setting? { byKey[key] }

    private static let byKey: [String: Setting] = Dictionary(uniqueKeysWithValues: all.map { ($0.key, $0) })

    /// The README's settings table (a test keeps the README equal to it).
    public static var markdownTable: String {
        var lines = [
            "| File key | Environment | Flag | Default | What it is |",
            "|---|---|---|---|---|",
        ]
        for setting in all {
            let environment = ([setting.environment] + setting.environmentAliases).map { "`\($0)`" }.joined(separator: ", ")
            let flag = setting.flag.map { "`\($0)`" } ?? "(file/env only: secret)"
            lines.append("| `\(setting.key)` | \(environment) | \(flag) | \(setting.defaultText) | \(setting.summary) |")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
