import Logging
import PrefectAPI
import PrefectWorkerCore

extension FlowRunExecutor {
    /// The populated job configuration with its block and variable references read from the
    /// server, blocks first, then variables (a block's data may hold a variable reference), as
    /// Prefect's worker does (docs/job-template-references.md). Each document and variable is read
    /// once per run; a template without references costs no request. The redaction masks every
    /// value the blocks gave.
    func resolveReferences(in populated: JSONValue, logger: Logger) async throws -> (JSONValue, SecretRedaction) {
        var documents: [BlockReference: JSONValue] = [:]
        for reference in try TemplateReferences.blockReferences(in: populated) {
            // Waited for like the deployment: a server that is briefly away must not crash the run.
            guard let answer = await untilAnswered("read \(reference)", logger: logger, { try await self.readBlockDocument(reference) }) else {
                throw PreparationError(message: "could not read \(reference) referenced by the job configuration")
            }
            if let document = answer { documents[reference] = document.data }
        }
        let redaction = SecretRedaction(blockData: documents.values)
        let withBlocks = try TemplateReferences.resolvingBlocks(in: populated, documents: documents)

        var variables: [String: JSONValue] = [:]
        for name in TemplateReferences.variableNames(in: withBlocks) {
            guard let answer = await untilAnswered("read variable '\(name)'", logger: logger, { try await self.api.readVariable(named: name) }) else {
                throw PreparationError(message: "could not read variable '\(name)' referenced by the job configuration")
            }
            if let variable = answer { variables[name] = variable.value }
        }
        return (try TemplateReferences.resolvingVariables(in: withBlocks, variables: variables), redaction)
    }

    private func readBlockDocument(_ reference: BlockReference) async throws -> BlockDocument? {
        switch reference {
        case .named(let typeSlug, let name): return try await api.readBlockDocument(typeSlug: typeSlug, name: name)
        case .id(let id): return try await api.readBlockDocument(id: id)
        }
    }
}
