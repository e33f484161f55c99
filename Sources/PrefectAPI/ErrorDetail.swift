import Foundation
import NIOCore

/// The server's own words from an error body, on one line. Prefect uses three shapes
/// (docs/prefect-worker-protocol.md §3): `{"detail": ...}`, `{"exception_message": ..., "exception_detail": [...]}`, plain text.
enum ErrorDetail {
    static func extract(from body: ByteBuffer) -> String {
        let data = Data(body.readableBytesView)
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            return oneLine(String(decoding: data, as: UTF8.self), fallback: "(empty body)")
        }
        if let detail = object["detail"] {
            return oneLine(describe(detail), fallback: "(no detail)")
        }
        var parts: [String] = []
        if let message = object["exception_message"] { parts.append(describe(message)) }
        if let details = object["exception_detail"] as? [[String: Any]] {
            for item in details {
                let location = (item["loc"] as? [Any])?.map { "\($0)" }.joined(separator: ".") ?? "?"
                parts.append("\(location): \(item["msg"] ?? "invalid")")
            }
        }
        return oneLine(parts.joined(separator: "; "), fallback: String(decoding: data, as: UTF8.self))
    }

    private static func describe(_ value: Any) -> String {
        if let text = value as? String { return text }
        if let data = try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed]) {
            return String(decoding: data, as: UTF8.self)
        }
        return "\(value)"
    }

    private static func oneLine(_ text: String, fallback: String) -> String {
        let flat = text.split(whereSeparator: \.isNewline).joined(separator: " ").trimmingCharacters(in: .whitespaces)
        let chosen = flat.isEmpty ? fallback : flat
        return chosen.count > 500 ? String(chosen.prefix(500)) + "…" : chosen
    }
}
