import FoundationEssentials

/// A `.env` file as Prefect reads it (python-dotenv): `KEY=VALUE` lines, optionally `export KEY=VALUE`,
/// values bare (an inline ` #` comment ends them), 'single-quoted' (as written) or "double-quoted"
/// (with `\n`, `\t`, `\"`, `\\` escapes), `#` comment lines, blank lines. Keys are matched
/// case-insensitively, so they are returned upper-cased. Lines it cannot read are skipped and
/// reported, as python-dotenv warns and goes on.
public enum DotEnvFile {
    public struct Entry: Sendable, Equatable {
        public let key: String
        public let value: String
        public let line: Int

        public init(key: String, value: String, line: Int) {
            self.key = key
            self.value = value
            self.line = line
        }
    }

    /// The entries in file order (a later one for the same key wins when looked up), and the
    /// numbers of the lines that could not be read.
    public static func parse(_ text: String) -> (entries: [Entry], unreadable: [Int]) {
        var entries: [Entry] = []
        var unreadable: [Int] = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = Substring(raw.hasSuffix("\r") ? raw.dropLast() : raw)
            line = line.drop { $0 == " " || $0 == "\t" }
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("export ") { line = line.dropFirst("export ".count).drop { $0 == " " } }
            guard let equals = line.firstIndex(of: "=") else {
                unreadable.append(index + 1)
                continue
            }
            let key = line[..<equals].trimmingSpaces()
            guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." || $0 == "-" }),
                let value = Self.value(line[line.index(after: equals)...])
            else {
                unreadable.append(index + 1)
                continue
            }
            entries.append(Entry(key: key.uppercased(), value: value, line: index + 1))
        }
        return (entries, unreadable)
    }

    /// The value after `=`; nil when a quote is not closed on the line.
    static func value(_ text: Substring) -> String? {
        let text = text.drop { $0 == " " || $0 == "\t" }
        guard let quote = text.first, quote == "'" || quote == "\"" else {
            // A bare value ends at an inline comment (a `#` after whitespace).
            var value = ""
            var previous: Character = " "
            for character in text {
                if character == "#", previous == " " || previous == "\t" { break }
                value.append(character)
                previous = character
            }
            return value.trimmingSpaces()
        }
        var value = ""
        var escaped = false
        for character in text.dropFirst() {
            if escaped {
                switch character {
                case "n": value.append("\n")
                case "t": value.append("\t")
                case "r": value.append("\r")
                default: value.append(character)
                }
                escaped = false
            } else if character == "\\", quote == "\"" {
                escaped = true
            } else if character == quote {
                return value
            } else {
                value.append(character)
            }
        }
        return nil
    }
}
