import PrefectWorkerCore
import Testing

@Suite struct JobTemplateRendererPlaceholderTests {
    let renderer = JobTemplateRenderer(workerEnvironment: ["HOME": "/home/worker"])

    private func template(workingDir: JSONValue) -> JSONValue {
        ProcessJobTemplate.default.setting(["job_configuration", "working_dir"], to: workingDir)
    }

    @Test func environmentPlaceholderInsideAStringReadsWorkerEnvironment() throws {
        let job = try renderer.render(baseJobTemplate: template(workingDir: "{{ $HOME }}/runs"), values: [:])
        #expect(job.workingDir == "/home/worker/runs")
    }

    @Test func environmentPlaceholderAloneReadsWorkerEnvironment() throws {
        let job = try renderer.render(baseJobTemplate: template(workingDir: "{{$HOME}}"), values: [:])
        #expect(job.workingDir == "/home/worker")
    }

    @Test func missingEnvironmentVariableBecomesEmpty() throws {
        let job = try renderer.render(baseJobTemplate: template(workingDir: "{{ $NOT_SET_ANYWHERE }}/runs"), values: [:])
        #expect(job.workingDir == "/runs")
    }

    @Test func nestedAndIndexedPlaceholders() throws {
        let values: [String: JSONValue] = ["cfg": ["dirs": ["/a", "/b"]], "n": 3]
        let job = try renderer.render(baseJobTemplate: template(workingDir: "{{ cfg.dirs[1] }}/{{ n }}"), values: values)
        #expect(job.workingDir == "/b/3")
    }

    @Test(arguments: ["prefect.blocks.x.y", "prefect.variables.v"])
    func blockAndVariableReferencesAreLeftForTheServerRead(_ reference: String) throws {
        let template = ProcessJobTemplate.default.setting(
            ["job_configuration", "env"], to: ["ALONE": .string("{{ \(reference) }}"), "INSIDE": .string("a-{{ \(reference) }}-{{ n }}")])
        let populated = try renderer.populate(baseJobTemplate: template, values: ["n": 1])
        #expect(populated["env"] == ["ALONE": .string("{{ \(reference) }}"), "INSIDE": .string("a-{{ \(reference) }}-1")])
    }

    @Test func referencesInJobVariablesArriveInTheFieldsTheyAreAppliedTo() throws {
        let values: [String: JSONValue] = ["env": ["SECRET": "{{ prefect.blocks.secret.api-key }}"], "working_dir": "{{ prefect.variables.dir }}"]
        let populated = try renderer.populate(baseJobTemplate: ProcessJobTemplate.default, values: values)
        #expect(populated["env"]?["SECRET"] == "{{ prefect.blocks.secret.api-key }}")
        #expect(populated["working_dir"] == "{{ prefect.variables.dir }}")
    }

    @Test(arguments: [
        (["on": true] as JSONValue, "True"), (["n": nil] as JSONValue, "None"), (["d": ["k": "v"]] as JSONValue, "{'k': 'v'}"),
    ])
    func aValueInsideALongerStringIsWrittenAsPythonsStr(_ values: JSONValue, _ expected: String) throws {
        let key = values.objectValue!.keys.first!
        let job = try renderer.render(baseJobTemplate: template(workingDir: .string("x={{ \(key) }}")), values: values.objectValue!)
        #expect(job.workingDir == "x=\(expected)")
    }
}
