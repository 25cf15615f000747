import CertbusCore
import Foundation

/// A step of an ACME issuance, reported while it runs so that a handler can record it.
public enum ACMEProgress: Sendable, Equatable {
    /// The automation status the issuance entered, with a detail line for operators
    /// (`Creating account`, `Account created`, `Validating domain`, `Domain validated`,
    /// `Issuing certificate`, `Certificate issued`, or the failure status of the step:
    /// `Account creation failed`, `Validation failed`, `Issuance failed`).
    case status(AutomationStatus, detail: String)
    /// The order this issuance works on: its URL is the CA request id. Reported as soon as the
    /// order exists (placed, or resumed when `resumed`), before any validation, so a handler
    /// can store it and resume the same order after a crash instead of placing a new one.
    case order(URL, resumed: Bool)
}

/// Receives ``ACMEProgress`` reports; called on the issuing task, in order. Must not block long.
public typealias ACMEProgressHandler = @Sendable (ACMEProgress) -> Void
