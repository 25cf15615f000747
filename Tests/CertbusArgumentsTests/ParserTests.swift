import CertbusArguments
import Foundation
import Testing

@Suite("Parsing options and arguments")
struct ParserTests {
    @Test func descendsIntoSubcommandsAndReadsTypedValues() throws {
        let run = try #require(invocation(["jobs", "list", "--limit", "5", "--status=failed", "--json", "a", "b"]))
        #expect(run.commandPath == ["certbus", "jobs", "list"])
        #expect(run[Sample.limit] == 5)
        #expect(run[Sample.status] == "failed")
        #expect(run[Sample.json])
        #expect(!run[Sample.verbose])
        #expect(run.values(Sample.names) == ["a", "b"])
    }

    @Test func defaultsApplyWhenOptionsAreMissing() throws {
        let run = try #require(invocation(["jobs", "list"]))
        #expect(run[Sample.limit] == 50)
        #expect(!run.isGiven(Sample.limit))
        #expect(run[Sample.within] == .days(30))
        #expect(run[Sample.status] == nil)
        #expect(run.values(Sample.tag) == [])
        #expect(run.values(Sample.names) == [])
        #expect(throws: UsageError.self) { try run.value(Sample.status) }
        #expect(try run.value(Sample.limit) == 50)
    }

    @Test func equalsFormKeepsEverythingAfterTheFirstEquals() throws {
        let run = try #require(invocation(["jobs", "list", "--tag=a=b", "--tag=", "--tag", "-"]))
        #expect(run.values(Sample.tag) == ["a=b", "", "-"])
    }

    @Test func shortOptionsInEveryForm() throws {
        for words in [["-n", "7"], ["-n7"], ["-n=7"]] {
            let run = try #require(invocation(["jobs", "list"] + words))
            #expect(run[Sample.limit] == 7, "\(words)")
        }
        let bundled = try #require(invocation(["jobs", "list", "-vqn3"]))
        #expect(bundled[Sample.verbose])
        #expect(bundled[Sample.quiet])
        #expect(bundled[Sample.limit] == 3)
        let counted = try #require(invocation(["jobs", "list", "-v", "--verbose", "-vv"]))
        #expect(counted.count(Sample.verbose) == 4)
    }

    @Test func repeatableOptionsKeepEveryValueInOrder() throws {
        let run = try #require(invocation(["jobs", "list", "--tag", "web", "-t", "db", "--tag=edge"]))
        #expect(run.values(Sample.tag) == ["web", "db", "edge"])
        #expect(run[Sample.tag] == "edge")
    }

    @Test func aNonRepeatableOptionGivenTwiceIsAnError() throws {
        let error = try #require(usageError(["jobs", "list", "--limit", "1", "-n", "2"]))
        #expect(error.message == "option '-n' of 'certbus jobs list' was given more than once")
        #expect(error.commandPath == ["certbus", "jobs", "list"])
    }

    @Test func unknownOptionsNameTheCommandAndSuggest() throws {
        let close = try #require(usageError(["jobs", "list", "--limt", "5"]))
        #expect(close.message == "unknown option '--limt' for 'certbus jobs list'")
        #expect(close.suggestion == "did you mean '--limit'?")

        let far = try #require(usageError(["jobs", "list", "--foo"]))
        #expect(far.message == "unknown option '--foo' for 'certbus jobs list'")
        #expect(far.suggestion == nil)

        let prefix = try #require(usageError(["jobs", "list", "--verb"]))
        #expect(prefix.suggestion == "did you mean '--verbose'?")

        let short = try #require(usageError(["jobs", "list", "-x"]))
        #expect(short.message == "unknown option '-x' for 'certbus jobs list'")

        // Options of a sibling command are unknown here.
        let sibling = try #require(usageError(["jobs", "show", "--limit", "3", "1"]))
        #expect(sibling.message == "unknown option '--limit' for 'certbus jobs show'")
    }

    @Test func missingValuesAreErrors() throws {
        let atEnd = try #require(usageError(["jobs", "list", "--limit"]))
        #expect(atEnd.message == "missing value for option '--limit' of 'certbus jobs list' (expected <int>)")
        let beforeOption = try #require(usageError(["jobs", "list", "--status", "--json"]))
        #expect(beforeOption.message.hasPrefix("missing value for option '--status'"))
        let shortAtEnd = try #require(usageError(["jobs", "list", "-n"]))
        #expect(shortAtEnd.message.hasPrefix("missing value for option '-n'"))
    }

    @Test func negativeNumbersAreValuesNotOptions() throws {
        let run = try #require(invocation(["jobs", "list", "--limit", "-1", "--ratio", "-0.5"]))
        #expect(run[Sample.limit] == -1)
        #expect(run[Sample.ratio] == -0.5)
    }

    @Test func doubleDashEndsOptions() throws {
        let run = try #require(invocation(["jobs", "list", "--json", "--", "--limit", "-v", "--help"]))
        #expect(run[Sample.json])
        #expect(run[Sample.limit] == 50)
        #expect(run.values(Sample.names) == ["--limit", "-v", "--help"])
    }

    @Test func flagsTakeNoValue() throws {
        let error = try #require(usageError(["jobs", "list", "--json=yes"]))
        #expect(error.message == "flag '--json' does not take a value")
        #expect(usageError(["jobs", "list", "-v=1"])?.message == "flag '-v' does not take a value")
    }

    @Test func invalidValuesSayWhatWasExpected() throws {
        #expect(
            usageError(["jobs", "list", "--limit", "ten"])?.message
                == "invalid value 'ten' for '--limit' of 'certbus jobs list': expected an integer")
        #expect(usageError(["jobs", "list", "--ratio", "half"])?.message.hasSuffix("expected a number") == true)
        #expect(usageError(["jobs", "list", "--within", "30"])?.message.contains("a duration like 30d") == true)
        #expect(usageError(["jobs", "list", "--since", "2025-02-30"])?.message.contains("an ISO 8601 date") == true)
        let status = try #require(usageError(["jobs", "list", "--status", "faild"]))
        #expect(status.message.hasSuffix("expected one of queued, running, success, failed"))
        #expect(status.suggestion == "did you mean 'failed'?")
        let kind = try #require(usageError(["jobs", "list", "--kind", "ISSUE"]))
        #expect(kind.message.hasSuffix("expected one of ISSUE_CERT, RENEW_CERT"))
        #expect(kind.suggestion == "did you mean 'ISSUE_CERT'?")
        #expect(usageError(["jobs", "show", "abc"])?.message == "invalid value 'abc' for <id> of 'certbus jobs show': expected an integer")
    }

    @Test func typedValuesOfEveryKind() throws {
        let run = try #require(
            invocation([
                "jobs", "list", "--within", "12h", "--since", "2025-01-31T12:00:00Z", "--kind", "RENEW_CERT",
                "--ratio", "0.25",
            ]))
        #expect(run[Sample.within] == .hours(12))
        #expect(run[Sample.since] == ISODate.parse("2025-01-31T12:00:00Z"))
        #expect(run[Sample.kind] == .renew)
        #expect(run[Sample.ratio] == 0.25)
    }

    @Test func positionalArguments() throws {
        let retry = try #require(invocation(["jobs", "retry", "12"]))
        #expect(retry[Sample.id] == 12)
        #expect(retry[Sample.reason] == "operator request")
        let withReason = try #require(invocation(["jobs", "retry", "12", "flaky CA"]))
        #expect(withReason[Sample.reason] == "flaky CA")

        #expect(usageError(["jobs", "retry"])?.message == "missing argument <id> for 'certbus jobs retry'")
        #expect(
            usageError(["jobs", "retry", "1", "why", "extra"])?.message
                == "unexpected argument 'extra' for 'certbus jobs retry' (it takes <id> [<reason>])")
        #expect(
            usageError(["version", "now"])?.message
                == "unexpected argument 'now' for 'certbus version' (it takes no arguments)")
    }

    @Test func oneOrMoreAndRequiredOptions() throws {
        let run = try #require(invocation(["probe", "--owner", "ops", "a.example", "b.example"]))
        #expect(run.values(Sample.hosts) == ["a.example", "b.example"])
        #expect(run[Sample.owner] == "ops")
        #expect(usageError(["probe", "--owner", "ops"])?.message == "missing argument <host> for 'certbus probe'")
        #expect(
            usageError(["probe", "a.example"])?.message
                == "missing required option '--owner <value>' for 'certbus probe'")
    }

    @Test func unknownSubcommandsSuggest() throws {
        let error = try #require(usageError(["jobz", "list"]))
        #expect(error.message == "unknown command 'jobz' for 'certbus'")
        #expect(error.suggestion == "did you mean 'jobs'?")
        let nested = try #require(usageError(["jobs", "lsit"]))
        #expect(nested.message == "unknown command 'lsit' for 'certbus jobs'")
        #expect(nested.suggestion == "did you mean 'list'?")
        #expect(nested.commandPath == ["certbus", "jobs"])
    }

    @Test func aGroupNeedsASubcommand() throws {
        let error = try #require(usageError(["jobs"]))
        #expect(error.message == "'certbus jobs' needs a subcommand")
        #expect(usageError([])?.message == "'certbus' needs a subcommand")
    }

    @Test func optionsBeforeTheSubcommandThatDeclaresThemAreRefused() throws {
        let tree = Command("tool", abstract: "", options: [Sample.verbose], subcommands: [
            Command("a", abstract: "") { _ in }
        ]) { _ in }
        let error = try #require(usageError(["-v", "a"], tree))
        #expect(error.message.contains("belongs to 'tool', not to 'tool a'"))
    }
}

@Suite("Help")
struct HelpTests {
    @Test func helpAtEveryLevel() throws {
        let root = try #require(helpText(["--help"]))
        #expect(root.hasPrefix("Usage: certbus <subcommand>\n"))
        #expect(root.contains("Subcommands:\n  jobs     Look at and act on jobs.\n"))
        #expect(root.contains("Run 'certbus <subcommand> --help'"))

        let group = try #require(helpText(["jobs", "-h"]))
        #expect(group.hasPrefix("Usage: certbus jobs <subcommand>\n"))
        #expect(group.contains("  list   List jobs."))
        #expect(group.contains("  retry  Retry a failed job."))

        let leaf = try #require(helpText(["jobs", "list", "--help"]))
        #expect(leaf.hasPrefix("Usage: certbus jobs list [options] [<name>...]\n\nList jobs.\n\n"))
        #expect(leaf.contains("Lists the newest jobs first. Filters combine with AND.\n\nUse --json for scripts."))
        #expect(leaf.contains("  -n, --limit <int>"))
        #expect(leaf.contains("Maximum number of rows. (default: 50)"))
        #expect(leaf.contains("(one of: queued, running,\n                           success, failed)"))
        #expect(leaf.contains("Only jobs with this tag. May be repeated."))
        #expect(leaf.contains("(default: 30d)"))
        #expect(leaf.contains("      --json "))
        #expect(leaf.contains("  -h, --help"))
        #expect(leaf.contains("Arguments:\n  <name>...  Names to look for."))
        #expect(!leaf.contains("Subcommands:"))
    }

    @Test func helpWinsOverErrorsAfterIt() throws {
        #expect(helpText(["jobs", "show", "--help", "--nonsense"]) != nil)
        #expect(helpText(["jobs", "list", "-vh"]) != nil)
    }

    @Test func helpSubcommand() throws {
        #expect(helpText(["help"]) == helpText(["--help"]))
        #expect(helpText(["help", "jobs", "list"]) == helpText(["jobs", "list", "--help"]))
        #expect(helpText(["jobs", "help", "retry"]) == helpText(["jobs", "retry", "--help"]))
        let error = try #require(usageError(["help", "jbos"]))
        #expect(error.message == "unknown command 'jbos' for 'certbus'")
        #expect(error.suggestion == "did you mean 'jobs'?")
    }

    @Test func requiredOptionsAppearInTheSynopsis() throws {
        let help = try #require(helpText(["probe", "--help"]))
        #expect(help.hasPrefix("Usage: certbus probe --owner <value> [options] <host>...\n"))
        #expect(help.contains("Who owns it. Required."))
    }

    @Test func wrapping() {
        #expect(HelpFormatter.wrap("aa bb cc dd", width: 5) == "aa bb\ncc dd")
        #expect(HelpFormatter.wrap("averyveryverylongword x", width: 5) == "averyveryverylongword\nx")
        #expect(HelpFormatter.wrap("a\nb c", width: 80) == "a\nb c")
        let long = String(repeating: "word ", count: 40)
        let help = HelpFormatter.table([("--x", long)])
        #expect(help.split(separator: "\n").allSatisfy { $0.count <= HelpFormatter.width })
    }
}
