import NIOCore
import Testing

@testable import PrefectAPI

/// The three error body shapes of docs/prefect-worker-protocol.md §3 become one line of the server's words.
@Suite struct ErrorDetailTests {
    func detail(_ body: String) -> String {
        ErrorDetail.extract(from: ByteBuffer(string: body))
    }

    @Test func httpExceptionDetail() {
        #expect(detail(#"{"detail":"Work pool \"nope\" not found."}"#) == #"Work pool "nope" not found."#)
    }

    @Test func validationErrorNamesTheField() {
        let body = #"{"exception_message":"Invalid request received.","exception_detail":[{"type":"missing","loc":["body","name"],"msg":"Field required"}],"request_body":{}}"#
        #expect(detail(body) == "Invalid request received.; body.name: Field required")
    }

    @Test func orchestrationNotFound() {
        #expect(detail(#"{"exception_message":"Flow run with id 1 not found"}"#) == "Flow run with id 1 not found")
    }

    @Test func plainTextAndEmptyBodies() {
        #expect(detail("Service Unavailable") == "Service Unavailable")
        #expect(detail("") == "(empty body)")
        #expect(detail("line one\nline two") == "line one line two")
    }
}
