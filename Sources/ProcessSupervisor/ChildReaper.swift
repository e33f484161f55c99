import CProcessSpawn
import PrefectWorkerCore

#if canImport(Glibc)
import Glibc
#endif

/// The one place that calls `waitpid`: a thread blocked in `waitpid(-1)` collects every child that
/// ends, so exits are seen the moment they happen, orphans re-parented to the worker (as a
/// subreaper or as PID 1 in a container) never stay zombies, and the exit status of a supervised
/// child is handed to whoever waits for it. Nothing else in the worker may reap children.
///
/// (swift-subprocess reaps its own children through pidfds on a private monitor thread; that
/// cannot share the process with a `waitpid(-1)` reaper, which is why spawning is done here.)
/// `@unchecked`: its state is guarded by the `ConditionVariable` its thread waits on (a `Mutex`
/// cannot be waited on); every access holds it (docs/architecture.md, "Shared state").
public final class ChildReaper: @unchecked Sendable {
    public static let shared = ChildReaper()

    private let condition = ConditionVariable()
    private var waiters: [pid_t: CheckedContinuation<ProcessExit, Never>] = [:]
    private var supervised: Set<pid_t> = []
    private var exits: [pid_t: ProcessExit] = [:]
    private var orphansReaped = 0
    private var started = false
    /// Counts spawns, so the reaper can tell whether one happened while it found no child.
    private var spawns = 0

    /// Runs `spawn` (which starts a process and returns its pid) under the reaper's lock, so the
    /// child is registered before its exit can be collected.
    public func spawnSupervised(_ spawn: () throws -> pid_t) rethrows -> pid_t {
        condition.lock()
        defer { condition.unlock() }
        startIfNeeded()
        let pid = try spawn()
        supervised.insert(pid)
        spawns += 1
        condition.broadcast()
        return pid
    }

    /// Waits until the supervised child `pid` has exited, and returns how.
    public func waitForExit(of pid: pid_t) async -> ProcessExit {
        await withCheckedContinuation { continuation in
            condition.lock()
            defer { condition.unlock() }
            if let exit = exits.removeValue(forKey: pid) {
                supervised.remove(pid)
                continuation.resume(returning: exit)
            } else {
                waiters[pid] = continuation
            }
        }
    }

    /// Makes the worker a child subreaper (PR_SET_CHILD_SUBREAPER): a run's orphaned processes (a
    /// daemon it forked, a grandchild whose parent died) are re-parented to the worker instead of to
    /// PID 1, so the worker can still find, kill and reap them. Returns false where not permitted.
    @discardableResult
    public func becomeSubreaper() -> Bool {
        condition.lock()
        startIfNeeded()
        condition.unlock()
        return pw_set_child_subreaper() == 0
    }

    /// How many processes that were not supervised children (orphans) have been reaped.
    public var orphanCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return orphansReaped
    }

    private func startIfNeeded() {
        guard !started else { return }
        started = true
        startWorkerThread(name: "pw-reaper") { [self] in reapForever() }
    }

    private func reapForever() {
        let isInit = getpid() == 1
        while true {
            condition.lock()
            let spawnsBefore = spawns
            condition.unlock()
            var status: Int32 = 0
            let pid = waitpid(-1, &status, 0)
            if pid > 0 {
                deliver(pid: pid, exit: Self.decode(status))
            } else if errno == ECHILD {
                // No children, so no descendants whose orphans could become ours: sleep until a
                // spawn. As PID 1 of a container, processes entered from outside (`docker exec`)
                // are re-parented to us too, without a spawn: look again every second.
                condition.lock()
                if isInit {
                    if spawns == spawnsBefore { condition.wait(untilMonotonic: ConditionVariable.monotonicSeconds() + 1) }
                } else {
                    while spawns == spawnsBefore { condition.wait() }
                }
                condition.unlock()
            }
        }
    }

    private func deliver(pid: pid_t, exit: ProcessExit) {
        condition.lock()
        defer { condition.unlock() }
        if let waiter = waiters.removeValue(forKey: pid) {
            supervised.remove(pid)
            waiter.resume(returning: exit)
        } else if supervised.contains(pid) {
            exits[pid] = exit
        } else {
            orphansReaped += 1
        }
    }

    static func decode(_ status: Int32) -> ProcessExit {
        let signal = status & 0x7f
        if signal == 0 { return .exited(code: (status >> 8) & 0xff) }
        return .signaled(signal: signal)
    }
}
