import PrefectWorkerCore
import Testing

@Suite struct StateReportingTests {
    @Test(arguments: [
        (nil, StateReporting.engine),
        ("", .engine),
        ("python -m prefect.engine", .engine),
        ("prefect flow-run execute", .engine),
        ("echo hi", .worker),
    ] as [(String?, StateReporting)])
    func autoFromCommand(_ command: String?, _ expected: StateReporting) throws {
        #expect(try StateReporting.resolve(jobVariables: [:], command: command) == expected)
        #expect(try StateReporting.resolve(jobVariables: ["state_reporting": "auto"], command: command) == expected)
        #expect(try StateReporting.resolve(jobVariables: ["state_reporting": nil], command: command) == expected)
    }

    @Test(arguments: [("engine", StateReporting.engine), ("worker", .worker), ("WORKER", .worker)])
    func explicitChoiceWins(_ value: String, _ expected: StateReporting) throws {
        #expect(try StateReporting.resolve(jobVariables: ["state_reporting": .string(value)], command: "echo hi") == expected)
        #expect(try StateReporting.resolve(jobVariables: ["state_reporting": .string(value)], command: nil) == expected)
    }

    @Test func invalidStringThrows() {
        #expect(throws: JobConfigurationError.invalidStateReporting("bogus")) {
            try StateReporting.resolve(jobVariables: ["state_reporting": "bogus"], command: nil)
        }
    }

    @Test(arguments: [true, 3, ["engine"]] as [JSONValue])
    func nonStringThrows(_ value: JSONValue) {
        #expect(throws: JobConfigurationError.invalidStateReporting(value.compactJSONText)) {
            try StateReporting.resolve(jobVariables: ["state_reporting": value], command: nil)
        }
    }
}
