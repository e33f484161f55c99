import Logging

/// How a log record becomes journal fields: the pure part of the journal handler.
public enum JournalFields {
    /// A metadata key as a journal field name: upper case, every character but A-Z, 0-9 and `_`
    /// turned into `_`, and prefixed `PREFECT_` so the worker's fields never collide with the
    /// journal's own (`MESSAGE`, `PRIORITY`, `_PID`...) and are easy to find: `flow_run_id` is
    /// `PREFECT_FLOW_RUN_ID`. At most 64 characters, as journald requires.
    public static func name(forMetadataKey key: String) -> String {
        var name = String(key.uppercased().unicodeScalars.map { scalar -> Character in
            switch scalar {
            case "A"..."Z", "0"..."9", "_": return Character(scalar)
            default: return "_"
            }
        })
        if !name.hasPrefix("PREFECT_") { name = "PREFECT_" + name }
        return String(name.prefix(64))
    }

    /// syslog priorities (sd-daemon.h): a log level as the journal's PRIORITY.
    public static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }

    /// Every field of one entry, in the order they are sent: MESSAGE, PRIORITY, SYSLOG_IDENTIFIER,
    /// CODE_FILE, CODE_LINE, CODE_FUNC, then the metadata (the record's over the logger's), sorted.
    public static func entry(
        message: String, level: Logger.Level, identifier: String, file: String, line: UInt, function: String,
        metadata: Logger.Metadata
    ) -> [(name: String, value: String)] {
        var fields: [(name: String, value: String)] = [
            ("MESSAGE", message),
            ("PRIORITY", String(priority(level))),
            ("SYSLOG_IDENTIFIER", identifier),
            ("CODE_FILE", file),
            ("CODE_LINE", String(line)),
            ("CODE_FUNC", function),
        ]
        for key in metadata.keys.sorted() {
            fields.append((name(forMetadataKey: key), metadata[key]!.description))
        }
        return fields
    }
}
