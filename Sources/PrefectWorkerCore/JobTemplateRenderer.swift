/// Renders a work pool's base job template with a deployment's and a flow run's job variables,
/// exactly as Prefect's `BaseJobConfiguration.from_template_and_values` does
/// (docs/prefect-worker-protocol.md §6). Pure: the worker's environment is passed in for `{{ $VAR }}` placeholders.
public struct JobTemplateRenderer: Sendable {
    public var workerEnvironment: [String: String]

    public init(workerEnvironment: [String: String] = [:]) {
        self.workerEnvironment = workerEnvironment
    }

    /// Deployment job variables with the flow run's on top: `env` merged per key, every other
    /// top-level key replaced by the run's value.
    public static func mergeJobVariables(
        deployment: [String: JSONValue], flowRun: [String: JSONValue]
    ) -> [String: JSONValue] {
        var merged = deployment
        if case .object(var env)? = merged["env"], case .object(let runEnv)? = flowRun["env"] {
            env.merge(runEnv) { _, run in run }
            merged["env"] = .object(env)
            for (key, value) in flowRun where key != "env" { merged[key] = value }
        } else {
            merged.merge(flowRun) { _, run in run }
        }
        return merged
    }

    /// Renders `baseJobTemplate` (`{"job_configuration": ..., "variables": ...}`) with `values`
    /// (the merged job variables) into a `JobConfiguration`, for a template without block or
    /// variable references (those stay as text here; `populate` and `TemplateReferences` resolve them).
    public func render(baseJobTemplate: JSONValue, values: [String: JSONValue]) throws -> JobConfiguration {
        try Self.jobConfiguration(from: populate(baseJobTemplate: baseJobTemplate, values: values))
    }

    /// The pool's `job_configuration` with the job variables applied, as Prefect's `apply_values`
    /// leaves it: `{{ name }}` and `{{ $NAME }}` filled, block and variable references still in
    /// place. An empty template `{}` means the default process template.
    public func populate(baseJobTemplate: JSONValue, values: [String: JSONValue]) throws -> JSONValue {
        let template = (baseJobTemplate.objectValue?.isEmpty ?? true)
            ? ProcessJobTemplate.default : baseJobTemplate
        guard case .object(var jobConfiguration)? = template["job_configuration"] else {
            throw JobConfigurationError.templateMissingJobConfiguration
        }
        var variables = Self.defaults(of: template["variables"]?["properties"]?.objectValue ?? [:])

        if let defaultEnv = variables["env"], Self.isTruthy(defaultEnv) {
            if case .object(let literalEnv)? = jobConfiguration["env"], case .object(let envDefaults) = defaultEnv {
                jobConfiguration["env"] = .object(literalEnv.merging(envDefaults) { _, new in new })
            } else {
                jobConfiguration["env"] = defaultEnv
            }
        }

        variables.merge(Self.expandDottedKeys(values)) { _, new in new }

        if case .object(let literalEnv)? = jobConfiguration["env"], let mergedEnv = variables["env"],
            Self.isTruthy(mergedEnv), case .object(let envValues) = mergedEnv
        {
            jobConfiguration["env"] = .object(literalEnv.merging(envValues) { _, new in new })
        }
        return apply(.object(jobConfiguration), values: variables) ?? .object([:])
    }

    // MARK: - Variables

    /// Non-null `default`s of the variables schema's properties.
    static func defaults(of properties: [String: JSONValue]) -> [String: JSONValue] {
        var defaults: [String: JSONValue] = [:]
        for (name, schema) in properties {
            if let value = schema["default"], !value.isNull { defaults[name] = value }
        }
        return defaults
    }

    /// `{"env.FOO": "1", "env": {"BAR": "2"}}` -> `{"env": {"FOO": "1", "BAR": "2"}}`: dotted keys
    /// first, plain keys merged on top (deeply when both are objects).
    static func expandDottedKeys(_ values: [String: JSONValue]) -> [String: JSONValue] {
        var expanded: [String: JSONValue] = [:]
        for (key, value) in values where key.contains(".") {
            expanded = setIn(expanded, path: key.split(separator: ".", omittingEmptySubsequences: false).map(String.init), value: value)
        }
        for (key, value) in values where !key.contains(".") {
            if case .object(let existing)? = expanded[key], case .object(let new) = value {
                expanded[key] = .object(deepMerge(existing, new))
            } else {
                expanded[key] = value
            }
        }
        return expanded
    }

    private static func setIn(_ object: [String: JSONValue], path: [String], value: JSONValue) -> [String: JSONValue] {
        guard let head = path.first else { return object }
        var object = object
        if path.count == 1 {
            object[head] = value
        } else {
            let inner = object[head]?.objectValue ?? [:]
            object[head] = .object(setIn(inner, path: Array(path.dropFirst()), value: value))
        }
        return object
    }

    private static func deepMerge(_ base: [String: JSONValue], _ top: [String: JSONValue]) -> [String: JSONValue] {
        var merged = base
        for (key, value) in top {
            if case .object(let left)? = merged[key], case .object(let right) = value {
                merged[key] = .object(deepMerge(left, right))
            } else {
                merged[key] = value
            }
        }
        return merged
    }

    /// Python truthiness of a JSON value, as `if variables.get("env"):` sees it.
    static func isTruthy(_ value: JSONValue) -> Bool {
        switch value {
        case .null: return false
        case .bool(let flag): return flag
        case .number(let number): return number != 0
        case .string(let string): return !string.isEmpty
        case .array(let items): return !items.isEmpty
        case .object(let object): return !object.isEmpty
        }
    }
}
