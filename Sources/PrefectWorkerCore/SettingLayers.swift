import FoundationEssentials

/// Where a setting's value came from.
public enum SettingOrigin: Sendable, Equatable {
    case flag(String)
    case environment(String)
    case file(path: String, line: Int)
    /// One of Prefect's files: a profile of the profiles file (line 0: Prefect's built-in
    /// profiles), `prefect.toml` or `.env`.
    case prefectFile(path: String, line: Int, profile: String?)

    /// How `config show` tells it: "flag --limit", "env PREFECT_WORKER_LIMIT", "/etc/… line 3",
    /// "/root/.prefect/profiles.toml line 4 (profile \"prod\")".
    public var description: String {
        switch self {
        case .flag(let flag): return "flag \(flag)"
        case .environment(let name): return "env \(name)"
        case .file(let path, let line): return "\(path) line \(line)"
        case .prefectFile(let path, let line, let profile):
            let place = line == 0 ? path : "\(path) line \(line)"
            return profile.map { "\(place) (profile \"\($0)\")" } ?? place
        }
    }

    /// Flag 0, environment 1, configuration file 2, Prefect's files 3: the lower wins.
    public var rank: Int {
        switch self {
        case .flag: return 0
        case .environment: return 1
        case .file: return 2
        case .prefectFile: return 3
        }
    }
}

/// One setting's value as given: its text (a list's items joined by commas), a list's items, and
/// the name an error about it uses ("--limit", "PREFECT_WORKER_LIMIT", "config.toml line 3: limit").
public struct SettingValue: Sendable, Equatable {
    public var text: String
    public var items: [String]
    public var origin: SettingOrigin
    public var label: String
}

/// The layers of the settings, highest first: flags, environment, configuration file; the default
/// is the caller's. Pure: the file's text is read by the caller. Building it checks the file: a
/// syntax error, an unknown key or a value of the wrong type is a `SettingsError` naming the
/// file, line and key.
public struct SettingLayers: Sendable {
    private var flags: [String: [String]]
    private var environment: [String: String]
    private var file: [String: ConfigEntry] = [:]
    private var filePath = ""
    /// Prefect's own files, below all of the worker's layers.
    public var prefectFiles = PrefectSettingsFiles()

    /// `flags`: values by setting key (several for a repeated list flag).
    public init(flags: [String: [String]] = [:], environment: [String: String] = [:], file: (path: String, text: String)? = nil) throws {
        self.flags = flags
        self.environment = environment
        guard let file else { return }
        filePath = file.path
        let entries: [ConfigEntry]
        do {
            entries = try ConfigFile.parse(file.text)
        } catch let error as ConfigFileError {
            throw SettingsError(setting: "\(file.path) line \(error.line):", problem: error.message)
        }
        for entry in entries {
            try Self.check(entry, path: file.path)
            self.file[entry.key] = entry
        }
    }

    /// The value of the setting `key` from the highest layer that has one; nil = the default.
    public func value(_ key: String) -> SettingValue? {
        guard let setting = SettingsCatalog.setting(key) else { return nil }
        if let given = flags[key], !given.isEmpty {
            let items = setting.kind == .list ? given.flatMap(Self.items) : given
            let label = setting.flag ?? key
            return SettingValue(text: items.joined(separator: ","), items: items, origin: .flag(label), label: label)
        }
        for name in [setting.environment] + setting.environmentAliases {
            guard let text = environment[name], !text.trimmingSpaces().isEmpty else { continue }
            let items = setting.kind == .list ? Self.items(text) : [text]
            return SettingValue(text: text, items: items, origin: .environment(name), label: name)
        }
        if let entry = file[key] {
            return Self.value(
                entry.value, kind: setting.kind, origin: .file(path: filePath, line: entry.line),
                label: "\(filePath) line \(entry.line): \(key)")
        }
        if let entry = prefectFiles.entries[key] {
            return Self.value(entry.value, kind: setting.kind, origin: entry.origin, label: "\(entry.origin.description): \(setting.environment)")
        }
        return nil
    }

    private static func value(_ value: ConfigValue, kind: Setting.Kind, origin: SettingOrigin, label: String) -> SettingValue {
        let items: [String]
        switch value {
        case .array(let values): items = values.compactMap(\.text)
        case .string(let text): items = kind == .list ? Self.items(text) : [text]
        default: items = value.text.map { [$0] } ?? []
        }
        return SettingValue(text: items.joined(separator: ","), items: items, origin: origin, label: label)
    }

    /// Comma-separated items, trimmed, empty ones dropped.
    static func items(_ text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmingSpaces() }.filter { !$0.isEmpty }
    }

    private static func check(_ entry: ConfigEntry, path: String) throws {
        let where_ = "\(path) line \(entry.line): \(entry.key)"
        guard let setting = SettingsCatalog.setting(entry.key) else {
            let hint = suggestion(for: entry.key).map { "did you mean \($0)? " } ?? ""
            throw SettingsError(setting: where_, problem: "is not a setting; \(hint)`prefect-worker config keys` lists them")
        }
        let fits: Bool
        switch (setting.kind, entry.value) {
        case (.string, .string), (.integer, .integer), (.number, .integer), (.number, .float), (.boolean, .bool),
             (.list, .string):
            fits = true
        case (.list, .array(let values)):
            fits = values.allSatisfy { if case .string = $0 { true } else { false } }
        default:
            fits = false
        }
        guard fits else {
            throw SettingsError(
                setting: where_, problem: "must be \(setting.kind.expected) (got \(describe(entry.value))); e.g. \(example(setting))")
        }
    }

    private static func describe(_ value: ConfigValue) -> String {
        switch value {
        case .string(let text): return "string \"\(text)\""
        case .integer(let number): return "integer \(number)"
        case .float(let number): return "float \(number)"
        case .bool(let flag): return "boolean \(flag)"
        case .array: return "an array"
        }
    }

    private static func example(_ setting: Setting) -> String {
        switch setting.kind {
        case .string: return "\(setting.key) = \"...\""
        case .integer: return "\(setting.key) = 4"
        case .number: return "\(setting.key) = 2.5"
        case .boolean: return "\(setting.key) = true"
        case .list: return "\(setting.key) = [\"a\", \"b\"]"
        }
    }

    /// The key meant by an environment variable's name or a near miss (edit distance up to 2).
    static func suggestion(for key: String) -> String? {
        if let byName = SettingsCatalog.all.first(where: { $0.environment == key || $0.environment == key.uppercased() }) {
            return byName.key
        }
        let normalized = key.lowercased().replacing("-", with: "_")
        let scored = SettingsCatalog.all.map { ($0.key, distance(normalized, $0.key)) }.min { $0.1 < $1.1 }
        guard let scored, scored.1 <= 2 else { return nil }
        return scored.0
    }

    /// Levenshtein distance.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var previous = Array(0...b.count)
        for (i, x) in a.enumerated() {
            var current = [i + 1]
            for (j, y) in b.enumerated() {
                current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1)))
            }
            previous = current
        }
        return previous[b.count]
    }
}
