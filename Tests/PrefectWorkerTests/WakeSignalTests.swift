import Foundation
import PrefectAPI
import Testing

@testable import PrefectWorker

@Suite struct WakeSignalTests {
    @Test func fireWakesAWaitingLoopBeforeItsInterval() async {
        let signal = WakeSignal(clock: EventLoopClock())
        let started = ContinuousClock.now
        async let waited: Void = signal.wait(upTo: 30)
        try? await Task.sleep(for: .milliseconds(50))
        signal.fire()
        await waited
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    @Test func aWakeUpWhileBusyIsKeptForTheNextWait() async {
        let signal = WakeSignal(clock: EventLoopClock())
        signal.fire()
        signal.fire()
        let started = ContinuousClock.now
        await signal.wait(upTo: 30)  // returns at once: the kept wake-up (the two count as one)
        #expect(ContinuousClock.now - started < .seconds(10))
        let second = ContinuousClock.now
        await signal.wait(upTo: 0.2)  // nothing kept now: waits out its interval
        #expect(ContinuousClock.now - second >= .milliseconds(190))
    }

    @Test func theIntervalEndsTheWait() async {
        let signal = WakeSignal(clock: EventLoopClock())
        let started = ContinuousClock.now
        await signal.wait(upTo: 0.1)
        await signal.wait(upTo: 0)
        #expect(ContinuousClock.now - started >= .milliseconds(95))
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    @Test func cancellingTheTaskEndsTheWait() async {
        let signal = WakeSignal(clock: EventLoopClock())
        let started = ContinuousClock.now
        let waiter = Task { await signal.wait(upTo: 30) }
        try? await Task.sleep(for: .milliseconds(50))
        waiter.cancel()
        await waiter.value
        #expect(ContinuousClock.now - started < .seconds(10))
    }
}
