import PrefectWorkerCore

extension JSONValue {
    /// A copy with the value at `path` (object keys) replaced, creating objects on the way.
    func setting(_ path: [String], to value: JSONValue) -> JSONValue {
        guard let head = path.first else { return value }
        var object = objectValue ?? [:]
        object[head] = (object[head] ?? .object([:])).setting(Array(path.dropFirst()), to: value)
        return .object(object)
    }
}
