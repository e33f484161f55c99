import FoundationEssentials
import PrefectWorkerCore

/// The worker's API credentials: `PREFECT_API_KEY` / `PREFECT_API_AUTH_STRING` (flag-less settings:
/// environment or configuration file) or the files `PREFECT_API_KEY_FILE` / `PREFECT_API_AUTH_STRING_FILE` name, else
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

    static func resolve(_ settings: SettingsResolver) throws -> Credentials {
        var credentials = Credentials(apiKey: try settings.secret("api_key"), authString: try settings.secret("api_auth_string"))
        guard let directory = SettingsResolver.nonEmpty(settings.environment["CREDENTIALS_DIRECTORY"]) else { return credentials }
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

    /// The credential's content without its trailing newline; nil when the unit does not load it.
    private static func read(_ name: String, in directory: String) throws -> String? {
        let path = "\(directory)/\(name)"
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SettingsError(setting: "credential \(name)", problem: "cannot be read at \(path); check the unit's LoadCredential= line")
        }
        let text = String(decoding: data, as: UTF8.self).trimming(while: \.isNewline)
        return text.isEmpty ? nil : text
    }
}
