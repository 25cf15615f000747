import CertbusHTTP
import Foundation
import PKI

/// An RFC 8555 ACME client for one CA and one account key.
///
/// Holds the directory, the account URL and unused nonces in memory; thread-safe, so one
/// client can serve concurrent issuances. Every request is a JWS signed with the account key
/// (ES256 for P-256 keys): `jwk` for newAccount, `kid` afterwards, POST-as-GET for reads. A
/// `badNonce` refusal is retried once with the fresh nonce the CA sent along.
///
/// The high-level operations are ``issue(csr:responder:resumingOrder:progress:)`` and
/// ``revoke(_:reasonCode:)``; the individual steps are public too.
public final class ACMEClient: @unchecked Sendable {
    /// The settings the client was made with.
    public let configuration: ACMEClientConfiguration
    let accountKey: PrivateKey
    /// The account key's JWK.
    public let accountJWK: JSONWebKey
    /// The RFC 7638 thumbprint of the account key, as used in key authorizations.
    public let accountThumbprint: String
    let http: HTTPClient
    let nonces = ACMENoncePool()

    private let lock = NSLock()
    private var cachedDirectory: ACMEDirectory?
    private var cachedAccount: ACMEAccount?
    private var badNonceRetries = 0

    /// A client for `configuration.directoryURL` acting for `accountKey`. Pass `accountURL`
    /// when the account is known (saves the newAccount round trip). Throws
    /// `.invalidConfiguration` when the key cannot sign JWS requests.
    public init(configuration: ACMEClientConfiguration, accountKey: PrivateKey, accountURL: URL? = nil) throws(ACMEError) {
        self.configuration = configuration
        self.accountKey = accountKey
        do {
            accountJWK = try accountKey.publicKey.jsonWebKey()
        } catch {
            throw ACMEError(.invalidConfiguration("the account key cannot be used for ACME: \(error)"),
                            operation: "configure ACME client")
        }
        accountThumbprint = accountJWK.thumbprint
        http = HTTPClient(configuration: .init(
            trust: configuration.trust, connectTimeout: configuration.connectTimeout,
            requestTimeout: configuration.requestTimeout, userAgent: "certbus-acme"))
        if let accountURL {
            cachedAccount = ACMEAccount(url: accountURL, status: .valid, contact: configuration.contact, created: false)
        }
    }

    /// How many requests were sent again after a `badNonce` refusal (diagnostics).
    public var badNonceRetryCount: Int { lock.withLock { badNonceRetries } }

    /// The account, when this client has created or been told it.
    public var knownAccount: ACMEAccount? { lock.withLock { cachedAccount } }

    // MARK: - Directory and nonces

    /// The CA's directory, fetched once and then cached; `refresh` fetches it again (a health
    /// check for the CA). Fails with `.transport` when the CA is unreachable and `.badResponse`
    /// when the URL does not serve an ACME directory.
    public func directory(refresh: Bool = false) async throws(ACMEError) -> ACMEDirectory {
        if !refresh, let cached = lock.withLock({ cachedDirectory }) { return cached }
        let url = configuration.directoryURL
        let operation = "fetch ACME directory \(url.absoluteString)"
        let response = try await send(HTTPClientRequest(method: .get, url: url), operation: operation)
        guard response.isSuccess else { throw Self.refusal(response, operation: operation) }
        let directory: ACMEDirectory
        do {
            directory = try JSONDecoder().decode(ACMEDirectory.self, from: response.body)
        } catch {
            throw ACMEError(
                .badResponse("not an ACME directory (\(Self.describe(error))): \(Self.snippet(response.body))"),
                operation: operation)
        }
        if directory.meta?.externalAccountRequired == true {
            throw ACMEError(
                .invalidConfiguration("the CA requires external account binding (EAB), which certbus does not support"),
                operation: operation)
        }
        lock.withLock { cachedDirectory = directory }
        return directory
    }

    /// A nonce from the pool, or a fresh one from `newNonce` (HEAD).
    func nonce(operation: String) async throws(ACMEError) -> String {
        if let nonce = nonces.take() { return nonce }
        let directory = try await directory()
        let response = try await send(HTTPClientRequest(method: .head, url: directory.newNonce), operation: operation)
        guard response.isSuccess || response.status == 204 else { throw Self.refusal(response, operation: operation) }
        guard let nonce = response.headers["Replay-Nonce"], ACMENoncePool.isWellFormed(nonce) else {
            throw ACMEError(.badResponse("newNonce answered without a valid Replay-Nonce header"), operation: operation)
        }
        return nonce
    }

    // MARK: - Signed requests

    /// POSTs a JWS of `payload` (nil: POST-as-GET) to `url`, signed with the account key and
    /// naming it by `keyReference` (default: the account URL). Retries once on `badNonce`.
    /// Returns only 2xx responses; anything else throws the CA's problem or `.badResponse`.
    func post(
        _ url: URL, payload: Data?, operation: String, keyReference: ACMEJWS.KeyReference? = nil,
        accept: String? = nil
    ) async throws(ACMEError) -> HTTPResponse {
        let reference: ACMEJWS.KeyReference
        if let keyReference {
            reference = keyReference
        } else {
            reference = .kid(try await account().url)
        }
        var attempt = 1
        while true {
            let nonce = try await nonce(operation: operation)
            let body: Data
            do {
                body = try ACMEJWS.sign(payload: payload, url: url, nonce: nonce, key: accountKey, keyReference: reference)
            } catch {
                throw ACMEError(.invalidConfiguration("cannot sign with the account key: \(error)"), operation: operation)
            }
            var headers: HTTPHeaders = ["Content-Type": "application/jose+json"]
            if let accept { headers["Accept"] = accept }
            let response = try await send(
                HTTPClientRequest(method: .post, url: url, headers: headers, body: body), operation: operation)
            if response.isSuccess { return response }
            let error = Self.refusal(response, operation: operation)
            if attempt == 1, error.problem?.is("badNonce") == true {
                attempt += 1
                lock.withLock { badNonceRetries += 1 }
                continue
            }
            throw error
        }
    }

    /// POST-as-GET (RFC 8555 §6.3) of a resource, decoded as `T`, with the response.
    func fetch<T: Decodable>(_ type: T.Type, at url: URL, operation: String) async throws(ACMEError) -> (T, HTTPResponse) {
        let response = try await post(url, payload: nil, operation: operation)
        return (try Self.decode(T.self, from: response, operation: operation), response)
    }

    /// Sends one HTTP request and keeps any `Replay-Nonce` of the answer.
    func send(_ request: HTTPClientRequest, operation: String) async throws(ACMEError) -> HTTPResponse {
        let response: HTTPResponse
        do {
            response = try await http.send(request)
        } catch {
            throw ACMEError(.transport(error), operation: operation)
        }
        if let nonce = response.headers["Replay-Nonce"] { nonces.add(nonce) }
        return response
    }

    /// Encodes a request payload as compact JSON.
    static func payload<T: Encodable>(_ value: T) -> Data {
        // Encoding plain structs of strings, booleans and arrays cannot fail.
        (try? ACMEJWS.encoder.encode(value)) ?? Data("{}".utf8)
    }

    // MARK: - Response decoding

    /// The body of a 2xx response as `T`, or `.badResponse` naming what is wrong.
    static func decode<T: Decodable>(_ type: T.Type, from response: HTTPResponse, operation: String) throws(ACMEError) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: response.body)
        } catch {
            throw ACMEError(
                .badResponse("cannot read the \(T.self) (\(describe(error))): \(snippet(response.body))"),
                operation: operation)
        }
    }

    /// The error for a non-2xx response: the problem document when there is one, else `.badResponse`.
    static func refusal(_ response: HTTPResponse, operation: String) -> ACMEError {
        if var problem = try? JSONDecoder().decode(ACMEProblem.self, from: response.body), !problem.type.isEmpty {
            if problem.status == nil { problem.status = response.status }
            return ACMEError(.problem(problem), operation: operation)
        }
        return ACMEError(
            .badResponse("HTTP \(response.status) \(response.reason): \(snippet(response.body))"), operation: operation)
    }

    /// The `Location` header as an absolute URL.
    static func location(_ response: HTTPResponse, operation: String) throws(ACMEError) -> URL {
        guard let text = response.headers["Location"], let url = URL(string: text), url.scheme != nil else {
            throw ACMEError(.badResponse("HTTP \(response.status) without a Location header"), operation: operation)
        }
        return url
    }

    /// The first 200 characters of a body, for error messages.
    static func snippet(_ body: Data) -> String {
        guard !body.isEmpty else { return "(empty body)" }
        let text = String(decoding: body.prefix(200), as: UTF8.self)
            .replacingOccurrences(of: "\n", with: " ").trimmingCharacters(in: .whitespaces)
        return body.count > 200 ? text + "…" : text
    }

    /// A short description of a JSON decoding failure.
    static func describe(_ error: Error) -> String {
        switch error as? DecodingError {
        case .keyNotFound(let key, _): "missing \"\(key.stringValue)\""
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            "bad \"\(context.codingPath.map(\.stringValue).joined(separator: "."))\": \(context.debugDescription)"
        case .dataCorrupted(let context):
            context.codingPath.isEmpty
                ? "not JSON"
                : "bad \"\(context.codingPath.map(\.stringValue).joined(separator: "."))\": \(context.debugDescription)"
        default: "\(error)"
        }
    }

    // MARK: - Account

    /// The account for this key: created with `termsOfServiceAgreed` and `contact` when new, or
    /// found when the CA already knows the key (RFC 8555 §7.3.1). Cached after the first call.
    public func account() async throws(ACMEError) -> ACMEAccount {
        if let cached = lock.withLock({ cachedAccount }) { return cached }
        let directory = try await directory()
        let operation = "create account at \(directory.newAccount.absoluteString)"
        struct NewAccount: Encodable {
            var termsOfServiceAgreed: Bool
            var contact: [String]?
        }
        let payload = Self.payload(NewAccount(
            termsOfServiceAgreed: configuration.termsOfServiceAgreed,
            contact: configuration.contact.isEmpty ? nil : configuration.contact))
        let response = try await post(
            directory.newAccount, payload: payload, operation: operation, keyReference: .jwk(accountJWK))
        let url = try Self.location(response, operation: operation)
        let body = try Self.decode(ACMEAccountBody.self, from: response, operation: operation)
        guard body.status == .valid else {
            throw ACMEError(.badResponse("the account at \(url.absoluteString) is \(body.status.rawValue)"),
                            operation: operation)
        }
        let account = ACMEAccount(
            url: url, status: body.status, contact: body.contact ?? [], created: response.status == 201)
        lock.withLock { cachedAccount = account }
        return account
    }
}
