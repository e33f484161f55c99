import Foundation
import PrefectWorkerCore
import ProcessSupervisor
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Process groups and signals.
@Suite struct ChildProcessSessionTests {
    @Test func childLeadsItsOwnSessionAndGroup() async throws {
        let lines = LineCollector()
        // /proc/<pid>/stat: pid (comm) state ppid pgrp session ...
        let child = try ChildProcess.spawn(
            shell("read -r pid comm state ppid pgrp sid rest < /proc/$$/stat; echo $pid $pgrp $sid"),
            onOutput: lines.onOutput)
        #expect(await exitOf(child) == .exited(code: 0))
        #expect(lines.texts(.stdout) == ["\(child.pid) \(child.pid) \(child.pid)"])
    }

    @Test func childDoesNotInheritAnIgnoredSigterm() async throws {
        let previous = signal(SIGTERM, SIG_IGN)
        defer { signal(SIGTERM, previous) }
        let lines = LineCollector()
        let child = try ChildProcess.spawn(shell("echo ready; sleep 30"), onOutput: lines.onOutput)
        guard await eventually({ lines.texts(.stdout).contains("ready") }) else {
            child.signalGroup(SIGKILL)
            _ = await exitOf(child)
            return
        }
        #expect(child.signalGroup(SIGTERM))
        #expect(await exitOf(child) == .signaled(signal: SIGTERM))
    }

    @Test func signalGroupReachesAGrandchild() async throws {
        let lines = LineCollector()
        let child = try ChildProcess.spawn(shell("sleep 30 & echo $!; wait"), onOutput: lines.onOutput)
        guard await eventually({ !lines.texts(.stdout).isEmpty }),
            let grandchild = lines.texts(.stdout).first.flatMap({ Int32($0) })
        else {
            Issue.record("no grandchild pid in \(lines.all)")
            child.signalGroup(SIGKILL)
            _ = await exitOf(child)
            return
        }
        #expect(child.signalGroup(SIGKILL))
        #expect(await exitOf(child) == .signaled(signal: SIGKILL))
        #expect(await eventually({ Self.isGoneOrZombie(grandchild) }))
    }

    @Test func signalGroupOfAnExitedChildReturnsFalse() async throws {
        let child = try ChildProcess.spawn(shell("exit 0"))
        #expect(await exitOf(child) == .exited(code: 0))
        #expect(child.signalGroup(0) == false)
    }

    private static func isGoneOrZombie(_ pid: Int32) -> Bool {
        if kill(pid, 0) == -1 && errno == ESRCH { return true }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return true }
        return stat[stat.index(close, offsetBy: 2)...].hasPrefix("Z")
    }
}
