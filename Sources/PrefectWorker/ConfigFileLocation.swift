import FoundationEssentials
import PrefectWorkerCore

/// Which configuration file is read: `--config`, else `PREFECT_WORKER_CONFIG`, else
/// `/etc/prefect-worker/config.toml` when it exists. A file named explicitly must be readable.
public enum ConfigFileLocation {
    public static func load(flag: String?, environment: [String: String]) throws -> (path: String, text: String)? {
        let (setting, named) = flag != nil
            ? (SettingsCatalog.configFileFlag, flag)
            : (SettingsCatalog.configFileEnvironment, SettingsResolver.nonEmpty(environment[SettingsCatalog.configFileEnvironment]))
        guard let path = named else {
            let fallback = SettingsCatalog.defaultConfigFile
            guard FileManager.default.fileExists(atPath: fallback) else { return nil }
            return (fallback, try read(fallback, setting: "the default configuration file"))
        }
        return (path, try read(path, setting: setting))
    }

    private static func read(_ path: String, setting: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SettingsError(setting: setting, problem: "names '\(path)', which cannot be read; check the path and its permissions")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw SettingsError(setting: setting, problem: "names '\(path)', which is not UTF-8 text")
        }
        return text
    }
}
