import FoundationEssentials

/// The one-line live summary a service manager shows (`systemctl status`: sd_notify STATUS=).
/// It names the time of the last poll rather than its age, so it changes only when something
/// happens and is sent only then.
public enum WorkerStatus {
    public enum Phase: Sendable, Equatable {
        case connecting
        case serving
        case draining
    }

    public static func text(
        phase: Phase, pool: String, inFlight: Int, limit: Int?, health: LoopHealth, healthy: Bool, now: Date
    ) -> String {
        let runs = "\(inFlight)\(limit.map { "/\($0)" } ?? "") flow run(s) in flight"
        switch phase {
        case .connecting:
            return "Connecting to the Prefect server for pool '\(pool)'"
        case .draining:
            return "Stopping: waiting for \(runs) to finish; claiming nothing new"
        case .serving:
            guard let lastPoll = health.lastPoll else { return "Serving pool '\(pool)': \(runs), first poll under way" }
            let trouble = healthy ? "" : "; the Prefect server is not answering"
            return "Serving pool '\(pool)': \(runs), last poll at \(clockTime(lastPoll)) UTC\(trouble)"
        }
    }

    /// `HH:MM:SS` of `date` in UTC.
    static func clockTime(_ date: Date) -> String {
        let seconds = Int(date.timeIntervalSince1970.rounded(.down)) % 86_400
        return [seconds / 3600, seconds / 60 % 60, seconds % 60].map { $0.zeroPadded(width: 2) }.joined(separator: ":")
    }
}
