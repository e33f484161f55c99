/// The environment of a flow run's child (protocol doc 5.2), lowest precedence first:
/// the worker's own environment, the worker's Prefect settings (API URL and auth), the run's
/// attribution variables, the job `env` (a nil value unsets the variable), and last the
/// runner-owned `PREFECT__FLOW_RUN_ID`. The same order is used for every command, unlike the
/// Python worker, whose explicit-command path lets worker settings override the job env.
public enum ChildEnvironment {
    public struct RunIdentity: Sendable, Equatable {
        public var flowRunId: String
        public var flowId: String?
        public var flowName: String?
        public var deploymentId: String?
        public var deploymentName: String?
        public var workerName: String

        public init(
            flowRunId: String, flowId: String? = nil, flowName: String? = nil, deploymentId: String? = nil,
            deploymentName: String? = nil, workerName: String
        ) {
            self.flowRunId = flowRunId
            self.flowId = flowId
            self.flowName = flowName
            self.deploymentId = deploymentId
            self.deploymentName = deploymentName
            self.workerName = workerName
        }
    }

    /// Variables a service manager gives the worker itself; a child that inherited them would talk
    /// to systemd as if it were the worker (READY=1, watchdog pings) or log to the wrong place.
    public static let serviceManagerVariables: Set<String> = [
        "NOTIFY_SOCKET", "WATCHDOG_PID", "WATCHDOG_USEC", "JOURNAL_STREAM", "LISTEN_FDS", "LISTEN_PID",
        "LISTEN_FDNAMES", "MAINPID", "MANAGERPID",
    ]

    /// The worker's API credentials and where systemd keeps them.
    public static let credentialVariables: Set<String> = [
        "PREFECT_API_KEY", "PREFECT_API_AUTH_STRING", "CREDENTIALS_DIRECTORY",
    ]

    /// What of the worker's own environment a child inherits: all of it but the service manager's
    /// variables, and but the credentials unless they are to be passed.
    public static func inheritable(from workerEnvironment: [String: String], passCredentials: Bool) -> [String: String] {
        workerEnvironment.filter {
            !serviceManagerVariables.contains($0.key) && (passCredentials || !credentialVariables.contains($0.key))
        }
    }

    public static func build(
        workerEnvironment: [String: String], settings: [String: String], run: RunIdentity,
        jobEnv: [String: String?]
    ) -> [String: String] {
        var env = workerEnvironment
        env.merge(settings) { _, setting in setting }
        let attribution: [String: String?] = [
            "PREFECT__FLOW_RUN_ID": run.flowRunId,
            "PREFECT__FLOW_ID": run.flowId,
            "PREFECT__FLOW_NAME": run.flowName,
            "PREFECT__DEPLOYMENT_ID": run.deploymentId,
            "PREFECT__DEPLOYMENT_NAME": run.deploymentName,
            "PREFECT__WORKER_NAME": run.workerName,
        ]
        for (key, value) in attribution { if let value { env[key] = value } }
        for (key, value) in jobEnv {
            if let value { env[key] = value } else { env.removeValue(forKey: key) }
        }
        env["PREFECT__FLOW_RUN_ID"] = run.flowRunId
        return env
    }
}
