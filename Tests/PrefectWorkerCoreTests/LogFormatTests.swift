import PrefectWorkerCore
import Testing

@Suite struct LogFormatTests {
    @Test(arguments: [
        (nil, true, false, LogFormat.journal),
        ("auto", true, true, .journal),
        (nil, false, true, .logfmt),
        ("", false, false, .json),
        ("AUTO", false, false, .json),
        ("json", true, true, .json),
        ("logfmt", true, false, .logfmt),
        ("journal", false, false, .journal),
    ] as [(String?, Bool, Bool, LogFormat)])
    func autoFollowsTheJournalStreamThenTheTerminal(_ requested: String?, _ journal: Bool, _ terminal: Bool, _ expected: LogFormat) {
        #expect(LogFormat.resolve(requested: requested, journalStreamIsStderr: journal, stderrIsTerminal: terminal) == expected)
    }

    @Test func anUnknownFormatIsRefused() {
        #expect(LogFormat.resolve(requested: "xml", journalStreamIsStderr: false, stderrIsTerminal: false) == nil)
    }

    @Test(arguments: [
        (nil, false, false), (JSONValue.null, true, true), (.bool(true), false, true), (.bool(false), true, false),
        (.string("true"), false, true), (.string("no"), true, false),
    ] as [(JSONValue?, Bool, Bool)])
    func outputToAPIFromTheJobVariableElseTheSetting(_ value: JSONValue?, _ fallback: Bool, _ expected: Bool) throws {
        var variables: [String: JSONValue] = [:]
        if let value { variables["output_to_api"] = value }
        #expect(try OutputToAPI.resolve(jobVariables: variables, default: fallback) == expected)
    }

    @Test func aWrongOutputToAPIValueNamesTheVariable() {
        #expect(throws: JobConfigurationError.invalidOutputToAPI("3")) {
            try OutputToAPI.resolve(jobVariables: ["output_to_api": .number(3)], default: false)
        }
        #expect(JobConfigurationError.invalidOutputToAPI("3").description.contains("'output_to_api'"))
    }
}
