import Foundation
import PrefectWorkerCore
import ProcessSupervisor
import Testing

/// Commands that cannot be started fail at spawn with a `SpawnError`.
@Suite struct ExecutableResolverTests {
    private func spec(_ arguments: [String], path: String = "/usr/bin:/bin", workingDirectory: String? = nil) -> ChildProcessSpec {
        ChildProcessSpec(arguments: arguments, environment: ["PATH": path], workingDirectory: workingDirectory)
    }

    @Test func commandNotOnPathThrows() {
        #expect(throws: SpawnError.executableNotFound(name: "no-such-command-pw", searchPath: "/usr/bin:/bin")) {
            try ChildProcess.spawn(spec(["no-such-command-pw"]))
        }
    }

    @Test func nonExecutableFileThrows() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let script = directory + "/script.sh"
        try writeFile(script, "#!/bin/sh\nexit 0\n", mode: 0o644)
        #expect(throws: SpawnError.notExecutable(path: script)) { try ChildProcess.spawn(spec([script])) }
        #expect(throws: SpawnError.notExecutable(path: script)) { try ChildProcess.spawn(spec(["script.sh"], path: directory)) }
    }

    @Test func missingPathWithSlashThrows() {
        #expect(throws: SpawnError.noSuchFile(path: "./missing-pw-command")) {
            try ChildProcess.spawn(spec(["./missing-pw-command"], workingDirectory: "/"))
        }
        #expect(throws: SpawnError.noSuchFile(path: "/nonexistent/pw/cmd")) {
            try ChildProcess.spawn(spec(["/nonexistent/pw/cmd"]))
        }
    }

    @Test func directoryThrows() {
        #expect(throws: SpawnError.isDirectory(path: "/usr")) { try ChildProcess.spawn(spec(["/usr"])) }
    }

    @Test func emptyCommandThrows() {
        #expect(throws: SpawnError.emptyCommand) { try ChildProcess.spawn(spec([])) }
    }

    @Test func relativePathIsResolvedAgainstTheWorkingDirectory() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try writeFile(directory + "/run.sh", "#!/bin/sh\nexit 7\n", mode: 0o755)
        let child = try ChildProcess.spawn(spec(["./run.sh"], workingDirectory: directory))
        #expect(await exitOf(child) == .exited(code: 7))
    }

    @Test func nameIsSearchedOnTheChildsPath() throws {
        #expect(try ExecutableResolver.resolve("sh", path: "/nonexistent:/bin", workingDirectory: nil) == "/bin/sh")
    }
}
