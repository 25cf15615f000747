import CertbusBus
import CertbusCore
import CertbusHTTP
import CertbusServices
import CertbusTesting
import Foundation
import PKI
import Postgres
import Testing

/// DELIVER_NOTIFICATION against a real HTTP server on 127.0.0.1.
@Suite struct NotificationWebhookTests {
    let admin = Actor.user("alice")
    let secret = "a-long-enough-shared-secret"

    /// What a receiver has seen and will answer next, shared with the server's threads.
    final class ReceiverState: @unchecked Sendable {
        let lock = NSLock()
        var requests: [HTTPRequest] = []
        var statuses: [Int]
        let delay: Double
        init(statuses: [Int], delay: Double) {
            self.statuses = statuses
            self.delay = delay
        }
        func answer(_ request: HTTPRequest) -> HTTPResponse {
            let status = lock.withLock { () -> Int in
                requests.append(request)
                return statuses.isEmpty ? 200 : statuses.removeFirst()
            }
            if delay > 0 { Thread.sleep(forTimeInterval: delay) }
            return HTTPResponse(status: status)
        }
    }

    /// A receiver that records requests and answers with the statuses given, one per request (then 200).
    final class Receiver: Sendable {
        let state: ReceiverState
        let server: HTTPServer

        init(statuses: [Int] = [], delay: Double = 0) throws {
            let state = ReceiverState(statuses: statuses, delay: delay)
            self.state = state
            server = HTTPServer(handler: { request in state.answer(request) })
            try server.start()
        }

        var url: String { server.baseURL.absoluteString + "/hooks/certbus" }
        var received: [HTTPRequest] { state.lock.withLock { state.requests } }
        func stop() { server.stop() }
    }

    struct Setup {
        let db: TestDatabase
        let connection: Connection
        let pool: ConnectionPool
        let box: KeyEncryptionKey
        let profile: NotificationProfile
        let eventId: Int64
    }

    func setUp(url: String, timeout: Double = 5, maxAttempts: Int = 3, signed: Bool = true) throws -> Setup {
        let db = try TestDatabase.create()
        let c = try db.connect()
        let box = KeyEncryptionKey(key: try SecretBox.Key.generate())
        let profile = try NotificationProfiles.create(
            on: c, NewNotificationProfile(name: "ops-hook", kind: .webhook, url: url, secret: signed ? secret : nil,
                                          timeoutSeconds: timeout, maxAttempts: maxAttempts),
            keyEncryptionKey: box, actor: admin)
        let eventId = try EventLog.emit(on: c, DiscoveryFinishedEventData(
            discoveryId: "d-1", name: "lan", outcome: .success, certificatesFound: 2, newCertificates: 1))
        return Setup(db: db, connection: c, pool: db.pool(), box: box, profile: profile, eventId: eventId)
    }

    func job(_ s: Setup, attempt: Int = 1, maxAttempts: Int = 3) throws -> Job {
        let payload = try PostgresJSON(encoding: DeliverNotificationPayload(profileId: s.profile.id, eventId: s.eventId, triggerId: nil))
        return Job(id: 77, kind: .deliverNotification, name: "notify", payload: Data(payload.text.utf8), attempt: attempt,
                   maxAttempts: maxAttempts, triggeredBy: .system("test"))
    }

    /// Runs one attempt like a worker: applies the completion's or the failure's commit.
    func attempt(_ s: Setup, _ handler: DeliverNotificationHandler, attempt: Int) throws -> Result<JobCompletion, JobFailure> {
        let context = JobContext(database: s.pool, workerId: "test")
        do {
            let completion = try handler.run(try job(s, attempt: attempt), context: context)
            try s.connection.withTransaction { tx in try completion.commit?(tx) }
            return .success(completion)
        } catch let failure as JobFailure {
            try s.connection.withTransaction { tx in try failure.commit?(tx) }
            return .failure(failure)
        }
    }

    func log(_ s: Setup) throws -> [(status: String, http: Int?, retry: Bool, attempt: Int)] {
        try s.connection.query(
            "SELECT status, http_status, will_retry, attempt FROM certbus.notification_deliveries ORDER BY id"
        ).map { (try $0.decode("status"), try $0.decode("http_status"), try $0.decode("will_retry"), try $0.decode("attempt")) }
    }

    @Test func deliversSignedJSONTheReceiverCanVerify() throws {
        let receiver = try Receiver()
        defer { receiver.stop() }
        let s = try setUp(url: receiver.url)
        defer { s.pool.close(); s.db.drop() }
        let result = try attempt(s, DeliverNotificationHandler(keyEncryptionKey: s.box), attempt: 1)
        #expect((try? result.get()) != nil)
        let request = try #require(receiver.received.first)
        #expect(request.method == .post)
        #expect(request.path == "/hooks/certbus")
        #expect(request.headers.values(for: "Content-Type") == ["application/json"])
        #expect(request.headers.values(for: "X-Certbus-Event") == ["DISCOVERY_FINISHED"])
        let timestamp = try #require(request.headers.values(for: WebhookSignature.timestampHeader).first)
        let signature = try #require(request.headers.values(for: WebhookSignature.signatureHeader).first)
        #expect(WebhookSignature.verify(body: request.body, timestamp: timestamp, signature: signature, secret: Data(secret.utf8)))
        #expect(!WebhookSignature.verify(body: request.body + Data(" ".utf8), timestamp: timestamp, signature: signature,
                                         secret: Data(secret.utf8)))
        #expect(!WebhookSignature.verify(body: request.body, timestamp: timestamp, signature: signature, secret: Data("other".utf8)))
        let body = try PayloadValue.parse(json: request.body)
        #expect(body.value(at: ["id"]) == .number(Double(s.eventId)))
        #expect(body.value(at: ["type"]) == .string("DISCOVERY_FINISHED"))
        #expect(body.value(at: ["payload", "certificates_found"]) == .number(2))
        #expect(body.value(at: ["profile"]) == .string("ops-hook"))
        #expect(try log(s).map(\.status) == ["DELIVERED"])
        #expect(try log(s).first?.http == 200)
    }

    @Test func serverErrorFirstThenSuccessIsRetriedAndLogged() throws {
        let receiver = try Receiver(statuses: [500, 503])
        defer { receiver.stop() }
        let s = try setUp(url: receiver.url)
        defer { s.pool.close(); s.db.drop() }
        let handler = DeliverNotificationHandler(keyEncryptionKey: s.box)
        for n in 1...2 {
            guard case .failure(let failure) = try attempt(s, handler, attempt: n) else {
                Issue.record("attempt \(n) should fail")
                return
            }
            #expect(!failure.isPermanent)
            #expect(failure.message.contains("receiver answered 50"))
        }
        #expect((try? attempt(s, handler, attempt: 3).get()) != nil)
        let rows = try log(s)
        #expect(rows.map(\.status) == ["FAILED", "FAILED", "DELIVERED"])
        #expect(rows.map(\.http) == [500, 503, 200])
        #expect(rows.map(\.retry) == [true, true, false])
        #expect(rows.map(\.attempt) == [1, 2, 3])
        #expect(receiver.received.count == 3)
    }

    @Test func receiverThatRefusesEndsTheJobAtOnce() throws {
        let receiver = try Receiver(statuses: [410])
        defer { receiver.stop() }
        let s = try setUp(url: receiver.url)
        defer { s.pool.close(); s.db.drop() }
        guard case .failure(let failure) = try attempt(s, DeliverNotificationHandler(keyEncryptionKey: s.box), attempt: 1) else {
            Issue.record("should fail")
            return
        }
        #expect(failure.isPermanent)
        #expect(try log(s).map(\.retry) == [false])
    }

    @Test func timeoutAndRefusedConnectionsAreRetryable() throws {
        let slow = try Receiver(delay: 3)
        defer { slow.stop() }
        let s = try setUp(url: slow.url, timeout: 0.5)
        defer { s.pool.close(); s.db.drop() }
        guard case .failure(let timedOut) = try attempt(s, DeliverNotificationHandler(keyEncryptionKey: s.box), attempt: 1) else {
            Issue.record("should time out")
            return
        }
        #expect(!timedOut.isPermanent)
        #expect(timedOut.message.contains("timed out") || timedOut.message.contains("timeout"))

        // Nothing listens on the port of a stopped server.
        let gone = try Receiver()
        let url = gone.url
        gone.stop()
        try s.connection.execute("UPDATE certbus.notification_profiles SET url = $1", [url])
        guard case .failure(let refused) = try attempt(s, DeliverNotificationHandler(keyEncryptionKey: s.box), attempt: 3) else {
            Issue.record("should be refused")
            return
        }
        #expect(!refused.isPermanent)
        let rows = try log(s)
        #expect(rows.map(\.status) == ["FAILED", "FAILED"])
        #expect(rows.map(\.http) == [nil, nil])
        #expect(rows.map(\.retry) == [true, false])  // attempt 3 of 3: the queue gives up
    }

    @Test func unsignedProfilesAndDisabledOrMissingProfiles() throws {
        let receiver = try Receiver()
        defer { receiver.stop() }
        let s = try setUp(url: receiver.url, signed: false)
        defer { s.pool.close(); s.db.drop() }
        _ = try attempt(s, DeliverNotificationHandler(keyEncryptionKey: nil), attempt: 1).get()
        #expect(receiver.received.first?.headers.contains(WebhookSignature.signatureHeader) == false)
        try NotificationProfiles.setEnabled(on: s.connection, "ops-hook", enabled: false, actor: admin)
        let skipped = try attempt(s, DeliverNotificationHandler(keyEncryptionKey: nil), attempt: 1).get()
        #expect(skipped.output?.contains("profile disabled") == true)
        #expect(receiver.received.count == 1)
        try s.connection.execute("DELETE FROM certbus.notification_profiles")
        guard case .failure(let failure) = try attempt(s, DeliverNotificationHandler(keyEncryptionKey: nil), attempt: 1) else {
            Issue.record("should fail")
            return
        }
        #expect(failure.isPermanent)
    }

    @Test func secretsAreSealedAndNeverShown() throws {
        let receiver = try Receiver()
        defer { receiver.stop() }
        let s = try setUp(url: receiver.url)
        defer { s.pool.close(); s.db.drop() }
        let raw = try s.connection.query("SELECT sealed_secret FROM certbus.notification_profiles")[0].decode("sealed_secret", as: Data.self)
        #expect(raw.range(of: Data(secret.utf8)) == nil)
        #expect(s.profile.signed)
        #expect(!"\(s.profile)".contains(secret))
        let audit = try s.connection.query("SELECT details::text AS d FROM certbus.audit_log WHERE action = 'NOTIFICATION_PROFILE_CHANGED'")
        #expect(try audit.allSatisfy { !(try $0.decode("d", as: String.self)).contains(secret) })
        // The wrong key cannot open it: the delivery fails rather than sending an unsigned request.
        let wrong = KeyEncryptionKey(key: try SecretBox.Key.generate())
        #expect(throws: (any Error).self) { try attempt(s, DeliverNotificationHandler(keyEncryptionKey: wrong), attempt: 1) }
        #expect(receiver.received.isEmpty)
    }

    @Test func failingWebhookIsRetriedThroughTheJobQueueAndLogged() throws {
        let receiver = try Receiver(statuses: [500, 503])
        defer { receiver.stop() }
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let kek = KeyEncryptionKey(key: try SecretBox.Key.generate())
        let profile = try NotificationProfiles.create(
            on: c, NewNotificationProfile(name: "hook", kind: .webhook, url: receiver.url, secret: secret, maxAttempts: 5),
            keyEncryptionKey: kek, actor: admin)
        _ = try EventTriggers.create(on: c, NewEventTrigger(
            name: "hook-discoveries", eventType: .discoveryFinished, actions: [.notify(profileId: profile.id)]), actor: admin)
        let event = try EventLog.emit(on: c, DiscoveryFinishedEventData(
            discoveryId: "d-1", outcome: .failure, certificatesFound: 0, newCertificates: 0, error: "no route"))
        #expect(try EventDispatcher().drain(on: c).failures == 0)

        var options = WorkerOptions()
        options.backoff = Backoff(base: 0.05, maximum: 0.2, jitter: 0)
        options.pollInterval = 0.1
        options.runsMaintenance = false
        let worker = try Worker(
            configuration: db.configuration(), handlers: HandlerRegistry([DeliverNotificationHandler(keyEncryptionKey: kek)]),
            options: options, log: .silent)
        try worker.start()
        defer { worker.stop(grace: 5) }
        let deadline = Date().addingTimeInterval(30)
        var status = ""
        while status != "SUCCESS", status != "FAILED", Date() < deadline {
            usleep(50_000)
            status = try c.query("SELECT status FROM certbus.jobs WHERE kind = 'DELIVER_NOTIFICATION'").firstRow?
                .decode("status", as: String.self) ?? ""
        }
        #expect(status == "SUCCESS")
        let rows = try c.query(
            "SELECT status, http_status, attempt, will_retry, event_id FROM certbus.notification_deliveries ORDER BY id")
        #expect(try rows.map { try $0.decode("status", as: String.self) } == ["FAILED", "FAILED", "DELIVERED"])
        #expect(try rows.map { try $0.decode("http_status", as: Int.self) } == [500, 503, 200])
        #expect(try rows.map { try $0.decode("attempt", as: Int.self) } == [1, 2, 3])
        #expect(try rows.allSatisfy { try $0.decode("event_id", as: Int64.self) == event })
        let attempts = try c.query("SELECT outcome FROM certbus.job_attempts ORDER BY attempt").map { try $0.decode("outcome", as: String.self) }
        #expect(attempts == ["RETRY", "RETRY", "SUCCESS"])
        // Every request carried a valid signature.
        for request in receiver.received {
            let timestamp = request.headers.values(for: WebhookSignature.timestampHeader).first ?? ""
            let signature = request.headers.values(for: WebhookSignature.signatureHeader).first ?? ""
            #expect(WebhookSignature.verify(body: request.body, timestamp: timestamp, signature: signature, secret: Data(secret.utf8)))
        }
    }

    @Test func badProfilesAreRefusedAndWriteNothing() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let box = KeyEncryptionKey(key: try SecretBox.Key.generate())
        let bad: [NewNotificationProfile] = [
            NewNotificationProfile(name: "x", kind: .webhook),
            NewNotificationProfile(name: "x", kind: .webhook, url: "ftp://example.com/"),
            NewNotificationProfile(name: "x", kind: .webhook, url: "https://user:pw@example.com/"),
            NewNotificationProfile(name: "x", kind: .webhook, url: "https://example.com/", secret: "short"),
            NewNotificationProfile(name: "x", kind: .webhook, url: "https://example.com/", timeoutSeconds: 0),
            NewNotificationProfile(name: "x", kind: .webhook, url: "https://example.com/", maxAttempts: 99),
            NewNotificationProfile(name: "bad name", kind: .pgChannel, channel: "ok"),
            NewNotificationProfile(name: "x", kind: .pgChannel),
            NewNotificationProfile(name: "x", kind: .pgChannel, channel: "Bad-Channel"),
            NewNotificationProfile(name: "x", kind: .pgChannel, channel: "certbus_events"),
            NewNotificationProfile(name: "x", kind: .pgChannel, channel: "ok", secret: "0123456789abcdef"),
        ]
        for profile in bad {
            #expect(throws: NotificationProfileError.self) {
                try NotificationProfiles.create(on: c, profile, keyEncryptionKey: box, actor: admin)
            }
        }
        // A secret without a key-encryption key is refused rather than stored in clear.
        #expect(throws: NotificationProfileError.self) {
            try NotificationProfiles.create(
                on: c, NewNotificationProfile(name: "x", kind: .webhook, url: "https://example.com/", secret: secret),
                keyEncryptionKey: nil, actor: admin)
        }
        _ = try NotificationProfiles.create(on: c, NewNotificationProfile(name: "x", kind: .pgChannel, channel: "ok"),
                                            keyEncryptionKey: nil, actor: admin)
        #expect(throws: NotificationProfileError.self) {
            try NotificationProfiles.create(on: c, NewNotificationProfile(name: "x", kind: .pgChannel, channel: "ok2"),
                                            keyEncryptionKey: nil, actor: admin)
        }
        #expect(throws: NotificationProfileError.self) { try NotificationProfiles.find(on: c, "nope") }
        #expect(try NotificationProfiles.list(on: c).map(\.name) == ["x"])
    }
}
