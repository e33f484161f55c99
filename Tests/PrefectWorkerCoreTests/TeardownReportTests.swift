import PrefectWorkerCore
import Testing

@Suite struct TeardownReportTests {
    @Test func sigtermExit() {
        let report = TeardownReport(finalSignal: 15, secondsToExit: 0.4, grace: 30)
        #expect(report.description == "process group terminated with SIGTERM after 0.4 s")
    }

    @Test func sigkillAfterTheFullGrace() {
        let report = TeardownReport(finalSignal: 9, secondsToExit: 30, grace: 30)
        #expect(report.description == "killed with SIGKILL after 30 s grace")
    }

    @Test func sigkillAtOnceIsNotDescribedAsGrace() {
        let report = TeardownReport(finalSignal: 9, secondsToExit: 0.1, grace: 30)
        #expect(report.description == "process group terminated with SIGKILL after 0.1 s")
    }

    @Test func engineNotConnected() {
        let report = TeardownReport(finalSignal: 9, secondsToExit: 0.1, grace: 30, engineAcknowledged: false)
        #expect(report.description.hasSuffix(" (the engine did not acknowledge on its control channel)"))
        #expect(report.description.hasPrefix("process group terminated with SIGKILL after 0.1 s"))
    }

    @Test(arguments: [nil, true] as [Bool?])
    func noEngineNoteUnlessNotAcknowledged(_ acknowledged: Bool?) {
        let report = TeardownReport(finalSignal: 15, secondsToExit: 0.4, grace: 30, engineAcknowledged: acknowledged)
        #expect(!report.description.contains("control channel"))
    }

    @Test func leftoversKilled() {
        let report = TeardownReport(finalSignal: 15, secondsToExit: 0.4, grace: 30, leftoversKilled: 2)
        #expect(report.description == "process group terminated with SIGTERM after 0.4 s; 2 leftover process(es) of the run killed")
    }

    @Test func allNotesTogether() {
        let report = TeardownReport(finalSignal: 9, secondsToExit: 30, grace: 30, engineAcknowledged: false, leftoversKilled: 1)
        #expect(
            report.description
                == "killed with SIGKILL after 30 s grace (the engine did not acknowledge on its control channel); 1 leftover process(es) of the run killed"
        )
    }

    @Test(arguments: [(0.04, "0"), (0.44, "0.4"), (2, "2"), (1.96, "2"), (9.94, "9.9"), (10, "10"), (12.6, "13"), (300, "300")] as [(Double, String)])
    func secondsFormatting(_ seconds: Double, _ text: String) {
        let report = TeardownReport(finalSignal: 15, secondsToExit: seconds, grace: 1000)
        #expect(report.description == "process group terminated with SIGTERM after \(text) s")
    }
}
