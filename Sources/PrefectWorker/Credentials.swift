import Foundation

/// The worker's API credentials: `PREFECT_API_KEY` / `PREFECT_API_AUTH_STRING` from the
/// environment or from the files `PREFECT_API_KEY_FILE` / `PREFECT_API_AUTH_STRING_FILE` name, else
/// from systemd credentials (`LoadCredential=prefect-api-key:...` and
/// `prefect-api-auth-string`, read from `$CREDENTIALS_DIRECTORY`), so the secret never has to be
/// in an environment file.
struct Credentials {
    var apiKey: String?
    var authString: String?
    /// True when one of them came from `$CREDENTIALS_DIRECTORY`.
    var fromCredentialsDirectory = false

    static let apiKeyCredential = "prefect-api-key"
    static let authStringCredential = "prefect-api-auth-string"

    static func resolve(_ env: [String: String]) throws -> Credentials {
        var credentials = Credentials(
            apiKey: try secret(env, "PREFECT_API_KEY"), authString: try secret(env, "PREFECT_API_AUTH_STRING"))
        guard let directory = SettingsResolver.nonEmpty(env["CREDENTIALS_DIRECTORY"]) else { return credentials }
        if credentials.apiKey == nil, let key = try read(apiKeyCredential, in: directory) {
            credentials.apiKey = key
            credentials.fromCredentialsDirectory = true
        }
        if credentials.authString == nil, let auth = try read(authStringCredential, in: directory) {
            credentials.authString = auth
            credentials.fromCredentialsDirectory = true
        }
        return credentials
    }

    /// `NAME`, or the content of the file `NAME_FILE` names (without its trailing newline); not both.
    static func secret(_ env: [String: String], _ name: String) throws -> String? {
        let value = SettingsResolver.nonEmpty(env[name])
        guard let path = SettingsResolver.nonEmpty(env["\(name)_FILE"]) else { return value }
        guard value == nil else {
            throw SettingsError(setting: "\(name)_FILE", problem: "is set and so is \(name); keep one of them")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SettingsError(setting: "\(name)_FILE", problem: "names '\(path)', which cannot be read; check the path and its permissions")
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .newlines)
        return text.isEmpty ? nil : text
    }

    /// The credential's content without its trailing newline; nil when the unit does not load it.
    private static func read(_ name: String, in directory: String) throws -> String? {
        let path = "\(directory)/\(name)"
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SettingsError(setting: "credential \(name)", problem: "cannot be read at \(path); check the unit's LoadCredential= line")
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .newlines)
        return text.isEmpty ? nil : text
    }
}
