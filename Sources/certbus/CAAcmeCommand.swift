import CertbusArguments
import CertbusServices
import Foundation

/// `certbus ca create-acme NAME --directory URL ...`: adds an RFC 8555 ACME CA.
enum CAAcmeCommand {
    static let nameArgument = Argument<String>("name", help: "Short unique name of the CA (letters, digits, . _ -).")
    static let directory = Option<String>("directory", valueName: "url", help: "The ACME directory URL (https), e.g. https://acme-v02.api.letsencrypt.org/directory.")
    static let contact = Option<String>("contact", valueName: "email", repeatable: true, help: "Account contact e-mail (repeatable).")
    static let http01 = Option<String>(
        "http01-address", valueName: "host:port", default: ACMESettings.defaultHTTP01Address,
        help: "Where certbus answers http-01 challenges; port 80 of every requested name must reach it.")
    static let trustedCA = Option<String>("trusted-ca-file", valueName: "file", help: "PEM bundle trusted for the ACME server's TLS (default: the system store).")
    static let disagree = Flag("no-terms-agreement", help: "Do not agree to the CA's terms of service (most CAs then refuse the account).")

    static let command = Command(
        "create-acme", abstract: "Add an ACME (RFC 8555) CA such as Let's Encrypt or step-ca.",
        discussion: """
            Stores the directory URL and settings, and an account key sealed under the key-encryption key \
            (CERTBUS_KEK_FILE). The account is created on first use. Profiles that name this CA issue \
            through it: certbus places the order, answers http-01 itself, finalizes with the CSR and \
            downloads the chain. See docs/acme.md.
            """,
        options: CommandContext.options + [directory, contact, http01, trustedCA, disagree],
        arguments: [nameArgument]
    ) { invocation in
        let context = CommandContext(invocation)
        guard let url = invocation[directory] else { throw UsageError("--directory URL is required") }
        let settings = ACMESettings(
            directoryURL: url, contact: invocation.values(contact), termsOfServiceAgreed: !invocation[disagree],
            http01Address: invocation[http01]!, trustedCAFile: invocation[trustedCA])
        let kek = try CertCommandSupport.registry(invocation).environment.keyEncryptionKey()
        let connection = try context.connect()
        defer { connection.close() }
        let record = try ACMECAProvisioner.create(
            name: try invocation.value(nameArgument), settings: settings, keyEncryptionKey: kek,
            actor: CertCommandSupport.actor(invocation), on: connection)
        try context.emit(
            text: "created ACME CA \(record.name) (\(url)); the account is registered on first use",
            json: .object(["id": CertCommandSupport.json(record.id), "name": .string(record.name), "kind": .string(record.kind)]))
    }
}
