import CertbusHTTP
import Foundation
import PKI

extension ACMEClient {
    /// Places a new order for `identifiers` (RFC 8555 §7.4) and returns its URL (the CA
    /// request id) and state.
    public func placeOrder(for identifiers: [ACMEIdentifier]) async throws(ACMEError) -> (url: URL, order: ACMEOrder) {
        let directory = try await directory()
        let operation = "place order for \(identifiers.map(\.value).joined(separator: ", "))"
        struct NewOrder: Encodable { var identifiers: [ACMEIdentifier] }
        let response = try await post(
            directory.newOrder, payload: Self.payload(NewOrder(identifiers: identifiers)), operation: operation)
        let url = try Self.location(response, operation: operation)
        return (url, try Self.decode(ACMEOrder.self, from: response, operation: operation))
    }

    /// The current state of the order at `url`.
    public func order(at url: URL) async throws(ACMEError) -> ACMEOrder {
        try await fetch(ACMEOrder.self, at: url, operation: "fetch order \(url.absoluteString)").0
    }

    /// The current state of the authorization at `url`.
    public func authorization(at url: URL) async throws(ACMEError) -> ACMEAuthorization {
        try await fetch(ACMEAuthorization.self, at: url, operation: "fetch authorization \(url.absoluteString)").0
    }

    /// Tells the CA that `challenge` is ready to be validated (POST `{}`, RFC 8555 §7.5.1).
    public func respond(to challenge: ACMEChallenge) async throws(ACMEError) -> ACMEChallenge {
        let operation = "start \(challenge.type) challenge \(challenge.url.absoluteString)"
        let response = try await post(challenge.url, payload: Data("{}".utf8), operation: operation)
        return try Self.decode(ACMEChallenge.self, from: response, operation: operation)
    }

    /// Sends the CSR (DER, base64url) to the order's finalize URL (RFC 8555 §7.4). The order
    /// must be `ready`; the returned order is usually `processing` or `valid`.
    public func finalize(_ order: ACMEOrder, csr: CertificateSigningRequest) async throws(ACMEError) -> ACMEOrder {
        let operation = "finalize order at \(order.finalize.absoluteString)"
        struct Finalize: Encodable { var csr: String }
        let response = try await post(
            order.finalize, payload: Self.payload(Finalize(csr: Base64URL.encode(csr.der))), operation: operation)
        return try Self.decode(ACMEOrder.self, from: response, operation: operation)
    }

    /// Downloads the PEM chain (`application/pem-certificate-chain`, leaf first) of an issued
    /// order; `.badResponse` when it does not parse.
    public func downloadChain(at url: URL) async throws(ACMEError) -> (pem: String, chain: [PKI.Certificate]) {
        let operation = "download certificate \(url.absoluteString)"
        let response = try await post(
            url, payload: nil, operation: operation, accept: "application/pem-certificate-chain")
        guard let pem = response.bodyText else {
            throw ACMEError(.badResponse("the certificate chain is not text"), operation: operation)
        }
        do {
            return (pem, try PKI.Certificate.parseChain(pem: pem))
        } catch {
            throw ACMEError(.badResponse("the certificate chain does not parse: \(error)"), operation: operation)
        }
    }

    /// Revokes `certificate` (RFC 8555 §7.6), signed with the account key, with `reason` (nil
    /// sends none). A certificate revoked before gives the CA's problem (`alreadyRevoked`).
    public func revoke(_ certificate: PKI.Certificate, reason: RevocationReason?) async throws(ACMEError) {
        try await revoke(certificate, reasonCode: reason?.rawValue)
    }

    /// Revokes `certificate` (RFC 8555 §7.6), signed with the account key, with an RFC 5280
    /// CRLReason code (0–10 except 7; nil sends none, which CAs read as unspecified). A
    /// certificate revoked before gives the CA's problem (`alreadyRevoked`).
    public func revoke(_ certificate: PKI.Certificate, reasonCode: Int? = nil) async throws(ACMEError) {
        let operation = "revoke certificate \(certificate.serialNumberHex)"
        if let reasonCode, !(0...10).contains(reasonCode) || reasonCode == 7 {
            throw ACMEError(
                .invalidConfiguration("\(reasonCode) is not an RFC 5280 revocation reason code (0-10, except 7)"),
                operation: operation)
        }
        let directory = try await directory()
        struct Revocation: Encodable {
            var certificate: String
            var reason: Int?
        }
        _ = try await post(
            directory.revokeCert,
            payload: Self.payload(Revocation(certificate: Base64URL.encode(certificate.der), reason: reasonCode)),
            operation: operation)
    }
}
