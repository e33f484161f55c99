import FoundationEssentials
import PrefectWorkerCore

/// `prefect-worker config show`: every setting as a line of TOML with where its value came from,
/// so the output can be pasted into a configuration file. Secrets are never printed.
public enum EffectiveConfiguration {
    public static let redacted = "<redacted>"

    public static func render(settings: SettingsResolver, file: String?) -> String {
        let profile = settings.prefectProfile.map { "profile \"\($0.name)\" of \($0.path)" } ?? "no Prefect profile"
        var lines = [
            "# prefect-worker settings: flag > environment > \(file ?? "no configuration file") > .env > prefect.toml > \(profile) > default"
        ]
        for setting in SettingsCatalog.all {
            guard let value = settings.value(setting.key) else {
                lines.append("# \(setting.key) = (default: \(setting.defaultText))")
                continue
            }
            let literal = setting.isSecret ? quoted(redacted) : tomlLiteral(value, kind: setting.kind)
            lines.append("\(setting.key) = \(literal)  # \(value.origin.description)")
        }
        return lines.joined(separator: "\n")
    }

    static func tomlLiteral(_ value: SettingValue, kind: Setting.Kind) -> String {
        let text = value.text.trimmingSpaces()
        switch kind {
        case .string: return quoted(value.text)
        case .integer: return Int(text).map(String.init) ?? quoted(value.text)
        case .number: return Double(text) != nil ? text : quoted(value.text)
        case .boolean:
            switch text.lowercased() {
            case "1", "true", "yes", "on": return "true"
            case "0", "false", "no", "off": return "false"
            default: return quoted(value.text)
            }
        case .list: return "[" + value.items.map(quoted).joined(separator: ", ") + "]"
        }
    }

    /// A TOML basic string: JSON's string escapes are TOML's too.
    static func quoted(_ text: String) -> String { JSONValue.quote(text) }
}
