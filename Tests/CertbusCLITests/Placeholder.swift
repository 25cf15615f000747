import Testing
@Test func placeholderCertbusCLITests() { #expect(Bool(true)) }
