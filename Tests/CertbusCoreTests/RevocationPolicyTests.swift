import CertbusCore
import Testing

@Suite struct RevocationPolicyTests {
    @Test(arguments: ["unspecified", "keyCompromise", "affiliationChanged", "superseded", "cessationOfOperation", "KEYCOMPROMISE"])
    func tlsServerCertificatesAcceptTheBrowserReasons(_ name: String) throws {
        let reason = try RevocationPolicy.validate(name, isTLSServer: true)
        #expect(RevocationPolicy.tlsServerReasons.contains(reason))
    }

    @Test(arguments: ["cACompromise", "certificateHold", "removeFromCRL", "privilegeWithdrawn", "aACompromise"])
    func tlsServerCertificatesRefuseOtherReasonsClearly(_ name: String) {
        do {
            _ = try RevocationPolicy.validate(name, isTLSServer: true)
            Issue.record("\(name) was accepted for a TLS server certificate")
        } catch let error as RevocationReasonError {
            #expect(error.description.contains("not an allowed revocation reason for a TLS server certificate"))
            #expect(error.description.contains("keyCompromise"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func unknownReasonsAreRefused() {
        #expect(throws: RevocationReasonError.self) { try RevocationPolicy.validate("stolen", isTLSServer: false) }
        #expect(throws: RevocationReasonError.self) { try RevocationPolicy.validate("", isTLSServer: true) }
    }

    @Test func otherEndEntityCertificatesMayBePutOnHold() throws {
        #expect(try RevocationPolicy.validate("certificateHold", isTLSServer: false) == .certificateHold)
        #expect(throws: RevocationReasonError.self) { try RevocationPolicy.validate("cACompromise", isTLSServer: false) }
    }

    @Test func codesFollowRFC5280() {
        #expect(RevocationPolicy.Reason.keyCompromise.code == 1)
        #expect(RevocationPolicy.Reason.cessationOfOperation.code == 5)
        #expect(RevocationPolicy.Reason.removeFromCRL.code == 8)
        #expect(RevocationPolicy.Reason.aACompromise.code == 10)
    }
}
