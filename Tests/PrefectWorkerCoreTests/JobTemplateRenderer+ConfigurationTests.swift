import PrefectWorkerCore
import Testing

/// The coercions applied when the rendered `job_configuration` becomes a `JobConfiguration`.
@Suite struct JobTemplateRendererConfigurationTests {
    let renderer = JobTemplateRenderer()

    private func render(_ values: [String: JSONValue]) throws -> JobConfiguration {
        try renderer.render(baseJobTemplate: ProcessJobTemplate.default, values: values)
    }

    @Test func nullEnvValueStaysNil() throws {
        let job = try render(["env": ["GONE": nil, "KEPT": "1"]])
        #expect(job.env == ["GONE": nil, "KEPT": "1"])
        #expect(job.env.keys.contains("GONE"))
    }

    @Test func nonStringEnvValuesAreStringified() throws {
        let job = try render(["env": ["T": true, "F": false, "N": 3, "D": .number(1.5)]])
        #expect(job.env == ["T": "True", "F": "False", "N": "3", "D": "1.5"])
    }

    @Test func emptyCommandIsNil() throws {
        #expect(try render(["command": ""]).command == nil)
    }

    @Test(arguments: [("false", false), ("true", true), ("0", false), ("1", true)] as [(JSONValue, Bool)])
    func streamOutputStringsAreBooleans(_ value: JSONValue, _ expected: Bool) throws {
        #expect(try render(["stream_output": value]).streamOutput == expected)
    }

    @Test func numericCommandIsWrongType() {
        #expect(throws: JobConfigurationError.wrongType(field: "command", expected: "a string or null", found: "a number (3)")) {
            try render(["command": 3])
        }
    }

    @Test func wrongTypedEnvThrows() {
        #expect(throws: JobConfigurationError.wrongType(field: "env", expected: "an object of strings", found: "a string (\"A=1\")")) {
            try render(["env": "A=1"])
        }
    }

    @Test func labelsAreRead() throws {
        #expect(try render(["labels": ["team": "data"]]).labels == ["team": "data"])
    }
}
