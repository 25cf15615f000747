import CertbusCore
import Foundation

/// What an operator gives to add an endpoint. `validated()` checks everything
/// that can be checked without the database.
public struct EndpointDraft: Sendable, Equatable {
    public var name: String
    public var kind: EndpointAutomationKind
    public var host: String
    public var port: Int
    /// SNI / name to verify; nil means the host.
    public var serverName: String?
    /// The expected certificate: its id or its SHA-256 fingerprint (hex, colons allowed).
    public var expectedCertificate: String?
    /// For AGENT endpoints, the agent's name (registered if new).
    public var agentName: String?
    public var description: String
    /// The first status; nil picks `Configured` when automation can run (an agent is named, or the
    /// endpoint is a sensor / admin web request) and `Not configured` otherwise.
    public var initialStatus: AutomationStatus?

    public init(
        name: String, kind: EndpointAutomationKind, host: String, port: Int = 443, serverName: String? = nil,
        expectedCertificate: String? = nil, agentName: String? = nil, description: String = "",
        initialStatus: AutomationStatus? = nil
    ) {
        self.name = name
        self.kind = kind
        self.host = host
        self.port = port
        self.serverName = serverName
        self.expectedCertificate = expectedCertificate
        self.agentName = agentName
        self.description = description
        self.initialStatus = initialStatus
    }

    /// The status the endpoint starts in.
    public var startingStatus: AutomationStatus {
        if let initialStatus { return initialStatus }
        if kind == .agent && agentName == nil { return .notConfigured }
        return .configured
    }

    /// Checks names, host, port, server name, agent and the first status; throws `.invalidInput`.
    public func validate() throws(EndpointError) {
        if let problem = NameRules.problem(name) { throw EndpointError(.invalidInput, "endpoint name \"\(name)\" \(problem)") }
        if let problem = NetworkHost.hostProblem(host) { throw EndpointError(.invalidInput, problem) }
        guard (1...65535).contains(port) else {
            throw EndpointError(.invalidInput, "port \(port) is not between 1 and 65535")
        }
        if let serverName {
            if let problem = NetworkHost.dnsNameProblem(serverName) {
                throw EndpointError(.invalidInput, "server name \"\(serverName)\" \(problem)")
            }
        }
        if let agentName {
            guard kind == .agent else {
                throw EndpointError(.invalidInput, "only AGENT endpoints have an agent (this one is \(kind.rawValue))")
            }
            if let problem = NameRules.problem(agentName) {
                throw EndpointError(.invalidInput, "agent name \"\(agentName)\" \(problem)")
            }
        }
        if description.count > 1000 { throw EndpointError(.invalidInput, "description is longer than 1000 characters") }
        let status = startingStatus
        if status != .notConfigured {
            do {
                try AutomationStateMachine.validate(from: .notConfigured, to: status, kind: kind)
            } catch {
                throw EndpointError(.invalidInput, "a new endpoint cannot start as '\(status.title)': \(error.reason)")
            }
        }
    }
}

/// The naming rule shared by endpoints and agents (same as CAs and profiles).
enum NameRules {
    /// Why `name` is not a valid name, or nil: 1–63 letters, digits, `.`, `_`, `-`, starting with a letter or digit.
    static func problem(_ name: String) -> String? {
        if name.isEmpty { return "is empty" }
        if name.utf8.count > 63 { return "is longer than 63 characters" }
        guard let first = name.unicodeScalars.first, first.isASCII, first.properties.isAlphabetic || ("0"..."9").contains(first)
        else { return "must start with a letter or digit" }
        let allowed = name.unicodeScalars.allSatisfy {
            $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "." || $0 == "_" || $0 == "-")
        }
        return allowed ? nil : "may only contain letters, digits, '.', '_' and '-'"
    }
}
