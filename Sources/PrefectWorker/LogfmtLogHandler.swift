import FoundationEssentials
import Logging
import PrefectWorkerCore
import Systemd

/// One line per record on stderr: `time=… level=… msg="…" key=value …`, so both a person and
/// `grep flow_run_id=…` can read it: the format for a person at a terminal.
public struct LogfmtLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?

    /// `label` is swift-log's logger name; one line format serves every logger, so it is not shown.
    public init(label: String) {}

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = "time=\(Self.timestamp()) level=\(event.level) msg=\(Self.quote(event.message.description))"
        let merged = event.mergedMetadata(over: metadata, provider: metadataProvider)
        for key in merged.keys.sorted() {
            fields += " \(key)=\(Self.quote(merged[key]!.description))"
        }
        StderrWriter.write(fields + "\n")
    }

    static func quote(_ value: String) -> String {
        let needsQuotes = value.isEmpty || value.contains { $0 == " " || $0 == "\"" || $0 == "=" || $0.isNewline || $0 == "\\" }
        guard needsQuotes else { return value }
        var out = "\""
        for character in value {
            switch character {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default: out.append(character)
            }
        }
        return out + "\""
    }

    static func timestamp() -> String {
        RFC3339.format(Date())
    }
}
