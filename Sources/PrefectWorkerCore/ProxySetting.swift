import FoundationEssentials

/// An HTTP proxy from `HTTPS_PROXY` / `HTTP_PROXY` (`http://[user:password@]host[:port]`), and the
/// `NO_PROXY` rule that decides whether a host is reached without it.
public struct ProxySetting: Sendable, Equatable {
    public var host: String
    public var port: Int
    /// `user:password` for `Proxy-Authorization: Basic`.
    public var credentials: String?

    /// Nil when `text` is not an http proxy URL; a bare `host:port` is taken as http.
    public init?(_ text: String) {
        let trimmed = text.trimmingSpaces()
        let withScheme = trimmed.contains("://") ? trimmed : "http://" + trimmed
        guard let url = URL(string: withScheme), url.scheme?.lowercased() == "http", let host = url.host, !host.isEmpty else {
            return nil
        }
        self.host = host
        self.port = url.port ?? 80
        if let decodedUser = url.user(percentEncoded: false) {
            let decodedPassword = url.password(percentEncoded: false)
            credentials = decodedPassword.map { "\(decodedUser):\($0)" } ?? decodedUser
        }
    }

    public init(host: String, port: Int, credentials: String? = nil) {
        self.host = host
        self.port = port
        self.credentials = credentials
    }

    /// True when `host` matches an entry of `NO_PROXY`, as curl reads it: `*` matches every host,
    /// `example.com` and `.example.com` match the domain and its subdomains, an IP matches itself;
    /// a `:port` on an entry is ignored.
    public static func bypasses(host: String, noProxy: [String]) -> Bool {
        let host = host.lowercased().trimming(while: { $0 == "[" || $0 == "]" })
        for raw in noProxy {
            var entry = raw.lowercased().trimmingSpaces()
            if entry == "*" { return true }
            if entry.hasPrefix("["), let close = entry.firstIndex(of: "]") {
                entry = String(entry[entry.index(after: entry.startIndex)..<close])
            } else if entry.filter({ $0 == ":" }).count == 1, let colon = entry.firstIndex(of: ":") {
                entry = String(entry[..<colon])
            }
            if entry.hasPrefix(".") { entry.removeFirst() }
            guard !entry.isEmpty else { continue }
            if host == entry || host.hasSuffix("." + entry) { return true }
        }
        return false
    }
}
