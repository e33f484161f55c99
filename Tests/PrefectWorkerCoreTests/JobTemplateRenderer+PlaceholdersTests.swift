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
    func blockAndVariableReferencesInTheTemplateThrow(_ reference: String) {
        let template = ProcessJobTemplate.default.setting(["job_configuration", "env"], to: ["SECRET": .string("{{ \(reference) }}")])
        #expect(throws: JobConfigurationError.unresolvedReference(field: "env.SECRET", placeholder: reference)) {
            try renderer.render(baseJobTemplate: template, values: [:])
        }
    }

    @Test
    func blockReferenceInJobVariablesThrows() {
        let values: [String: JSONValue] = ["env": ["SECRET": "{{ prefect.blocks.secret.api-key }}"]]
        #expect(throws: JobConfigurationError.self) {
            try renderer.render(baseJobTemplate: ProcessJobTemplate.default, values: values)
        }
    }
}
