/// The kinds of automation a status applies to (the seed's "Legend of status types").
public enum AutomationStatusType: String, Sendable, Codable, CaseIterable {
    /// Applies to every automation, whatever the endpoint or enrollment method.
    case common = "COMMON"
    /// Agent-based automation on web servers.
    case agent = "AGENT"
    /// Sensor-based automation for network appliances and cloud services.
    case sensor = "SENSOR"
    /// Certificate delivery through the Admin web request enrollment method.
    case adminWebRequest = "ADMIN_WEB_REQUEST"
    /// The status is an error for the automation types it lists.
    case error = "ERROR"
}

/// The state of an endpoint's certificate automation: the full catalogue of the
/// product's automation statuses. `rawValue` is the stored code; `title` is the
/// text operators see.
public enum AutomationStatus: String, Sendable, Codable, CaseIterable {
    case accountCreated = "ACCOUNT_CREATED"
    case accountCreationFailed = "ACCOUNT_CREATION_FAILED"
    case actionRequired = "ACTION_REQUIRED"
    case approvalDenied = "APPROVAL_DENIED"
    case approvalPending = "APPROVAL_PENDING"
    case agentError = "AGENT_ERROR"
    case autoRenewScheduled = "AUTO_RENEW_SCHEDULED"
    case automationAtRisk = "AUTOMATION_AT_RISK"
    case automationFailed = "AUTOMATION_FAILED"
    case automationProfileBlocked = "AUTOMATION_PROFILE_BLOCKED"
    case automationRequested = "AUTOMATION_REQUESTED"
    case automationScheduled = "AUTOMATION_SCHEDULED"
    case automationSuccessful = "AUTOMATION_SUCCESSFUL"
    case certificateDelivered = "CERTIFICATE_DELIVERED"
    case certificateDeliveryFailed = "CERTIFICATE_DELIVERY_FAILED"
    case certificateIssued = "CERTIFICATE_ISSUED"
    case configured = "CONFIGURED"
    case configurationError = "CONFIGURATION_ERROR"
    case connectorError = "CONNECTOR_ERROR"
    case creatingAccount = "CREATING_ACCOUNT"
    case csrGenerating = "CSR_GENERATING"
    case csrGenerationCompleted = "CSR_GENERATION_COMPLETED"
    case csrGenerationFailed = "CSR_GENERATION_FAILED"
    case deliveringCertificate = "DELIVERING_CERTIFICATE"
    case dnsIntegrationFailed = "DNS_INTEGRATION_FAILED"
    case domainValidated = "DOMAIN_VALIDATED"
    case installValidationFailed = "INSTALL_VALIDATION_FAILED"
    case installValidationInProgress = "INSTALL_VALIDATION_IN_PROGRESS"
    case installationCompleted = "INSTALLATION_COMPLETED"
    case installationFailed = "INSTALLATION_FAILED"
    case installationValidated = "INSTALLATION_VALIDATED"
    case installingCertificate = "INSTALLING_CERTIFICATE"
    case ipUnreachable = "IP_UNREACHABLE"
    case issuanceFailed = "ISSUANCE_FAILED"
    case issuingCertificate = "ISSUING_CERTIFICATE"
    case manualServerRestartApproved = "MANUAL_SERVER_RESTART_APPROVED"
    case notConfigured = "NOT_CONFIGURED"
    case postCSRFailed = "POST_CSR_FAILED"
    case readyToBeInstalled = "READY_TO_BE_INSTALLED"
    case scriptError = "SCRIPT_ERROR"
    case validationFailed = "VALIDATION_FAILED"
    case validatingDomain = "VALIDATING_DOMAIN"

    /// The status as the product shows it, e.g. "Install validation failed".
    public var title: String { Self.catalogue[self]!.title }
    /// The automation types the status applies to, including `.error` for error statuses.
    public var types: Set<AutomationStatusType> { Self.catalogue[self]!.types }
    /// What the status means, for operators.
    public var summary: String { Self.catalogue[self]!.summary }
    /// True for error statuses.
    public var isError: Bool { types.contains(.error) }

    /// Looks a status up by its code (`INSTALL_VALIDATION_FAILED`) or its title (`Install validation failed`).
    public init?(codeOrTitle text: String) {
        if let status = AutomationStatus(rawValue: text.uppercased()) {
            self = status
            return
        }
        guard let match = Self.allCases.first(where: { $0.title.caseInsensitiveCompare(text) == .orderedSame })
        else { return nil }
        self = match
    }

    struct Entry {
        var title: String
        var types: Set<AutomationStatusType>
        var summary: String
    }

    static let catalogue: [AutomationStatus: Entry] = [
        .accountCreated: Entry(title: "Account created", types: [.agent], summary: "An account was successfully created for the ACME automation service."),
        .accountCreationFailed: Entry(title: "Account creation failed", types: [.agent, .error], summary: "The system failed to create an account for the ACME automation service."),
        .actionRequired: Entry(title: "Action required", types: [.common, .error], summary: "User intervention is needed to continue automation."),
        .approvalDenied: Entry(title: "Approval denied", types: [.common], summary: "The certificate issuance request was denied during the approval process."),
        .approvalPending: Entry(title: "Approval pending", types: [.common], summary: "The certificate issuance request is awaiting required approval."),
        .agentError: Entry(title: "Agent error", types: [.agent, .error], summary: "Automation failed due to an error with the local agent."),
        .autoRenewScheduled: Entry(title: "Auto renew scheduled", types: [.common], summary: "A certificate auto-renewal task has been scheduled."),
        .automationAtRisk: Entry(title: "Automation at risk", types: [.common], summary: "The automation process may fail due to a detected issue that requires attention."),
        .automationFailed: Entry(title: "Automation failed", types: [.common, .error], summary: "An automation attempt failed due to an unrecoverable error."),
        .automationProfileBlocked: Entry(title: "Automation profile blocked", types: [.common, .error], summary: "Automation failed due to an issue with the selected certificate profile."),
        .automationRequested: Entry(title: "Automation requested", types: [.common], summary: "An automation job has been requested and is in queue to run."),
        .automationScheduled: Entry(title: "Automation scheduled", types: [.common], summary: "An automation job has been scheduled and will run at the specified time."),
        .automationSuccessful: Entry(title: "Automation successful", types: [.common], summary: "The previous automation event completed successfully. After 24 hours, this status clears and changes back to Configured."),
        .certificateDelivered: Entry(title: "Certificate delivered", types: [.adminWebRequest], summary: "The certificate was successfully delivered to the target endpoint."),
        .certificateDeliveryFailed: Entry(title: "Certificate delivery failed", types: [.adminWebRequest, .error], summary: "The system could not deliver the certificate to the target endpoint."),
        .certificateIssued: Entry(title: "Certificate issued", types: [.common], summary: "The certificate was successfully issued."),
        .configured: Entry(title: "Configured", types: [.common], summary: "Automation is available for this endpoint. An admin can request a certificate automation action on it at any time."),
        .configurationError: Entry(title: "Configuration error", types: [.common, .error], summary: "Automation settings are invalid or incomplete and require correction."),
        .connectorError: Entry(title: "Connector error", types: [.sensor, .adminWebRequest, .error], summary: "Automation failed due to an error with an associated connector."),
        .creatingAccount: Entry(title: "Creating account", types: [.agent], summary: "The system is creating an account for the ACME automation service."),
        .csrGenerating: Entry(title: "CSR generating", types: [.sensor, .adminWebRequest], summary: "The system is generating a certificate signing request (CSR) for an automation event."),
        .csrGenerationCompleted: Entry(title: "CSR generation completed", types: [.sensor, .adminWebRequest], summary: "The CSR was successfully generated for an automation event."),
        .csrGenerationFailed: Entry(title: "CSR generation failed", types: [.sensor, .adminWebRequest, .error], summary: "The CSR couldn't be generated for an automation event."),
        .deliveringCertificate: Entry(title: "Delivering certificate", types: [.adminWebRequest], summary: "The system is delivering the issued certificate to the target endpoints."),
        .dnsIntegrationFailed: Entry(title: "DNS integration failed", types: [.agent, .error], summary: "Automation failed due to an error with the DNS integration used for domain control validation."),
        .domainValidated: Entry(title: "Domain validated", types: [.agent], summary: "The ACME challenge succeeded and the domain was validated."),
        .installValidationFailed: Entry(title: "Install validation failed", types: [.agent, .sensor, .error], summary: "The certificate was installed but didn't pass validation checks."),
        .installValidationInProgress: Entry(title: "Install validation in progress", types: [.agent, .sensor], summary: "The system is testing the endpoint to confirm the installation."),
        .installationCompleted: Entry(title: "Installation completed", types: [.agent, .sensor], summary: "The certificate was installed successfully on the target endpoint."),
        .installationFailed: Entry(title: "Installation failed", types: [.agent, .sensor, .error], summary: "The attempt to install the certificate on the target endpoint failed."),
        .installationValidated: Entry(title: "Installation validated", types: [.agent, .sensor], summary: "The certificate was installed and has been validated successfully."),
        .installingCertificate: Entry(title: "Installing certificate", types: [.agent, .sensor], summary: "The system is currently installing the certificate on the target endpoint."),
        .ipUnreachable: Entry(title: "IP Unreachable", types: [.sensor, .error], summary: "The IP address for the target endpoint is currently unreachable."),
        .issuanceFailed: Entry(title: "Issuance failed", types: [.common, .error], summary: "The certificate issuance process failed."),
        .issuingCertificate: Entry(title: "Issuing certificate", types: [.common], summary: "The certificate authority is issuing the certificate."),
        .manualServerRestartApproved: Entry(title: "Manual server restart approved", types: [.agent], summary: "A manual server restart was approved to complete certificate installation."),
        .notConfigured: Entry(title: "Not configured", types: [.common], summary: "Automation is not configured for this endpoint."),
        .postCSRFailed: Entry(title: "Post CSR failed", types: [.sensor, .adminWebRequest, .error], summary: "The CSR couldn't be submitted to the certificate authority."),
        .readyToBeInstalled: Entry(title: "Ready to be installed", types: [.agent, .sensor], summary: "The certificate has been issued and is ready for installation."),
        .scriptError: Entry(title: "Script error", types: [.agent, .error], summary: "The local agent encountered an error when trying to run a custom script for the automation."),
        .validationFailed: Entry(title: "Validation failed", types: [.agent, .error], summary: "The ACME domain validation process failed."),
        .validatingDomain: Entry(title: "Validating domain", types: [.agent], summary: "The ACME challenge process is validating domain ownership."),
    ]
}
