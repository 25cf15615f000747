import Testing
@Test func placeholderCertbusHTTPTests() { #expect(Bool(true)) }
