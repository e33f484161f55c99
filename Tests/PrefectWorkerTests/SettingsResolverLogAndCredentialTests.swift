import Foundation
import PrefectWorkerCore
import Testing

@testable import PrefectWorker

@Suite struct SettingsResolverLogAndCredentialTests {
    let base = ["PREFECT_API_URL": "http://127.0.0.1:4200/api"]

    @Test func aJournalFormatWithoutAJournalIsOneLineNamingTheSettingAndTheFix() {
        #expect {
            try SettingsResolver.logFormat(
                flag: "journal", env: [:], journalStreamIsStderr: false, stderrIsTerminal: false, journalSocketPresent: false)
        } throws: { error in
            let text = "\(error)"
            return text.hasPrefix("--log-format ") && text.contains("systemd-journald") && !text.contains("\n")
        }
    }

    @Test func autoFallsBackToJSONWhenJournalStreamIsSetButNoJournalListens() throws {
        #expect(try SettingsResolver.logFormat(
            flag: nil, env: [:], journalStreamIsStderr: true, stderrIsTerminal: false, journalSocketPresent: false) == .json)
        #expect(try SettingsResolver.logFormat(
            flag: "auto", env: [:], journalStreamIsStderr: true, stderrIsTerminal: false, journalSocketPresent: true) == .journal)
    }

    @Test func theFlagBeatsTheVariableAndAnUnknownValueNamesWhereItCameFrom() throws {
        let env = ["PREFECT_WORKER_LOG_FORMAT": "logfmt"]
        #expect(try SettingsResolver.logFormat(
            flag: "json", env: env, journalStreamIsStderr: true, stderrIsTerminal: true, journalSocketPresent: true) == .json)
        #expect(try SettingsResolver.logFormat(
            flag: nil, env: env, journalStreamIsStderr: true, stderrIsTerminal: false, journalSocketPresent: true) == .logfmt)
        #expect(throws: SettingsError(setting: "PREFECT_WORKER_LOG_FORMAT", problem: "is 'xml'; use auto, journal, json or logfmt")) {
            try SettingsResolver.logFormat(
                flag: nil, env: ["PREFECT_WORKER_LOG_FORMAT": "xml"], journalStreamIsStderr: false, stderrIsTerminal: false,
                journalSocketPresent: true)
        }
    }

    @Test func outputLimitsAndSwitchesFromTheEnvironment() throws {
        var env = base
        env["PREFECT_WORKER_OUTPUT_LINES_PER_SECOND"] = "0"
        env["PREFECT_WORKER_OUTPUT_BURST_LINES"] = "500"
        env["PREFECT_WORKER_OUTPUT_TO_API"] = "yes"
        let configuration = try SettingsResolver.resolve(flags: CommandLineSettings(pool: "p"), environment: env)
        #expect(configuration.outputLinesPerSecond == 0)
        #expect(configuration.outputBurstLines == 500)
        #expect(configuration.outputToAPI)
        let defaults = try SettingsResolver.resolve(flags: CommandLineSettings(pool: "p"), environment: base)
        #expect(defaults.outputLinesPerSecond == 10_000 && defaults.outputBurstLines == 100_000 && !defaults.outputToAPI)
    }

    @Test(arguments: [
        ("PREFECT_WORKER_OUTPUT_TO_API", "maybe"), ("PREFECT_WORKER_OUTPUT_BURST_LINES", "0"),
        ("PREFECT_WORKER_OUTPUT_LINES_PER_SECOND", "-1"), ("PREFECT_WORKER_PASS_CREDENTIALS_TO_RUNS", "2"),
    ])
    func aMalformedValueNamesItsVariable(_ name: String, _ value: String) {
        var env = base
        env[name] = value
        #expect {
            try SettingsResolver.resolve(flags: CommandLineSettings(pool: "p"), environment: env)
        } throws: { error in
            (error as? SettingsError)?.setting == name
        }
    }

    @Test func aCredentialFromTheCredentialsDirectoryAuthenticatesButStaysOutOfRuns() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "pnu_from_credential\n".write(toFile: "\(directory)/prefect-api-key", atomically: true, encoding: .utf8)
        var env = base
        env["CREDENTIALS_DIRECTORY"] = directory
        let configuration = try SettingsResolver.resolve(flags: CommandLineSettings(pool: "p"), environment: env)
        #expect(configuration.api.apiKey == "pnu_from_credential")
        #expect(configuration.passCredentialsToRuns == .auto)
        #expect(configuration.settingsEnvironment == ["PREFECT_API_URL": "http://127.0.0.1:4200/api"])

        env["PREFECT_WORKER_PASS_CREDENTIALS_TO_RUNS"] = "true"
        let passing = try SettingsResolver.resolve(flags: CommandLineSettings(pool: "p"), environment: env)
        #expect(passing.passCredentialsToRuns == .always)
        #expect(passing.credentialSettings["PREFECT_API_KEY"] == "pnu_from_credential")
        #expect(passing.settingsEnvironment["PREFECT_API_KEY"] == nil, "credentials are given per run, by how it reports")
    }

    @Test func theEnvironmentWinsOverACredentialAndNeitherIsPassedUnlessAskedFor() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "from-file".write(toFile: "\(directory)/prefect-api-key", atomically: true, encoding: .utf8)
        var env = base
        env["CREDENTIALS_DIRECTORY"] = directory
        env["PREFECT_API_KEY"] = "from-env"
        let configuration = try SettingsResolver.resolve(flags: CommandLineSettings(pool: "p"), environment: env)
        #expect(configuration.api.apiKey == "from-env")
        #expect(configuration.passCredentialsToRuns == .auto)
        #expect(configuration.settingsEnvironment["PREFECT_API_KEY"] == nil)
        env["PREFECT_WORKER_PASS_CREDENTIALS_TO_RUNS"] = "true"
        let passing = try SettingsResolver.resolve(flags: CommandLineSettings(pool: "p"), environment: env)
        #expect(passing.credentialSettings["PREFECT_API_KEY"] == "from-env")
    }

    @Test func secretsComeFromTheFilesTheFileVariablesName() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "pnu_from_file\n".write(toFile: "\(directory)/key", atomically: true, encoding: .utf8)
        try "admin:pw".write(toFile: "\(directory)/auth", atomically: true, encoding: .utf8)
        try #"{"X-Token": "t0k"}"#.write(toFile: "\(directory)/headers", atomically: true, encoding: .utf8)
        var env = base
        env["PREFECT_API_KEY_FILE"] = "\(directory)/key"
        env["PREFECT_API_AUTH_STRING_FILE"] = "\(directory)/auth"
        env["PREFECT_CLIENT_CUSTOM_HEADERS_FILE"] = "\(directory)/headers"
        let configuration = try SettingsResolver.resolve(flags: CommandLineSettings(pool: "p"), environment: env)
        #expect(configuration.api.apiKey == "pnu_from_file")
        #expect(configuration.api.authString == "admin:pw")
        #expect(configuration.api.customHeaders == ["X-Token": "t0k"])

        env["PREFECT_API_KEY"] = "also-set"
        #expect { try SettingsResolver.resolve(flags: CommandLineSettings(pool: "p"), environment: env) } throws: {
            (($0 as? SettingsError)?.setting == "PREFECT_API_KEY_FILE") && "\($0)".contains("keep one of them")
        }
        env["PREFECT_API_KEY"] = nil
        env["PREFECT_API_KEY_FILE"] = "\(directory)/missing"
        #expect { try SettingsResolver.resolve(flags: CommandLineSettings(pool: "p"), environment: env) } throws: {
            ($0 as? SettingsError)?.setting == "PREFECT_API_KEY_FILE"
        }
    }

    func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "credentials-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
