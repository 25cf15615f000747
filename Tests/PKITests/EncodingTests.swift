import Foundation
import Testing
@testable import PKI

@Suite struct EncodingTests {
    @Test func pemRoundtripWithLineLength() throws {
        let der = Data((0..<200).map { UInt8($0) })
        let pem = PEM.encode(der, label: "CERTIFICATE")
        let lines = pem.split(separator: "\n")
        #expect(lines.first == "-----BEGIN CERTIFICATE-----")
        #expect(lines.last == "-----END CERTIFICATE-----")
        #expect(lines.dropFirst().dropLast().allSatisfy { $0.count <= 64 })
        #expect(try PEM.blocks(in: pem) == [PEMBlock(label: "CERTIFICATE", der: der)])
    }

    @Test func pemBlocksIgnoreSurroundingTextAndCRLF() throws {
        let a = PEM.encode(Data([1, 2, 3]), label: "X509 CRL")
        let b = PEM.encode(Data([4, 5]), label: "PUBLIC KEY")
        let text = "Bag Attributes: whatever\r\n" + a.replacingOccurrences(of: "\n", with: "\r\n") + "comment\n" + b
        let blocks = try PEM.blocks(in: text)
        #expect(blocks.map(\.label) == ["X509 CRL", "PUBLIC KEY"])
        #expect(blocks.map(\.der) == [Data([1, 2, 3]), Data([4, 5])])
        #expect(try PEM.blocks(in: "no pem here").isEmpty)
    }

    @Test(arguments: [
        ("-----BEGIN CERTIFICATE-----\nAAAA\n", "no END line"),
        ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END PUBLIC KEY-----\n", "does not match"),
        ("-----BEGIN CERTIFICATE-----\n***\n-----END CERTIFICATE-----\n", "not valid base64"),
        ("-----BEGIN CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\n", "BEGIN inside"),
        ("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nAAAA\n-----END RSA PRIVATE KEY-----\n", "legacy encrypted"),
    ])
    func malformedPEMIsRejected(_ text: String, _ expected: String) throws {
        let error = try #require(throws: PKIError.self) { try PEM.blocks(in: text) }
        #expect(error.description.contains(expected))
    }

    @Test func hexRoundtrip() {
        #expect(Hex.encode([0x00, 0x0a, 0xff]) == "000aff")
        #expect(Hex.decode("000AFF") == Data([0x00, 0x0a, 0xff]))
        #expect(Hex.decode("00:0A:FF") == Data([0x00, 0x0a, 0xff]))
        #expect(Hex.decode("abc") == nil)
        #expect(Hex.decode("zz") == nil)
    }

    @Test func serialNumbers() throws {
        #expect(SerialNumber(hex: "00ab")?.hex == "ab")
        #expect(SerialNumber(hex: "abc")?.hex == "0abc")
        #expect(SerialNumber(hex: "00") == nil)
        #expect(SerialNumber(hex: String(repeating: "ff", count: 21)) == nil)
        #expect(SerialNumber(hex: "xyz") == nil)
        let serials = try (0..<50).map { _ in try SerialNumber.random() }
        #expect(Set(serials).count == 50)
        #expect(serials.allSatisfy { $0.bytes.count <= 16 && $0.bytes.first != 0 })
    }

    @Test func ipAddresses() {
        #expect(IPAddress("127.0.0.1")?.bytes == [127, 0, 0, 1])
        #expect(IPAddress("2001:db8::1")?.bytes.count == 16)
        #expect(IPAddress("2001:0db8:0:0:0:0:0:1")?.description == "2001:db8::1")
        #expect(IPAddress("256.1.1.1") == nil)
        #expect(IPAddress("example.com") == nil)
        #expect(IPAddress(bytes: [1, 2, 3]) == nil)
    }

    @Test(arguments: [
        ("example.com", nil), ("*.example.com", nil), ("xn--bcher-kva.example", nil), ("a-b.c-d.example", nil),
        ("localhost", nil),
        ("", "empty"), ("Example.com", "lower case"), ("foo_bar.example.com", "not allowed"),
        ("a.*.example.com", "wildcard"), ("*.com", "top-level"), ("bücher.example", "A-labels"),
        ("-a.example.com", "hyphen"), ("example..com", "empty label"), ("intranet", "fully qualified"),
        ("192.0.2.1", "IP address"), ("a.123", "all-numeric"),
    ] as [(String, String?)])
    func dnsNameRules(_ name: String, _ problem: String?) throws {
        let san = SubjectAlternativeName.dnsName(name)
        if let problem {
            let error = try #require(throws: PKIError.self) { try san.validateForIssuance() }
            #expect(error.kind == .policyViolation)
            #expect(error.message.contains(problem), "\(error)")
        } else {
            try san.validateForIssuance()
        }
    }

    @Test func distinguishedNameText() {
        let name = DistinguishedName(commonName: "a, b", organization: "Example", country: "DE")
        #expect(name.description == "CN=a\\, b,O=Example,C=DE")
        #expect(name.commonName == "a, b")
        #expect(name.values(of: .country) == ["DE"])
    }
}
