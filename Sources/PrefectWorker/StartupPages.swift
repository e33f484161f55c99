import FoundationEssentials

#if canImport(Glibc)
import Glibc
#endif

/// Gives back the pages of the worker's own program and libraries that only start-up needed.
/// Their text is file-backed and clean: the kernel maps it in 64 KiB runs around every page that
/// start-up touched (argument parsing, runtime set-up, TLS), about 20 MB of a 37 MB image that an
/// idle worker never reads again. `MADV_PAGEOUT` (Linux 5.4+) reclaims what no other process maps;
/// whatever the worker needs later comes back from the page cache or the file on its next use.
/// Anonymous memory (the heap) is never touched here. Without kernel support it does nothing.
enum StartupPages {
    static let madvPageout: Int32 = 21

    /// Returns the kilobytes of resident file-backed memory before and after.
    @discardableResult
    static func release() -> (before: Int, after: Int) {
        let before = residentFileKilobytes()
        guard let maps = try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8) else { return (before, before) }
        for line in maps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            // address perms offset dev inode path: read-only, file-backed mappings only.
            guard fields.count >= 6, fields[1].hasPrefix("r"), !fields[1].contains("w"), fields[5].hasPrefix("/") else { continue }
            let range = fields[0].split(separator: "-")
            guard range.count == 2, let start = UInt(range[0], radix: 16), let end = UInt(range[1], radix: 16), end > start,
                let address = UnsafeMutableRawPointer(bitPattern: start)
            else { continue }
            _ = madvise(address, Int(end - start), madvPageout)
        }
        return (before, residentFileKilobytes())
    }

    static func residentFileKilobytes() -> Int { ProcessStatus.kilobytes("RssFile") }
}
