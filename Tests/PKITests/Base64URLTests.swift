import Foundation
import Testing

import PKI

@Suite struct Base64URLTests {
    @Test func rfc4648Vectors() {
        let vectors = ["": "", "f": "Zg", "fo": "Zm8", "foo": "Zm9v", "foob": "Zm9vYg", "fooba": "Zm9vYmE", "foobar": "Zm9vYmFy"]
        for (plain, encoded) in vectors {
            #expect(Base64URL.encode(Data(plain.utf8)) == encoded)
            #expect(Base64URL.decode(encoded) == Data(plain.utf8))
        }
    }

    @Test func usesTheURLSafeAlphabet() {
        let bytes = Data([0xFB, 0xFF, 0xBF, 0xFE])  // standard base64: "+/+//g=="
        #expect(Base64URL.encode(bytes) == "-_-__g")
        #expect(Base64URL.decode("-_-__g") == bytes)
    }

    @Test func roundTripsEveryLengthAndByte() {
        for length in 0..<70 {
            let data = Data((0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 250) })
            #expect(Base64URL.decode(Base64URL.encode(data)) == data)
        }
    }

    @Test(arguments: ["Zg==", "Zm9v+g", "Zm9v/g", "Zm9 v", "Zm9v\n", "Z", "Zm9vY", "Zh", "é", "Zm9v.A"])
    func rejectsNonCanonicalOrForeignText(_ text: String) {
        #expect(Base64URL.decode(text) == nil)
    }
}
