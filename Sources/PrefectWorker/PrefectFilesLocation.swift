import FoundationEssentials
import PrefectWorkerCore

/// Where Prefect's own settings files are for this process, and reading them (the decisions are
/// `PrefectSettingsFiles`'): `.env` and `prefect.toml` in the working directory, the profiles file
/// where Prefect would look for it. Files that do not exist are skipped; one that exists but
/// cannot be read is an error naming it.
public struct PrefectFilesLocation: Sendable {
    public var workingDirectory: String

    public init(workingDirectory: String) {
        self.workingDirectory = workingDirectory
    }

    /// The process's working directory, as Prefect uses it.
    public static var current: PrefectFilesLocation {
        PrefectFilesLocation(workingDirectory: FileManager.default.currentDirectoryPath)
    }

    func load(layers: SettingLayers, environment: [String: String]) throws -> PrefectSettingsFiles {
        let dotEnv = try read(workingDirectory + "/.env")
        let prefectToml = try read(workingDirectory + "/prefect.toml")
        let userHome = SettingsResolver.nonEmpty(environment["HOME"]) ?? FileManager.default.homeDirectoryForCurrentUser.path
        let path = try PrefectSettingsFiles.profilesPath(
            given: layers.value("prefect_profiles_path")?.text, home: layers.value("prefect_home")?.text, userHome: userHome,
            dotEnv: dotEnv, prefectToml: prefectToml)
        let profiles = try read(path)
        let requested = layers.value("prefect_profile").map {
            PrefectSettingsFiles.RequestedProfile(
                name: $0.text, label: $0.label, isFlag: { if case .flag = $0.origin { true } else { false } }($0))
        }
        return try PrefectSettingsFiles.read(
            dotEnv: dotEnv, prefectToml: prefectToml, profiles: profiles, profilesPath: path, requested: requested)
    }

    private func read(_ path: String) throws -> PrefectSettingsFiles.Source? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SettingsError(setting: path, problem: "cannot be read; check its permissions (Prefect's settings are read from it)")
        }
        return PrefectSettingsFiles.Source(path: path, text: String(decoding: data, as: UTF8.self))
    }
}
