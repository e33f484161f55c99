import PrefectWorkerCore
import Testing

/// Rows verified against Prefect 3.8.8 (`BaseJobConfiguration.from_template_and_values` after the
/// worker's deployment/flow-run job variable merge).
struct RenderCase: Sendable, CustomTestStringConvertible {
    var name: String
    var template: JSONValue = ProcessJobTemplate.default
    var deployment: [String: JSONValue]
    var flowRun: [String: JSONValue] = [:]
    var expected: JobConfiguration

    var testDescription: String { name }
}

private let prefectRows: [RenderCase] = [
    RenderCase(
        name: "env merged per key, other keys from the run",
        deployment: ["env": ["A": "dep", "S": "dep"]],
        flowRun: ["env": ["S": "run", "B": "run"], "working_dir": "/x"],
        expected: JobConfiguration(command: nil, env: ["A": "dep", "S": "run", "B": "run"], workingDir: "/x", streamOutput: true)),
    RenderCase(
        name: "deployment command kept, run env used",
        deployment: ["command": "echo hi"],
        flowRun: ["env": ["B": "run"]],
        expected: JobConfiguration(command: "echo hi", env: ["B": "run"])),
    RenderCase(
        name: "dotted key env.FOO merged with env",
        deployment: ["env.FOO": "1", "env": ["BAR": "2"]],
        expected: JobConfiguration(env: ["FOO": "1", "BAR": "2"])),
    RenderCase(
        name: "pool env default merged under deployment env",
        template: ProcessJobTemplate.default.setting(
            ["variables", "properties", "env", "default"], to: ["POOL": "pool-default", "S": "pool"]),
        deployment: ["env": ["S": "dep"]],
        expected: JobConfiguration(env: ["POOL": "pool-default", "S": "dep"])),
    RenderCase(
        name: "literal env with placeholder, missing placeholder in command is empty",
        template: ProcessJobTemplate.default
            .setting(["job_configuration", "env"], to: ["FIXED": "1", "FROM_VAR": "{{ myvar }}"])
            .setting(["job_configuration", "command"], to: "python -m prefect.engine --tag {{ name }}-{{ missing }}"),
        deployment: ["myvar": "v", "name": "nm"],
        expected: JobConfiguration(
            command: "python -m prefect.engine --tag nm-", env: ["FIXED": "1", "FROM_VAR": "v"], name: "nm")),
    RenderCase(
        name: "literal template env merged with deployment env",
        template: ProcessJobTemplate.default.setting(["job_configuration", "env"], to: ["FIXED": "1"]),
        deployment: ["env": ["A": "dep"]],
        expected: JobConfiguration(env: ["FIXED": "1", "A": "dep"])),
    RenderCase(
        name: "unknown variable ignored, stream_output false",
        deployment: ["foo": 1, "stream_output": false],
        expected: JobConfiguration(streamOutput: false)),
]

@Suite struct JobTemplateRendererTests {
    let renderer = JobTemplateRenderer()

    @Test(arguments: prefectRows)
    func rendersLikePrefect(_ row: RenderCase) throws {
        let values = JobTemplateRenderer.mergeJobVariables(deployment: row.deployment, flowRun: row.flowRun)
        let job = try renderer.render(baseJobTemplate: row.template, values: values)
        #expect(job == row.expected)
    }

    @Test func mergeKeepsDeploymentEnvWhenRunHasNone() {
        let merged = JobTemplateRenderer.mergeJobVariables(
            deployment: ["env": ["A": "dep"], "command": "a"], flowRun: ["command": "b"])
        #expect(merged == ["env": ["A": "dep"], "command": "b"])
    }

    @Test func mergeReplacesNonObjectDeploymentEnv() {
        let merged = JobTemplateRenderer.mergeJobVariables(deployment: ["env": nil], flowRun: ["env": ["B": "run"]])
        #expect(merged == ["env": ["B": "run"]])
    }

    @Test func emptyTemplateRendersLikeTheDefault() throws {
        let values: [String: JSONValue] = ["command": "echo hi", "env": ["A": "1"], "working_dir": "/w", "name": "n"]
        let fromEmpty = try renderer.render(baseJobTemplate: [:], values: values)
        let fromDefault = try renderer.render(baseJobTemplate: ProcessJobTemplate.default, values: values)
        #expect(fromEmpty == fromDefault)
        #expect(fromEmpty == JobConfiguration(command: "echo hi", env: ["A": "1"], workingDir: "/w", name: "n"))
    }

    @Test func templateWithoutJobConfigurationThrows() {
        let template: JSONValue = ["variables": ["properties": [:]]]
        #expect(throws: JobConfigurationError.templateMissingJobConfiguration) {
            try renderer.render(baseJobTemplate: template, values: [:])
        }
    }

    @Test func defaultTemplateWithNoValues() throws {
        #expect(try renderer.render(baseJobTemplate: ProcessJobTemplate.default, values: [:]) == JobConfiguration())
    }
}
