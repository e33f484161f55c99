import PrefectWorkerCore
import Testing

@Suite struct RunTimeoutTests {
    @Test(arguments: [nil, 60] as [Double?])
    func missingGivesTheDefault(_ fallback: Double?) throws {
        #expect(try RunTimeout.resolve(jobVariables: [:], default: fallback) == fallback)
        #expect(try RunTimeout.resolve(jobVariables: ["other": .number(3)], default: fallback) == fallback)
    }

    @Test(arguments: [nil, 60] as [Double?])
    func nullMeansNoTimeout(_ fallback: Double?) throws {
        #expect(try RunTimeout.resolve(jobVariables: ["timeout_seconds": .null], default: fallback) == nil)
    }

    @Test(arguments: [
        (.number(5), 5), (.number(0.25), 0.25), (.string("7.5"), 7.5), (.string("12"), 12),
    ] as [(JSONValue, Double)])
    func valid(_ value: JSONValue, _ expected: Double) throws {
        #expect(try RunTimeout.resolve(jobVariables: ["timeout_seconds": value], default: 60) == expected)
    }

    @Test(arguments: [
        .number(0), .number(-1), .number(.infinity), .number(.nan), .string("soon"), .string("0"), .string("-3"), .string(""),
        .string("inf"), .string("nan"), .bool(true), .array([.number(1)]), .object(["s": .number(1)]),
    ] as [JSONValue])
    func invalidThrows(_ value: JSONValue) {
        #expect {
            try RunTimeout.resolve(jobVariables: ["timeout_seconds": value], default: 60)
        } throws: { error in
            guard case .invalidTimeout? = error as? JobConfigurationError else { return false }
            return true
        }
    }

    @Test func invalidNamesTheValue() {
        #expect(throws: JobConfigurationError.invalidTimeout("soon")) {
            try RunTimeout.resolve(jobVariables: ["timeout_seconds": .string("soon")], default: nil)
        }
        #expect(throws: JobConfigurationError.invalidTimeout("[1]")) {
            try RunTimeout.resolve(jobVariables: ["timeout_seconds": .array([.number(1)])], default: nil)
        }
    }

    @Test func jobVariableName() {
        #expect(RunTimeout.jobVariable == "timeout_seconds")
    }
}
