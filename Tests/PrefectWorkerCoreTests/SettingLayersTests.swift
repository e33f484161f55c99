import Foundation
import Testing

@testable import PrefectWorkerCore

@Suite struct SettingLayersTests {
    let file = (path: "/etc/prefect-worker/config.toml", text: """
        # the worker of team data
        pool = "from-file"
        limit = 2
        query_seconds = 4
        name = "file-name"
        work_queues = ["a", "b"]
        no_proxy = "localhost, .internal"
        """)

    /// flag > environment > file > default, for every combination of layers that give a value.
    @Test(arguments: [
        // (flag, env, in file, expected value, expected origin)
        ("7", "5", true, "7", "flag --limit"),
        (nil, "5", true, "5", "env PREFECT_WORKER_LIMIT"),
        ("7", nil, true, "7", "flag --limit"),
        (nil, nil, true, "2", "/etc/prefect-worker/config.toml line 3"),
        ("7", "5", false, "7", "flag --limit"),
        (nil, "5", false, "5", "env PREFECT_WORKER_LIMIT"),
    ] as [(String?, String?, Bool, String, String)])
    func precedence(flag: String?, env: String?, inFile: Bool, expected: String, origin: String) throws {
        let layers = try SettingLayers(
            flags: flag.map { ["limit": [$0]] } ?? [:], environment: env.map { ["PREFECT_WORKER_LIMIT": $0] } ?? [:],
            file: inFile ? file : nil)
        let value = try #require(layers.value("limit"))
        #expect(value.text == expected)
        #expect(value.origin.description == origin)
    }

    @Test func nothingGivenIsTheDefaultAndAnEmptyVariableIsNotGiven() throws {
        let layers = try SettingLayers(environment: ["PREFECT_WORKER_PREFETCH_SECONDS": "  "], file: file)
        #expect(layers.value("prefetch_seconds") == nil)
        #expect(layers.value("max_runs") == nil)
        #expect(layers.value("query_seconds")?.text == "4")
    }

    @Test func listsComeAsItemsFromEveryLayer() throws {
        let fromFile = try SettingLayers(file: file)
        #expect(fromFile.value("work_queues")?.items == ["a", "b"])
        #expect(fromFile.value("no_proxy")?.items == ["localhost", ".internal"])
        let fromEnv = try SettingLayers(environment: ["PREFECT_WORKER_WORK_QUEUES": "x, y,,z"], file: file)
        #expect(fromEnv.value("work_queues")?.items == ["x", "y", "z"])
        let fromFlags = try SettingLayers(flags: ["work_queues": ["q1", "q2"]], environment: ["PREFECT_WORKER_WORK_QUEUES": "x"])
        #expect(fromFlags.value("work_queues")?.items == ["q1", "q2"])
    }

    @Test func aLowercaseProxyVariableIsReadWhenTheUppercaseOneIsUnset() throws {
        let layers = try SettingLayers(environment: ["https_proxy": "http://proxy:3128"])
        #expect(layers.value("https_proxy")?.label == "https_proxy")
        let both = try SettingLayers(environment: ["https_proxy": "http://lower:1", "HTTPS_PROXY": "http://upper:2"])
        #expect(both.value("https_proxy")?.text == "http://upper:2")
    }

    @Test(arguments: [
        ("pool = \"p\"\nlimit = \"ten\"\n", "/c.toml line 2: limit", "must be an integer (got string \"ten\")"),
        ("pool = \"p\"\n\nevent_stream = \"no\"\n", "/c.toml line 3: event_stream", "must be true or false"),
        ("query_seconds = true\n", "/c.toml line 1: query_seconds", "must be a number"),
        ("work_queues = [1, 2]\n", "/c.toml line 1: work_queues", "must be an array of strings"),
        ("# ok\nqurey_seconds = 3\n", "/c.toml line 2: qurey_seconds", "is not a setting; did you mean query_seconds?"),
        ("PREFECT_WORKER_LIMIT = 3\n", "/c.toml line 1: PREFECT_WORKER_LIMIT", "did you mean limit?"),
        ("[worker]\nlimit = 3\n", "/c.toml line 2: worker.limit", "is not a setting"),
        ("pool = p\n", "/c.toml line 1:", "is not a TOML value"),
    ])
    func aBadFileIsOneLineNamingTheFileLineAndKey(text: String, setting: String, problem: String) {
        #expect {
            try SettingLayers(file: (path: "/c.toml", text: text))
        } throws: { error in
            guard let error = error as? SettingsError else { return false }
            return error.setting == setting && error.problem.contains(problem) && !"\(error)".contains("\n")
        }
    }

    @Test func theCatalogHasOneEntryPerKeyVariableAndFlagAndEverySecretHasAFileVariant() {
        let all = SettingsCatalog.all
        #expect(Set(all.map(\.key)).count == all.count)
        #expect(Set(all.map(\.environment)).count == all.count)
        let flags = all.compactMap(\.flag)
        #expect(Set(flags).count == flags.count)
        for setting in all where setting.flag == nil {
            #expect(setting.isSecret)
            #expect(SettingsCatalog.setting(setting.key + "_file")?.flag != nil)
        }
    }

    @Test func theReadmeCarriesTheSettingsTableExactly() throws {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../README.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        #expect(text.contains(SettingsCatalog.markdownTable), "README.md's settings table differs: paste `prefect-worker config keys`")
    }

    @Test func nearMissesAndVariableNamesAreSuggested() {
        #expect(SettingLayers.suggestion(for: "query-seconds") == "query_seconds")
        #expect(SettingLayers.suggestion(for: "PREFECT_API_URL") == "api_url")
        #expect(SettingLayers.suggestion(for: "completely_else") == nil)
    }
}
