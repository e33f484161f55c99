import PrefectWorkerCore
import Testing

/// Prefect 3.8.8's rules for block and variable references (docs/job-template-references.md),
/// one row per rule.
@Suite struct TemplateReferencesTests {
    static let token = BlockReference.named(typeSlug: "secret", name: "token")
    static let config = BlockReference.named(typeSlug: "json", name: "config")
    static let creds = BlockReference.named(typeSlug: "aws-credentials", name: "prod")
    static let byId = BlockReference.id("0b6f7d8e-1c2a-4b3d-9e8f-7a6b5c4d3e2f")
    static let documents: [BlockReference: JSONValue] = [
        token: ["value": "s3cr3t-token"],
        config: ["value": ["image": "repo/app", "retries": 3, "tags": ["a", "b"], "debug": false, "none": nil]],
        creds: ["key_id": "AKIA-EXAMPLE", "region": "eu-west-1", "value": "not-unwrapped"],
        byId: ["value": "by-id"],
    ]

    func resolveBlocks(_ template: JSONValue) throws -> JSONValue {
        try TemplateReferences.resolvingBlocks(in: template, documents: Self.documents)
    }

    @Test(arguments: [
        // A string that is only the placeholder takes the value with its type.
        ("{{ prefect.blocks.secret.token }}", "s3cr3t-token"),
        ("{{prefect.blocks.json.config.retries}}", 3),
        ("{{ prefect.blocks.json.config.debug }}", false),
        ("{{ prefect.blocks.json.config.tags }}", ["a", "b"]),
        ("{{ prefect.blocks.json.config.none }}", nil),
        // A system block's single `value` is unwrapped, unless the keypath names it.
        ("{{ prefect.blocks.json.config }}", ["image": "repo/app", "retries": 3, "tags": ["a", "b"], "debug": false, "none": nil]),
        ("{{ prefect.blocks.json.config.value.image }}", "repo/app"),
        ("{{ prefect.blocks.json.config.value }}", ["image": "repo/app", "retries": 3, "tags": ["a", "b"], "debug": false, "none": nil]),
        // Other blocks are their whole data.
        ("{{ prefect.blocks.aws-credentials.prod.region }}", "eu-west-1"),
        ("{{ prefect.blocks.aws-credentials.prod.value }}", "not-unwrapped"),
        // Items by index, from the end too.
        ("{{ prefect.blocks.json.config.tags[1] }}", "b"),
        ("{{ prefect.blocks.json.config.tags[-1] }}", "b"),
        // Inside a longer string: Python's str() of the value.
        ("Bearer {{ prefect.blocks.secret.token }}", "Bearer s3cr3t-token"),
        ("{{ prefect.blocks.json.config.image }}:{{ prefect.blocks.json.config.retries }}", "repo/app:3"),
        ("debug={{ prefect.blocks.json.config.debug }} none={{ prefect.blocks.json.config.none }}", "debug=False none=None"),
        // Other placeholders in the same string are left for later.
        ("{{ prefect.blocks.secret.token }}-{{ prefect.variables.suffix }}", "s3cr3t-token-{{ prefect.variables.suffix }}"),
        ("no references here", "no references here"),
    ] as [(String, JSONValue)])
    func aBlockPlaceholderResolves(_ template: String, _ expected: JSONValue) throws {
        #expect(try resolveBlocks(["field": .string(template)]) == ["field": expected])
    }

    @Test func aRefIsReplacedByTheWholeDataAnywhere() throws {
        let template: JSONValue = [
            "env": ["FROM_REF": ["$ref": ["block_document_id": .string("0b6f7d8e-1c2a-4b3d-9e8f-7a6b5c4d3e2f")]]],
            "list": [["$ref": ["block_document_id": .string("0b6f7d8e-1c2a-4b3d-9e8f-7a6b5c4d3e2f")]]],
        ]
        #expect(try resolveBlocks(template) == ["env": ["FROM_REF": ["value": "by-id"]], "list": [["value": "by-id"]]])
    }

    @Test func referencesAreListedOnceInOrder() throws {
        let template: JSONValue = [
            "a": "{{ prefect.blocks.secret.token }} {{ prefect.blocks.json.config.image }}",
            "b": ["{{ prefect.blocks.secret.token }}", ["$ref": ["block_document_id": "0b6f7d8e-1c2a-4b3d-9e8f-7a6b5c4d3e2f"]]],
            "c": ["$ref": ["block_document_id": ""]],
            "d": "{{ prefect.variables.x }} {{ plain }}",
        ]
        #expect(try TemplateReferences.blockReferences(in: template) == [Self.token, Self.config, Self.byId])
    }

    @Test(arguments: [
        (["f": "{{ prefect.blocks.secret.gone }}"] as JSONValue,
         "job configuration field 'f': '{{ prefect.blocks.secret.gone }}' refers to block 'gone' of type 'secret', which does not exist on the server; create the block or fix the reference"),
        (["env": ["X": ["$ref": ["block_document_id": "9d3c6a1e-0000-4000-8000-000000000000"]]]] as JSONValue,
         "job configuration field 'env.X': '$ref' refers to block document 9d3c6a1e-0000-4000-8000-000000000000, which does not exist on the server; create the block or fix the reference"),
        (["f": "{{ prefect.blocks.json.config.missing.key }}"] as JSONValue,
         "job configuration field 'f': '{{ prefect.blocks.json.config.missing.key }}': the block document has nothing at 'missing.key'; fix the path after the block's name"),
        (["f": "x-{{ prefect.blocks.json.config.tags }}"] as JSONValue,
         "job configuration field 'f': '{{ prefect.blocks.json.config.tags }}' is a list, which cannot be put inside a longer string; reference a single field of it (e.g. '.value' or '.url') or make the string only the placeholder"),
        (["f": "x-{{ prefect.blocks.json.config }}"] as JSONValue,
         "job configuration field 'f': '{{ prefect.blocks.json.config }}' is an object, which cannot be put inside a longer string; reference a single field of it (e.g. '.value' or '.url') or make the string only the placeholder"),
        (["f": "{{ prefect.blocks.secret }}"] as JSONValue,
         "job configuration field 'f': '{{ prefect.blocks.secret }}' is not a block reference; write prefect.blocks.<block-type-slug>.<block-document-name>"),
        (["f": ["$ref": "#/definitions/x"]] as JSONValue,
         #"job configuration field 'f': '$ref' must be {"block_document_id": "<id of a block document>"}"#),
    ])
    func aBadReferenceIsOneLineNamingItAndNoValue(_ template: JSONValue, _ message: String) {
        #expect(throws: TemplateReferenceError.self) { try resolveBlocks(template) }
        do {
            _ = try resolveBlocks(template)
        } catch {
            #expect("\(error)" == message)
            #expect(!"\(error)".contains("s3cr3t") && !"\(error)".contains("repo/app"))
        }
    }

    @Test func aMalformedPlaceholderFailsAlreadyWhenListing() {
        #expect(throws: TemplateReferenceError.self) { try TemplateReferences.blockReferences(in: ["f": "{{ prefect.blocks.x }}"]) }
    }

    // MARK: - Variables

    static let variables: [String: JSONValue] = [
        "bucket": "my-bucket", "count": 3, "flag": true, "nothing": nil, "mapping": ["a": 1, "b": "it's"], "items": [1, "two"],
    ]

    @Test(arguments: [
        ("{{ prefect.variables.bucket }}", "my-bucket"),
        ("{{ prefect.variables.count }}", 3),
        ("{{prefect.variables.flag}}", true),
        ("{{ prefect.variables.nothing }}", nil),
        ("{{ prefect.variables.mapping }}", ["a": 1, "b": "it's"]),
        ("s3://{{ prefect.variables.bucket }}/{{ prefect.variables.count }}", "s3://my-bucket/3"),
        ("on={{ prefect.variables.flag }} off={{ prefect.variables.nothing }}", "on=True off=None"),
        ("m={{ prefect.variables.mapping }} l={{ prefect.variables.items }}", #"m={'a': 1, 'b': "it's"} l=[1, 'two']"#),
        ("{{ prefect.variables.bucket }}{{ prefect.variables.bucket }}", "my-bucketmy-bucket"),
    ] as [(String, JSONValue)])
    func aVariablePlaceholderResolves(_ template: String, _ expected: JSONValue) throws {
        let resolved = try TemplateReferences.resolvingVariables(in: ["list": [.string(template)]], variables: Self.variables)
        #expect(resolved == ["list": [expected]])
    }

    @Test func aMissingVariableEndsTheRunNamingIt() {
        #expect(throws: TemplateReferenceError(field: "env.DIR", problem:
            "'{{ prefect.variables.gone }}' refers to variable 'gone', which does not exist on the server; create it (prefect variable set gone VALUE) or fix the reference")) {
            try TemplateReferences.resolvingVariables(in: ["env": ["DIR": "/data/{{ prefect.variables.gone }}"]], variables: Self.variables)
        }
    }

    @Test func variablesAreResolvedAfterBlocksSoABlocksDataMayHoldOne() throws {
        let documents: [BlockReference: JSONValue] = [.named(typeSlug: "string", name: "path"): ["value": "/data/{{ prefect.variables.bucket }}"]]
        let withBlocks = try TemplateReferences.resolvingBlocks(in: ["dir": "{{ prefect.blocks.string.path }}"], documents: documents)
        #expect(TemplateReferences.variableNames(in: withBlocks) == ["bucket"])
        #expect(try TemplateReferences.resolvingVariables(in: withBlocks, variables: Self.variables) == ["dir": "/data/my-bucket"])
    }

    @Test func variableNamesAreListedOnce() {
        let template: JSONValue = ["a": "{{ prefect.variables.x }}/{{ prefect.variables.y }}", "b": ["{{ prefect.variables.x }}"], "c": 1]
        #expect(TemplateReferences.variableNames(in: template) == ["x", "y"])
    }
}

@Suite struct SecretRedactionTests {
    @Test func everyScalarOfEveryBlocksDataIsMaskedLongestFirst() {
        let redaction = SecretRedaction(blockData: [
            ["value": "s3cr3t-token"], ["user": "admin-user", "password": "admin-user-pw", "port": 54321, "tls": true, "pin": "123"],
        ])
        #expect(redaction.redact("curl -u admin-user:admin-user-pw -H 'Bearer s3cr3t-token' :54321")
            == "curl -u <redacted>:<redacted> -H 'Bearer <redacted>' :<redacted>")
        #expect(redaction.redact("pin 123 stays: too short to be a secret") == "pin 123 stays: too short to be a secret")
        #expect(SecretRedaction.none.redact("s3cr3t-token") == "s3cr3t-token")
    }
}

@Suite struct KeypathTests {
    static let root: JSONValue = ["a": ["b": [10, ["c": "deep"], "text"]], "0": "zero-key", "n": nil]

    @Test(arguments: [
        ("a.b[0]", 10), ("a.b.1.c", "deep"), ("a.b[-1]", "text"), ("a.b[2][1]", "e"), ("n", nil),
    ] as [(String, JSONValue)])
    func found(_ path: String, _ expected: JSONValue) {
        #expect(Keypath.value(at: path, in: Self.root) == expected)
    }

    /// As Prefect's get_from_dict: a number is always an index, so it never reads an object's key.
    @Test(arguments: ["a.x", "a.b[3]", "a.b[-4]", "0", "a.b.c", "n.x", "", "a."])
    func missing(_ path: String) {
        #expect(Keypath.value(at: path, in: Self.root) == nil)
    }
}
