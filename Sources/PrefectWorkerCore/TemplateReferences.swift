/// Block and variable references in a populated job configuration, resolved as Prefect's
/// `resolve_block_document_references` and then `resolve_variables` do
/// (docs/job-template-references.md). Pure: the worker reads what `blockReferences(in:)` and
/// `variableNames(in:)` ask for from the server and hands the answers back in.
public enum TemplateReferences {
    // MARK: - Blocks

    /// Every block document `value` refers to, in order of first appearance: each
    /// `{{ prefect.blocks.<type>.<name>… }}` and each `{"$ref": {"block_document_id": …}}`.
    public static func blockReferences(in value: JSONValue) throws -> [BlockReference] {
        var found: [BlockReference] = []
        try visitBlocks(in: value, field: "") { reference in
            if !found.contains(reference) { found.append(reference) }
        }
        return found
    }

    /// `value` with every block reference replaced. `documents` holds the `data` of each document
    /// the server has; a reference to one that is not there throws.
    public static func resolvingBlocks(in value: JSONValue, documents: [BlockReference: JSONValue]) throws -> JSONValue {
        try resolveBlocks(in: value, field: "", documents: documents)
    }

    private static func visitBlocks(in value: JSONValue, field: String, _ visit: (BlockReference) -> Void) throws {
        switch value {
        case .object(let object):
            if let id = try documentId(in: object, field: field) { return visit(.id(id)) }
            for key in object.keys.sorted() { try visitBlocks(in: object[key]!, field: path(field, key), visit) }
        case .array(let items):
            for (index, item) in items.enumerated() { try visitBlocks(in: item, field: "\(field)[\(index)]", visit) }
        case .string(let text):
            for placeholder in TemplatePlaceholder.all(in: text) where placeholder.kind == .block {
                visit(try BlockPlaceholder(placeholder, field: field).reference)
            }
        case .null, .bool, .number:
            return
        }
    }

    private static func resolveBlocks(in value: JSONValue, field: String, documents: [BlockReference: JSONValue]) throws -> JSONValue {
        try rewrite(value, field: field) { object, field in
            guard let id = try documentId(in: object, field: field) else { return nil }
            // A `$ref` is replaced by the document's whole data, never unwrapped.
            guard let data = documents[.id(id)] else { throw TemplateReferenceError.blockNotFound(.id(id), field: field) }
            return data
        } string: { text, field in
            let placeholders = TemplatePlaceholder.all(in: text)
            guard placeholders.contains(where: { $0.kind == .block }) else { return .string(text) }
            if placeholders.count == 1, placeholders[0].isWhole(text) {
                return try BlockPlaceholder(placeholders[0], field: field).value(in: documents)
            }
            var result = text
            for placeholder in placeholders where placeholder.kind == .block {
                let resolved = try BlockPlaceholder(placeholder, field: field).value(in: documents)
                if case .array = resolved { throw TemplateReferenceError.notInline(placeholder.name, found: "a list", field: field) }
                if case .object = resolved { throw TemplateReferenceError.notInline(placeholder.name, found: "an object", field: field) }
                result = result.replacing(placeholder.fullMatch, with: resolved.pythonText)
            }
            return .string(result)
        }
    }

    /// `value` with each string replaced by what `string` makes of it, and each object by what
    /// `object` makes of it (walked into when that is nil); `field` is the path for messages.
    private static func rewrite(
        _ value: JSONValue, field: String, object: ([String: JSONValue], String) throws -> JSONValue? = { _, _ in nil },
        string: (String, String) throws -> JSONValue
    ) throws -> JSONValue {
        switch value {
        case .object(let members):
            if let replaced = try object(members, field) { return replaced }
            var rewritten: [String: JSONValue] = [:]
            for (key, item) in members { rewritten[key] = try rewrite(item, field: path(field, key), object: object, string: string) }
            return .object(rewritten)
        case .array(let items):
            return .array(try items.enumerated().map { index, item in
                try rewrite(item, field: "\(field)[\(index)]", object: object, string: string)
            })
        case .string(let text):
            return try string(text, field)
        case .null, .bool, .number:
            return value
        }
    }

    /// The id of `{"$ref": {"block_document_id": "<id>"}}`; nil for any other object (an empty or
    /// missing id too, as Prefect's truthiness check has it).
    private static func documentId(in object: [String: JSONValue], field: String) throws -> String? {
        guard let reference = object["$ref"] else { return nil }
        guard case .object(let target) = reference else { throw TemplateReferenceError.malformedRef(field: field) }
        switch target["block_document_id"] {
        case nil, .null?: return nil
        case .string(let id)?: return id.isEmpty ? nil : id
        default: throw TemplateReferenceError.malformedRef(field: field)
        }
    }

    // MARK: - Variables

    /// The names of every `{{ prefect.variables.<name> }}` in `value`, in order of first appearance.
    public static func variableNames(in value: JSONValue) -> [String] {
        var names: [String] = []
        func visit(_ value: JSONValue) {
            switch value {
            case .object(let object): for key in object.keys.sorted() { visit(object[key]!) }
            case .array(let items): items.forEach(visit)
            case .string(let text):
                for placeholder in TemplatePlaceholder.all(in: text) where placeholder.kind == .variable {
                    let name = variableName(placeholder)
                    if !names.contains(name) { names.append(name) }
                }
            case .null, .bool, .number: return
            }
        }
        visit(value)
        return names
    }

    /// `value` with every variable reference replaced by its value from `variables` (by name).
    /// A variable that is not there throws, where Prefect would write "" (a README difference:
    /// a run should not start with a silently empty setting).
    public static func resolvingVariables(in value: JSONValue, variables: [String: JSONValue]) throws -> JSONValue {
        try resolveVariables(in: value, field: "", variables: variables)
    }

    private static func resolveVariables(in value: JSONValue, field: String, variables: [String: JSONValue]) throws -> JSONValue {
        try rewrite(value, field: field) { text, field in
            let placeholders = TemplatePlaceholder.all(in: text)
            guard placeholders.contains(where: { $0.kind == .variable }) else { return .string(text) }
            func read(_ placeholder: TemplatePlaceholder) throws -> JSONValue {
                let name = variableName(placeholder)
                guard let found = variables[name] else { throw TemplateReferenceError.variableNotFound(name, field: field) }
                return found
            }
            if placeholders.count == 1, placeholders[0].isWhole(text) { return try read(placeholders[0]) }
            var result = text
            for placeholder in placeholders where placeholder.kind == .variable {
                result = result.replacing(placeholder.fullMatch, with: try read(placeholder).pythonText)
            }
            return .string(result)
        }
    }

    private static func variableName(_ placeholder: TemplatePlaceholder) -> String {
        String(placeholder.name.dropFirst(TemplatePlaceholder.variablePrefix.count))
    }

    static func path(_ field: String, _ key: String) -> String {
        field.isEmpty ? key : "\(field).\(key)"
    }
}

/// A block document a job configuration refers to.
public enum BlockReference: Hashable, Sendable, CustomStringConvertible {
    /// `{{ prefect.blocks.<typeSlug>.<name> }}`
    case named(typeSlug: String, name: String)
    /// `{"$ref": {"block_document_id": "<id>"}}`
    case id(String)

    public var description: String {
        switch self {
        case .named(let typeSlug, let name): return "block '\(name)' of type '\(typeSlug)'"
        case .id(let id): return "block document \(id)"
        }
    }
}

/// `prefect.blocks.<type>.<name>[.<keypath>]`: the name split in at most three parts, as Prefect does.
struct BlockPlaceholder {
    let placeholder: TemplatePlaceholder
    let reference: BlockReference
    let keypath: String?
    let field: String

    init(_ placeholder: TemplatePlaceholder, field: String) throws {
        let parts = placeholder.name.dropFirst(TemplatePlaceholder.blockPrefix.count)
            .split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw TemplateReferenceError.malformedBlockPlaceholder(placeholder.name, field: field)
        }
        self.placeholder = placeholder
        self.reference = .named(typeSlug: parts[0], name: parts[1])
        self.keypath = parts.count == 3 ? parts[2] : nil
        self.field = field
    }

    /// The document's data, a system block's single `value` unwrapped unless the keypath names it,
    /// then the keypath.
    func value(in documents: [BlockReference: JSONValue]) throws -> JSONValue {
        guard var data = documents[reference] else { throw TemplateReferenceError.blockNotFound(reference, field: field, placeholder: placeholder.name) }
        if case .object(let object) = data, object.count == 1, let inner = object["value"], !namesValue {
            data = inner
        }
        guard let keypath else { return data }
        guard let found = Keypath.value(at: keypath, in: data) else {
            throw TemplateReferenceError.keypathNotFound(placeholder.name, keypath: keypath, field: field)
        }
        return found
    }

    private var namesValue: Bool {
        guard let keypath else { return false }
        return keypath == "value" || keypath.hasPrefix("value.") || keypath.hasPrefix("value[")
    }
}

/// Why a reference could not be resolved: one line naming the field and the reference, never a
/// value (block data is secret). It becomes the CRASHED message of that one run.
public struct TemplateReferenceError: Error, Equatable, CustomStringConvertible {
    public var field: String
    public var problem: String

    public init(field: String, problem: String) {
        self.field = field
        self.problem = problem
    }

    public var description: String {
        "job configuration field '\(field.isEmpty ? "(root)" : field)': \(problem)"
    }

    static func blockNotFound(_ reference: BlockReference, field: String, placeholder: String? = nil) -> Self {
        let named = placeholder.map { "'{{ \($0) }}' refers to " } ?? "'$ref' refers to "
        return Self(field: field, problem: named + "\(reference), which does not exist on the server; create the block or fix the reference")
    }

    static func variableNotFound(_ name: String, field: String) -> Self {
        Self(field: field, problem: "'{{ prefect.variables.\(name) }}' refers to variable '\(name)', which does not exist on the server; "
            + "create it (prefect variable set \(name) VALUE) or fix the reference")
    }

    static func keypathNotFound(_ name: String, keypath: String, field: String) -> Self {
        Self(field: field, problem: "'{{ \(name) }}': the block document has nothing at '\(keypath)'; fix the path after the block's name")
    }

    static func notInline(_ name: String, found: String, field: String) -> Self {
        Self(field: field, problem: "'{{ \(name) }}' is \(found), which cannot be put inside a longer string; "
            + "reference a single field of it (e.g. '.value' or '.url') or make the string only the placeholder")
    }

    static func malformedBlockPlaceholder(_ name: String, field: String) -> Self {
        Self(field: field, problem: "'{{ \(name) }}' is not a block reference; write prefect.blocks.<block-type-slug>.<block-document-name>")
    }

    static func malformedRef(field: String) -> Self {
        Self(field: field, problem: #"'$ref' must be {"block_document_id": "<id of a block document>"}"#)
    }
}
