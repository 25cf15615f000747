import Testing
@Test func placeholderCertbusServicesTests() { #expect(Bool(true)) }
