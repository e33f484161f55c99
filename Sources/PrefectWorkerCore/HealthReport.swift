import FoundationEssentials

/// What the health endpoint answers (pure): `/health` for Prefect's own healthcheck, and the two
/// probes that Kubernetes-style orchestrators and load balancers tell apart.
public enum HealthReport {
    /// Prefect's worker answers 503 on `/health` after 30 query intervals without a poll.
    public static let prefectsPollIntervals: Double = 30

    /// How long `/health` tolerates no successful poll: the liveness factor times the query
    /// interval, and never less than the strict threshold of `/health/ready`.
    public static func livenessThreshold(_ facts: Facts) -> Double {
        max(facts.livenessPollIntervals * facts.querySeconds, LoopHealth.staleAfter(interval: facts.pollSeconds))
    }

    public struct Answer: Sendable, Equatable {
        public var status: Int
        public var body: JSONValue

        public init(status: Int, body: JSONValue) {
            self.status = status
            self.body = body
        }
    }

    public struct Facts: Sendable, Equatable {
        public var health: LoopHealth
        public var now: Date
        public var heartbeatSeconds: Double
        /// The longest time between two polls right now (`PollCadence.interval`).
        public var pollSeconds: Double
        public var inFlight: Int
        public var limit: Int?
        /// When the worker started: `/health` counts its threshold from here until the first poll.
        public var startedAt: Date
        /// `query_seconds` and `health_poll_intervals`: `/health` is 503 only after this many query
        /// intervals without a successful poll (Prefect's rule, 30 by default).
        public var querySeconds: Double
        public var livenessPollIntervals: Double

        public init(
            health: LoopHealth, now: Date, heartbeatSeconds: Double, pollSeconds: Double, inFlight: Int, limit: Int?, startedAt: Date,
            querySeconds: Double = 10, livenessPollIntervals: Double = HealthReport.prefectsPollIntervals
        ) {
            self.startedAt = startedAt
            self.querySeconds = querySeconds
            self.livenessPollIntervals = livenessPollIntervals
            self.health = health
            self.now = now
            self.heartbeatSeconds = heartbeatSeconds
            self.pollSeconds = pollSeconds
            self.inFlight = inFlight
            self.limit = limit
        }
    }

    public static func answer(method: String, path: String, facts: Facts) -> Answer {
        let route = path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? path
        guard ["/health", "/health/live", "/health/ready"].contains(route) else {
            return Answer(status: 404, body: message("not found; try /health, /health/live, /health/ready or /metrics"))
        }
        guard method == "GET" || method == "HEAD" else { return Answer(status: 405, body: message("only GET")) }
        let health = facts.health
        let healthy = health.isHealthy(now: facts.now, heartbeatSeconds: facts.heartbeatSeconds, querySeconds: facts.pollSeconds)
        var details: [String: JSONValue] = [
            "draining": .bool(health.isDraining),
            "in_flight": .number(Double(facts.inFlight)),
            "limit": facts.limit.map { .number(Double($0)) } ?? .null,
            "poll_stale_after_s": .number(LoopHealth.staleAfter(interval: facts.pollSeconds)),
        ]
        if let lastPoll = health.lastPoll { details["last_poll_s_ago"] = .number(rounded(facts.now.timeIntervalSince(lastPoll))) }
        if let beat = health.lastHeartbeat { details["last_heartbeat_s_ago"] = .number(rounded(facts.now.timeIntervalSince(beat))) }
        switch route {
        case "/health/live":
            return Answer(status: 200, body: message("alive", details))
        case "/health/ready":
            if health.lastHeartbeat == nil { return Answer(status: 503, body: message("not registered with the pool yet", details)) }
            if health.isDraining { return Answer(status: 503, body: message("draining: claiming nothing new", details)) }
            if !healthy { return Answer(status: 503, body: message("not polling: the Prefect server is not answering", details)) }
            return Answer(status: 200, body: message("ready", details))
        default:
            // Prefect's rule: a liveness probe restarts the worker (and every run in it), so it
            // fails only after a long time without a successful poll, never for a server blip.
            // A draining worker stops polling on purpose; a starting one counts from its start.
            let threshold = livenessThreshold(facts)
            let since = health.lastPoll ?? facts.startedAt
            // Prefect's worker answers exactly {"message":"OK"}; the details come only on 503.
            if health.isDraining || facts.now.timeIntervalSince(since) <= threshold { return Answer(status: 200, body: message("OK")) }
            details["poll_stale_after_s"] = .number(threshold)
            return Answer(status: 503, body: message("Worker may be unresponsive at this time", details))
        }
    }

    static func message(_ text: String, _ details: [String: JSONValue] = [:]) -> JSONValue {
        var body = details
        body["message"] = .string(text)
        return .object(body)
    }

    static func rounded(_ seconds: Double) -> Double { (seconds * 10).rounded() / 10 }
}
