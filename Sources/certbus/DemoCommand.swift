import CertbusArguments
import CertbusBus
import CertbusCore
import CertbusServices
import Foundation
import PKI
import Postgres

/// `certbus demo`: issue a certificate for demo.certbus.test with the built-in CA, end to end.
enum DemoCommand {
    static let timeoutOption = Option<Double>("timeout", valueName: "seconds", default: 60, help: "Give up after this long.")

    static let command = Command(
        "demo", abstract: "Issue a certificate for demo.certbus.test through the built-in CA and print it with its chain.",
        discussion: """
            Creates the built-in CA demo-ca (root demo-ca-root + intermediate demo-ca) and the profile demo \
            when they do not exist, requests a certificate for demo.certbus.test with a key certbus generates, \
            runs the ISSUE_CERT job through a worker in this process (a running `certbus serve` may take it \
            first), and prints the certificate and its chain.
            """,
        options: CommandContext.options + [timeoutOption]
    ) { invocation in
        let context = CommandContext(invocation)
        let connection = try context.connect()
        defer { connection.close() }
        try ServiceComposition.requireMigrated(context)
        let registry = CertCommandSupport.registry(invocation)
        let prepared = try CertificateDemo.prepare(registry: registry, actor: CertCommandSupport.actor(invocation), on: connection)
        var options = WorkerOptions()
        options.concurrency = 1
        options.kinds = [.issueCertificate]
        options.runsMaintenance = false
        options.name = "demo"
        let worker = try Worker(configuration: try context.configuration(applicationName: "certbus-demo"),
                                handlers: HandlerRegistry(CertificateServices.handlers(registry: registry)), options: options,
                                log: .standardError(minimumLevel: .warning))
        try worker.start()
        defer { worker.stop(grace: 5) }
        let progress = CommandProgress(context)
        let request = try CertificateRequestWait.wait(for: prepared.submitted.request.id, timeout: invocation[timeoutOption]!,
                                                      on: connection) { progress.waiting("issuing the demo certificate", status: $0) }
        progress.finish()
        if !context.json {
            var steps: [String] = []
            if prepared.createdCA { steps.append("created CA demo-ca (root demo-ca-root, intermediate demo-ca)") }
            if prepared.createdProfile { steps.append("created profile demo (*.certbus.test, 90 days)") }
            steps.append("issued through job \(request.jobId.map(String.init) ?? "?") by the built-in CA")
            invocation.print(steps.map { "• " + $0 }.joined(separator: "\n"))
        }
        try CertCommands.report(request, context: context, connection: connection)
    }
}
