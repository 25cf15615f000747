import CertbusBus
import Foundation

/// What the certificate area contributes to `certbus serve` and `certbus worker`: its job
/// handlers and its periodic tasks, built around one CA connector registry.
public enum CertificateServices {
    /// A registry with the standard connectors, built-in CA keys opened with the KEK from
    /// `CERTBUS_KEK_FILE` or `<homeDirectory>/kek`.
    public static func registry(homeDirectory: String,
                                environment: [String: String] = ProcessInfo.processInfo.environment,
                                adding extra: [any CertificateAuthorityConnectorFactory] = []) -> CertificateAuthorityRegistry {
        CertificateAuthorityRegistry.standard(
            environment: CAConnectorEnvironment(homeDirectory: homeDirectory, variables: environment), adding: extra)
    }

    /// ISSUE_CERT, RENEW_CERT, REVOKE_CERT and CA_REFRESH handlers. ISSUE_CERT jobs are issued
    /// together, up to `issueBatchSize` in one transaction (1: each job alone).
    public static func handlers(registry: CertificateAuthorityRegistry, issueBatchSize: Int = 100) -> [any JobHandler] {
        [IssueCertificateHandler(registry: registry, maximumBatchSize: issueBatchSize), RenewCertificateHandler(registry: registry),
         RevokeCertificateHandler(registry: registry), RefreshCAHandler(registry: registry)]
    }

    /// The renewal scheduler, the CA refresh scheduler and the approval expiry task.
    public static func periodicTasks() -> [any PeriodicTask] {
        [RenewalScheduler(), CARefreshScheduler(), ApprovalExpiryTask()]
    }
}
