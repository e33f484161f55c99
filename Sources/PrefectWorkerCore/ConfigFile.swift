import FoundationEssentials

/// One value of a configuration file.
public enum ConfigValue: Equatable, Sendable {
    case string(String)
    case integer(Int)
    case float(Double)
    case bool(Bool)
    case array([ConfigValue])

    /// The value as text, as Prefect reads settings back: scalars as written, an array's scalars
    /// comma-separated.
    public var text: String? {
        switch self {
        case .string(let text): return text
        case .integer(let number): return String(number)
        case .float(let number): return String(number)
        case .bool(let flag): return flag ? "true" : "false"
        case .array(let values): return values.compactMap(\.text).joined(separator: ",")
        }
    }

    /// "string", "integer", "float", "boolean", "array" — for error messages.
    public var typeName: String {
        switch self {
        case .string: return "string"
        case .integer: return "integer"
        case .float: return "float"
        case .bool: return "boolean"
        case .array: return "array"
        }
    }
}

/// One `key = value` of the file; `key` is the full dotted key (table prefix included, e.g. "api.url"),
/// `line` is the 1-based line where the key is written.
public struct ConfigEntry: Equatable, Sendable {
    public let key: String
    /// The key's parts as written (a quoted part may hold a dot: `[profiles."a.b"]`).
    public let path: [String]
    public let value: ConfigValue
    public let line: Int

    public init(key: String, value: ConfigValue, line: Int, path: [String]? = nil) {
        self.key = key
        self.path = path ?? key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        self.value = value
        self.line = line
    }
}

/// A syntax error: the 1-based line and a short lowercase message saying what is wrong and, where useful, the fix
/// (no line number inside `message`; `description` is "line N: message").
public struct ConfigFileError: Error, Equatable, Sendable, CustomStringConvertible {
    public let line: Int
    public let message: String

    public init(line: Int, message: String) {
        self.line = line
        self.message = message
    }

    public var description: String { "line \(line): \(message)" }
}

/// The subset of TOML the worker's configuration file uses: `key = value` lines, optionally under `[table]`
/// headers, whose values are strings, integers, floats, booleans or arrays of them. Inline tables, arrays of
/// tables and dates are refused with an error saying so.
public enum ConfigFile {
    /// The entries in file order. Throws `ConfigFileError` at the first problem.
    public static func parse(_ text: String) throws -> [ConfigEntry] {
        var parser = ConfigParser(text)
        return try parser.document()
    }

    /// The entries and the paths of the `[table]` headers (an empty table has no entries).
    public static func parseWithTables(_ text: String) throws -> (entries: [ConfigEntry], tables: [[String]]) {
        var parser = ConfigParser(text)
        let entries = try parser.document()
        return (entries, parser.headerPaths)
    }
}

/// A key as written on its line (for the examples in messages) and with its table's prefix (to name it).
private struct KeyName {
    let full: String
    let written: String
}

/// Reads a configuration file top to bottom, remembering the line where every key and table was first defined.
private struct ConfigParser {
    private var scanner: ConfigScanner
    private var entries: [ConfigEntry] = []
    /// Key paths given a value.
    private var values: [[String]: Int] = [:]
    /// Tables made by a `[header]`, by a dotted key (`a.b = 1` makes `a`), or as a header's parent (`[a.b]` makes `a`).
    private var headers: [[String]: Int] = [:]
    private var dottedTables: [[String]: Int] = [:]
    private var parentTables: [[String]: Int] = [:]
    /// The current `[header]`'s path, put in front of every key below it.
    private var table: [String] = []
    /// The line of the outermost array being read, if any.
    private var arrayLine: Int?

    init(_ text: String) {
        scanner = ConfigScanner(text)
    }

    var headerPaths: [[String]] { headers.sorted { $0.value < $1.value }.map(\.key) }

    mutating func document() throws -> [ConfigEntry] {
        while true {
            scanner.skipSpaces()
            scanner.skipComment()
            if scanner.current == nil { return entries }
            if scanner.atLineEnd {
                scanner.skipLineEnd()
            } else if scanner.current == "[" {
                try header()
            } else {
                try keyValue()
            }
        }
    }

    private mutating func keyValue() throws {
        let line = scanner.line
        let written = try key()
        let path = table + written
        let name = KeyName(full: path.joined(separator: "."), written: written.joined(separator: "."))
        guard scanner.current == "=" else {
            throw ConfigFileError(line: line, message: "expected '=' after '\(name.written)'; write \(name.written) = value")
        }
        scanner.advance()
        scanner.skipSpaces()
        try claimValue(path, dottedFrom: table.count, line: line)
        let value = try self.value(of: name)
        try endLine(after: "the value of '\(name.full)'")
        entries.append(ConfigEntry(key: name.full, value: value, line: line, path: path))
    }

    private mutating func header() throws {
        let line = scanner.line
        scanner.advance()
        if scanner.current == "[" { throw ConfigFileError(line: line, message: "arrays of tables ([[...]]) are not supported") }
        let path = try key()
        let shown = "[\(path.joined(separator: "."))]"
        guard scanner.current == "]" else {
            throw ConfigFileError(line: line, message: "table header \(shown) is missing its closing ']'")
        }
        scanner.advance()
        try endLine(after: "table header \(shown)")
        try requireNoValue(along: path[...], line: line)
        if let first = headers[path] {
            throw ConfigFileError(line: line, message: "duplicate table \(shown); it is first defined on line \(first)")
        }
        if let first = dottedTables[path] {
            throw ConfigFileError(line: line, message: "table \(shown) is already defined by dotted keys on line \(first)")
        }
        for end in 1..<path.count where parentTables[Array(path[..<end])] == nil {
            parentTables[Array(path[..<end])] = line
        }
        headers[path] = line
        table = path
    }

    /// Records that `path` has a value, after checking it is not a value or a table already; the dotted part of the
    /// key (after the first `depth` components, which are the current table) makes tables.
    private mutating func claimValue(_ path: [String], dottedFrom depth: Int, line: Int) throws {
        let shown = path.joined(separator: ".")
        try requireNoValue(along: path.dropLast(), line: line)
        if let first = values[path] {
            throw ConfigFileError(line: line, message: "duplicate key '\(shown)'; it is first defined on line \(first)")
        }
        if let first = headers[path] ?? dottedTables[path] ?? parentTables[path] {
            throw ConfigFileError(line: line, message: "'\(shown)' is already a table (line \(first)), so it cannot also be a value")
        }
        for end in (depth + 1)..<path.count {
            let prefix = Array(path[..<end])
            if let first = headers[prefix] {
                let rest = path[end...].joined(separator: ".")
                let message = "table [\(prefix.joined(separator: "."))] is already defined on line \(first); put '\(rest)' under it"
                throw ConfigFileError(line: line, message: message)
            }
            if dottedTables[prefix] == nil { dottedTables[prefix] = line }
        }
        values[path] = line
    }

    /// Throws if any leading part of `path` (all of it included) has a value: a value cannot also be a table.
    private func requireNoValue(along path: ArraySlice<String>, line: Int) throws {
        for end in path.indices {
            let prefix = Array(path[...end])
            if let first = values[prefix] {
                let message = "'\(prefix.joined(separator: "."))' is already a value (line \(first)), so it cannot also be a table"
                throw ConfigFileError(line: line, message: message)
            }
        }
    }

    /// Only spaces and a comment may follow a value or header on its line.
    private mutating func endLine(after what: String) throws {
        scanner.skipSpaces()
        scanner.skipComment()
        guard scanner.atLineEnd else {
            let line = scanner.line
            throw ConfigFileError(line: line, message: "unexpected '\(scanner.restOfLine())' after \(what); start comments with '#'")
        }
        scanner.skipLineEnd()
    }

    /// A dotted key: bare, "basic" or 'literal' parts separated by dots, with spaces allowed around the dots.
    private mutating func key() throws -> [String] {
        var parts: [String] = []
        while true {
            scanner.skipSpaces()
            parts.append(try keyPart())
            scanner.skipSpaces()
            guard scanner.current == "." else { return parts }
            scanner.advance()
        }
    }

    private mutating func keyPart() throws -> String {
        if let quote = scanner.current, quote == "\"" || quote == "'" { return try singleLineString(quote) }
        let bare = scanner.take(while: ConfigScanner.isBareKeyScalar)
        if !bare.isEmpty { return bare }
        switch scanner.current {
        case nil, "\n"?, "\r"?: throw ConfigFileError(line: scanner.line, message: "missing key at the end of the line")
        case let scalar?:
            if "=].#".unicodeScalars.contains(scalar) {
                throw ConfigFileError(line: scanner.line, message: "missing key before '\(scalar)'")
            }
            let message = "'\(scalar)' cannot be in a bare key; use A-Z a-z 0-9 _ - or quote the key"
            throw ConfigFileError(line: scanner.line, message: message)
        }
    }

    private mutating func value(of name: KeyName) throws -> ConfigValue {
        switch scanner.current {
        case "\""?: return .string(try scanner.isAt("\"\"\"") ? multiLineString("\"") : singleLineString("\""))
        case "'"?: return .string(try scanner.isAt("'''") ? multiLineString("'") : singleLineString("'"))
        case "["?: return try array(of: name)
        case "{"?:
            throw ConfigFileError(line: scanner.line, message: "inline tables ({...}) are not supported; use a [table] section")
        default: return try bareValue(of: name)
        }
    }

    /// An unquoted value: a boolean or a number; anything else is an error that says what to write instead.
    private mutating func bareValue(of name: KeyName) throws -> ConfigValue {
        let line = scanner.line
        let token = scanner.take { !ConfigScanner.valueEnds.contains($0) }
        if token.isEmpty {
            let message = arrayLine == nil ? "missing value for '\(name.full)' after '='" : "missing value in the array of '\(name.full)'"
            throw ConfigFileError(line: line, message: message)
        }
        if token == "true" || token == "false" { return .bool(token == "true") }
        if Self.looksLikeDateOrTime(token) {
            let message = "dates and times are not supported; quote them, e.g. \(name.written) = \"\(token)\""
            throw ConfigFileError(line: line, message: message)
        }
        if let number = try Self.number(token, line: line) { return number }
        if let open = arrayLine, scanner.isAtKeyAssignment() {
            throw ConfigFileError(line: open, message: "unclosed array for '\(name.full)'; close it with ']'")
        }
        if arrayLine != nil {
            let message = "'\(token)' in the array of '\(name.full)' is not a TOML value; quote strings, e.g. \"\(token)\""
            throw ConfigFileError(line: line, message: message)
        }
        let message = "value of '\(name.full)' is not a TOML value; quote strings, e.g. \(name.written) = \"\(token)\""
        throw ConfigFileError(line: line, message: message)
    }

    /// `[a, b, ...]`, possibly nested, over several lines, with comments and a trailing comma.
    private mutating func array(of name: KeyName) throws -> ConfigValue {
        let outermost = arrayLine == nil
        if outermost { arrayLine = scanner.line }
        defer { if outermost { arrayLine = nil } }
        let unclosed = ConfigFileError(line: arrayLine ?? scanner.line, message: "unclosed array for '\(name.full)'; close it with ']'")
        scanner.advance()
        var elements: [ConfigValue] = []
        while true {
            scanner.skipBlanks()
            if scanner.current == nil { throw unclosed }
            if scanner.current == "]" { break }
            elements.append(try value(of: name))
            scanner.skipBlanks()
            if scanner.current == "," {
                scanner.advance()
            } else if scanner.current == "]" {
                break
            } else if scanner.current == nil || scanner.isAtKeyAssignment() {
                throw unclosed
            } else {
                let message = "expected ',' or ']' in the array of '\(name.full)' opened on line \(unclosed.line)"
                throw ConfigFileError(line: scanner.line, message: message)
            }
        }
        scanner.advance()
        return .array(elements)
    }

    /// `"basic"` (with escapes) or `'literal'` (as written), on one line.
    private mutating func singleLineString(_ quote: Unicode.Scalar) throws -> String {
        let unterminated = ConfigFileError(line: scanner.line, message: "unterminated string; close it with \(quote)")
        scanner.advance()
        var text = String.UnicodeScalarView()
        while true {
            guard let scalar = scanner.current, !scanner.atLineEnd else { throw unterminated }
            scanner.advance()
            if scalar == quote { return String(text) }
            if scalar == "\\", quote == "\"" {
                guard let escaped = try escape() else { throw unterminated }
                text.append(escaped)
            } else {
                text.append(scalar)
            }
        }
    }

    /// `"""basic"""` or `'''literal'''` over several lines; a line break right after the opening quotes is dropped,
    /// and in basic strings a backslash at the end of a line joins it to the next text.
    private mutating func multiLineString(_ quote: Unicode.Scalar) throws -> String {
        let delimiter = String(repeating: String(quote), count: 3)
        let unterminated = ConfigFileError(line: scanner.line, message: "unterminated multi-line string; close it with \(delimiter)")
        scanner.advance(3)
        if scanner.current != nil, scanner.atLineEnd { scanner.skipLineEnd() }
        var text = String.UnicodeScalarView()
        while let scalar = scanner.current {
            if scalar == quote {
                // Up to two quotes may sit right before the closing delimiter: """a""""" is `a""`.
                let quotes = scanner.run(of: quote)
                text.append(contentsOf: repeatElement(quote, count: quotes >= 3 ? quotes - 3 : quotes))
                scanner.advance(quotes)
                if quotes >= 3 { return String(text) }
                continue
            }
            scanner.advance()
            if scalar == "\\", quote == "\"" {
                if scanner.skipLineContinuation() { continue }
                guard let escaped = try escape() else { break }
                text.append(escaped)
            } else {
                text.append(scalar)
            }
        }
        throw unterminated
    }

    /// The character an escape after a backslash stands for; nil if the string ends there.
    private mutating func escape() throws -> Unicode.Scalar? {
        guard let scalar = scanner.current, !scanner.atLineEnd else { return nil }
        let line = scanner.line
        scanner.advance()
        switch scalar {
        case "\"", "\\": return scalar
        case "n": return "\n"
        case "t": return "\t"
        case "r": return "\r"
        case "b": return "\u{08}"
        case "f": return "\u{0C}"
        case "u", "U":
            let count = scalar == "u" ? 4 : 8
            let hex = scanner.take(upTo: count) { $0.properties.isASCIIHexDigit }
            guard hex.unicodeScalars.count == count, let code = UInt32(hex, radix: 16), let character = Unicode.Scalar(code) else {
                let message = "invalid unicode escape '\\\(scalar)\(hex)'; write \\\(scalar) and \(count) hex digits"
                throw ConfigFileError(line: line, message: message)
            }
            return character
        default:
            throw ConfigFileError(line: line, message: "unknown escape '\\\(scalar)' in a string; write '\\\\' for a backslash")
        }
    }

    /// An integer (`1_000`, `+5`, `0xff`, `0o17`, `0b101`) or float (`1.5`, `1e3`, `-inf`, `nan`); nil if `token`
    /// does not start like a number, an error if it does but is not one.
    private static func number(_ token: String, line: Int) throws -> ConfigValue? {
        var body = Substring(token)
        var sign = ""
        if let first = body.first, first == "+" || first == "-" { sign = String(body.removeFirst()) }
        if body == "inf" { return .float(sign == "-" ? -.infinity : .infinity) }
        if body == "nan" { return .float(.nan) }
        guard let first = body.first, first == "." || ("0"..."9").contains(first) else { return nil }
        let bad = ConfigFileError(line: line, message: "'\(token)' is not a valid number")
        let outOfRange = ConfigFileError(line: line, message: "'\(token)' is out of range for an integer")
        if sign.isEmpty, body.hasPrefix("0"), let radix = ["x": 16, "o": 8, "b": 2][body.dropFirst().first ?? " "] {
            let digits = body.dropFirst(2)
            guard isDigits(digits, radix: radix) else { throw bad }
            guard let value = Int(digits.filter { $0 != "_" }, radix: radix) else { throw outOfRange }
            return .integer(value)
        }
        let exponentMark = body.firstIndex { $0 == "e" || $0 == "E" }
        let mantissa = body[..<(exponentMark ?? body.endIndex)].split(separator: ".", omittingEmptySubsequences: false)
        guard mantissa.count <= 2, isDigits(mantissa[0], radix: 10), mantissa[0] == "0" || !mantissa[0].hasPrefix("0"),
            mantissa.count == 1 || isDigits(mantissa[1], radix: 10)
        else { throw bad }
        if let exponentMark {
            var exponent = body[body.index(after: exponentMark)...]
            if let mark = exponent.first, mark == "+" || mark == "-" { exponent = exponent.dropFirst() }
            guard isDigits(exponent, radix: 10) else { throw bad }
        }
        let plain = sign + body.filter { $0 != "_" }
        if mantissa.count == 1, exponentMark == nil {
            guard let value = Int(plain) else { throw outOfRange }
            return .integer(value)
        }
        guard let value = Double(plain) else { throw bad }
        guard value.isFinite else { throw ConfigFileError(line: line, message: "'\(token)' is out of range for a float") }
        return .float(value)
    }

    /// Digits of `radix`, with single underscores allowed between them.
    private static func isDigits(_ text: Substring, radix: Int) -> Bool {
        guard let first = text.first, let last = text.last, first != "_", last != "_", !text.contains("__") else { return false }
        return text.allSatisfy { $0 == "_" || ($0.isASCII && ($0.hexDigitValue ?? radix) < radix) }
    }

    /// `1979-05-27...` or `07:32...`, which TOML reads as a date or time.
    private static func looksLikeDateOrTime(_ token: String) -> Bool {
        let scalars = Array(token.unicodeScalars)
        func digits(_ range: Range<Int>) -> Bool {
            range.upperBound <= scalars.count && scalars[range].allSatisfy { ("0"..."9").contains($0) }
        }
        let date = digits(0..<4) && scalars.count > 4 && scalars[4] == "-" && digits(5..<7)
        let time = digits(0..<2) && scalars.count > 2 && scalars[2] == ":"
        return date || time
    }
}

/// The file's Unicode scalars and a read position that keeps count of the 1-based line.
private struct ConfigScanner {
    private let scalars: [Unicode.Scalar]
    private var index = 0
    private(set) var line = 1

    /// Scalars that end an unquoted value.
    static let valueEnds: Set<Unicode.Scalar> = [" ", "\t", "\r", "\n", ",", "[", "]", "{", "}", "#", "\"", "'", "="]

    static func isBareKeyScalar(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "A"..."Z", "a"..."z", "0"..."9", "_", "-": return true
        default: return false
        }
    }

    init(_ text: String) {
        scalars = Array(text.unicodeScalars.drop { $0 == "\u{FEFF}" })
    }

    var current: Unicode.Scalar? { peek(0) }

    /// True at a line break or the end of the file.
    var atLineEnd: Bool { current == nil || current == "\n" || (current == "\r" && peek(1) == "\n") }

    func peek(_ offset: Int) -> Unicode.Scalar? {
        index + offset < scalars.count ? scalars[index + offset] : nil
    }

    func isAt(_ text: String) -> Bool {
        text.unicodeScalars.enumerated().allSatisfy { peek($0.offset) == $0.element }
    }

    /// How many `scalar`s in a row start here.
    func run(of scalar: Unicode.Scalar) -> Int {
        var count = 0
        while peek(count) == scalar { count += 1 }
        return count
    }

    /// True at `key =` or, right after reading a word, at ` =`: a sign that the array before it was never closed.
    func isAtKeyAssignment() -> Bool {
        var offset = 0
        while let scalar = peek(offset), Self.isBareKeyScalar(scalar) { offset += 1 }
        while peek(offset) == " " || peek(offset) == "\t" { offset += 1 }
        return peek(offset) == "="
    }

    mutating func advance(_ count: Int = 1) {
        for _ in 0..<count where index < scalars.count {
            if scalars[index] == "\n" { line += 1 }
            index += 1
        }
    }

    mutating func skipSpaces() {
        while current == " " || current == "\t" { advance() }
    }

    mutating func skipComment() {
        guard current == "#" else { return }
        while !atLineEnd { advance() }
    }

    /// Steps over `\n` or `\r\n`.
    mutating func skipLineEnd() {
        advance(current == "\r" ? 2 : 1)
    }

    /// Skips spaces, comments and line breaks, as allowed between array elements.
    mutating func skipBlanks() {
        while true {
            skipSpaces()
            skipComment()
            guard current != nil, atLineEnd else { return }
            skipLineEnd()
        }
    }

    /// After a backslash in a multi-line basic string: if only spaces follow it on its line, skips them, the line
    /// break and all whitespace up to the next text, and returns true.
    mutating func skipLineContinuation() -> Bool {
        var offset = 0
        while peek(offset) == " " || peek(offset) == "\t" { offset += 1 }
        guard peek(offset) == "\n" || (peek(offset) == "\r" && peek(offset + 1) == "\n") else { return false }
        while let scalar = current, scalar == " " || scalar == "\t" || scalar == "\n" || scalar == "\r" { advance() }
        return true
    }

    mutating func take(upTo limit: Int = .max, while predicate: (Unicode.Scalar) -> Bool) -> String {
        var taken = String.UnicodeScalarView()
        var count = 0
        while count < limit, let scalar = current, predicate(scalar) {
            taken.append(scalar)
            count += 1
            advance()
        }
        return String(taken)
    }

    /// The rest of the current line, trimmed, for error messages.
    mutating func restOfLine() -> String {
        take { $0 != "\n" }.trimmingWhitespace()
    }
}
