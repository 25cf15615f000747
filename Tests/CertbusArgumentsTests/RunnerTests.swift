import CertbusArguments
import Testing

@Suite("Running commands: output and exit codes")
struct RunnerTests {
    @Test func successIsZeroAndWritesToStandardOutput() async {
        let result = await runTree(["jobs", "retry", "7"])
        #expect(result.status == 0)
        #expect(result.out == "retried 7\n")
        #expect(result.err == "")
    }

    @Test func helpIsZeroOnStandardOutput() async {
        for words in [["--help"], ["-h"], ["jobs", "--help"], ["jobs", "list", "-h"], ["help", "jobs", "show"]] {
            let result = await runTree(words)
            #expect(result.status == 0, "\(words)")
            #expect(result.out.hasPrefix("Usage: certbus"), "\(words)")
            #expect(result.err == "", "\(words)")
        }
    }

    @Test func usageErrorsAreTwoWithErrorAndShortUsageOnStandardError() async {
        let result = await runTree(["jobs", "list", "--foo"])
        #expect(result.status == 2)
        #expect(result.out == "")
        #expect(
            result.err == """
                error: unknown option '--foo' for 'certbus jobs list'
                Usage: certbus jobs list [options] [<name>...]
                Run 'certbus jobs list --help' for more information.

                """)
    }

    @Test func suggestionsArePrintedUnderTheError() async {
        let result = await runTree(["jobs", "list", "--jsno"])
        #expect(result.status == 2)
        #expect(result.err.hasPrefix("error: unknown option '--jsno' for 'certbus jobs list'\n  did you mean '--json'?\n"))
    }

    @Test func aGroupWithoutSubcommandListsItsSubcommands() async {
        let result = await runTree(["jobs"])
        #expect(result.status == 2)
        #expect(result.err.contains("error: 'certbus jobs' needs a subcommand\n"))
        #expect(result.err.contains("Subcommands: list, show, retry\n"))
    }

    @Test func runtimeFailuresAreOneWithTheErrorDescription() async {
        let result = await runTree(["jobs", "retry", "404"])
        #expect(result.status == 1)
        #expect(result.err == "error: job 404 does not exist\n")
        #expect(result.out == "")
    }

    @Test func aBodyCanChooseItsExitCode() async {
        let result = await runTree(["jobs", "retry", "3"])
        #expect(result.status == 3)
        #expect(result.err == "")
    }

    @Test func aBodyCanThrowAUsageErrorForItsOwnCommand() async {
        let result = await runTree(["jobs", "retry", "22", "because"])
        #expect(result.status == 2)
        #expect(result.err.hasPrefix("error: job 22 cannot be retried with a reason\nUsage: certbus jobs retry [options] <id> [<reason>]\n"))
    }

    @Test func theBodySeesTheEnvironmentItIsGiven() async {
        let seen = Sample.Recorder()
        let tree = Command("tool", abstract: "") { invocation in
            seen.record(invocation)
            invocation.print(invocation.environment["CERTBUS_HOME"] ?? "unset")
        }
        let out = CapturedOutput()
        let status = await CommandRunner(tree).run(
            [], output: out, errorOutput: CapturedOutput(), environment: ["CERTBUS_HOME": "/srv/certbus"])
        #expect(status == 0)
        #expect(out.text == "/srv/certbus\n")
        #expect(seen.last?.commandName == "tool")
    }

    @Test func addingAGroupIsOneCall() async {
        let extra = Command("extra", abstract: "An added group.") { $0.print("extra ran") }
        let tree = Sample.tree().adding(extra)
        let result = await runTree(["extra"], tree)
        #expect(result.status == 0)
        #expect(result.out == "extra ran\n")
        #expect(await runTree(["--help"], tree).out.contains("  extra "))
    }
}
