import Foundation

/// What the health endpoint answers (pure): `/health` for Prefect's own healthcheck, and the two
/// probes that Kubernetes-style orchestrators and load balancers tell apart.
public enum HealthReport {
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

        public init(
            health: LoopHealth, now: Date, heartbeatSeconds: Double, pollSeconds: Double, inFlight: Int, limit: Int?, startedAt: Date
        ) {
            self.startedAt = startedAt
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
            // As Prefect's worker: a worker still starting up is given one threshold's time to poll.
            let starting = health.lastPoll == nil
                && facts.now.timeIntervalSince(facts.startedAt) <= LoopHealth.staleAfter(interval: facts.pollSeconds)
            // Prefect's worker answers exactly {"message":"OK"}; the details come only on 503.
            if healthy || starting { return Answer(status: 200, body: message("OK")) }
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
