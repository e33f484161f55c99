/// A value inside nested objects and arrays by a dotted path with `[i]` for items, read as
/// Prefect's `get_from_dict` reads it: every segment that is a whole number is an index (negative
/// counts from the end; into a string it picks one character), so it never matches an object's
/// key; any other segment is an object's key. Used for `{{ a.b[0] }}` and block keypaths alike.
public enum Keypath {
    /// The value at `path` under `root`, or nil when a segment is missing.
    public static func value(at path: String, in root: JSONValue) -> JSONValue? {
        let segments = path.replacing("[", with: ".").replacing("]", with: "")
            .split(separator: ".", omittingEmptySubsequences: false)
        var current = root
        for segment in segments {
            if let index = Int(segment) {
                switch current {
                case .array(let items):
                    let position = index < 0 ? items.count + index : index
                    guard items.indices.contains(position) else { return nil }
                    current = items[position]
                case .string(let text):
                    let scalars = Array(text.unicodeScalars)
                    let position = index < 0 ? scalars.count + index : index
                    guard scalars.indices.contains(position) else { return nil }
                    current = .string(String(scalars[position]))
                default:
                    return nil
                }
            } else {
                guard case .object(let object) = current, let next = object[String(segment)] else { return nil }
                current = next
            }
        }
        return current
    }
}
