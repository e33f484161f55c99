import Foundation

/// `{{ name }}` substitution, as Prefect's `apply_values` does it.
extension JobTemplateRenderer {
    struct Placeholder: Equatable {
        var fullMatch: String
        var name: String
    }

    /// A result of rendering one template node: a value, or "not set" (the key is then dropped).
    func apply(_ template: JSONValue, values: [String: JSONValue], field: String) throws -> JSONValue? {
        switch template {
        case .null, .bool, .number:
            return template
        case .string(let text):
            return try applyToString(text, values: values, field: field)
        case .object(let object):
            var rendered: [String: JSONValue] = [:]
            for (key, value) in object {
                let path = field.isEmpty ? key : "\(field).\(key)"
                if let value = try apply(value, values: values, field: path) { rendered[key] = value }
            }
            return .object(rendered)
        case .array(let items):
            return .array(try items.enumerated().compactMap { index, item in
                try apply(item, values: values, field: "\(field)[\(index)]")
            })
        }
    }

    private func applyToString(_ text: String, values: [String: JSONValue], field: String) throws -> JSONValue? {
        let placeholders = Self.placeholders(in: text)
        if placeholders.isEmpty { return .string(text) }
        for placeholder in placeholders where Self.isServerReference(placeholder.name) {
            throw JobConfigurationError.unresolvedReference(field: field, placeholder: placeholder.name)
        }
        if placeholders.count == 1, placeholders[0].fullMatch == text, !placeholders[0].name.hasPrefix("$") {
            return Self.lookup(placeholders[0].name, in: values)
        }
        var result = text
        for placeholder in placeholders {
            let value: String
            if placeholder.name.hasPrefix("$") {
                value = workerEnvironment[String(placeholder.name.drop(while: { $0 == "$" }))] ?? ""
            } else {
                value = Self.lookup(placeholder.name, in: values)?.interpolationText ?? ""
            }
            result = result.replacingOccurrences(of: placeholder.fullMatch, with: value)
        }
        return .string(result)
    }

    /// `{{ prefect.blocks.* }}` and `{{ prefect.variables.* }}` are resolved by Prefect through the API.
    static func isServerReference(_ name: String) -> Bool {
        name.hasPrefix("prefect.blocks.") || name.hasPrefix("prefect.variables.")
    }

    /// The first server reference left anywhere in a rendered value, with its field path.
    static func firstServerReference(in value: JSONValue, field: String) -> (String, String)? {
        switch value {
        case .string(let text):
            return placeholders(in: text).first { isServerReference($0.name) }.map { (field, $0.name) }
        case .object(let object):
            for key in object.keys.sorted() {
                if let found = firstServerReference(in: object[key]!, field: field.isEmpty ? key : "\(field).\(key)") { return found }
            }
            return nil
        case .array(let items):
            for (index, item) in items.enumerated() {
                if let found = firstServerReference(in: item, field: "\(field)[\(index)]") { return found }
            }
            return nil
        case .null, .bool, .number:
            return nil
        }
    }

    /// The placeholders of `text`, in order of first appearance, without repeats. Matches Prefect's
    /// `{{\s*([\w\.\-\[\]$]+)\s*}}`.
    static func placeholders(in text: String) -> [Placeholder] {
        let characters = Array(text)
        var found: [Placeholder] = []
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
                let placeholder = Placeholder(
                    fullMatch: String(characters[index..<cursor + 2]),
                    name: String(characters[nameStart..<nameEnd]))
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

    /// `a.b[0].c` in nested objects and arrays, as Prefect's `get_from_dict`.
    static func lookup(_ name: String, in values: [String: JSONValue]) -> JSONValue? {
        let keys = name.replacingOccurrences(of: "[", with: ".").replacingOccurrences(of: "]", with: "")
            .split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        var current: JSONValue = .object(values)
        for key in keys {
            switch current {
            case .object(let object):
                guard let next = object[key] else { return nil }
                current = next
            case .array(let items):
                guard let position = Int(key), items.indices.contains(position) else { return nil }
                current = items[position]
            default:
                return nil
            }
        }
        return current
    }
}
