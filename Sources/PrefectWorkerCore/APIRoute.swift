/// The route of a Prefect API request as a metric label: the path without its query, with ids
/// and pool names replaced, so `POST /flow_runs/7c1e…/set_state` and every other run's claim
/// count as one route (`POST /flow_runs/{id}/set_state`).
public enum APIRoute {
    public static func template(method: String, path: String) -> String {
        let withoutQuery = path.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        var segments: [String] = []
        for segment in withoutQuery.split(separator: "/", omittingEmptySubsequences: false).map(String.init) {
            if segments.last == "work_pools" && !segment.isEmpty && !namedRoutes.contains(segment) {
                segments.append("{name}")
            } else if let placeholder = lookupPlaceholders[segments.last ?? ""], !segment.isEmpty {
                segments.append(placeholder)
            } else if isIdentifier(segment) {
                segments.append("{id}")
            } else {
                segments.append(segment)
            }
        }
        return "\(method) \(segments.joined(separator: "/"))"
    }

    /// `/block_types/slug/{slug}/block_documents/name/{name}`, `/variables/name/{name}`: reads by
    /// a user's name, which must not become a label of its own.
    private static let lookupPlaceholders = ["slug": "{slug}", "name": "{name}"]

    /// Routes under `/work_pools/` that are not a pool's name.
    private static let namedRoutes: Set<String> = ["filter", "count"]

    /// A UUID in its canonical 8-4-4-4-12 hex form.
    static func isIdentifier(_ segment: String) -> Bool {
        let groups = segment.split(separator: "-", omittingEmptySubsequences: false)
        guard groups.map(\.count) == [8, 4, 4, 4, 12] else { return false }
        return groups.allSatisfy { $0.allSatisfy(\.isHexDigit) }
    }
}
