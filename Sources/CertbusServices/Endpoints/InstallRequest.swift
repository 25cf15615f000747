import CertbusCore
import Foundation
import Postgres

/// Asks an endpoint's agent to install a certificate (`certbus.request_install`).
public enum InstallRequest {
    /// Enqueues INSTALL_CERT on the agent's queue: `certificate` (id or SHA-256 fingerprint of an issued
    /// certificate the agent holds the key of) or `profile` (the agent generates a key and submits a CSR
    /// for `names`, default the endpoint's server name). Moves the endpoint to Automation requested.
    /// Returns the job id. Throws `EndpointError` (and changes nothing) for an endpoint without agent,
    /// an unknown certificate, an install already in flight, or an endpoint whose status forbids it.
    public static func enqueue(
        endpointId: UUID, certificate: String? = nil, profile: String? = nil, keyAlgorithm: String? = nil,
        names: [String]? = nil, actor: Actor, on connection: Connection
    ) throws -> Int64 {
        do {
            return try connection.withTransaction { c in
                let certificateId = try certificate.map { try CertificateReference.resolve($0, on: c) }
                return try c.query(
                    "SELECT certbus.request_install($1, $2, $3, $4, $5::text[], $6, $7) AS id",
                    [endpointId, certificateId, profile, keyAlgorithm, names, actor.kind.rawValue, actor.id]
                )[0].decode("id")
            }
        } catch let error as PostgresError {
            if error.isUniqueViolation {
                throw EndpointError(.duplicate, "an install is already queued or running for this endpoint: \(error.message)")
            }
            if error.sqlState == "22023" { throw EndpointError(.invalidInput, error.message) }
            throw EndpointError.translating(error)
        }
    }
}

/// Enqueues deployment validations (`certbus.enqueue_deployment_validation`).
public enum DeploymentValidation {
    /// Enqueues VALIDATE_DEPLOYMENT for the endpoint, or returns the id of the one already queued or running.
    public static func enqueue(endpointId: UUID, actor: Actor, on connection: Connection) throws -> Int64 {
        do {
            return try connection.query(
                "SELECT certbus.enqueue_deployment_validation($1, $2, $3) AS id", [endpointId, actor.kind.rawValue, actor.id]
            )[0].decode("id")
        } catch {
            throw EndpointError.translating(error)
        }
    }
}
