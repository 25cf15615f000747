import CertbusCore

/// How a deployment validation ended.
public enum DeploymentOutcome: String, Sendable, Codable, CaseIterable {
    /// The expected certificate is served correctly.
    case validated = "VALIDATED"
    /// Something is served, but not correctly.
    case failed = "FAILED"
    /// Nothing could be reached at the endpoint's address.
    case unreachable = "UNREACHABLE"
}

/// Which automation statuses an endpoint goes through when a validation ends. Pure.
public enum DeploymentStatusPlan {
    /// The statuses to move through, in order, from `current` for an endpoint of `kind`:
    ///
    /// - validated: (Installation completed →) Install validation in progress → Installation validated →
    ///   Automation successful. From any other status (an ad-hoc check of a configured endpoint) nothing moves.
    /// - failed: (Installation completed → Install validation in progress →) Install validation failed;
    ///   admin web request endpoints (which have no install statuses) go to Automation failed.
    /// - unreachable: like failed, but sensor endpoints go to IP Unreachable.
    ///
    /// Failures from an error status move nothing (the endpoint already shows an error). Every step
    /// returned is legal under `AutomationStateMachine`.
    public static func moves(
        from current: AutomationStatus, kind: EndpointAutomationKind, outcome: DeploymentOutcome
    ) -> [AutomationStatus] {
        var path: [AutomationStatus] = []
        var status = current
        func step(_ next: AutomationStatus) -> Bool {
            guard AutomationStateMachine.canMove(from: status, to: next, kind: kind) else { return false }
            path.append(next)
            status = next
            return true
        }
        let installs = kind != .adminWebRequest
        if installs && status == .installationCompleted { _ = step(.installValidationInProgress) }
        switch outcome {
        case .validated:
            if status == .installValidationInProgress { _ = step(.installationValidated) }
            if status == .installationValidated { _ = step(.automationSuccessful) }
        case .failed, .unreachable:
            let target: AutomationStatus
            if outcome == .unreachable && kind == .sensor {
                target = .ipUnreachable
            } else {
                target = installs ? .installValidationFailed : .automationFailed
            }
            if !step(target) {
                // Already in an error status: leave it (and undo the in-progress step, if any).
                return []
            }
        }
        return path
    }
}
