import PrefectWorkerCore
import Testing

@Suite struct ProcessExitTests {
    @Test(arguments: [
        (.exited(code: 0), "exited with code 0"),
        (.exited(code: 3), "exited with code 3"),
        (.exited(code: 127), "command not found"),
        (.exited(code: 137), "SIGKILL"),
        (.signaled(signal: 9), "killed by SIGKILL"),
        (.signaled(signal: 15), "killed by SIGTERM"),
    ] as [(ProcessExit, String)])
    func descriptionInWords(_ exit: ProcessExit, _ phrase: String) {
        #expect(exit.description.contains(phrase), "\(exit.description)")
    }

    @Test func exactDescriptions() {
        #expect(ProcessExit.exited(code: 0).description == "exited with code 0")
        #expect(ProcessExit.exited(code: 3).description == "exited with code 3")
        #expect(ProcessExit.signaled(signal: 15).description == "killed by SIGTERM")
    }

    @Test func onlyExitZeroIsSuccess() {
        #expect(ProcessExit.exited(code: 0).isSuccess)
        #expect(!ProcessExit.exited(code: 3).isSuccess)
        #expect(!ProcessExit.signaled(signal: 9).isSuccess)
    }

    @Test func signalNames() {
        #expect(SignalName.of(9) == "SIGKILL")
        #expect(SignalName.of(15) == "SIGTERM")
        #expect(SignalName.of(99) == "signal 99")
        #expect(ProcessExit.signaled(signal: 99).description == "killed by signal 99")
    }
}
