import Testing
@Test func placeholderEmbeddedPostgresTests() { #expect(Bool(true)) }
