import Foundation
import PrefectWorkerCore
import Testing

@Suite struct ProcessJobTemplateTests {
    @Test func defaultTemplateDecodes() throws {
        let decoded = try JSONDecoder().decode(JSONValue.self, from: Data(ProcessJobTemplate.jsonText.utf8))
        #expect(decoded == ProcessJobTemplate.default)
    }

    @Test func jobConfigurationHasTheSixKeys() throws {
        let jobConfiguration = try #require(ProcessJobTemplate.default["job_configuration"]?.objectValue)
        #expect(Set(jobConfiguration.keys) == ["command", "env", "labels", "name", "stream_output", "working_dir"])
        for (key, value) in jobConfiguration {
            #expect(value == .string("{{ \(key) }}"))
        }
    }

    @Test func variableDefaults() throws {
        let properties = try #require(ProcessJobTemplate.default["variables"]?["properties"]?.objectValue)
        #expect(properties["command"]?["default"] == .null)
        #expect(properties["stream_output"]?["default"] == true)
        #expect(properties["working_dir"]?["default"] == .null)
        #expect(properties["name"]?["default"] == .null)
        #expect(properties["env"]?["default"] == nil)
        #expect(properties["labels"]?["default"] == nil)
    }
}
