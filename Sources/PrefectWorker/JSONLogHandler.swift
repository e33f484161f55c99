import FoundationEssentials
import Logging
import PrefectWorkerCore
import Systemd

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
        let merged = event.mergedMetadata(over: metadata, provider: metadataProvider)
        StderrWriter.write(Self.line(
            timestamp: RFC3339.format(Date()), level: event.level, message: event.message.description, metadata: merged))
    }

    static func line(timestamp: String, level: Logger.Level, message: String, metadata: Logger.Metadata) -> String {
        var out = "{\"timestamp\":\(JSONValue.quote(timestamp)),\"level\":\(JSONValue.quote(level.rawValue)),\"message\":\(JSONValue.quote(message))"
        for key in metadata.keys.sorted() where !["timestamp", "level", "message"].contains(key) {
            out += ",\(JSONValue.quote(key)):\(JSONValue.quote(metadata[key]!.description))"
        }
        return out + "}\n"
    }
}
