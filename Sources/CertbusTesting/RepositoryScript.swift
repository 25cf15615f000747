import Foundation

/// A script of this checkout (`scripts/<name>`), run by tests that check the scripts themselves.
public enum RepositoryScript {
    /// Runs `scripts/<name> arguments…` from the checkout directory with this process's
    /// environment plus `environment`, killed after `timeout` seconds, and returns its status and
    /// output whatever the status; throws only when it cannot be started.
    public static func run(
        _ name: String, arguments: [String] = [], environment: [String: String] = [:], timeout: Double = 300
    ) throws -> CommandResult {
        let checkout = TestCluster.checkoutDirectory
        return try CapturedProcess(
            executable: checkout.appendingPathComponent("scripts").appendingPathComponent(name), arguments: arguments,
            environment: environment, currentDirectory: checkout
        ).finish(timeout: timeout)
    }
}
