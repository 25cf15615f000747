import Testing
@Test func placeholderCertbusBusTests() { #expect(Bool(true)) }
