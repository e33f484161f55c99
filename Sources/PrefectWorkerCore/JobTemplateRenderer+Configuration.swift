/// The rendered `job_configuration` object read into a typed `JobConfiguration`, with the
/// coercions pydantic applies to `ProcessJobConfiguration`.
extension JobTemplateRenderer {
    public static func jobConfiguration(from resolved: JSONValue) throws -> JobConfiguration {
        let rendered = resolved.objectValue ?? [:]
        var configuration = JobConfiguration()
        configuration.command = try optionalString(rendered["command"], field: "command")
        configuration.workingDir = try optionalString(rendered["working_dir"], field: "working_dir")
        configuration.name = try optionalString(rendered["name"], field: "name")
        configuration.streamOutput = try bool(rendered["stream_output"], field: "stream_output") ?? true
        configuration.env = try environment(rendered["env"])
        configuration.labels = try labels(rendered["labels"])
        return configuration
    }

    /// A string, or nil for null / missing / "" (Prefect treats an empty command as no command).
    private static func optionalString(_ value: JSONValue?, field: String) throws -> String? {
        switch value {
        case nil, .null?: return nil
        case .string(let text)?: return text.isEmpty ? nil : text
        case let other?: throw JobConfigurationError.wrongType(field: field, expected: "a string or null", found: describe(other))
        }
    }

    private static func bool(_ value: JSONValue?, field: String) throws -> Bool? {
        switch value {
        case nil, .null?: return nil
        case .bool(let flag)?: return flag
        case .number(let number)? where number == 0 || number == 1: return number == 1
        case .string(let text)?:
            switch text.lowercased() {
            case "true", "1", "yes", "on", "y", "t": return true
            case "false", "0", "no", "off", "n", "f": return false
            default: break
            }
        default: break
        }
        throw JobConfigurationError.wrongType(field: field, expected: "true or false", found: describe(value!))
    }

    /// Values become strings (as pydantic's `str(v)`); null stays nil so the child does not get it.
    private static func environment(_ value: JSONValue?) throws -> [String: String?] {
        switch value {
        case nil, .null?: return [:]
        case .object(let object)?:
            return object.mapValues { $0.isNull ? nil : $0.interpolationText }
        case let other?:
            throw JobConfigurationError.wrongType(field: "env", expected: "an object of strings", found: describe(other))
        }
    }

    private static func labels(_ value: JSONValue?) throws -> [String: String] {
        switch value {
        case nil, .null?: return [:]
        case .object(let object)?:
            var labels: [String: String] = [:]
            for (key, value) in object {
                guard case .string(let text) = value else {
                    throw JobConfigurationError.wrongType(field: "labels.\(key)", expected: "a string", found: describe(value))
                }
                labels[key] = text
            }
            return labels
        case let other?:
            throw JobConfigurationError.wrongType(field: "labels", expected: "an object of strings", found: describe(other))
        }
    }

    static func describe(_ value: JSONValue) -> String {
        switch value {
        case .null: return "null"
        case .bool: return "a boolean (\(value.compactJSONText))"
        case .number: return "a number (\(value.compactJSONText))"
        case .string: return "a string (\(value.compactJSONText))"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}
