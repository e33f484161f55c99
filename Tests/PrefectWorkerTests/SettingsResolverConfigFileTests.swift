import Foundation
import PrefectWorkerCore
import Testing

@testable import PrefectWorker

@Suite struct SettingsResolverConfigFileTests {
    let path = "/etc/prefect-worker/config.toml"

    func resolve(_ text: String, env: [String: String] = [:], flags: CommandLineSettings = CommandLineSettings()) throws
        -> WorkerConfiguration
    {
        try SettingsResolver(flags: flags, environment: env, configFile: (path: path, text: text)).configuration()
    }

    @Test func theFileFillsWhatNeitherFlagsNorEnvironmentGive() throws {
        let text = """
            api_url = "http://127.0.0.1:4200/api"
            pool = "file-pool"
            limit = 3
            query_seconds = 2.5
            work_queues = ["critical", "default"]
            with_metrics = true
            webserver_port = 9100
            env_deny = ["AWS_*"]
            """
        var flags = CommandLineSettings()
        flags.set("limit", 9)
        let configuration = try resolve(text, env: ["PREFECT_WORKER_QUERY_SECONDS": "1"], flags: flags)
        #expect(configuration.poolName == "file-pool")
        #expect(configuration.limit == 9)
        #expect(configuration.querySeconds == 1)
        #expect(configuration.workQueues == ["critical", "default"])
        #expect(configuration.healthcheck == HealthcheckAddress(host: "127.0.0.1", port: 9100))
        #expect(configuration.environmentPolicy.deny == ["AWS_*"])
        #expect(configuration.heartbeatSeconds == 30)
    }

    @Test func aBadValueFromTheFileNamesTheFileLineAndKey() {
        let text = "api_url = \"http://127.0.0.1:4200/api\"\npool = \"p\"\nlimit = 0\n"
        #expect(throws: SettingsError(
            setting: "\(path) line 3: limit", problem: "must be a whole number of at least 1 (got '0'); omit it for no limit")) {
            try resolve(text)
        }
    }

    @Test func aSecretInTheFileIsUsedAndItsFileVariableFromTheEnvironmentWins() throws {
        let directory = NSTemporaryDirectory() + "secret-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "from-key-file\n".write(toFile: "\(directory)/key", atomically: true, encoding: .utf8)
        let text = "api_url = \"http://127.0.0.1:4200/api\"\npool = \"p\"\napi_key = \"from-config\"\n"
        #expect(try resolve(text).api.apiKey == "from-config")
        #expect(try resolve(text, env: ["PREFECT_API_KEY_FILE": "\(directory)/key"]).api.apiKey == "from-key-file")
        #expect {
            try resolve(text + "api_key_file = \"\(directory)/key\"\n")
        } throws: { error in
            "\(error)" == "\(path) line 4: api_key_file is set and so is \(path) line 3: api_key; keep one of them"
        }
    }

    @Test func theProxyFollowsTheSchemeAndNoProxy() throws {
        let base = "pool = \"p\"\nhttps_proxy = \"http://user:pw@127.0.0.1:3128\"\nhttp_proxy = \"127.0.0.1:8888\"\n"
        let https = try resolve(base + "api_url = \"https://prefect.example.com/api\"\n")
        #expect(https.api.proxy == ProxySetting(host: "127.0.0.1", port: 3128, credentials: "user:pw"))
        let http = try resolve(base + "api_url = \"http://prefect.example.com/api\"\n")
        #expect(http.api.proxy == ProxySetting(host: "127.0.0.1", port: 8888))
        let bypassed = try resolve(base + "api_url = \"https://prefect.example.com/api\"\nno_proxy = [\"example.com\"]\n")
        #expect(bypassed.api.proxy == nil)
        #expect(throws: SettingsError.self) {
            try resolve("pool = \"p\"\napi_url = \"http://h/api\"\nhttp_proxy = \"socks5://h:1\"\n")
        }
    }

    @Test func theCAFileMustBeReadableAndIsPassedToRunsWithTheInsecureSwitch() throws {
        let text = "pool = \"p\"\napi_url = \"https://127.0.0.1:4443/api\"\napi_tls_insecure_skip_verify = true\n"
        let configuration = try resolve(text)
        #expect(configuration.api.tls.insecureSkipVerify)
        #expect(configuration.settingsEnvironment["PREFECT_API_TLS_INSECURE_SKIP_VERIFY"] == "true")
        #expect {
            try resolve(text + "api_ssl_cert_file = \"/nonexistent/ca.pem\"\n")
        } throws: { error in
            (error as? SettingsError)?.setting == "\(path) line 4: api_ssl_cert_file"
        }
    }

    @Test func showRedactsSecretsAndSaysWhereEachValueCameFrom() throws {
        let text = "pool = \"p\"\napi_key = \"pnu_secret\"\nlimit = 4\n"
        var flags = CommandLineSettings()
        flags.set("query_seconds", 2)
        let settings = try SettingsResolver(
            flags: flags, environment: ["PREFECT_API_URL": "http://127.0.0.1:4200/api", "PREFECT_API_AUTH_STRING": "admin:pw"],
            configFile: (path: path, text: text))
        let shown = EffectiveConfiguration.render(settings: settings, file: path)
        #expect(!shown.contains("pnu_secret") && !shown.contains("admin:pw"))
        #expect(shown.contains("api_key = \"<redacted>\"  # \(path) line 2"))
        #expect(shown.contains("api_auth_string = \"<redacted>\"  # env PREFECT_API_AUTH_STRING"))
        #expect(shown.contains("limit = 4  # \(path) line 3"))
        #expect(shown.contains("query_seconds = 2  # flag --query-seconds"))
        #expect(shown.contains("# max_runs = (default: none)"))
    }
}
