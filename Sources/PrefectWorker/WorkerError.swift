/// Why the worker as a whole cannot go on. Each is one line naming the problem and the fix.
public enum WorkerError: Error, CustomStringConvertible, Equatable {
    case poolNotFound(String)
    case wrongPoolType(pool: String, type: String)
    /// The server refused the credentials on the periodic calls several times in a row.
    case credentialsRefused(String)

    public var description: String {
        switch self {
        case .poolNotFound(let pool):
            return "work pool '\(pool)' does not exist and pool creation is off; create it or drop --no-create-pool-if-not-found"
        case .wrongPoolType(let pool, let type):
            return "work pool '\(pool)' is of type '\(type)', not 'process'; use a process pool or the worker for '\(type)'"
        case .credentialsRefused(let line):
            return line
        }
    }
}
