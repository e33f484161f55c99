import Foundation
import PrefectWorkerCore
import ProcessSupervisor
import Testing

/// Working directory and environment of the child.
@Suite struct ChildProcessSpawnTests {
    @Test func childRunsInTheWorkingDirectory() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let lines = LineCollector()
        let child = try ChildProcess.spawn(shell("pwd -P", workingDirectory: directory), onOutput: lines.onOutput)
        #expect(await exitOf(child) == .exited(code: 0))
        let expected = URL(fileURLWithPath: directory).resolvingSymlinksInPath().path
        #expect(lines.texts(.stdout) == [expected])
    }

    @Test func missingWorkingDirectoryThrows() {
        let missing = "/nonexistent-\(UInt64.random(in: 0...UInt64.max))"
        #expect(throws: SpawnError.workingDirectoryMissing(path: missing)) {
            try ChildProcess.spawn(shell("true", workingDirectory: missing))
        }
    }

    @Test func fileAsWorkingDirectoryThrows() {
        #expect(throws: SpawnError.workingDirectoryNotADirectory(path: "/bin/sh")) {
            try ChildProcess.spawn(shell("true", workingDirectory: "/bin/sh"))
        }
    }

    @Test func childSeesOnlyTheGivenEnvironment() async throws {
        let inherited = try #require(
            ProcessInfo.processInfo.environment.keys.sorted().first { name in
                !["PATH", "FOO", "PWD", "SHLVL", "_"].contains(name) && name.first.map { !$0.isNumber } == true
                    && name.allSatisfy { $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }
            },
            "the test process needs one environment variable of its own")
        let lines = LineCollector()
        let child = try ChildProcess.spawn(
            shell(#"echo "FOO=$FOO"; echo "PARENT=${\#(inherited)-unset}"; env | sort"#,
                  environment: ["PATH": "/usr/bin:/bin", "FOO": "bar"]),
            onOutput: lines.onOutput)
        #expect(await exitOf(child) == .exited(code: 0))
        let stdout = lines.texts(.stdout)
        #expect(Array(stdout.prefix(2)) == ["FOO=bar", "PARENT=unset"])
        // Besides what sh itself sets (PWD), only the given variables.
        let names = Set(stdout.dropFirst(2).compactMap { $0.split(separator: "=").first.map(String.init) })
        #expect(names.subtracting(["PWD", "SHLVL", "_", "OLDPWD"]) == ["PATH", "FOO"])
    }
}
