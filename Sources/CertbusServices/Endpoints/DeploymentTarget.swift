import CertbusCore
import Foundation
import PKI
import Postgres

/// An endpoint together with what should be served there, loaded for a validation.
public struct DeploymentTarget: Sendable {
    public var endpoint: Endpoint
    /// The expected certificate, the name to check, and the issuing CA's certificates.
    public var expectation: DeploymentExpectation

    /// Loads the endpoint, its expected certificate and the certificates of the CA that issued it (the CA's
    /// own certificate and chain when certbus holds the CA, plus the chain stored with the certificate).
    /// Throws `EndpointError.notFound` for an unknown endpoint.
    public static func load(endpointId: UUID, on connection: Connection) throws -> DeploymentTarget {
        let endpoint = try EndpointStore.find(id: endpointId, on: connection)
        var certificate: Certificate?
        var caCertificates: [Certificate] = []
        if let certificateId = endpoint.expectedCertificateId,
            let row = try connection.query(
                """
                SELECT c.certificate_pem, c.chain_pem, ca.certificate_pem AS ca_pem, ca.chain_pem AS ca_chain_pem
                  FROM certbus.certificates c LEFT JOIN certbus.certificate_authorities ca ON ca.id = c.ca_id
                 WHERE c.id = $1
                """, [certificateId]
            ).firstRow
        {
            certificate = try Certificate(pem: try row.decode("certificate_pem", as: String.self))
            for column in ["chain_pem", "ca_pem", "ca_chain_pem"] {
                if let pem: String = try row.decode(column), !pem.isEmpty {
                    for candidate in (try? Certificate.parseChain(pem: pem)) ?? [] where !caCertificates.contains(candidate) {
                        caCertificates.append(candidate)
                    }
                }
            }
        }
        return DeploymentTarget(
            endpoint: endpoint,
            expectation: DeploymentExpectation(certificate: certificate, name: endpoint.nameToVerify, caCertificates: caCertificates))
    }
}
