import Testing
@Test func placeholderPKITests() { #expect(Bool(true)) }
