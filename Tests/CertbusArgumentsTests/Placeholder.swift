import Testing
@Test func placeholderCertbusArgumentsTests() { #expect(Bool(true)) }
