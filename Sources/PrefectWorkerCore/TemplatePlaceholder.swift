/// One `{{ name }}` in a job template string, found as Prefect's
/// `{{\s*([\w\.\-\[\]$]+)\s*}}` finds it (docs/job-template-references.md, "Placeholder grammar").
public struct TemplatePlaceholder: Equatable, Sendable {
    /// What the name's prefix makes it.
    public enum Kind: Equatable, Sendable {
        /// `{{ name }}`: a job variable, filled by the renderer.
        case standard
        /// `{{ $NAME }}`: the worker's environment, filled by the renderer.
        case environment
        /// `{{ prefect.blocks.<type>.<name>[.<keypath>] }}`: a block document, read from the server.
        case block
        /// `{{ prefect.variables.<name> }}`: a Prefect variable, read from the server.
        case variable
    }

    public static let blockPrefix = "prefect.blocks."
    public static let variablePrefix = "prefect.variables."

    /// The whole `{{ … }}` text, blanks included.
    public var fullMatch: String
    public var name: String

    public var kind: Kind {
        if name.hasPrefix(Self.blockPrefix) { return .block }
        if name.hasPrefix(Self.variablePrefix) { return .variable }
        if name.hasPrefix("$") { return .environment }
        return .standard
    }

    /// Whether `text` is this placeholder and nothing else, which gives the value its own type.
    public func isWhole(_ text: String) -> Bool { fullMatch == text }

    /// The placeholders of `text`, in order of first appearance, without repeats.
    public static func all(in text: String) -> [TemplatePlaceholder] {
        guard text.contains("{{") else { return [] }
        let characters = Array(text)
        var found: [TemplatePlaceholder] = []
        var index = 0
        while index + 1 < characters.count {
            guard characters[index] == "{", characters[index + 1] == "{" else { index += 1; continue }
            var cursor = index + 2
            while cursor < characters.count, characters[cursor].isWhitespace { cursor += 1 }
            let nameStart = cursor
            while cursor < characters.count, isNameCharacter(characters[cursor]) { cursor += 1 }
            let nameEnd = cursor
            while cursor < characters.count, characters[cursor].isWhitespace { cursor += 1 }
            if nameEnd > nameStart, cursor + 1 < characters.count, characters[cursor] == "}", characters[cursor + 1] == "}" {
                let placeholder = TemplatePlaceholder(
                    fullMatch: String(characters[index..<cursor + 2]), name: String(characters[nameStart..<nameEnd]))
                if !found.contains(placeholder) { found.append(placeholder) }
                index = cursor + 2
            } else {
                index += 1
            }
        }
        return found
    }

    private static func isNameCharacter(_ character: Character) -> Bool {
        character.isLetter || character.isNumber || "_.-[]$".contains(character)
    }
}
