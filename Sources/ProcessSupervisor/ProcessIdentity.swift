import CProcessSpawn
import FoundationEssentials
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
/// that died): it cannot be waited for, so its end is noticed through a pidfd (Linux 5.3+; a
/// thread of its own blocks in `poll` on it until the process ends) or, without one, by looking
/// at /proc every 0.25 s. Its exit status is unknown.
public final class AdoptedProcess: Sendable {
    public let pid: Int32
    public let startTime: UInt64?

    public init(pid: Int32, startTime: UInt64?) {
        self.pid = pid
        self.startTime = startTime
    }

    public func waitUntilGone(clock: any WorkerClock, pollSeconds: Double = 0.25) async {
        let fd = pw_pidfd_open(pid)
        if fd >= 0 {
            // Opened first, checked second: the descriptor is the process with our start time.
            guard ProcessIdentity.isRunning(pid: pid, startTime: startTime) else {
                close(fd)
                return
            }
            let gone = Completion()
            startWorkerThread(name: "pw-adopted") {
                var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                while poll(&ready, 1, -1) < 0 && errno == EINTR {}
                close(fd)
                gone.complete()
            }
            while !Task.isCancelled, !(await gone.wait(upTo: 86_400, clock: clock)) {}
            return
        }
        while ProcessIdentity.isRunning(pid: pid, startTime: startTime), !Task.isCancelled {
            try? await clock.sleep(seconds: pollSeconds)
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
    /// Returns once the process is gone; waits (an output grace, a fallback poll) on `clock`.
    func waitForEnd(clock: any WorkerClock) async -> ProcessExit
    @discardableResult func signalGroup(_ signal: Int32) -> Bool
}

extension ChildProcess: SupervisedProcess {
    public func waitForEnd(clock: any WorkerClock) async -> ProcessExit { await waitForExit(clock: clock) }
}

extension AdoptedProcess: SupervisedProcess {
    public func waitForEnd(clock: any WorkerClock) async -> ProcessExit {
        await waitUntilGone(clock: clock)
        return .unknown
    }
}
