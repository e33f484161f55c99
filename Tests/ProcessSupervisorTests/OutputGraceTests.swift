import PrefectAPI
import PrefectWorkerCore
import ProcessSupervisor
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The end of a run's output: a grandchild that keeps the pipes open must not hold the exit back
/// for longer than the output grace, and the wait blocks no thread.
@Suite struct OutputGraceTests {
    @Test func aGrandchildHoldingThePipeDelaysTheExitOnlyByTheGrace() async throws {
        let lines = LineCollector()
        let child = try ChildProcess.spawn(shell("sleep 30 & echo $!; echo done"), onOutput: lines.onOutput)
        let started = ContinuousClock.now
        let exit = await withDeadline { await child.waitForExit(outputGraceSeconds: 0.3, clock: EventLoopClock()) }
        let waited = ContinuousClock.now - started
        if let grandchild = lines.texts(.stdout).first.flatMap({ Int32($0) }) { kill(grandchild, SIGKILL) }
        #expect(exit == .exited(code: 0))
        #expect(waited < .seconds(5))
        #expect(lines.texts(.stdout).last == "done")
    }

    @Test func outputThatEndsWithTheChildIsAllThereAtItsExit() async throws {
        let lines = LineCollector()
        let child = try ChildProcess.spawn(shell("for i in 1 2 3 4 5; do echo line$i; done"), onOutput: lines.onOutput)
        #expect(await withDeadline { await child.waitForExit(outputGraceSeconds: 5, clock: EventLoopClock()) } == .exited(code: 0))
        #expect(lines.texts(.stdout) == ["line1", "line2", "line3", "line4", "line5"])
    }
}
