import CertbusCore
import CertbusServices
import Foundation
import PKI
import Testing

/// The pure comparison of a served chain with the expected certificate, and the status plan.
@Suite struct ValidationCheckTests {
    static let pki = Result { try ValidationPKI() }

    @Test func correctDeploymentPasses() throws {
        let pki = try Self.pki.get()
        let leaf = try pki.leaf(["www.example.test", "127.0.0.1"]).certificate
        let expectation = DeploymentExpectation(
            certificate: leaf, name: "www.example.test", caCertificates: [pki.intermediate.certificate, pki.root.certificate])
        let verdict = DeploymentCheck.evaluate(servedChain: [leaf.der, pki.intermediate.certificate.der], expectation: expectation)
        #expect(verdict.passed, "\(verdict.problems)")
        #expect(verdict.chainChecked)
        #expect(verdict.servedFingerprint == leaf.sha256Fingerprint)
        // The same certificate checked by IP address.
        var byIP = expectation
        byIP.name = "127.0.0.1"
        #expect(DeploymentCheck.evaluate(servedChain: [leaf.der, pki.intermediate.certificate.der], expectation: byIP).passed)
    }

    @Test func anotherCertificateIsAMismatch() throws {
        let pki = try Self.pki.get()
        let expected = try pki.leaf(["www.example.test"]).certificate
        let served = try pki.leaf(["www.example.test"]).certificate
        let verdict = DeploymentCheck.evaluate(
            servedChain: [served.der, pki.intermediate.certificate.der],
            expectation: DeploymentExpectation(certificate: expected, name: "www.example.test", caCertificates: [pki.root.certificate]))
        #expect(verdict.problems == [.fingerprintMismatch(expected: expected.sha256Fingerprint, served: served.sha256Fingerprint)])
        #expect(verdict.problems[0].description.contains("instead of the expected"))
        #expect(verdict.problems[0].code == "FINGERPRINT_MISMATCH")
    }

    @Test func expiredAndNotYetValidAreReported() throws {
        let pki = try Self.pki.get()
        let expired = try pki.leaf(["www.example.test"], issuedAt: Date().addingTimeInterval(-40 * 86400), days: 30).certificate
        let verdict = DeploymentCheck.evaluate(
            servedChain: [expired.der, pki.intermediate.certificate.der],
            expectation: DeploymentExpectation(certificate: expired, name: "www.example.test", caCertificates: [pki.root.certificate]))
        #expect(verdict.problems == [.expired(notAfter: expired.notAfter)])
        let future = try pki.leaf(["www.example.test"]).certificate
        let early = DeploymentCheck.evaluate(
            servedChain: [future.der], expectation: DeploymentExpectation(certificate: future, name: "www.example.test"),
            now: future.notBefore.addingTimeInterval(-3600))
        #expect(early.problems == [.notYetValid(notBefore: future.notBefore)])
        #expect(!early.chainChecked)
    }

    @Test func namesMustCoverTheServerName() throws {
        let pki = try Self.pki.get()
        let leaf = try pki.leaf(["other.example.test"]).certificate
        let verdict = DeploymentCheck.evaluate(
            servedChain: [leaf.der], expectation: DeploymentExpectation(certificate: leaf, name: "www.example.test"))
        #expect(verdict.problems == [.nameNotCovered(name: "www.example.test", names: ["DNS:other.example.test"])])
        let wildcard = try pki.leaf(["*.example.test", "192.0.2.7"]).certificate
        #expect(CertificateNames.covers(wildcard, name: "www.example.test"))
        #expect(CertificateNames.covers(wildcard, name: "WWW.Example.Test"))
        #expect(!CertificateNames.covers(wildcard, name: "example.test"))
        #expect(!CertificateNames.covers(wildcard, name: "a.b.example.test"))
        #expect(!CertificateNames.covers(wildcard, name: "www.example.org"))
        #expect(CertificateNames.covers(wildcard, name: "192.0.2.7"))
        #expect(!CertificateNames.covers(wildcard, name: "192.0.2.8"))
        #expect(!CertificateNames.covers(leaf, name: "192.0.2.7"))
    }

    @Test func chainMustLeadToTheIssuingCA() throws {
        let pki = try Self.pki.get()
        let stranger = try ValidationPKI(name: "Stranger")
        let foreign = try stranger.leaf(["www.example.test"]).certificate
        let known = [pki.intermediate.certificate, pki.root.certificate]
        let wrongCA = DeploymentCheck.evaluate(
            servedChain: [foreign.der, stranger.intermediate.certificate.der],
            expectation: DeploymentExpectation(certificate: foreign, name: "www.example.test", caCertificates: known))
        guard case .chainDoesNotVerify(let why)? = wrongCA.problems.first, wrongCA.problems.count == 1 else {
            Issue.record("expected one chain problem, got \(wrongCA.problems)")
            return
        }
        #expect(why.contains("Stranger"))
        // Our leaf, but the server forgets the intermediate.
        let leaf = try pki.leaf(["www.example.test"]).certificate
        let incomplete = DeploymentCheck.evaluate(
            servedChain: [leaf.der],
            expectation: DeploymentExpectation(certificate: leaf, name: "www.example.test", caCertificates: known))
        #expect(incomplete.problems.map(\.code) == ["CHAIN_DOES_NOT_VERIFY"])
        #expect(incomplete.problems[0].description.contains("does not send the intermediate"))
        // Unknown CA: the chain is not checked at all.
        let unchecked = DeploymentCheck.evaluate(
            servedChain: [foreign.der], expectation: DeploymentExpectation(certificate: foreign, name: "www.example.test"))
        #expect(unchecked.passed && !unchecked.chainChecked)
    }

    @Test func garbageAndMissingExpectationsAreProblems() throws {
        let pki = try Self.pki.get()
        let garbage = DeploymentCheck.evaluate(
            servedChain: [Data([0x30, 0x03, 0x02, 0x01, 0x01])], expectation: DeploymentExpectation(certificate: nil, name: "x.test"))
        #expect(garbage.problems.map(\.code) == ["UNREADABLE_CERTIFICATE"])
        let leaf = try pki.leaf(["www.example.test"]).certificate
        let none = DeploymentCheck.evaluate(servedChain: [leaf.der], expectation: DeploymentExpectation(certificate: nil, name: "www.example.test"))
        #expect(none.problems == [.noExpectedCertificate])
        #expect(DeploymentCheck.evaluate(servedChain: [], expectation: DeploymentExpectation(certificate: nil, name: "x")).problems.count == 1)
    }

    @Test func statusPlanFollowsTheStateMachine() {
        typealias Plan = DeploymentStatusPlan
        #expect(Plan.moves(from: .installationCompleted, kind: .agent, outcome: .validated)
            == [.installValidationInProgress, .installationValidated, .automationSuccessful])
        #expect(Plan.moves(from: .installValidationInProgress, kind: .sensor, outcome: .validated)
            == [.installationValidated, .automationSuccessful])
        #expect(Plan.moves(from: .configured, kind: .agent, outcome: .validated) == [])
        #expect(Plan.moves(from: .installValidationInProgress, kind: .agent, outcome: .failed) == [.installValidationFailed])
        #expect(Plan.moves(from: .installationCompleted, kind: .agent, outcome: .failed)
            == [.installValidationInProgress, .installValidationFailed])
        #expect(Plan.moves(from: .installValidationInProgress, kind: .sensor, outcome: .unreachable) == [.ipUnreachable])
        #expect(Plan.moves(from: .installValidationInProgress, kind: .agent, outcome: .unreachable) == [.installValidationFailed])
        #expect(Plan.moves(from: .configured, kind: .adminWebRequest, outcome: .failed) == [.automationFailed])
        #expect(Plan.moves(from: .installValidationFailed, kind: .agent, outcome: .failed) == [], "already an error")
        // Every planned path is legal, from every status, for every kind and outcome.
        for kind in EndpointAutomationKind.allCases {
            for status in AutomationStatus.allCases where AutomationStateMachine.applies(status, to: kind) {
                for outcome in DeploymentOutcome.allCases {
                    var at = status
                    for next in Plan.moves(from: status, kind: kind, outcome: outcome) {
                        #expect(AutomationStateMachine.canMove(from: at, to: next, kind: kind), "\(kind) \(status) \(outcome)")
                        at = next
                    }
                }
            }
        }
    }
}
