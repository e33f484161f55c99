import PrefectWorkerCore
import ProcessSupervisor
import Testing

@Suite struct ChildProcessExitTests {
    @Test(arguments: [0, 3] as [Int32])
    func exitCodeIsReported(_ code: Int32) async throws {
        let child = try ChildProcess.spawn(shell("exit \(code)"))
        #expect(await exitOf(child) == .exited(code: code))
    }

    @Test func killedBySignalIsReported() async throws {
        let child = try ChildProcess.spawn(shell("kill -9 $$"))
        #expect(await exitOf(child) == .signaled(signal: 9))
    }

    @Test func manyChildrenEachGetTheirOwnExitCode() async throws {
        let children = try (0..<20).map { code in (Int32(code), try ChildProcess.spawn(shell("exit \(code)"))) }
        #expect(Set(children.map { $0.1.pid }).count == 20)
        let exits = await withTaskGroup(of: (Int32, ProcessExit?).self) { group in
            for (code, child) in children { group.addTask { (code, await exitOf(child)) } }
            var exits: [Int32: ProcessExit?] = [:]
            for await (code, exit) in group { exits[code] = exit }
            return exits
        }
        for code in 0..<Int32(20) {
            #expect(exits[code] == .some(.exited(code: code)), "child that ran exit \(code)")
        }
    }
}
