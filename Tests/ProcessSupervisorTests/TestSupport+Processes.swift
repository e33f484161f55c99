import Foundation
import PrefectWorkerCore
import ProcessSupervisor
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Everything a test started, so it can be killed on the way out: `defer { started.killAll() }`
/// covers a thrown `#require` or an early return, and `await started.stop()` ends the normal path.
/// Wait for a recorded child with `started.exit(of:)`, never `exitOf` directly.
final class StartedProcesses: @unchecked Sendable {
    private let lock = NSLock()
    private var children: [ChildProcess] = []
    private var pids: Set<pid_t> = []

    func add(_ child: ChildProcess) {
        lock.lock(); children.append(child); lock.unlock()
    }

    func add(_ pid: pid_t) {
        lock.lock(); pids.insert(pid); lock.unlock()
    }

    /// The child's exit (see `exitOf`); it is then no longer waited for by `stop()`, since a
    /// supervised child's exit can be collected only once.
    func exit(of child: ChildProcess, sourceLocation: SourceLocation = #_sourceLocation) async -> ProcessExit? {
        remove(child)
        return await exitOf(child, sourceLocation: sourceLocation)
    }

    private func remove(_ child: ChildProcess) {
        lock.lock(); children.removeAll { $0 === child }; lock.unlock()
    }

    /// Drops a pid the test has already seen gone, so it is never signalled again.
    func forget(_ pid: pid_t) {
        lock.lock(); pids.remove(pid); lock.unlock()
    }

    /// SIGKILL to every recorded process group and every recorded pid still alive, then forgets
    /// them (for `defer`).
    func killAll() {
        let (children, pids) = take()
        children.forEach { $0.signalGroup(SIGKILL) }
        ProcessTree.signal(pids.filter(ProcessTree.isAlive), SIGKILL)
    }

    /// Kills everything and waits, bounded, until it is gone.
    func stop(sourceLocation: SourceLocation = #_sourceLocation) async {
        let (children, pids) = take()
        children.forEach { $0.signalGroup(SIGKILL) }
        ProcessTree.signal(pids.filter(ProcessTree.isAlive), SIGKILL)
        for child in children { _ = await exitOf(child, sourceLocation: sourceLocation) }
        _ = await eventually({ pids.allSatisfy { !ProcessTree.isAlive($0) } }, sourceLocation: sourceLocation)
    }

    private func take() -> ([ChildProcess], Set<pid_t>) {
        lock.lock()
        defer { children = []; pids = []; lock.unlock() }
        return (children, pids)
    }
}

/// The fields of /proc/<pid>/stat after the command name: [state, ppid, pgrp, session, ...].
func procStatFields(_ pid: pid_t) -> [Substring]? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
    else { return nil }
    return stat[stat.index(after: close)...].split(separator: " ")
}

/// Field 4 of /proc/<pid>/stat, the parent pid.
func parentPid(of pid: pid_t) -> pid_t? {
    procStatFields(pid).flatMap { $0.count > 1 ? pid_t($0[1]) : nil }
}

/// Field 6 of /proc/<pid>/stat, the session id.
func sessionId(of pid: pid_t) -> pid_t? {
    procStatFields(pid).flatMap { $0.count > 3 ? pid_t($0[3]) : nil }
}

/// A pid written (as a whole line) to `path`, once it is there.
func pidInFile(_ path: String) -> pid_t? {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8), text.hasSuffix("\n") else { return nil }
    return pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines))
}
