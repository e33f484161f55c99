import PrefectWorkerCore
import Testing

@Suite struct PrefectSettingsFilesTests {
    typealias Source = PrefectSettingsFiles.Source

    /// As `prefect config set` and `prefect profile create foo` write it.
    let profiles = Source(path: "/h/profiles.toml", text: """
        active = "ephemeral"

        [profiles.ephemeral]
        PREFECT_SERVER_EPHEMERAL_ENABLED = "true"
        PREFECT_API_URL = "http://127.0.0.1:4200/api"
        PREFECT_WORKER_QUERY_SECONDS = "3"
        PREFECT_CLIENT_CUSTOM_HEADERS = "{\\"X-A\\": \\"b\\"}"

        [profiles.foo]

        [profiles."prod.eu"]
        prefect_api_url = "https://prod/api"
        PREFECT_CLIENT_RETRY_EXTRA_CODES = [404, 500]
        PREFECT_LOGGING_LEVEL = "DEBUG"
        """)

    func layers(
        env: [String: String] = [:], dotEnv: String? = nil, prefectToml: String? = nil, profiles: Source? = nil,
        requested: PrefectSettingsFiles.RequestedProfile? = nil
    ) throws -> SettingLayers {
        var layers = try SettingLayers(environment: env)
        layers.prefectFiles = try PrefectSettingsFiles.read(
            dotEnv: dotEnv.map { Source(path: "/w/.env", text: $0) }, prefectToml: prefectToml.map { Source(path: "/w/prefect.toml", text: $0) },
            profiles: profiles, profilesPath: profiles?.path ?? "/h/profiles.toml", requested: requested)
        return layers
    }

    @Test(arguments: [
        // (environment, .env, prefect.toml, profile, winner) — Prefect 3.8.8's order, verified with
        // `prefect config view --show-sources`: env > .env > prefect.toml > profile.
        (true, true, true, true, "env PREFECT_API_URL"),
        (false, true, true, true, "/w/.env line 1"),
        (false, false, true, true, "/w/prefect.toml line 2"),
        (false, false, false, true, "/h/profiles.toml line 5 (profile \"ephemeral\")"),
    ])
    func precedenceAmongPrefectsFiles(env: Bool, dotEnv: Bool, toml: Bool, profile: Bool, winner: String) throws {
        let layers = try self.layers(
            env: env ? ["PREFECT_API_URL": "http://env/api"] : [:], dotEnv: dotEnv ? "PREFECT_API_URL=http://dotenv/api\n" : nil,
            prefectToml: toml ? "[api]\nurl = \"http://toml/api\"\n" : nil, profiles: profile ? profiles : nil)
        #expect(layers.value("api_url")?.origin.description == winner)
    }

    @Test func theWorkersOwnFileBeatsPrefectsFiles() throws {
        var layers = try SettingLayers(file: (path: "/etc/w.toml", text: "query_seconds = 9\n"))
        layers.prefectFiles = try PrefectSettingsFiles.read(
            dotEnv: nil, prefectToml: nil, profiles: profiles, profilesPath: profiles.path, requested: nil)
        #expect(layers.value("query_seconds")?.text == "9")
        #expect(layers.value("api_url")?.text == "http://127.0.0.1:4200/api")
        #expect(layers.value("query_seconds")?.origin.rank == 2)
        #expect(layers.value("api_url")?.origin.rank == 3)
    }

    @Test func theActiveProfileOrTheRequestedOneIsRead() throws {
        #expect(try layers(profiles: profiles).value("query_seconds")?.text == "3")
        let prod = try layers(profiles: profiles, requested: .init(name: "prod.eu", label: "PREFECT_PROFILE", isFlag: false))
        #expect(prod.value("api_url")?.text == "https://prod/api", "keys match without regard to case; a quoted name may hold a dot")
        #expect(prod.value("client_retry_extra_codes")?.items == ["404", "500"])
        #expect(prod.value("logging_level")?.label == "/h/profiles.toml line 14 (profile \"prod.eu\"): PREFECT_LOGGING_LEVEL")
        #expect(prod.value("query_seconds") == nil, "another profile's values are not read")
        let empty = try layers(profiles: profiles, requested: .init(name: "foo", label: "--profile", isFlag: true))
        #expect(empty.value("api_url") == nil)
        #expect(empty.prefectFiles.profile?.name == "foo")
        #expect(empty.prefectFiles.warnings.isEmpty)
    }

    @Test func prefectsBuiltInLocalProfileHasTheLocalServer() throws {
        let local = try layers(requested: .init(name: "local", label: "PREFECT_PROFILE", isFlag: false))
        #expect(local.value("api_url")?.text == "http://127.0.0.1:4200/api")
        #expect(local.value("api_url")?.origin.description == "Prefect's built-in profiles (profile \"local\")")
        #expect(try layers().value("api_url") == nil, "no file: Prefect's ephemeral profile, which has no URL")
    }

    @Test func aMissingProfileIsAnErrorByFlagAndAWarningOtherwise() throws {
        #expect(throws: SettingsError.self) {
            _ = try layers(profiles: profiles, requested: .init(name: "nope", label: "--profile", isFlag: true))
        }
        let warned = try layers(profiles: profiles, requested: .init(name: "nope", label: "PREFECT_PROFILE", isFlag: false))
        #expect(warned.value("api_url") == nil)
        #expect(warned.prefectFiles.warnings == [
            "the active Prefect profile 'nope' (set by PREFECT_PROFILE) is not in /h/profiles.toml; no profile's settings are used"
        ])
    }

    @Test func aMalformedProfilesFileNamesFileAndLine() {
        let broken = Source(path: "/h/profiles.toml", text: "active = \"a\"\n[profiles.a]\nPREFECT_API_URL = http://x\n")
        do {
            _ = try layers(profiles: broken)
            Issue.record("expected an error")
        } catch let error as SettingsError {
            #expect("\(error)".hasPrefix("/h/profiles.toml line 3: "))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func prefectTomlTablesDottedKeysAndHeaderTables() throws {
        let toml = """
            profiles_path = "/elsewhere/profiles.toml"
            worker.query_seconds = "8"
            [worker.webserver]
            port = 9090
            [client]
            max_retries = 7
            [client.custom_headers]
            "X-A" = "b"
            """
        let layers = try self.layers(prefectToml: toml)
        #expect(layers.value("query_seconds")?.text == "8")
        #expect(layers.value("webserver_port")?.text == "9090")
        #expect(layers.value("client_max_retries")?.text == "7")
        #expect(layers.value("client_custom_headers")?.text == "{\"X-A\":\"b\"}")
        #expect(layers.value("pool") == nil, "the worker's own settings are not Prefect's: not read from Prefect's files")
    }

    @Test func theProfilesFileIsFoundWherePrefectLooks() throws {
        let home = "/home/u"
        let dotEnv = Source(path: "/w/.env", text: "PREFECT_PROFILES_PATH=/from/dotenv.toml\n")
        let toml = Source(path: "/w/prefect.toml", text: "profiles_path = \"/from/toml.toml\"\n")
        #expect(try PrefectSettingsFiles.profilesPath(given: "~/p.toml", home: nil, userHome: home, dotEnv: dotEnv, prefectToml: toml) == "/home/u/p.toml")
        #expect(try PrefectSettingsFiles.profilesPath(given: nil, home: nil, userHome: home, dotEnv: dotEnv, prefectToml: toml) == "/from/dotenv.toml")
        #expect(try PrefectSettingsFiles.profilesPath(given: nil, home: nil, userHome: home, dotEnv: nil, prefectToml: toml) == "/from/toml.toml")
        #expect(try PrefectSettingsFiles.profilesPath(given: nil, home: "/ph", userHome: home, dotEnv: nil, prefectToml: nil) == "/ph/profiles.toml")
        #expect(try PrefectSettingsFiles.profilesPath(given: nil, home: nil, userHome: home, dotEnv: nil, prefectToml: nil) == "/home/u/.prefect/profiles.toml")
    }

    @Test func dotEnvLinesAsPythonDotenvReadsThem() {
        let (entries, unreadable) = DotEnvFile.parse("""
            # comment
            PREFECT_API_URL=http://a/api # trailing comment
            export prefect_api_key = "k \\"q\\" #1"
            PREFECT_CLIENT_CUSTOM_HEADERS='{"X-A": "b"}'
            EMPTY=
            not a setting
            URL=http://x/#frag
            """)
        #expect(entries == [
            .init(key: "PREFECT_API_URL", value: "http://a/api", line: 2),
            .init(key: "PREFECT_API_KEY", value: "k \"q\" #1", line: 3),
            .init(key: "PREFECT_CLIENT_CUSTOM_HEADERS", value: "{\"X-A\": \"b\"}", line: 4),
            .init(key: "EMPTY", value: "", line: 5),
            .init(key: "URL", value: "http://x/#frag", line: 7),
        ])
        #expect(unreadable == [6])
    }
}
