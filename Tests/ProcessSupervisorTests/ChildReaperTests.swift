import Foundation
import PrefectWorkerCore
import ProcessSupervisor
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The subreaper: orphans of a run are re-parented to this process and reaped by `ChildReaper`.
@Suite struct ChildReaperTests {
    @Test func becomesSubreaperAndReapsAnOrphan() async throws {
        try #require(getuid() == 0, "these tests run as root")
        #expect(ChildReaper.shared.becomeSubreaper())

        let started = StartedProcesses()
        defer { started.killAll() }
        let lines = LineCollector()
        // The background sleep's output goes to /dev/null, so it does not hold the child's pipes open.
        let child = try ChildProcess.spawn(shell("sleep 30 >/dev/null 2>&1 & echo $!"), onOutput: lines.onOutput)
        started.add(child)
        #expect(await started.exit(of: child) == .exited(code: 0))
        let orphan = try #require(lines.texts(.stdout).first.flatMap { pid_t($0) }, "output: \(lines.all)")
        started.add(orphan)

        #expect(await eventually({ parentPid(of: orphan) == getpid() }), "ppid \(String(describing: parentPid(of: orphan)))")

        let before = ChildReaper.shared.orphanCount
        #expect(kill(orphan, SIGKILL) == 0)
        #expect(await eventually({ ChildReaper.shared.orphanCount > before }))
        // Gone from /proc, not a zombie: only this process could have reaped it.
        if await eventually({ !FileManager.default.fileExists(atPath: "/proc/\(orphan)") }) { started.forget(orphan) }

        await started.stop()
    }
}
