import CertbusCore
import Foundation
import Testing

@Suite struct AutomationStatusTests {
    @Test func catalogueIsComplete() {
        // The seed lists 42 statuses.
        #expect(AutomationStatus.allCases.count == 42)
        #expect(AutomationStatus.installValidationFailed.title == "Install validation failed")
        #expect(AutomationStatus.installValidationFailed.types == [.agent, .sensor, .error])
        #expect(AutomationStatus.connectorError.types == [.sensor, .adminWebRequest, .error])
        #expect(AutomationStatus.ipUnreachable.title == "IP Unreachable")
        #expect(AutomationStatus(codeOrTitle: "install validation failed") == .installValidationFailed)
        #expect(AutomationStatus(codeOrTitle: "CONFIGURED") == .configured)
        #expect(AutomationStatus(codeOrTitle: "no such status") == nil)
        let errors = AutomationStatus.allCases.filter(\.isError)
        #expect(errors.count == 17)
    }

    @Test func agentHappyPathWithACME() throws {
        let path: [AutomationStatus] = [
            .notConfigured, .configured, .automationRequested, .creatingAccount, .accountCreated, .validatingDomain,
            .domainValidated, .issuingCertificate, .certificateIssued, .readyToBeInstalled, .installingCertificate,
            .installationCompleted, .installValidationInProgress, .installationValidated, .automationSuccessful,
            .configured,
        ]
        for (from, to) in zip(path, path.dropFirst()) {
            try AutomationStateMachine.validate(from: from, to: to, kind: .agent)
        }
    }

    @Test func adminWebRequestPath() throws {
        let path: [AutomationStatus] = [
            .configured, .automationRequested, .approvalPending, .csrGenerating, .csrGenerationCompleted,
            .issuingCertificate, .certificateIssued, .deliveringCertificate, .certificateDelivered, .automationSuccessful,
        ]
        for (from, to) in zip(path, path.dropFirst()) {
            try AutomationStateMachine.validate(from: from, to: to, kind: .adminWebRequest)
        }
    }

    @Test func statusesOfOtherKindsAreRefused() {
        #expect(!AutomationStateMachine.canMove(from: .installValidationInProgress, to: .ipUnreachable, kind: .agent))
        #expect(AutomationStateMachine.canMove(from: .installValidationInProgress, to: .ipUnreachable, kind: .sensor))
        #expect(!AutomationStateMachine.canMove(from: .automationRequested, to: .creatingAccount, kind: .sensor))
        let error = #expect(throws: AutomationTransitionError.self) {
            try AutomationStateMachine.validate(from: .configured, to: .scriptError, kind: .sensor)
        }
        #expect(error?.description.contains("Script error") == true)
    }

    @Test func failuresAndRecovery() {
        #expect(AutomationStateMachine.canMove(from: .issuingCertificate, to: .issuanceFailed, kind: .agent))
        #expect(AutomationStateMachine.canMove(from: .validatingDomain, to: .validationFailed, kind: .agent))
        #expect(AutomationStateMachine.canMove(from: .issuanceFailed, to: .automationRequested, kind: .agent))
        #expect(AutomationStateMachine.canMove(from: .issuanceFailed, to: .actionRequired, kind: .agent))
        // An error cannot jump straight to success.
        #expect(!AutomationStateMachine.canMove(from: .installationFailed, to: .automationSuccessful, kind: .agent))
        // Nor skip steps of the happy path.
        #expect(!AutomationStateMachine.canMove(from: .configured, to: .certificateIssued, kind: .agent))
        #expect(!AutomationStateMachine.canMove(from: .configured, to: .configured, kind: .agent))
        // Turning automation off is always possible.
        #expect(AutomationStateMachine.canMove(from: .installingCertificate, to: .notConfigured, kind: .agent))
    }

    @Test func successfulRevertsToConfiguredAfterADay() {
        let since = Date(timeIntervalSince1970: 1_000_000)
        #expect(AutomationStateMachine.effectiveStatus(.automationSuccessful, since: since, now: since.addingTimeInterval(23 * 3600)) == .automationSuccessful)
        #expect(AutomationStateMachine.effectiveStatus(.automationSuccessful, since: since, now: since.addingTimeInterval(24 * 3600)) == .configured)
        #expect(AutomationStateMachine.effectiveStatus(.issuanceFailed, since: since, now: since.addingTimeInterval(48 * 3600)) == .issuanceFailed)
    }
}

@Suite struct BackoffTests {
    @Test func doublesUpToTheCapWithBoundedJitter() {
        let backoff = Backoff(base: 2, maximum: 60, jitter: 0.2)
        #expect(backoff.delay(afterAttempt: 1, random: 0.5) == 2)
        #expect(backoff.delay(afterAttempt: 2, random: 0.5) == 4)
        #expect(backoff.delay(afterAttempt: 5, random: 0.5) == 32)
        #expect(backoff.delay(afterAttempt: 6, random: 0.5) == 60)
        #expect(backoff.delay(afterAttempt: 100, random: 0.5) == 60)
        #expect(backoff.delay(afterAttempt: 3, random: 0) == 8 * 0.8)
        #expect(backoff.delay(afterAttempt: 3, random: 1) == 8 * 1.2)
        #expect(backoff.delay(afterAttempt: 10, random: 1) == 60)
    }
}
