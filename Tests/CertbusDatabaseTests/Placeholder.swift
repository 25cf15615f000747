import Testing
@Test func placeholderCertbusDatabaseTests() { #expect(Bool(true)) }
