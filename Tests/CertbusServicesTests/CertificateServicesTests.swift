import CertbusBus
import CertbusServices
import Foundation
import Testing

/// `CertificateServices.handlers`: the ISSUE_CERT batch size `certbus worker --batch-size` gives
/// reaches the handler. No database.
@Suite struct CertificateServicesTests {
    private func issueHandler(_ handlers: [any JobHandler]) throws -> IssueCertificateHandler {
        try #require(handlers.compactMap { $0 as? IssueCertificateHandler }.first)
    }

    @Test func issueBatchSizeReachesTheHandler() throws {
        let registry = CertificateServices.registry(homeDirectory: NSTemporaryDirectory(), environment: [:])
        #expect(try issueHandler(CertificateServices.handlers(registry: registry)).maximumBatchSize == 100)
        #expect(try issueHandler(CertificateServices.handlers(registry: registry, issueBatchSize: 7)).maximumBatchSize == 7)
        #expect(try issueHandler(CertificateServices.handlers(registry: registry, issueBatchSize: 1)).maximumBatchSize == 1)
    }
}
