import CertbusCore
import Foundation
import Testing

@Suite struct ApprovalBindingTests {
    let profile = UUID()
    let ca = UUID()

    func binding(csr: String? = "ab" + String(repeating: "0", count: 62), sans: [String] = ["a.example.com"],
                 days: Int = 90, predecessor: UUID? = nil) -> ApprovalBinding {
        ApprovalBinding(operation: "ISSUE", profileId: profile, caId: ca, csrSHA256: csr, generatedKeyAlgorithm: nil,
                        commonName: "a.example.com", subjectAlternativeNames: sans, validityDays: days,
                        predecessorId: predecessor)
    }

    @Test func sameRequestGivesTheSameText() {
        #expect(binding().canonicalText == binding().canonicalText)
        #expect(binding().canonicalText.hasPrefix(ApprovalBinding.version + "\n"))
    }

    @Test func everyFieldChangesTheText() {
        let base = binding().canonicalText
        #expect(binding(csr: "cd" + String(repeating: "0", count: 62)).canonicalText != base)
        #expect(binding(sans: ["b.example.com"]).canonicalText != base)
        #expect(binding(sans: ["a.example.com", "b.example.com"]).canonicalText != base)
        #expect(binding(days: 30).canonicalText != base)
        #expect(binding(predecessor: UUID()).canonicalText != base)
        var other = binding()
        other.profileId = UUID()
        #expect(other.canonicalText != base)
        other = binding()
        other.operation = "RENEW"
        #expect(other.canonicalText != base)
    }

    @Test func valuesCannotForgeFieldsOrListEntries() {
        // One SAN containing a comma must differ from two SANs; a newline cannot start a new field.
        let joined = binding(sans: ["a,b"]).canonicalText
        let split = binding(sans: ["a", "b"]).canonicalText
        #expect(joined != split)
        let forged = binding(sans: ["x\nvalidity-days=1"]).canonicalText
        #expect(forged.split(separator: "\n").count == binding().canonicalText.split(separator: "\n").count)
        #expect(!forged.contains("\nvalidity-days=1\n"))
    }
}

@Suite struct DurationTextTests {
    @Test func parsesUnits() throws {
        #expect(try DurationText.parse("30d") == 30 * 86400)
        #expect(try DurationText.parse("12h") == 43200)
        #expect(try DurationText.parse("15m") == 900)
        #expect(try DurationText.parse("90s") == 90)
        #expect(try DurationText.parse("2W") == 1_209_600)
    }

    @Test(arguments: ["", "d", "30", "30x", "-3d", "3.5d", "1e3d", "９d", "9999999999d"])
    func refusesAnythingElse(_ text: String) {
        #expect(throws: DurationTextError.self) { try DurationText.parse(text) }
    }
}
