import CertbusCore
import CertbusHTTP
import Foundation
@testable import PKI
import Testing

@testable import CertbusServices

/// The pure parts of the ACME client: JWS, problems, configuration, polling, identifiers.
@Suite struct ACMEJWSTests {
    struct Body: Decodable {
        var protected: String
        var payload: String
        var signature: String
    }

    func decode(_ body: Data) throws -> (header: [String: Any], payload: String, body: Body) {
        let parsed = try JSONDecoder().decode(Body.self, from: body)
        let headerData = try #require(Base64URL.decode(parsed.protected))
        let header = try #require(try JSONSerialization.jsonObject(with: headerData) as? [String: Any])
        return (header, parsed.payload, parsed)
    }

    @Test func newAccountRequestsCarryTheJWKAndVerifyAsES256() throws {
        let key = try PrivateKey.generate(.ecdsaP256)
        let jwk = try key.publicKey.jsonWebKey()
        let url = URL(string: "https://ca.example/acme/new-acct")!
        let body = try ACMEJWS.sign(
            payload: Data(#"{"termsOfServiceAgreed":true}"#.utf8), url: url, nonce: "abc_-1", key: key,
            keyReference: .jwk(jwk))

        let (header, payload, parsed) = try decode(body)
        #expect(header["alg"] as? String == "ES256")
        #expect(header["nonce"] as? String == "abc_-1")
        #expect(header["url"] as? String == "https://ca.example/acme/new-acct")
        #expect(header["kid"] == nil)
        let sentJWK = try #require(header["jwk"] as? [String: String])
        #expect(sentJWK == jwk.members)
        #expect(Base64URL.decode(payload) == Data(#"{"termsOfServiceAgreed":true}"#.utf8))
        let signature = try #require(Base64URL.decode(parsed.signature))
        #expect(signature.count == 64)  // raw r || s
        let input = Data("\(parsed.protected).\(parsed.payload)".utf8)
        #expect(try key.publicKey.verifyJWSSignature(signature, for: input))
        #expect(try !key.publicKey.verifyJWSSignature(signature, for: input + Data("x".utf8)))
    }

    @Test func laterRequestsNameTheAccountAndPostAsGetHasAnEmptyPayload() throws {
        let key = try PrivateKey.generate(.ecdsaP256)
        let account = URL(string: "https://ca.example/acme/acct/42")!
        let body = try ACMEJWS.sign(
            payload: nil, url: URL(string: "https://ca.example/acme/order/7")!, nonce: "n", key: key,
            keyReference: .kid(account))

        let (header, payload, parsed) = try decode(body)
        #expect(header["kid"] as? String == "https://ca.example/acme/acct/42")
        #expect(header["jwk"] == nil)
        #expect(payload == "")
        let signature = try #require(Base64URL.decode(parsed.signature))
        #expect(try key.publicKey.verifyJWSSignature(signature, for: Data("\(parsed.protected).".utf8)))
    }

    @Test func keyAuthorizationIsTokenDotThumbprint() throws {
        // RFC 7638 §3.1 example key and thumbprint.
        let jwk = JSONWebKey(members: [
            "kty": "RSA", "e": "AQAB",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        ])
        #expect(jwk.thumbprint == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        #expect(ACMEClient.keyAuthorization(token: "tok-1", thumbprint: jwk.thumbprint)
            == "tok-1.NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
    }
}

@Suite struct ACMEProblemTests {
    @Test func decodesAProblemDocumentWithSubproblems() throws {
        let json = """
            {"type": "urn:ietf:params:acme:error:rejectedIdentifier", "detail": "Some names were refused",
             "status": 400, "subproblems": [
               {"type": "urn:ietf:params:acme:error:rejectedIdentifier", "detail": "policy forbids it",
                "identifier": {"type": "dns", "value": "shop.invalid"}}]}
            """
        let problem = try JSONDecoder().decode(ACMEProblem.self, from: Data(json.utf8))
        #expect(problem.name == "rejectedIdentifier")
        #expect(problem.is("rejectedIdentifier"))
        #expect(!problem.is("unauthorized"))
        #expect(problem.status == 400)
        #expect(problem.subproblems?.first?.identifier == .dns("shop.invalid"))
        #expect(problem.description == "urn:ietf:params:acme:error:rejectedIdentifier (400): Some names were refused"
            + " [shop.invalid: urn:ietf:params:acme:error:rejectedIdentifier: policy forbids it]")
        #expect(!problem.isRetryable)
    }

    @Test func retryableProblemsAreTheTransientOnes() {
        for name in ["badNonce", "rateLimited", "serverInternal"] {
            #expect(ACMEProblem(type: ACMEProblem.acmeErrorPrefix + name).isRetryable, "\(name)")
        }
        for name in ["unauthorized", "rejectedIdentifier", "malformed", "badCSR", "alreadyRevoked", "connection"] {
            #expect(!ACMEProblem(type: ACMEProblem.acmeErrorPrefix + name, status: 400).isRetryable, "\(name)")
        }
        #expect(ACMEProblem(type: "about:blank", status: 503).isRetryable)
        #expect(ACMEProblem(type: "https://ca.example/problems/custom").name == "https://ca.example/problems/custom")
    }

    @Test func refusalsUseTheProblemDocumentOrDescribeTheResponse() {
        let problem = ACMEClient.refusal(
            HTTPResponse(status: 403, headers: ["Content-Type": "application/problem+json"],
                         body: Data(#"{"type":"urn:ietf:params:acme:error:unauthorized","detail":"no"}"#.utf8)),
            operation: "fetch order")
        #expect(problem.problem == ACMEProblem(type: "urn:ietf:params:acme:error:unauthorized", detail: "no", status: 403))
        #expect(problem.description == "fetch order: the CA refused: urn:ietf:params:acme:error:unauthorized (403): no")

        let html = ACMEClient.refusal(HTTPResponse(status: 502, body: Data("<html>bad gateway</html>".utf8)),
                                      operation: "fetch order")
        #expect(html.kind == .badResponse("HTTP 502 Bad Gateway: <html>bad gateway</html>"))
        #expect(html.isRetryable)
        #expect(html.problem == nil)
    }

    @Test func retryabilityFollowsTheTransportFailure() {
        func error(_ kind: HTTPError.Kind) -> ACMEError {
            ACMEError(.transport(HTTPError(kind, method: "GET", url: "https://ca.example/dir")), operation: "x")
        }
        #expect(error(.connectionRefused).isRetryable)
        #expect(error(.dnsFailure("no such host")).isRetryable)
        #expect(error(.timeout(.receive)).isRetryable)
        #expect(!error(.tlsHandshake("certificate verify failed")).isRetryable)
        #expect(!error(.tlsConfiguration("no such file")).isRetryable)
        #expect(!ACMEError(.validationFailed(identifier: "a", problem: nil), operation: "x").isRetryable)
        #expect(ACMEError(.timedOut("the CA"), operation: "x").isRetryable)
    }
}

@Suite struct ACMEConfigurationTests {
    @Test func acceptsHTTPSDirectoryURLs() throws {
        let url = try ACMEClientConfiguration.validateDirectoryURL(" https://acme-v02.api.letsencrypt.org/directory ")
        #expect(url.absoluteString == "https://acme-v02.api.letsencrypt.org/directory")
        #expect(try ACMEClientConfiguration.validateDirectoryURL("https://127.0.0.1:14000/dir").port == 14000)
    }

    @Test(arguments: [
        ("", "is empty"),
        ("acme.example/directory", "is not an absolute URL (expected https://host/path)"),
        ("http://acme.example/directory", "must use https (RFC 8555 §6.1), not http"),
        ("ftp://acme.example/directory", "not ftp"),
        ("https://", "has no host"),
        ("https:///directory", "has no host"),
        ("https://user:pw@acme.example/dir", "must not contain user info"),
        ("https://acme.example/dir#x", "must not contain a fragment"),
        ("https://acme example/dir", "contains spaces"),
        ("https://acme.example:99999/dir", "has an invalid port 99999"),
        ("https://[::1/dir", "is not a URL"),
        ("not a url", "contains spaces"),
    ])
    func refusesMalformedDirectoryURLs(text: String, expected: String) {
        do {
            _ = try ACMEClientConfiguration(directoryURL: text)
            Issue.record("\"\(text)\" was accepted")
        } catch {
            guard case .invalidConfiguration(let why) = error.kind else {
                Issue.record("\"\(text)\": \(error)")
                return
            }
            #expect(why.contains(expected), "\"\(text)\": \(why)")
            #expect(!error.isRetryable)
            #expect(error.failedStatus == nil)
        }
    }

    @Test func normalisesContactsToMailtoURLs() throws {
        let configuration = try ACMEClientConfiguration(
            directoryURL: "https://ca.example/dir", contact: ["ops@example.com", "mailto:pki@example.com"])
        #expect(configuration.contact == ["mailto:ops@example.com", "mailto:pki@example.com"])
        for bad in ["ops", "@example.com", "ops@", "ops@example", "a@b@example.com", "tel:+1555", "o ps@example.com",
                    "a@example.com,b@example.com"] {
            #expect(throws: ACMEError.self, "\(bad)") { try ACMEClientConfiguration.normaliseContact(bad) }
        }
    }
}

@Suite struct ACMEPollingTests {
    let now = Date(timeIntervalSince1970: 1_700_000_000)

    @Test func readsRetryAfterAsSecondsOrHTTPDate() {
        #expect(ACMEPolling.retryAfterSeconds("3", now: now) == 3)
        #expect(ACMEPolling.retryAfterSeconds(" 120 ", now: now) == 120)
        // 1_700_000_000 is Tue, 14 Nov 2023 22:13:20 GMT.
        #expect(ACMEPolling.retryAfterSeconds("Tue, 14 Nov 2023 22:13:30 GMT", now: now) == 10)
        #expect(ACMEPolling.retryAfterSeconds("Tue, 14 Nov 2023 22:00:00 GMT", now: now) == 0)
        #expect(ACMEPolling.retryAfterSeconds(nil, now: now) == nil)
        #expect(ACMEPolling.retryAfterSeconds("", now: now) == nil)
        #expect(ACMEPolling.retryAfterSeconds("-5", now: now) == nil)
        #expect(ACMEPolling.retryAfterSeconds("soon", now: now) == nil)
    }

    @Test func theNextDelayHonoursRetryAfterWithinBoundsAndTheDeadline() {
        let polling = ACMEPolling(interval: .seconds(1), maximumDelay: .seconds(30))
        let far = now.addingTimeInterval(600)
        #expect(polling.nextDelay(retryAfter: nil, now: now, deadline: far) == 1)
        #expect(polling.nextDelay(retryAfter: 5, now: now, deadline: far) == 5)
        #expect(polling.nextDelay(retryAfter: 3600, now: now, deadline: far) == 30)
        #expect(polling.nextDelay(retryAfter: 0, now: now, deadline: far) == 0)
        #expect(polling.nextDelay(retryAfter: 20, now: now, deadline: now.addingTimeInterval(2.5)) == 2.5)
        #expect(polling.nextDelay(retryAfter: nil, now: now, deadline: now) == nil)
        #expect(polling.nextDelay(retryAfter: 1, now: now, deadline: now.addingTimeInterval(-1)) == nil)
    }
}

@Suite struct ACMEIdentifierTests {
    @Test func ordersTheCSRsNamesLowerCasedWithTheCommonName() throws {
        let key = try PrivateKey.generate(.ecdsaP256)
        let csr = try CertificateSigningRequest.create(
            key: key, subject: DistinguishedName(commonName: "Shop.Example.com"),
            subjectAlternativeNames: [.dnsName("www.example.com"), .dnsName("shop.example.com"),
                                      .ipAddress(IPAddress("192.0.2.7")!)])
        #expect(try ACMEClient.identifiers(for: csr) == [.dns("www.example.com"), .dns("shop.example.com"),
                                                          .ip("192.0.2.7")])
    }

    @Test func refusesCSRsWithoutNamesACMECanValidate() throws {
        let key = try PrivateKey.generate(.ecdsaP256)
        let email = try CertificateSigningRequest.create(
            key: key, subject: DistinguishedName(commonName: "www.example.com"),
            subjectAlternativeNames: [.dnsName("www.example.com"), .email("ops@example.com")])
        #expect(throws: ACMEError(
            .invalidConfiguration("ACME certificates can only name DNS names and IP addresses, not email:ops@example.com"),
            operation: "read CSR")) { try ACMEClient.identifiers(for: email) }

        let nameless = try CertificateSigningRequest.create(
            key: key, subject: DistinguishedName(organization: "Example"), subjectAlternativeNames: [])
        #expect(throws: ACMEError(.invalidConfiguration("the CSR names no DNS name or IP address"),
                                  operation: "read CSR")) { try ACMEClient.identifiers(for: nameless) }
    }

    @Test func thePoolKeepsWellFormedNoncesNewestFirst() {
        let pool = ACMENoncePool(capacity: 2)
        pool.add("first")
        pool.add("not a nonce")
        pool.add("")
        pool.add("second")
        pool.add("third")
        #expect(pool.count == 2)
        #expect(pool.take() == "third")
        #expect(pool.take() == "second")
        #expect(pool.take() == nil)
    }
}

@Suite struct ACMEHTTP01ResponderTests {
    @Test func servesPresentedTokensOverHTTPAndNothingElse() async throws {
        let responder = ACMEHTTP01Responder(host: "127.0.0.1", port: 0)
        try responder.start()
        defer { responder.stop() }
        let port = try #require(responder.port)
        try responder.present(identifier: .dns("localhost"), token: "tok_1", keyAuthorization: "tok_1.thumb")
        let http = HTTPClient()
        func get(_ path: String) async throws -> HTTPResponse {
            try await http.get(URL(string: "http://127.0.0.1:\(port)\(path)")!)
        }

        let answer = try await get("/.well-known/acme-challenge/tok_1")
        #expect(answer.status == 200)
        #expect(answer.bodyText == "tok_1.thumb")
        #expect(responder.timesServed(token: "tok_1") == 1)
        #expect(try await get("/.well-known/acme-challenge/other").status == 404)
        #expect(try await get("/.well-known/acme-challenge/").status == 404)
        #expect(try await get("/tok_1").status == 404)
        let post = try await http.post(URL(string: "http://127.0.0.1:\(port)/.well-known/acme-challenge/tok_1")!,
                                       body: Data("x".utf8))
        #expect(post.status == 404)

        responder.remove(token: "tok_1")
        #expect(try await get("/.well-known/acme-challenge/tok_1").status == 404)
    }

    @Test func refusesToPresentWhileNotListeningOrWithABadToken() throws {
        let responder = ACMEHTTP01Responder(host: "127.0.0.1", port: 0)
        #expect(responder.port == nil)
        let stopped = #expect(throws: ACMEError.self) {
            try responder.present(identifier: .dns("a.example"), token: "t", keyAuthorization: "t.k")
        }
        #expect(stopped?.kind == .invalidConfiguration("the http-01 responder is not running (call start() first)"))

        try responder.start()
        defer { responder.stop() }
        #expect(throws: ACMEError.self) {
            try responder.present(identifier: .dns("a.example"), token: "../etc/passwd", keyAuthorization: "x")
        }
    }

    @Test func aTakenAddressIsAClearConfigurationError() throws {
        let first = ACMEHTTP01Responder(host: "127.0.0.1", port: 0)
        try first.start()
        defer { first.stop() }
        let port = try #require(first.port)
        let second = ACMEHTTP01Responder(host: "127.0.0.1", port: port)

        let error = #expect(throws: ACMEError.self) { try second.start() }
        guard case .invalidConfiguration(let why) = error?.kind else {
            Issue.record("expected a configuration error, got \(String(describing: error))")
            return
        }
        #expect(why.hasPrefix("the http-01 responder cannot listen on 127.0.0.1:\(port)"))
        #expect(second.port == nil)
    }
}
