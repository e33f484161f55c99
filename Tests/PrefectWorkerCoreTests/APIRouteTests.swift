@testable import PrefectWorkerCore
import Testing

@Suite struct APIRouteTests {
    @Test(arguments: [
        ("POST", "/flow_runs/7c1e2f4a-0b3d-4e5f-8a9b-0c1d2e3f4a5b/set_state", "POST /flow_runs/{id}/set_state"),
        ("GET", "/flow_runs/7C1E2F4A-0B3D-4E5F-8A9B-0C1D2E3F4A5B", "GET /flow_runs/{id}"),
        ("POST", "/work_pools/my%20pool/workers/heartbeat", "POST /work_pools/{name}/workers/heartbeat"),
        ("POST", "/work_pools/pool-1/get_scheduled_flow_runs", "POST /work_pools/{name}/get_scheduled_flow_runs"),
        ("POST", "/work_pools/", "POST /work_pools/"),
        ("POST", "/work_pools/filter", "POST /work_pools/filter"),
        ("GET", "/flow_run_states/?flow_run_id=7c1e2f4a-0b3d-4e5f-8a9b-0c1d2e3f4a5b", "GET /flow_run_states/"),
        ("POST", "/flow_runs/filter", "POST /flow_runs/filter"),
        ("GET", "/health", "GET /health"),
        ("GET", "/block_types/slug/secret/block_documents/name/my-token?include_secrets=true",
         "GET /block_types/slug/{slug}/block_documents/name/{name}"),
        ("GET", "/block_documents/7c1e2f4a-0b3d-4e5f-8a9b-0c1d2e3f4a5b?include_secrets=true", "GET /block_documents/{id}"),
        ("GET", "/variables/name/bucket", "GET /variables/name/{name}"),
    ])
    func aRouteHasNoIdsNamesOrQuery(method: String, path: String, expected: String) {
        #expect(APIRoute.template(method: method, path: path) == expected)
    }

    @Test func onlyCanonicalUUIDsAreIds() {
        #expect(!APIRoute.isIdentifier("set_state"))
        #expect(!APIRoute.isIdentifier("7c1e2f4a0b3d4e5f8a9b0c1d2e3f4a5b"))
        #expect(!APIRoute.isIdentifier("zzzzzzzz-0b3d-4e5f-8a9b-0c1d2e3f4a5b"))
    }
}
