import FoundationEssentials

/// Fields of this process's `/proc/self/status`.
enum ProcessStatus {
    /// A kB field such as `VmRSS` or `RssFile`; 0 where it cannot be read.
    static func kilobytes(_ field: String) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") })
        else { return 0 }
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
    }
}
