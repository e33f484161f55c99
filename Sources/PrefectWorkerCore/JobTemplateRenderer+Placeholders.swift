/// `{{ name }}` and `{{ $NAME }}` substitution, as Prefect's `apply_values` does it. Block and
/// variable references are left in place for `TemplateReferences`, which resolves them next.
extension JobTemplateRenderer {
    /// A result of rendering one template node: a value, or "not set" (the key is then dropped).
    func apply(_ template: JSONValue, values: [String: JSONValue]) -> JSONValue? {
        switch template {
        case .null, .bool, .number:
            return template
        case .string(let text):
            return applyToString(text, values: .object(values))
        case .object(let object):
            var rendered: [String: JSONValue] = [:]
            for (key, value) in object {
                if let value = apply(value, values: values) { rendered[key] = value }
            }
            return .object(rendered)
        case .array(let items):
            return .array(items.compactMap { apply($0, values: values) })
        }
    }

    private func applyToString(_ text: String, values: JSONValue) -> JSONValue? {
        let placeholders = TemplatePlaceholder.all(in: text)
        if placeholders.isEmpty { return .string(text) }
        if placeholders.count == 1, placeholders[0].isWhole(text), placeholders[0].kind == .standard {
            return Keypath.value(at: placeholders[0].name, in: values)
        }
        var result = text
        for placeholder in placeholders {
            let value: String
            switch placeholder.kind {
            case .environment: value = workerEnvironment[String(placeholder.name.drop(while: { $0 == "$" }))] ?? ""
            case .standard: value = Keypath.value(at: placeholder.name, in: values)?.pythonText ?? ""
            case .block, .variable: continue
            }
            result = result.replacing(placeholder.fullMatch, with: value)
        }
        return .string(result)
    }
}
