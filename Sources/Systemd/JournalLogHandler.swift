import FoundationEssentials
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// A swift-log handler that writes native journal entries: MESSAGE, PRIORITY from the level,
/// SYSLOG_IDENTIFIER, CODE_FILE / CODE_LINE / CODE_FUNC, and every metadata key as an upper-case
/// `PREFECT_` field (see `JournalFields`), so `journalctl PREFECT_FLOW_RUN_ID=<id>` finds one run.
///
/// An entry the journal refuses (journald stopped, say) is written to stderr instead, which
/// systemd also collects, and counted.
public struct JournalLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let identifier: String

    public init(identifier: String = "prefect-worker") {
        self.identifier = identifier
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let merged = event.mergedMetadata(over: metadata, provider: metadataProvider)
        let fields = JournalFields.entry(
            message: event.message.description, level: event.level, identifier: identifier,
            file: event.file, line: event.line, function: event.function, metadata: merged)
        let result = Journal.send(fields)
        if result < 0 {
            let line = "\(identifier): journal refused an entry (\(String(cString: strerror(-result)))): \(event.message)\n"
            StderrWriter.write(line)
        }
    }
}

extension LogEvent {
    /// A record's metadata as every handler writes it: the handler's, then the provider's, then
    /// the record's own, later ones winning; an attached error as `error`.
    public func mergedMetadata(over handlerMetadata: Logger.Metadata, provider: Logger.MetadataProvider?) -> Logger.Metadata {
        var merged = handlerMetadata
        if let provided = provider?.get() { merged.merge(provided) { _, new in new } }
        if let own = metadata { merged.merge(own) { _, new in new } }
        if let error { merged["error"] = "\(error)" }
        return merged
    }
}
