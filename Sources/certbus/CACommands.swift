import CertbusArguments
import CertbusCore
import CertbusServices
import Foundation
import PKI
import Postgres

/// `certbus ca create|list|show|disable|enable|crl`.
enum CACommands {
    static let command = Command(
        "ca", abstract: "Create, list, show, disable certificate authorities; print a CA's CRL.",
        discussion: """
            A built-in CA is a root, or a root and an intermediate (the default; profiles then use the \
            intermediate, and the root is named <name>-root). Its private keys are sealed with AES-256-GCM under \
            the key-encryption key from CERTBUS_KEK_FILE (default: <certbus home>/kek, created with mode 0600).
            """,
        subcommands: [create, CAAcmeCommand.command, list, show, disable, enable, crl, publish])

    static let nameArgument = Argument<String>("name", help: "The CA's name (or id).")
    static let kindOption = Option<String>("kind", valueName: "kind", default: "BUILT_IN", help: "The CA kind; this command creates BUILT_IN CAs.")
    static let rootOnlyFlag = Flag("root-only", help: "Create only a root CA that issues directly (no intermediate).")
    static let cnOption = Option<String>("cn", valueName: "name", help: "Subject common name (default: the CA's name).")
    static let orgOption = Option<String>("org", valueName: "name", help: "Subject organization (publicly-trusted CAs need one).")
    static let countryOption = Option<String>("country", valueName: "code", help: "Subject country, two letters (ISO 3166, e.g. DE; publicly-trusted CAs need one).")
    static let keyTypeOption = Option<String>("key-type", valueName: "type", default: "EC-P256", help: "CA key type: EC-P256, EC-P384, RSA-2048, RSA-3072, RSA-4096.")
    static let rootDaysOption = Option<Int>("root-days", default: 3650, help: "Root lifetime in days.")
    static let daysOption = Option<Int>("days", default: 1825, help: "Intermediate lifetime in days.")
    static let crlURLOption = Option<String>("crl-url", valueName: "url", help: "Where the CA's CRL is published, put in the CRL distribution point of what it issues; {ca} stands for each CA's name (required with an intermediate), e.g. http://pki.example.com/{ca}.crl.")
    static let caIssuersURLOption = Option<String>("ca-issuers-url", valueName: "url", help: "Where the CA's certificate is published, put in the authority information access (caIssuers) of what it issues; {ca} as for --crl-url, e.g. http://pki.example.com/{ca}.crt.")
    static let crlHoursOption = Option<Int>("crl-hours", default: 168, help: "Lifetime of each CRL in hours (a new one is published when half is left).")
    static let warnDaysOption = Option<Int>("expiry-warning-days", default: 90, help: "CA_REFRESH warns this many days before the CA certificate expires.")

    static let create = Command(
        "create", abstract: "Create a built-in CA (root + intermediate by default).",
        options: CommandContext.options + [kindOption, rootOnlyFlag, cnOption, orgOption, countryOption, keyTypeOption, rootDaysOption,
                                           daysOption, crlURLOption, caIssuersURLOption, crlHoursOption, warnDaysOption],
        arguments: [nameArgument]
    ) { invocation in
        let context = CommandContext(invocation)
        guard invocation[kindOption]!.uppercased() == "BUILT_IN" else {
            throw UsageError("this command creates BUILT_IN CAs; ACME CAs are added with `certbus ca create-acme`")
        }
        guard let keyType = GeneratedKeyType(rawValue: invocation[keyTypeOption]!.uppercased()), keyType != .ed25519 else {
            throw UsageError("--key-type must be EC-P256, EC-P384, RSA-2048, RSA-3072 or RSA-4096")
        }
        let spec = BuiltInCASpecification(
            name: try invocation.value(nameArgument), commonName: invocation[cnOption], organization: invocation[orgOption],
            country: invocation[countryOption], keyAlgorithm: keyType.algorithm, rootValidityDays: invocation[rootDaysOption]!,
            intermediateValidityDays: invocation[daysOption]!, withIntermediate: !invocation[rootOnlyFlag],
            configuration: CAConfiguration(crlURL: invocation[crlURLOption], caIssuersURL: invocation[caIssuersURLOption],
                                           crlValidityHours: invocation[crlHoursOption], expiryWarningDays: invocation[warnDaysOption]))
        let kek = try CertCommandSupport.registry(invocation).environment.keyEncryptionKey()
        let connection = try context.connect()
        defer { connection.close() }
        let created = try BuiltInCAProvisioner.create(spec, keyEncryptionKey: kek, actor: CertCommandSupport.actor(invocation), on: connection)
        let names = created.map(\.name)
        try context.emit(
            text: "created \(names.joined(separator: " and ")); profiles should use \(created.last!.name) (key sealed with \(kek.path))",
            json: .array(created.map { .object(["id": CertCommandSupport.json($0.id), "name": .string($0.name), "kind": .string($0.kind),
                                                "parent_id": CertCommandSupport.json($0.parentId)]) }))
    }

    static func json(_ s: CertificateAuthoritySummary) -> JSONValue {
        .object([
            "id": CertCommandSupport.json(s.authority.id), "name": .string(s.authority.name), "kind": .string(s.authority.kind),
            "status": .string(s.authority.status.rawValue), "parent": CertCommandSupport.json(s.parentName),
            "subject": CertCommandSupport.json(s.subject), "not_after": CertCommandSupport.json(s.authority.certificateNotAfter),
            "crl_number": s.crlNumber.map { .int(Int($0)) } ?? .null, "crl_next_update": CertCommandSupport.json(s.crlNextUpdate),
            "last_refreshed_at": CertCommandSupport.json(s.authority.lastRefreshedAt), "last_error": CertCommandSupport.json(s.authority.lastError),
            "profiles": .int(s.profileCount), "certificates": .int(s.certificateCount),
            "configuration": .string(s.authority.configurationJSON),
        ])
    }

    static let list = Command("list", abstract: "List CAs.", options: CommandContext.options) { invocation in
        let context = CommandContext(invocation)
        let connection = try context.connect()
        defer { connection.close() }
        let all = try CertificateAuthorityAdmin.list(on: connection)
        if context.json {
            invocation.output.write(try JSONOutput.string(JSONValue.array(all.map(json))))
            return
        }
        if all.isEmpty {
            invocation.print("no CAs (create one with: certbus ca create NAME)")
            return
        }
        let table = TableFormatter([.init("NAME"), .init("KIND"), .init("STATUS"), .init("PARENT"), .init("NOT AFTER"), .init("CRL"),
                                    .init("PROFILES", alignment: .right), .init("CERTIFICATES", alignment: .right), .init("LAST ERROR", maxWidth: 50)])
        invocation.print(table.render(all.map {
            [$0.authority.name, $0.authority.kind, $0.authority.status.rawValue, $0.parentName ?? "",
             CertCommandSupport.time($0.authority.certificateNotAfter), $0.crlNumber.map { "#\($0)" } ?? "",
             String($0.profileCount), String($0.certificateCount), $0.authority.lastError ?? ""]
        }), terminator: "")
    }

    static let pemFlag = Flag("pem", help: "Also print the CA certificate and its chain, PEM.")

    static let show = Command("show", abstract: "Show one CA.", options: CommandContext.options + [pemFlag], arguments: [nameArgument]) { invocation in
        let context = CommandContext(invocation)
        let connection = try context.connect()
        defer { connection.close() }
        let name = try invocation.value(nameArgument)
        guard let s = try CertificateAuthorityAdmin.find(name, on: connection) else {
            throw CommandFailure("unknown CA \"\(name)\" (see certbus ca list)")
        }
        if context.json {
            invocation.output.write(try JSONOutput.string(json(s)))
            return
        }
        var lines = [
            "name        \(s.authority.name) (\(s.authority.kind), \(s.authority.status.rawValue))",
            "id          \(s.authority.id.uuidString.lowercased())",
        ]
        if let parent = s.parentName { lines.append("parent      \(parent)") }
        if let subject = s.subject { lines.append("subject     \(subject)") }
        if let notAfter = s.authority.certificateNotAfter { lines.append("expires     \(CertCommandSupport.time(notAfter)) UTC") }
        if let crl = s.crlNumber { lines.append("CRL         #\(crl), next update \(CertCommandSupport.time(s.crlNextUpdate)) UTC") }
        lines.append("refreshed   \(s.authority.lastRefreshedAt.map { CertCommandSupport.time($0) + " UTC" } ?? "never")")
        if let error = s.authority.lastError { lines.append("last error  \(error)") }
        lines.append("profiles    \(s.profileCount), certificates \(s.certificateCount)")
        lines.append("settings    \(s.authority.configurationJSON)")
        var text = lines.joined(separator: "\n") + "\n"
        if invocation[pemFlag] { text += "\n" + (s.authority.certificatePEM ?? "") + (s.authority.chainPEM ?? "") }
        invocation.print(text, terminator: "")
    }

    static let disable = Command(
        "disable", abstract: "Disable a CA: it refuses new issuance; its certificates stay valid and revocable.",
        options: CommandContext.options, arguments: [nameArgument]
    ) { invocation in
        try setStatus(invocation, .disabled)
    }

    static let enable = Command("enable", abstract: "Enable a disabled CA again.", options: CommandContext.options, arguments: [nameArgument]) { invocation in
        try setStatus(invocation, .active)
    }

    static func setStatus(_ invocation: Invocation, _ status: CertificateAuthorityRecord.Status) throws {
        let context = CommandContext(invocation)
        let connection = try context.connect()
        defer { connection.close() }
        let authority = try CertificateAuthorityAdmin.setStatus(try invocation.value(nameArgument), to: status,
                                                                actor: CertCommandSupport.actor(invocation), on: connection)
        try context.emit(text: "CA \(authority.name) is \(authority.status.rawValue)",
                         json: ["name": .string(authority.name), "status": .string(authority.status.rawValue)])
    }

    static let crl = Command("crl", abstract: "Print a built-in CA's current CRL (PEM).", options: CommandContext.options, arguments: [nameArgument]) { invocation in
        let context = CommandContext(invocation)
        let connection = try context.connect()
        defer { connection.close() }
        guard let pem = try CertificateAuthorityAdmin.currentCRL(try invocation.value(nameArgument), on: connection) else {
            throw CommandFailure("this CA has published no CRL")
        }
        try context.emit(text: pem.trimmingCharacters(in: .newlines), json: ["crl_pem": .string(pem)])
    }

    static let dirOption = Option<String>("dir", valueName: "directory", required: true, help: "The directory a web server serves at the URLs given to --crl-url and --ca-issuers-url.")

    static let publish = Command(
        "publish", abstract: "Write every built-in CA's certificate (<name>.crt) and current CRL (<name>.crl), DER, into a directory.",
        discussion: """
            What the CRL distribution point and caIssuers URLs of issued certificates point at (ca create --crl-url \
            'http://pki.example.com/{ca}.crl' --ca-issuers-url 'http://pki.example.com/{ca}.crt'): serve the directory \
            at http://pki.example.com/ and run this after each revocation and CA_REFRESH (e.g. from cron every few \
            minutes). Files are replaced atomically.
            """,
        options: CommandContext.options + [dirOption]
    ) { invocation in
        let context = CommandContext(invocation)
        let connection = try context.connect()
        defer { connection.close() }
        let files = try CAPublication.publish(into: try invocation.value(dirOption), on: connection)
        try context.emit(
            text: files.isEmpty ? "no built-in CAs to publish" : files.map { "wrote \($0.path) (\($0.caName), \($0.kind))" }.joined(separator: "\n"),
            json: .array(files.map { .object(["ca": .string($0.caName), "kind": .string($0.kind), "path": .string($0.path)]) }))
    }
}
