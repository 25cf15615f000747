import CertbusArguments
import CertbusCore
import CertbusServices
import Foundation
import Postgres

/// `certbus profile create|list|show`.
enum ProfileCommands {
    static let command = Command(
        "profile", abstract: "Create, list and show RA profiles (the policy requests are checked against).",
        subcommands: [create, list, show, templates])

    static let nameArgument = Argument<String>("name", help: "The profile's name (or id).")
    static let caOption = Option<String>("ca", valueName: "name", required: true, help: "The CA issuing its certificates.")
    static let daysOption = Option<Int>("days", help: "Certificate lifetime in days (TLS server: at most the CA/Browser Forum limit; default: the template's, 90 without one).")
    static let domainOption = Option<String>("domain", valueName: "pattern", repeatable: true, help: "Allowed names: example.com, *.example.com, 192.0.2.1; repeatable or comma-separated (default: any).")
    static let keyTypesOption = Option<String>("key-types", valueName: "list", help: "Accepted key types (default: the template's, EC-P256,EC-P384,RSA,ED25519 without one).")
    static let minRSAOption = Option<Int>("min-rsa-bits", default: 2048, help: "Smallest RSA key accepted (never below 2048).")
    static let approvalFlag = Flag("requires-approval", help: "Requests wait for `certbus approval approve`.")
    static let approvalTTLOption = Option<String>("approval-expires", valueName: "span", default: "7d", help: "How long an approval may stay pending.")
    static let noAutoRenewFlag = Flag("no-auto-renew", help: "Do not renew its certificates automatically.")
    static let renewBeforeOption = Option<String>("renew-before", valueName: "span", help: "Renew this long before expiry (default: two thirds into the lifetime).")
    static let alertDaysOption = Option<String>("alert-days", valueName: "list", default: "30,14,7,1", help: "Expiry alert ladder in days.")
    static let typeOption = Option<String>("type", valueName: "type", allowed: CertificateType.allCases.map(\.rawValue), help: "TLS_SERVER, TLS_SERVER_CLIENT or TLS_CLIENT (default: the template's, TLS_SERVER without one).")
    static let defaultKeyOption = Option<String>("default-key-type", valueName: "type", help: "Key type certbus generates for requests without a CSR (default: EC-P256).")
    static let templateOption = Option<String>(
        "template", valueName: "name", allowed: ProfileTemplate.all.map(\.name),
        help: "Start from a built-in template (see `certbus profile templates`): tls-server-br for publicly-trusted TLS servers (Baseline Requirements); other options narrow it.")

    static func split(_ values: [String]) -> [String] {
        values.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    static let create = Command(
        "create", abstract: "Create an RA profile.",
        discussion: """
            Without --template the profile is a TLS_SERVER profile for a private PKI (the tls-server template). With \
            --template tls-server-br its certificates follow the CA/Browser Forum Baseline Requirements (no Ed25519 \
            keys, and a built-in CA must have --crl-url and --ca-issuers-url); options given as well may narrow the \
            template (--days, --key-types, --domain, ...) but not leave it.
            """,
        options: CommandContext.options + [caOption, templateOption, daysOption, domainOption, keyTypesOption, minRSAOption, approvalFlag,
                                           approvalTTLOption, noAutoRenewFlag, renewBeforeOption, alertDaysOption, typeOption, defaultKeyOption],
        arguments: [nameArgument]
    ) { invocation in
        let context = CommandContext(invocation)
        let name = try invocation.value(nameArgument)
        let ca = try invocation.value(caOption)
        // The template's settings, then whatever was given explicitly (the options' defaults are the draft's).
        var draft = invocation[templateOption].flatMap(ProfileTemplate.named)?.draft(name: name, ca: ca) ?? RAProfileDraft(name: name, ca: ca)
        if invocation.isGiven(daysOption) { draft.validityDays = invocation[daysOption]! }
        draft.allowedDomains = split(invocation.values(domainOption))
        if invocation.isGiven(keyTypesOption) { draft.allowedKeyAlgorithms = split([invocation[keyTypesOption]!]) }
        draft.minimumRSABits = invocation[minRSAOption]!
        draft.requiresApproval = invocation[approvalFlag]
        draft.autoRenew = !invocation[noAutoRenewFlag]
        if invocation.isGiven(typeOption) { draft.certificateType = CertificateType(rawValue: invocation[typeOption]!) ?? .tlsServer }
        if invocation.isGiven(defaultKeyOption) { draft.defaultKeyAlgorithm = invocation[defaultKeyOption]! }
        do {
            draft.approvalLifetimeSeconds = try DurationText.parse(invocation[approvalTTLOption]!)
            draft.renewBeforeSeconds = try invocation[renewBeforeOption].map { try DurationText.parse($0) }
        } catch let error as DurationTextError {
            throw UsageError(error.description)
        }
        let days = split([invocation[alertDaysOption]!])
        guard days.allSatisfy({ Int($0) != nil }) else { throw UsageError("--alert-days wants whole numbers, e.g. 30,14,7,1") }
        draft.expiryAlertDays = days.compactMap { Int($0) }
        let connection = try context.connect()
        defer { connection.close() }
        let profile = try RAProfileStore.create(draft, actor: CertCommandSupport.actor(invocation), on: connection)
        let from = draft.template.map { " from template \($0.name)" } ?? ""
        try context.emit(text: "created profile \(profile.name)\(from) (CA \(profile.caName), \(profile.validityDays) days)", json: json(profile))
    }

    static let templates = Command(
        "templates", abstract: "List the built-in profile templates (for profile create --template).", options: CommandContext.options
    ) { invocation in
        let context = CommandContext(invocation)
        if context.json {
            invocation.output.write(try JSONOutput.string(JSONValue.array(ProfileTemplate.all.map { template in
                .object([
                    "name": .string(template.name), "summary": .string(template.summary),
                    "certificate_type": .string(template.certificateType.rawValue), "validity_days": .int(template.validityDays),
                    "allowed_key_algorithms": .array(template.allowedKeyAlgorithms.map { .string($0) }),
                    "default_key_algorithm": .string(template.defaultKeyAlgorithm),
                    "requires_crl_and_ca_issuers_urls": .bool(template.requiresRevocationPointers),
                ])
            })))
            return
        }
        let table = TableFormatter([.init("NAME"), .init("TYPE"), .init("DAYS", alignment: .right), .init("KEY TYPES"), .init("CA NEEDS"),
                                    .init("FOR")])
        invocation.print(table.render(ProfileTemplate.all.map {
            [$0.name, $0.certificateType.rawValue, String($0.validityDays), $0.allowedKeyAlgorithms.joined(separator: ","),
             $0.requiresRevocationPointers ? "CRL + caIssuers URLs" : "-", $0.summary]
        }), terminator: "")
    }

    static func json(_ p: RAProfile) -> JSONValue {
        .object([
            "id": CertCommandSupport.json(p.id), "name": .string(p.name), "ca": .string(p.caName), "validity_days": .int(p.validityDays),
            "certificate_type": .string(p.certificateType.rawValue), "allowed_key_algorithms": .array(p.allowedKeyAlgorithms.map { .string($0) }),
            "minimum_rsa_bits": .int(p.minimumRSABits), "allowed_domains": .array(p.allowedDomains.map { .string($0) }),
            "requires_approval": .bool(p.requiresApproval), "auto_renew": .bool(p.autoRenew),
            "renew_before_seconds": p.renewBeforeSeconds.map { .double($0) } ?? .null,
            "expiry_alert_days": .array(p.expiryAlertDays.map { .int($0) }), "enabled": .bool(p.enabled),
            "default_key_algorithm": .string(p.defaultKeyAlgorithm), "approval_lifetime_seconds": .double(p.approvalLifetimeSeconds),
        ])
    }

    static let list = Command("list", abstract: "List RA profiles.", options: CommandContext.options) { invocation in
        let context = CommandContext(invocation)
        let connection = try context.connect()
        defer { connection.close() }
        let profiles = try RAProfileStore.list(on: connection)
        if context.json {
            invocation.output.write(try JSONOutput.string(JSONValue.array(profiles.map(json))))
            return
        }
        if profiles.isEmpty {
            invocation.print("no profiles (create one with: certbus profile create NAME --ca CA)")
            return
        }
        let table = TableFormatter([.init("NAME"), .init("CA"), .init("TYPE"), .init("DAYS", alignment: .right), .init("DOMAINS", maxWidth: 40),
                                    .init("APPROVAL"), .init("AUTO RENEW")])
        invocation.print(table.render(profiles.map {
            [$0.name, $0.caName, $0.certificateType.rawValue, String($0.validityDays),
             $0.allowedDomains.isEmpty ? "(any)" : $0.allowedDomains.joined(separator: ","), $0.requiresApproval ? "required" : "-",
             $0.autoRenew ? "yes" : "no"]
        }), terminator: "")
    }

    static let show = Command("show", abstract: "Show one RA profile.", options: CommandContext.options, arguments: [nameArgument]) { invocation in
        let context = CommandContext(invocation)
        let connection = try context.connect()
        defer { connection.close() }
        let name = try invocation.value(nameArgument)
        guard let p = try RAProfileStore.find(nameOrId: name, on: connection) else {
            throw CommandFailure("unknown RA profile \"\(name)\" (see certbus profile list)")
        }
        if context.json {
            invocation.output.write(try JSONOutput.string(json(p)))
            return
        }
        let renewal = p.renewBeforeSeconds.map { "\(Int($0 / 86400)) days before expiry" } ?? "two thirds into the lifetime"
        invocation.print("""
            name            \(p.name) (\(p.enabled ? "enabled" : "disabled"))
            id              \(p.id.uuidString.lowercased())
            CA              \(p.caName)
            type            \(p.certificateType.rawValue), \(p.validityDays) days
            keys            \(p.allowedKeyAlgorithms.joined(separator: ", ")) (RSA at least \(p.minimumRSABits) bits; generated: \(p.defaultKeyAlgorithm))
            domains         \(p.allowedDomains.isEmpty ? "(any)" : p.allowedDomains.joined(separator: ", "))
            approval        \(p.requiresApproval ? "required (expires after \(Int(p.approvalLifetimeSeconds / 3600)) h)" : "not required")
            renewal         \(p.autoRenew ? "automatic, " + renewal : "manual")
            expiry alerts   \(p.expiryAlertDays.map(String.init).joined(separator: ", ")) days before expiry
            """)
    }
}
