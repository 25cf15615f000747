import CertbusCore
import CertbusHTTP
import Foundation
import PKI

extension ACMEClient {
    /// Issues a certificate for `csr` end to end: account, order, authorizations answered by
    /// `responder`, finalize, download.
    ///
    /// Progress goes to `progress` as automation statuses: `Creating account` → `Account
    /// created` (only while this client has no account yet), `Validating domain` → `Domain
    /// validated`, `Issuing certificate` → `Certificate issued`; a failing step reports its
    /// failure status (`Account creation failed`, `Validation failed`, `Issuance failed`) and
    /// the thrown error carries the same status in `failedStatus`.
    ///
    /// Idempotency: the order URL is reported (``ACMEProgress/order(_:resumed:)``) as soon as
    /// the order exists. Pass it back as `resumingOrder` on a retry: the order is fetched and
    /// continued where it stopped (a `valid` order is only downloaded, never issued twice). Only
    /// an `invalid` order is replaced by a new one — nothing was issued for it.
    public func issue(
        csr: CertificateSigningRequest, responder: any ACMEChallengeResponder, resumingOrder: URL? = nil,
        progress: ACMEProgressHandler? = nil
    ) async throws(ACMEError) -> ACMEIssuedCertificate {
        let report: ACMEProgressHandler = progress ?? { _ in }
        let identifiers = try Self.identifiers(for: csr)
        let names = identifiers.map(\.value).joined(separator: ", ")

        if knownAccount == nil {
            report(.status(.creatingAccount, detail: "Creating the ACME account at \(configuration.directoryURL.absoluteString)"))
            do throws(ACMEError) {
                let account = try await account()
                let verb = account.created ? "Created" : "Found existing"
                report(.status(.accountCreated, detail: "\(verb) ACME account \(account.url.absoluteString)"))
            } catch {
                report(.status(.accountCreationFailed, detail: error.description))
                throw error.ending(in: .accountCreationFailed)
            }
        }

        report(.status(.validatingDomain, detail: "Validating \(names) with \(responder.challengeType)"))
        var orderURL: URL
        var order: ACMEOrder
        do throws(ACMEError) {
            (orderURL, order) = try await openOrder(for: identifiers, resuming: resumingOrder, report: report)
            order = try await authorize(order, at: orderURL, responder: responder)
        } catch {
            report(.status(.validationFailed, detail: error.description))
            throw error.ending(in: .validationFailed)
        }
        report(.status(.domainValidated, detail: "Validated \(names)"))

        report(.status(.issuingCertificate, detail: "Finalizing order \(orderURL.absoluteString)"))
        do throws(ACMEError) {
            // Never finalize for a caller that gave up (e.g. it could not record the order URL).
            if Task.isCancelled {
                throw ACMEError(.cancelled("stopped before finalizing"), operation: "finalize order \(orderURL.absoluteString)")
            }
            if order.status == .ready { order = try await finalize(order, csr: csr) }
            order = try await waitForIssuance(order, at: orderURL)
            guard let certificateURL = order.certificate else {
                throw ACMEError(.badResponse("the valid order has no certificate URL"),
                                operation: "fetch order \(orderURL.absoluteString)")
            }
            let (pem, chain) = try await downloadChain(at: certificateURL)
            guard let leafKey = try? chain[0].publicKey, leafKey == csr.publicKey else {
                throw ACMEError(
                    .certificateMismatch("the certificate of order \(orderURL.absoluteString) is for another public key than the CSR"),
                    operation: "download certificate \(certificateURL.absoluteString)")
            }
            let issued = ACMEIssuedCertificate(orderURL: orderURL, certificateURL: certificateURL, pemChain: pem, chain: chain)
            report(.status(.certificateIssued, detail: "Issued serial \(issued.leaf.serialNumberHex) for \(names)"))
            return issued
        } catch {
            report(.status(.issuanceFailed, detail: error.description))
            throw error.ending(in: .issuanceFailed)
        }
    }

    /// The order to work on: the resumed one (when it is for the same identifiers and not
    /// `invalid`) or a new one.
    func openOrder(
        for identifiers: [ACMEIdentifier], resuming: URL?, report: ACMEProgressHandler
    ) async throws(ACMEError) -> (URL, ACMEOrder) {
        if let resuming {
            let order = try await order(at: resuming)
            let wanted = Set(identifiers.map(Self.normalised))
            let found = Set(order.identifiers.map(Self.normalised))
            guard wanted == found else {
                throw ACMEError(
                    .invalidConfiguration("order \(resuming.absoluteString) is for \(found.map(\.value).sorted().joined(separator: ", ")), not for \(wanted.map(\.value).sorted().joined(separator: ", "))"),
                    operation: "resume order \(resuming.absoluteString)")
            }
            if order.status != .invalid {
                report(.order(resuming, resumed: true))
                return (resuming, order)
            }
        }
        let (url, order) = try await placeOrder(for: identifiers)
        report(.order(url, resumed: false))
        return (url, order)
    }

    /// Answers every pending authorization of `order` with `responder` and waits (within the
    /// validation timeout) until all are valid and the order left `pending`.
    func authorize(_ order: ACMEOrder, at orderURL: URL, responder: any ACMEChallengeResponder) async throws(ACMEError)
        -> ACMEOrder
    {
        guard order.status == .pending else { return order }
        let deadline = Date().addingTimeInterval(configuration.polling.validationTimeout.seconds)
        var presented: [String] = []
        defer { for token in presented { responder.remove(token: token) } }

        // Present and start every pending challenge first, so that the CA validates them in parallel.
        var waiting: [(url: URL, identifier: ACMEIdentifier)] = []
        for url in order.authorizations {
            let authorization = try await authorization(at: url)
            switch authorization.status {
            case .valid:
                continue
            case .pending:
                let offered = authorization.challenges.map(\.type)
                guard let challenge = authorization.challenges.first(where: { $0.type == responder.challengeType }),
                    let token = challenge.token
                else {
                    throw ACMEError(
                        .unsupportedChallenge(identifier: authorization.identifier.value, offered: offered),
                        operation: "authorize \(authorization.identifier.value)")
                }
                try responder.present(
                    identifier: authorization.identifier, token: token,
                    keyAuthorization: Self.keyAuthorization(token: token, thumbprint: accountThumbprint))
                presented.append(token)
                if challenge.status == .pending { _ = try await respond(to: challenge) }
                waiting.append((url, authorization.identifier))
            default:
                throw Self.validationFailure(authorization, url: url)
            }
        }

        for (url, identifier) in waiting {
            let operation = "validate \(identifier.value)"
            let authorization = try await poll(
                ACMEAuthorization.self, at: url, until: { $0.status != .pending }, deadline: deadline,
                waitingFor: "the CA to validate \(identifier.value)", operation: operation)
            guard authorization.status == .valid else { throw Self.validationFailure(authorization, url: url) }
        }
        return try await poll(
            ACMEOrder.self, at: orderURL, until: { $0.status != .pending }, deadline: deadline,
            waitingFor: "the order to become ready", operation: "fetch order \(orderURL.absoluteString)")
    }

    /// Polls a finalized order (within the issuance timeout) until it is `valid`.
    func waitForIssuance(_ order: ACMEOrder, at orderURL: URL) async throws(ACMEError) -> ACMEOrder {
        let operation = "fetch order \(orderURL.absoluteString)"
        var current = order
        if current.status == .processing {
            let deadline = Date().addingTimeInterval(configuration.polling.issuanceTimeout.seconds)
            current = try await poll(
                ACMEOrder.self, at: orderURL, until: { $0.status != .processing }, deadline: deadline,
                waitingFor: "the CA to issue the certificate", operation: operation)
        }
        guard current.status == .valid else {
            throw ACMEError(.orderFailed(status: current.status.rawValue, problem: current.error), operation: operation)
        }
        return current
    }

    /// POST-as-GETs `url` until `done` holds, sleeping per `Retry-After` (or the interval)
    /// and giving up with `.timedOut` at `deadline`.
    func poll<T: Decodable & Sendable>(
        _ type: T.Type, at url: URL, until done: (T) -> Bool, deadline: Date, waitingFor what: String,
        operation: String
    ) async throws(ACMEError) -> T {
        while true {
            let (value, response) = try await fetch(T.self, at: url, operation: operation)
            if done(value) { return value }
            let now = Date()
            let retryAfter = ACMEPolling.retryAfterSeconds(response.headers["Retry-After"], now: now)
            guard let delay = configuration.polling.nextDelay(retryAfter: retryAfter, now: now, deadline: deadline)
            else {
                throw ACMEError(.timedOut(what), operation: operation)
            }
            do {
                try await Task.sleep(for: .seconds(delay))
            } catch {
                throw ACMEError(.cancelled("while waiting for \(what)"), operation: operation)
            }
        }
    }

    /// The identifiers to order for a CSR: its DNS names (lower-cased) and IP addresses from the
    /// subjectAltName, plus the common name when it is not among them. Throws
    /// `.invalidConfiguration` when the CSR names nothing ACME can validate.
    public static func identifiers(for csr: CertificateSigningRequest) throws(ACMEError) -> [ACMEIdentifier] {
        var result: [ACMEIdentifier] = []
        func add(_ identifier: ACMEIdentifier) {
            let normal = normalised(identifier)
            if !result.contains(normal) { result.append(normal) }
        }
        for name in csr.subjectAlternativeNames {
            switch name {
            case .dnsName(let value): add(.dns(value))
            case .ipAddress(let address): add(.ip(address.description))
            default:
                throw ACMEError(
                    .invalidConfiguration("ACME certificates can only name DNS names and IP addresses, not \(name)"),
                    operation: "read CSR")
            }
        }
        if let commonName = csr.commonName, !commonName.isEmpty {
            add(IPAddress(commonName) != nil ? .ip(commonName) : .dns(commonName))
        }
        guard !result.isEmpty else {
            throw ACMEError(.invalidConfiguration("the CSR names no DNS name or IP address"), operation: "read CSR")
        }
        return result
    }

    /// DNS identifiers compare case-insensitively.
    static func normalised(_ identifier: ACMEIdentifier) -> ACMEIdentifier {
        identifier.type == "dns" ? .dns(identifier.value.lowercased()) : identifier
    }

    /// The key authorization for `token` (RFC 8555 §8.1): `token || '.' || base64url(JWK thumbprint)`.
    public static func keyAuthorization(token: String, thumbprint: String) -> String {
        "\(token).\(thumbprint)"
    }

    /// The error for an authorization that will not become valid, with the CA's reason.
    static func validationFailure(_ authorization: ACMEAuthorization, url: URL) -> ACMEError {
        let problem = authorization.challenges.first { $0.error != nil }?.error
        return ACMEError(
            .validationFailed(identifier: authorization.identifier.value, problem: problem),
            operation: "validate \(authorization.identifier.value) (authorization \(url.absoluteString) is \(authorization.status.rawValue))")
    }
}
