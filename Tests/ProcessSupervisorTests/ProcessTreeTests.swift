import Foundation
import PrefectWorkerCore
import ProcessSupervisor
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Finding (and killing) a run's processes from /proc.
@Suite struct ProcessTreeTests {
    /// A child whose grandchild left the child's session with `setsid`; returns both pids.
    private func spawnTreeWithSetsidGrandchild(
        _ started: StartedProcesses, in directory: String
    ) async throws -> (child: ChildProcess, grandchild: pid_t) {
        let pidFile = directory + "/grandchild.pid"
        let lines = LineCollector()
        let child = try ChildProcess.spawn(
            shell("setsid sh -c 'echo $$ > \(pidFile); exec sleep 30' & echo ready; wait"), onOutput: lines.onOutput)
        started.add(child)
        _ = await eventually({ pidInFile(pidFile) != nil })
        let grandchild = try #require(pidInFile(pidFile), "output: \(lines.all)")
        started.add(grandchild)
        return (child, grandchild)
    }

    @Test func findsASetsidGrandchildByParentChain() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let started = StartedProcesses()
        defer { started.killAll() }

        let (child, grandchild) = try await spawnTreeWithSetsidGrandchild(started, in: directory)
        // The grandchild really is outside the child's session and group, so only the parent chain finds it.
        #expect(sessionId(of: grandchild) == grandchild)
        #expect(sessionId(of: child.pid) == child.pid)
        #expect(parentPid(of: grandchild) == child.pid)

        let found = ProcessTree.processes(descendingFrom: child.pid, marker: nil)
        #expect(found.contains(child.pid))
        #expect(found.contains(grandchild), "found \(found)")
        #expect(!found.contains(getpid()))

        await started.stop()
    }

    @Test func signalKillsEverythingFound() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let started = StartedProcesses()
        defer { started.killAll() }

        let (child, grandchild) = try await spawnTreeWithSetsidGrandchild(started, in: directory)
        let found = ProcessTree.processes(descendingFrom: child.pid, marker: nil)
        try #require(found.isSuperset(of: [child.pid, grandchild]), "found \(found)")

        // The child first: killed before its grandchild, it cannot exit and be reaped on its own
        // between the two kills (a set's order would otherwise decide, and ESRCH not count it).
        let signalled = ProcessTree.signal([child.pid], SIGKILL) + ProcessTree.signal(found.subtracting([child.pid]), SIGKILL)
        #expect(signalled == found.count)
        #expect(await eventually({ found.allSatisfy { !ProcessTree.isAlive($0) } }))
        // The child may see its grandchild die and exit on its own before its own SIGKILL lands.
        _ = await started.exit(of: child)
        #expect(ProcessTree.processes(descendingFrom: child.pid, marker: nil).isEmpty)

        await started.stop()
    }

    @Test func findsAProcessByMarkerAlone() async throws {
        let started = StartedProcesses()
        defer { started.killAll() }
        let id = UUID().uuidString
        let marker = "RUN_MARKER_TEST=\(id)"

        // The marked child starts a grandchild with an empty environment: found as the marked one's descendant.
        let markedLines = LineCollector()
        let marked = try ChildProcess.spawn(
            shell(
                "env -i /usr/bin/sleep 30 & echo $!; wait",
                environment: ["PATH": "/usr/bin:/bin", "RUN_MARKER_TEST": id]),
            onOutput: markedLines.onOutput)
        started.add(marked)
        // Same variable, a value that only starts with the marker's: not the run's.
        let unmarkedLines = LineCollector()
        let unmarked = try ChildProcess.spawn(
            shell("echo ready; exec sleep 30", environment: ["PATH": "/usr/bin:/bin", "RUN_MARKER_TEST": id + "-other"]),
            onOutput: unmarkedLines.onOutput)
        started.add(unmarked)

        _ = await eventually({ !markedLines.texts(.stdout).isEmpty && !unmarkedLines.texts(.stdout).isEmpty })
        let grandchild = try #require(markedLines.texts(.stdout).first.flatMap { pid_t($0) }, "output: \(markedLines.all)")
        started.add(grandchild)

        var found: Set<pid_t> = []
        #expect(
            await eventually({
                found = ProcessTree.processes(descendingFrom: nil, marker: marker)
                return found.isSuperset(of: [marked.pid, grandchild])
            }), "found \(found)")
        #expect(!found.contains(unmarked.pid))
        #expect(!found.contains(getpid()))
        #expect(found == [marked.pid, grandchild])

        await started.stop()
    }

    @Test func aMarkerNoProcessCarriesFindsNothing() {
        #expect(ProcessTree.processes(descendingFrom: nil, marker: "RUN_MARKER_TEST=\(UUID().uuidString)").isEmpty)
        #expect(ProcessTree.processes(descendingFrom: nil, marker: nil).isEmpty)
    }

    @Test func neverIncludesTheTestProcessItself() async throws {
        let started = StartedProcesses()
        defer { started.killAll() }
        let child = try ChildProcess.spawn(shell("exec sleep 30"))
        started.add(child)

        // As the root of the tree.
        var found: Set<pid_t> = []
        #expect(await eventually({
            found = ProcessTree.processes(descendingFrom: getpid(), marker: nil)
            return found.contains(child.pid)
        }))
        #expect(!found.contains(getpid()))

        // As a carrier of the marker: a variable from this process's own /proc environment.
        let environ = try #require(FileManager.default.contents(atPath: "/proc/self/environ"))
        let own = try #require(environ.split(separator: 0).first.flatMap { String(bytes: $0, encoding: .utf8) })
        #expect(!ProcessTree.processes(descendingFrom: nil, marker: own).contains(getpid()), "marker \(own)")

        await started.stop()
    }

    @Test func isAlive() async throws {
        #expect(ProcessTree.isAlive(getpid()))
        let child = try ChildProcess.spawn(shell("exit 0"))
        #expect(await exitOf(child) == .exited(code: 0))
        #expect(await eventually({ !ProcessTree.isAlive(child.pid) }))
    }

    @Test func signalCountsOnlyProcessesStillThere() async throws {
        let child = try ChildProcess.spawn(shell("exit 0"))
        #expect(await exitOf(child) == .exited(code: 0))
        #expect(ProcessTree.signal([child.pid], 0) == 0)
        #expect(ProcessTree.signal([], SIGKILL) == 0)
    }
}
