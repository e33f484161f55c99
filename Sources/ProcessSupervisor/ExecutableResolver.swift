import FoundationEssentials

#if canImport(Glibc)
import Glibc
#endif

/// Finds the program to run the way a shell would: a name with a slash is used as given (relative
/// to the working directory), any other name is searched on the child's PATH.
public enum ExecutableResolver {
    public static func resolve(_ name: String, path searchPath: String?, workingDirectory: String?) throws -> String {
        if name.isEmpty { throw SpawnError.emptyCommand }
        if name.contains("/") {
            let full = name.hasPrefix("/") || workingDirectory == nil ? name : "\(workingDirectory!)/\(name)"
            try check(full, shownAs: name)
            return full
        }
        let searchPath = searchPath ?? "/usr/local/bin:/usr/bin:/bin"
        var firstNotExecutable: String?
        for directory in searchPath.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (directory.isEmpty ? "." : String(directory)) + "/" + name
            var info = stat()
            guard stat(candidate, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
            if access(candidate, X_OK) == 0 { return candidate }
            firstNotExecutable = firstNotExecutable ?? candidate
        }
        if let firstNotExecutable { throw SpawnError.notExecutable(path: firstNotExecutable) }
        throw SpawnError.executableNotFound(name: name, searchPath: searchPath)
    }

    private static func check(_ path: String, shownAs name: String) throws {
        var info = stat()
        guard stat(path, &info) == 0 else { throw SpawnError.noSuchFile(path: name) }
        if (info.st_mode & S_IFMT) == S_IFDIR { throw SpawnError.isDirectory(path: name) }
        guard access(path, X_OK) == 0 else { throw SpawnError.notExecutable(path: name) }
    }
}
