import PrefectAPI
import PrefectWorkerCore

/// Every setting of a running worker, already validated. Built by the executable from flags and
/// environment variables (flag beats environment beats default).
public struct WorkerConfiguration: Sendable {
    public var api: PrefectAPIConfiguration
    public var poolName: String
    public var workQueues: [String]
    public var workerName: String
    /// Runs in flight at most; nil = no local limit.
    public var limit: Int?
    public var prefetchSeconds: Double
    public var heartbeatSeconds: Double
    public var querySeconds: Double
    public var runOnce: Bool
    /// The Python that runs `-m prefect.engine` when a job has no command.
    public var python: String
    /// Create the pool when it does not exist.
    public var createPoolIfNotFound: Bool
    /// `--base-job-template FILE`: the template a pool the worker creates gets (nil = Prefect's
    /// process template), and the file it came from.
    public var baseJobTemplate: (template: JSONValue, file: String)?
    /// The worker's own environment, the base of every child's.
    public var environment: [String: String]
    /// Seconds between SIGTERM and SIGKILL when a run is cancelled or timed out.
    public var cancelGraceSeconds: Double = SettingKey<Double>.cancelGraceSeconds.defaultValue
    /// The deadline of the `on_crashed` hooks helper; 0 = no hooks are run by the worker.
    public var crashedHooksSeconds: Double = SettingKey<Double>.crashedHooksSeconds.defaultValue
    /// How long a stopping worker waits for its runs before it stops them.
    public var drainSeconds: Double = SettingKey<Double>.drainSeconds.defaultValue
    /// Where the run ledger lives (restart recovery); nil = recovery off.
    public var stateDirectory: String?
    /// Default per-run timeout; the job variable `timeout_seconds` overrides it. nil = none.
    public var runTimeoutSeconds: Double?
    /// A run's output lines per second (sustained) that reach the log sink; 0 = no limit.
    public var outputLinesPerSecond: Double = SettingKey<Double>.outputLinesPerSecond.defaultValue
    /// A run's output lines that may come at once before the rate applies.
    public var outputBurstLines: Double = SettingKey<Double>.outputBurstLines.defaultValue
    /// Bytes of a run's output that may wait for a slow log sink; beyond that lines are dropped.
    public var outputQueueBytes = 16 * 1024 * 1024
    /// Send runs' output lines to the Prefect API too (job variable `output_to_api` overrides).
    public var outputToAPI = false
    /// Subscribe to the server's event stream to hear of new and cancelled runs at once (polling
    /// stays, as the fallback and for runs scheduled ahead).
    public var useEventStream = true
    /// `--max-runs`: stop claiming after this many runs, and exit once they are done.
    public var maxRuns: Int?
    /// `--exit-after-idle`: exit after this many seconds with nothing in flight.
    public var exitAfterIdleSeconds: Double?
    /// Where `--with-healthcheck` listens; nil = no health endpoint.
    public var healthcheck: HealthcheckAddress?
    /// `health_poll_intervals`: query intervals without a poll before `/health` answers 503.
    public var healthPollIntervals: Double = HealthReport.prefectsPollIntervals
    /// How flow runs get the worker's API key / auth string / custom headers.
    public var passCredentialsToRuns = CredentialPassing.auto
    /// The values of the Prefect profile the worker read (all of them), for engine runs' per-run
    /// profiles.
    public var prefectProfileValues: [String: String] = [:]
    /// `PREFECT_WORKER_ENV_ALLOW` / `_DENY`: what of the worker's own environment runs inherit.
    public var environmentPolicy = ChildEnvironment.Policy()

    public init(
        api: PrefectAPIConfiguration, poolName: String, workQueues: [String] = [], workerName: String,
        limit: Int? = nil, prefetchSeconds: Double = SettingKey<Double>.prefetchSeconds.defaultValue,
        heartbeatSeconds: Double = SettingKey<Double>.heartbeatSeconds.defaultValue,
        querySeconds: Double = SettingKey<Double>.querySeconds.defaultValue,
        runOnce: Bool = false, python: String = "python3", createPoolIfNotFound: Bool = true,
        environment: [String: String] = [:]
    ) {
        self.api = api
        self.poolName = poolName
        self.workQueues = workQueues
        self.workerName = workerName
        self.limit = limit
        self.prefetchSeconds = prefetchSeconds
        self.heartbeatSeconds = heartbeatSeconds
        self.querySeconds = querySeconds
        self.runOnce = runOnce
        self.python = python
        self.createPoolIfNotFound = createPoolIfNotFound
        self.environment = environment
    }

    /// The worker's Prefect settings as a child sees them (docs/prefect-worker-protocol.md §5.2, layer 2).
    var settingsEnvironment: [String: String] {
        var settings = ["PREFECT_API_URL": api.baseURL]
        // The engine talks to the same server, so it needs the same trust (Prefect's names).
        if let caFile = api.tls.caFile { settings["PREFECT_API_SSL_CERT_FILE"] = caFile }
        if api.tls.insecureSkipVerify { settings["PREFECT_API_TLS_INSECURE_SKIP_VERIFY"] = "true" }
        return settings
    }

    /// The worker's credentials under Prefect's names; empty when it has none.
    var credentialSettings: [String: String] {
        var settings: [String: String] = [:]
        if let key = api.apiKey { settings["PREFECT_API_KEY"] = key }
        if let auth = api.authString { settings["PREFECT_API_AUTH_STRING"] = auth }
        if !api.customHeaders.isEmpty {
            settings["PREFECT_CLIENT_CUSTOM_HEADERS"] = JSONValue.object(api.customHeaders.mapValues { .string($0) }).compactJSONText
        }
        return settings
    }

    /// When the worker polls (see `PollCadence`).
    var pollCadence: PollCadence {
        PollCadence(querySeconds: querySeconds, prefetchSeconds: prefetchSeconds)
    }

    /// The limits of one run's output on its way to the log sink.
    var outputBudget: OutputBudget {
        OutputBudget(linesPerSecond: outputLinesPerSecond, burstLines: outputBurstLines, maxQueuedBytes: outputQueueBytes)
    }
}

/// `PREFECT_WORKER_WEBSERVER_HOST` and `_PORT`, as Prefect names them (default 127.0.0.1:8080: not
/// every interface, unlike Prefect's 0.0.0.0).
public struct HealthcheckAddress: Sendable, Equatable {
    public var host: String
    public var port: Int

    public init(host: String = "127.0.0.1", port: Int = 8080) {
        self.host = host
        self.port = port
    }
}
