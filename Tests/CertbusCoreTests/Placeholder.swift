import Testing
@Test func placeholderCertbusCoreTests() { #expect(Bool(true)) }
