import Foundation
import PrefectWorkerCore

#if canImport(Glibc)
import Glibc
#endif

/// A pid alone is not a process: pids are reused. A pid plus its start time (clock ticks since
/// boot, /proc/<pid>/stat field 22) is.
public enum ProcessIdentity {
    public static func startTime(of pid: Int32) -> UInt64? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state); field 22 (starttime) is fields[19].
        guard fields.count > 19, fields[0] != "Z" else { return nil }
        return UInt64(fields[19])
    }

    /// True when `pid` runs and is the process that started at `startTime`.
    public static func isRunning(pid: Int32, startTime: UInt64?) -> Bool {
        guard let current = self.startTime(of: pid) else { return false }
        return startTime == nil || startTime == current
    }
}

/// A run's process that this worker did not start (it was started by an earlier worker process
/// that died): it cannot be waited for, so its end is noticed by polling /proc, and its exit
/// status is unknown.
public final class AdoptedProcess: Sendable {
    public let pid: Int32
    public let startTime: UInt64?

    public init(pid: Int32, startTime: UInt64?) {
        self.pid = pid
        self.startTime = startTime
    }

    public func waitUntilGone(pollSeconds: Double = 0.25) async {
        while ProcessIdentity.isRunning(pid: pid, startTime: startTime) {
            try? await Task.sleep(nanoseconds: UInt64(pollSeconds * 1_000_000_000))
        }
    }

    @discardableResult
    public func signalGroup(_ signal: Int32) -> Bool {
        guard ProcessIdentity.isRunning(pid: pid, startTime: startTime) else { return false }
        return killpg(pid, signal) == 0
    }
}

/// What a run's supervisor needs of its process, whether the worker started it or adopted it.
public protocol SupervisedProcess: Sendable {
    var pid: Int32 { get }
    /// Returns once the process is gone.
    func waitForEnd() async -> ProcessExit
    @discardableResult func signalGroup(_ signal: Int32) -> Bool
}

extension ChildProcess: SupervisedProcess {
    public func waitForEnd() async -> ProcessExit { await waitForExit() }
}

extension AdoptedProcess: SupervisedProcess {
    public func waitForEnd() async -> ProcessExit {
        await waitUntilGone()
        return .unknown
    }
}
