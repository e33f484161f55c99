/// Trimming as the worker needs it, without full Foundation's `trimmingCharacters(in:)` and
/// `CharacterSet` (docs/architecture.md, "Foundation"); the sets match Foundation's.
extension StringProtocol {
    /// Without leading and trailing spaces and tabs (Foundation's `.whitespaces`: Unicode space
    /// separators, U+0009 and U+200B); line breaks stay.
    public func trimmingSpaces() -> String {
        trimming(while: \.isSpaceOrTab)
    }

    /// Without leading and trailing whitespace and line breaks (`.whitespacesAndNewlines`).
    public func trimmingWhitespace() -> String {
        trimming(while: { $0.isSpaceOrTab || $0.isNewline })
    }

    /// Without the leading and trailing characters for which `isTrimmed` holds.
    public func trimming(while isTrimmed: (Character) -> Bool) -> String {
        guard let first = firstIndex(where: { !isTrimmed($0) }), let last = lastIndex(where: { !isTrimmed($0) }) else {
            return ""
        }
        return String(self[first...last])
    }
}

extension Character {
    /// A tab, a Unicode space separator (general category Zs) or a zero-width space: Foundation's
    /// `CharacterSet.whitespaces`.
    public var isSpaceOrTab: Bool {
        if self == "\t" || self == "\u{200B}" { return true }
        return unicodeScalars.count == 1 && unicodeScalars.first!.properties.generalCategory == .spaceSeparator
    }
}
