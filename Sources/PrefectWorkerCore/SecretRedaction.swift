/// The values a run's job configuration took from block documents, which the worker treats as
/// credentials: every text it writes about that run (log lines, its command and working directory,
/// error and state messages) passes through `redact` first. Block documents are where Prefect keeps
/// secrets, and the server hands them over with `include_secrets=true`, so every scalar of their
/// data counts, not only the fields a block's schema marks secret.
public struct SecretRedaction: Sendable, Equatable {
    /// What a secret is replaced with.
    public static let mask = "<redacted>"
    /// Shorter values are not masked: they would blank out ordinary words and numbers in every
    /// line, and a value that short is no secret.
    public static let minimumLength = 4

    /// Longest first, so a secret that contains another is masked whole.
    public private(set) var secrets: [String]

    public static let none = SecretRedaction(secrets: [])

    public init(blockData: some Sequence<JSONValue>) {
        var found = Set<String>()
        for data in blockData { Self.collect(data, into: &found) }
        self.init(secrets: Array(found))
    }

    init(secrets: [String]) {
        self.secrets = secrets.filter { $0.count >= Self.minimumLength }.sorted { ($0.count, $0) > ($1.count, $1) }
    }

    public var isEmpty: Bool { secrets.isEmpty }

    /// `text` with every secret replaced by `mask`.
    public func redact(_ text: String) -> String {
        var result = text
        for secret in secrets where result.contains(secret) { result = result.replacing(secret, with: Self.mask) }
        return result
    }

    private static func collect(_ value: JSONValue, into found: inout Set<String>) {
        switch value {
        case .string(let text): found.insert(text)
        case .number: found.insert(value.pythonText)
        case .object(let object): object.values.forEach { collect($0, into: &found) }
        case .array(let items): items.forEach { collect($0, into: &found) }
        case .null, .bool: return
        }
    }
}
