import PKI

/// Small PEM helpers for summaries.
enum PKICertificateSubject {
    /// The subject DN of a PEM certificate.
    static func subject(ofPEM pem: String) throws -> String {
        try Certificate(pem: pem).subject.description
    }
}
