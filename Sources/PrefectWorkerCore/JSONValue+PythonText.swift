/// What Python's `str()` prints for a value, which is what Prefect writes when a placeholder sits
/// inside a longer string (docs/job-template-references.md, "Python `str()` in inline
/// substitution"): `True`, `None`, `{'a': 1}`. Users' templates rely on exactly that text.
extension JSONValue {
    /// Python's `str(value)`. Objects list their keys sorted: a decoded JSON object keeps no order
    /// here, where Python keeps the document's.
    public var pythonText: String {
        switch self {
        case .string(let string): return string
        case .null, .bool, .number: return interpolationText
        case .array, .object: return pythonRepr
        }
    }

    /// Python's `repr(value)`, as `str()` of a list or dict prints its items.
    var pythonRepr: String {
        switch self {
        case .string(let string): return Self.pythonRepr(of: string)
        case .null, .bool, .number: return interpolationText
        case .array(let items): return "[" + items.map(\.pythonRepr).joined(separator: ", ") + "]"
        case .object(let object):
            let members = object.keys.sorted().map { Self.pythonRepr(of: $0) + ": " + object[$0]!.pythonRepr }
            return "{" + members.joined(separator: ", ") + "}"
        }
    }

    /// `repr(str)`: single quotes unless the text holds a single quote and no double quote;
    /// backslash, the quote, `\n`, `\r`, `\t` escaped; other control characters as `\xNN`.
    static func pythonRepr(of string: String) -> String {
        let quote: Character = string.contains("'") && !string.contains("\"") ? "\"" : "'"
        var out = String(quote)
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where Character(scalar) == quote: out += "\\" + String(quote)
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                let hex = String(scalar.value, radix: 16)
                out += "\\x" + (hex.count < 2 ? "0" : "") + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out.append(quote)
        return out
    }
}
