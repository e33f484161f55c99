import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// The environment of a flow run's child (docs/prefect-worker-protocol.md §5.2), lowest precedence first:
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

    /// The worker's API credentials, the files they may come from, and where systemd keeps them.
    public static let credentialVariables: Set<String> = [
        "PREFECT_API_KEY", "PREFECT_API_AUTH_STRING", "CREDENTIALS_DIRECTORY", "PREFECT_API_KEY_FILE",
        "PREFECT_API_AUTH_STRING_FILE", "PREFECT_CLIENT_CUSTOM_HEADERS", "PREFECT_CLIENT_CUSTOM_HEADERS_FILE",
    ]

    /// Which of the worker's own variables flow runs may inherit (`PREFECT_WORKER_ENV_ALLOW` and
    /// `_DENY`): shell-style patterns (`*`, `?`, `[...]`). An empty allow list allows everything;
    /// deny wins over allow.
    public struct Policy: Sendable, Equatable {
        public var allow: [String]
        public var deny: [String]

        public init(allow: [String] = [], deny: [String] = []) {
            self.allow = allow
            self.deny = deny
        }

        public func permits(_ name: String) -> Bool {
            (allow.isEmpty || allow.contains { matches($0, name) }) && !deny.contains { matches($0, name) }
        }

        private func matches(_ pattern: String, _ name: String) -> Bool {
            fnmatch(pattern, name, 0) == 0
        }

        /// A comma-separated list as the setting holds it.
        public static func patterns(_ text: String?) -> [String] {
            (text ?? "").split(separator: ",").map { $0.trimmingSpaces() }.filter { !$0.isEmpty }
        }
    }

    /// What of the worker's own environment a child inherits: what the policy permits, never the
    /// service manager's variables, and the credentials only when they are to be passed.
    public static func inheritable(
        from workerEnvironment: [String: String], passCredentials: Bool, policy: Policy = Policy()
    ) -> [String: String] {
        workerEnvironment.filter {
            !serviceManagerVariables.contains($0.key) && (passCredentials || !credentialVariables.contains($0.key))
                && policy.permits($0.key)
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
