import Foundation
import Logging
import PrefectWorkerCore

/// One JSON object per record on stderr, for containers and log shippers: `timestamp`, `level`,
/// `message`, then every metadata key as it is (`flow_run_id`, `stream`, ...). The same records
/// the journal gets, with the same keys (lower case, without the `PREFECT_` prefix).
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?

    public init() {}

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let recordMetadata = event.metadata { merged.merge(recordMetadata) { _, new in new } }
        if let error = event.error { merged["error"] = "\(error)" }
        StderrWriter.write(Self.line(
            timestamp: RFC3339.format(Date()), level: event.level, message: event.message.description, metadata: merged))
    }

    static func line(timestamp: String, level: Logger.Level, message: String, metadata: Logger.Metadata) -> String {
        var out = "{\"timestamp\":\(quote(timestamp)),\"level\":\(quote(level.rawValue)),\"message\":\(quote(message))"
        for key in metadata.keys.sorted() where !["timestamp", "level", "message"].contains(key) {
            out += ",\(quote(key)):\(quote(metadata[key]!.description))"
        }
        return out + "}\n"
    }

    /// A JSON string literal; control characters and line separators are escaped, everything else
    /// is written as is.
    static func quote(_ text: String) -> String {
        var out = "\""
        out.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            // Control characters, and the line separators some readers split lines at.
            case _ where scalar.value < 0x20 || scalar.value == 0x7F || scalar.value == 0x85
                || scalar.value == 0x2028 || scalar.value == 0x2029:
                out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// Whole lines to stderr, one writer at a time, so records of concurrent runs never interleave.
enum StderrWriter {
    private static let lock = NSLock()

    static func write(_ line: String) {
        lock.withLock { FileHandle.standardError.write(Data(line.utf8)) }
    }
}
