/// A setting that is missing or malformed. One line naming the setting (and where it came from)
/// and the fix; the executable prints it and exits with code 2.
public struct SettingsError: Error, CustomStringConvertible, Equatable, Sendable {
    public let setting: String
    public let problem: String

    public init(setting: String, problem: String) {
        self.setting = setting
        self.problem = problem
    }

    public var description: String { "\(setting) \(problem)" }
}
