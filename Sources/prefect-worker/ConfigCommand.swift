import ArgumentParser
import FoundationEssentials
import PrefectWorker
import PrefectWorkerCore

/// `prefect-worker config show|keys`.
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Show the effective configuration, or list every setting.",
        subcommands: [ShowConfigCommand.self, ListKeysCommand.self])
}

/// Prints every setting with its effective value and where it came from, secrets redacted, then
/// checks the whole (exit 2 with one line when a setting is wrong).
struct ShowConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print the effective configuration (flags > environment > file > default), secrets redacted.")

    @OptionGroup var options: WorkerOptions

    func run() throws {
        let environment = ProcessInfo.processInfo.environment
        let file = try ConfigFileLocation.load(flag: options.configFile, environment: environment)
        let settings = try SettingsResolver(flags: options.settings, environment: environment, configFile: file, prefectFiles: .current)
        print(EffectiveConfiguration.render(settings: settings, file: file?.path))
        for warning in settings.warnings { print("# warning: \(warning)") }
        _ = try settings.configuration()
        _ = try settings.logLevel()
    }
}

/// Prints the table of settings the README carries.
struct ListKeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "List every setting: file key, environment variable, flag, default.")

    func run() {
        print(SettingsCatalog.markdownTable, terminator: "")
    }
}
