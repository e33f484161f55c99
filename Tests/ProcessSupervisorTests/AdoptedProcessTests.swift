import PrefectWorkerCore
import ProcessSupervisor
import Testing

/// A clock whose time never comes: a wait on it ends only by an event.
private struct FrozenClock: WorkerClock {
    var now: ContinuousClock.Instant { .now }
    func schedule(after delay: Duration, _ body: @escaping @Sendable () -> Void) -> ScheduledWake { ScheduledWake {} }
}

/// A process the worker did not start is waited for through its pidfd, not by polling.
@Suite struct AdoptedProcessTests {
    @Test func itsEndWakesTheWaitWithoutAnyTimer() async throws {
        let child = try ChildProcess.spawn(shell("exec sleep 30"))
        let adopted = AdoptedProcess(pid: child.pid, startTime: ProcessIdentity.startTime(of: child.pid))
        async let gone: Bool? = withDeadline { await adopted.waitUntilGone(clock: FrozenClock()); return true }
        // Still there: the wait goes on.
        #expect(ProcessIdentity.isRunning(pid: child.pid, startTime: adopted.startTime))
        child.signalGroup(15)
        #expect(await gone == true)
        _ = await exitOf(child)
    }

    @Test func aProcessThatIsAlreadyGoneReturnsAtOnce() async throws {
        let child = try ChildProcess.spawn(shell("exit 0"))
        let startTime = ProcessIdentity.startTime(of: child.pid)
        _ = await exitOf(child)
        let adopted = AdoptedProcess(pid: child.pid, startTime: startTime)
        #expect(await withDeadline { await adopted.waitUntilGone(clock: FrozenClock()); return true } == true)
    }
}
