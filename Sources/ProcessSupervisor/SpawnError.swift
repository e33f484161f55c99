/// Why a command could not be started. The description is the CRASHED message of that run.
public enum SpawnError: Error, Equatable, CustomStringConvertible {
    case emptyCommand
    case executableNotFound(name: String, searchPath: String)
    case noSuchFile(path: String)
    case notExecutable(path: String)
    case isDirectory(path: String)
    case workingDirectoryMissing(path: String)
    case workingDirectoryNotADirectory(path: String)
    case systemError(call: String, errno: Int32, message: String)

    public var description: String {
        switch self {
        case .emptyCommand:
            return "the command is empty; set the job variable 'command' or leave it unset for the Prefect engine"
        case .executableNotFound(let name, let searchPath):
            return "command '\(name)' not found on PATH (\(searchPath)); install it or use an absolute path"
        case .noSuchFile(let path):
            return "command '\(path)' does not exist; fix the path in the job variable 'command'"
        case .notExecutable(let path):
            return "command '\(path)' is not executable; fix its permissions (chmod +x) or the path"
        case .isDirectory(let path):
            return "command '\(path)' is a directory, not a program"
        case .workingDirectoryMissing(let path):
            return "working_dir '\(path)' does not exist; create it or fix the job variable 'working_dir'"
        case .workingDirectoryNotADirectory(let path):
            return "working_dir '\(path)' is not a directory; fix the job variable 'working_dir'"
        case .systemError(let call, let errno, let message):
            return "\(call) failed with errno \(errno) (\(message))"
        }
    }
}
