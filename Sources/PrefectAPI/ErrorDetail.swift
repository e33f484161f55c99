import FoundationEssentials
import NIOCore
import PrefectWorkerCore

/// The server's own words from an error body, on one line. Prefect uses three shapes
/// (docs/prefect-worker-protocol.md §3): `{"detail": ...}`, `{"exception_message": ..., "exception_detail": [...]}`, plain text.
enum ErrorDetail {
    static func extract(from body: ByteBuffer) -> String {
        let data = Data(body.readableBytesView)
        guard let object = (try? JSONDecoder().decode(JSONValue.self, from: data))?.objectValue else {
            return oneLine(String(decoding: data, as: UTF8.self), fallback: "(empty body)")
        }
        if let detail = object["detail"] {
            return oneLine(describe(detail), fallback: "(no detail)")
        }
        var parts: [String] = []
        if let message = object["exception_message"] { parts.append(describe(message)) }
        if case .array(let details)? = object["exception_detail"] {
            for item in details {
                let location: String = if case .array(let path)? = item["loc"] {
                    path.map(\.interpolationText).joined(separator: ".")
                } else { "?" }
                parts.append("\(location): \(item["msg"].map(describe) ?? "invalid")")
            }
        }
        return oneLine(parts.joined(separator: "; "), fallback: String(decoding: data, as: UTF8.self))
    }

    private static func describe(_ value: JSONValue) -> String {
        value.stringValue ?? value.compactJSONText
    }

    private static func oneLine(_ text: String, fallback: String) -> String {
        let flat = text.split(whereSeparator: \.isNewline).joined(separator: " ").trimmingSpaces()
        let chosen = flat.isEmpty ? fallback : flat
        return chosen.count > 500 ? String(chosen.prefix(500)) + "…" : chosen
    }
}
