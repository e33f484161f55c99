import FoundationEssentials

/// Prefect's own settings files, read as Prefect 3.8.8 reads them (`prefect/settings/sources.py`),
/// for the settings of the catalog that are Prefect's (`Setting.prefectPath`): `.env` in the
/// working directory beats `prefect.toml` there, which beats the active profile of the profiles
/// file. All of them sit below the worker's own layers (flag, environment, configuration file).
/// Pure: the caller reads the files. The decisions are in docs/settings.md.
public struct PrefectSettingsFiles: Sendable {
    /// A file's path and text.
    public struct Source: Sendable, Equatable {
        public var path: String
        public var text: String

        public init(path: String, text: String) {
            self.path = path
            self.text = text
        }
    }

    /// The profiles Prefect ships (`prefect/settings/profiles.toml`), used when the user's file
    /// does not name them; only the settings the worker reads are kept.
    public static let packagedProfiles: [String: [String: String]] = [
        "ephemeral": [:], "local": ["PREFECT_API_URL": "http://127.0.0.1:4200/api"], "test": [:], "cloud": [:],
    ]
    public static let packagedActiveProfile = "ephemeral"

    /// One value from Prefect's files.
    public struct Entry: Sendable, Equatable {
        public var value: ConfigValue
        public var origin: SettingOrigin
    }

    /// Values by setting key.
    public private(set) var entries: [String: Entry] = [:]
    /// Things Prefect would warn about too (a profile that does not exist, `.env` lines it cannot read).
    public private(set) var warnings: [String] = []
    /// The active profile and the file it is in, when one was read.
    public private(set) var profile: (name: String, path: String)?
    /// Every value of the active profile as text (all of Prefect's settings, not only the
    /// worker's): what an engine run would have read from it, carried into its per-run profile.
    public private(set) var profileValues: [String: String] = [:]

    public init() {}

    // MARK: - Where the profiles file is

    /// Prefect's order: `PREFECT_PROFILES_PATH` (the worker's own layers), then in `.env`, then
    /// `profiles_path` in `prefect.toml`, then `$PREFECT_HOME/profiles.toml` (default `~/.prefect`).
    public static func profilesPath(
        given: String?, home: String?, userHome: String, dotEnv: Source?, prefectToml: Source?
    ) throws -> String {
        if let given { return expand(given, userHome: userHome) }
        if let dotEnv, let entry = DotEnvFile.parse(dotEnv.text).entries.last(where: { $0.key == "PREFECT_PROFILES_PATH" }),
            !entry.value.isEmpty
        {
            return expand(entry.value, userHome: userHome)
        }
        if let prefectToml, let entry = try parseToml(prefectToml).entries.first(where: { $0.path == ["profiles_path"] }),
            case .string(let path) = entry.value
        {
            return expand(path, userHome: userHome)
        }
        return expand(home ?? "~/.prefect", userHome: userHome) + "/profiles.toml"
    }

    static func expand(_ path: String, userHome: String) -> String {
        if path == "~" { return userHome }
        if path.hasPrefix("~/") { return userHome + path.dropFirst() }
        return path
    }

    // MARK: - Reading

    /// How the profile to read was named, when it was: by `--profile` a missing one is an error
    /// (as `prefect --profile`), otherwise a warning and no profile (Prefect falls back to its
    /// empty default profile).
    public struct RequestedProfile: Sendable, Equatable {
        public var name: String
        public var label: String
        public var isFlag: Bool

        public init(name: String, label: String, isFlag: Bool) {
            self.name = name
            self.label = label
            self.isFlag = isFlag
        }
    }

    /// Reads the three files (any may be absent). A file that is not TOML is a `SettingsError`
    /// naming the file and line; settings the worker does not use are ignored.
    public static func read(
        dotEnv: Source?, prefectToml: Source?, profiles: Source?, profilesPath: String, requested: RequestedProfile?
    ) throws -> PrefectSettingsFiles {
        var files = PrefectSettingsFiles()
        try files.readProfile(profiles, path: profilesPath, requested: requested)
        if let prefectToml { try files.readPrefectToml(prefectToml) }
        if let dotEnv { files.readDotEnv(dotEnv) }
        return files
    }

    private mutating func readProfile(_ source: Source?, path: String, requested: RequestedProfile?) throws {
        var userProfiles: [String: [String: (value: ConfigValue, line: Int)]] = [:]
        var active: String?
        if let source {
            let (parsed, tables) = try Self.parseToml(source)
            for table in tables where table.count == 2 && table[0] == "profiles" { userProfiles[table[1], default: [:]] = [:] }
            for entry in parsed {
                if entry.path == ["active"], case .string(let name) = entry.value {
                    active = name
                } else if entry.path.count == 3, entry.path[0] == "profiles" {
                    // Keys are Prefect's variable names, matched without regard to case.
                    userProfiles[entry.path[1], default: [:]][entry.path[2].uppercased()] = (entry.value, entry.line)
                }
            }
        }
        // A profile of the user's file replaces the packaged one of that name.
        let profiles = Self.packagedProfiles.mapValues { $0.mapValues { (value: ConfigValue.string($0), line: 0) } }
            .merging(userProfiles) { _, user in user }
        let chosen = requested?.name ?? active ?? Self.packagedActiveProfile
        guard let values = profiles[chosen] else {
            let how = requested.map { "set by \($0.label)" } ?? "set in the profiles file"
            if let requested, requested.isFlag {
                throw SettingsError(setting: requested.label, problem: "names profile '\(chosen)', which is not in \(path); `prefect profile ls` lists them")
            }
            warnings.append("the active Prefect profile '\(chosen)' (\(how)) is not in \(path); no profile's settings are used")
            return
        }
        profile = (chosen, source?.path ?? path)
        profileValues = values.compactMapValues { $0.value.text }
        for setting in SettingsCatalog.all where setting.prefectPath != nil {
            guard let (value, line) = values[setting.environment] else { continue }
            let origin: SettingOrigin = line == 0
                ? .prefectFile(path: "Prefect's built-in profiles", line: 0, profile: chosen)
                : .prefectFile(path: source?.path ?? path, line: line, profile: chosen)
            entries[setting.key] = Entry(value: value, origin: origin)
        }
    }

    private mutating func readPrefectToml(_ source: Source) throws {
        let parsed = try Self.parseToml(source).entries
        var headers: [String: JSONValue] = [:]
        var headersLine = 0
        for setting in SettingsCatalog.all {
            guard let path = setting.prefectPath?.split(separator: ".").map(String.init) else { continue }
            if let entry = parsed.first(where: { $0.path == path }) {
                entries[setting.key] = Entry(value: entry.value, origin: .prefectFile(path: source.path, line: entry.line, profile: nil))
            }
        }
        // `[client.custom_headers]` as a table: its keys are the header names.
        for entry in parsed where entry.path.count == 3 && entry.path[0] == "client" && entry.path[1] == "custom_headers" {
            guard case .string(let value) = entry.value else { continue }
            headers[entry.path[2]] = .string(value)
            if headersLine == 0 { headersLine = entry.line }
        }
        if !headers.isEmpty {
            entries["client_custom_headers"] = Entry(
                value: .string(JSONValue.object(headers).compactJSONText),
                origin: .prefectFile(path: source.path, line: headersLine, profile: nil))
        }
    }

    private mutating func readDotEnv(_ source: Source) {
        let (parsed, unreadable) = DotEnvFile.parse(source.text)
        for line in unreadable { warnings.append("\(source.path) line \(line) is not KEY=VALUE; it is skipped") }
        for setting in SettingsCatalog.all where setting.prefectPath != nil {
            guard let entry = parsed.last(where: { $0.key == setting.environment }) else { continue }
            entries[setting.key] = Entry(value: .string(entry.value), origin: .prefectFile(path: source.path, line: entry.line, profile: nil))
        }
    }

    static func parseToml(_ source: Source) throws -> (entries: [ConfigEntry], tables: [[String]]) {
        do {
            return try ConfigFile.parseWithTables(source.text)
        } catch let error as ConfigFileError {
            throw SettingsError(setting: "\(source.path) line \(error.line):", problem: error.message)
        }
    }
}
