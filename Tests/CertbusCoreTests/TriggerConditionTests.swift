import CertbusCore
import Foundation
import Testing

/// The trigger matching language: parsing, evaluation, and clear errors.
@Suite struct TriggerConditionTests {
    let payload = try! PayloadValue.parse(json: """
        {"days_left": 5, "new_status": "EXPIRED", "old_status": "VALID", "action": "RENEW", "outcome": "FAILURE",
         "job_id": "42", "common_name": "shop.example.com", "ra_profile": {"name": "web"},
         "sans": ["a.example.com", "b.example.com"], "group_id": null, "not_after": "2030-01-02T00:00:00Z",
         "approved": true}
        """)

    func matches(_ text: String) throws -> Bool { try TriggerCondition.parse(text).matches(payload) }

    @Test func emptyConditionMatchesEverything() throws {
        #expect(try TriggerCondition.parse("") == .always)
        #expect(try TriggerCondition.parse("   ") == .always)
        #expect(try matches(""))
    }

    @Test func equalityAndInequality() throws {
        #expect(try matches("new_status = EXPIRED"))
        #expect(try matches("new_status == 'EXPIRED'"))
        #expect(try !matches("new_status = expired"))  // case-sensitive values
        #expect(try matches("new_status != REVOKED"))
        #expect(try matches("new_status <> REVOKED"))
        #expect(try matches("missing_field != x"))  // != is "not =", true when missing
        #expect(try !matches("missing_field = x"))
        #expect(try matches("group_id = null"))
        #expect(try matches("missing_field = null"))
        #expect(try matches("approved = true"))
        #expect(try !matches("approved = false"))
        #expect(try matches("ra_profile.name = web"))
    }

    @Test func numbersAndNumericStringsCompareAsNumbers() throws {
        #expect(try matches("days_left <= 7"))
        #expect(try matches("days_left ≤ 7"))
        #expect(try matches("days_left < 5.5"))
        #expect(try !matches("days_left < 5"))
        #expect(try matches("days_left >= 5"))
        #expect(try matches("days_left ≥ -1"))
        #expect(try !matches("days_left > 5"))
        #expect(try matches("job_id = 42"))
        #expect(try matches("job_id > 41"))
        #expect(try matches("days_left = '5'"))
        #expect(try !matches("missing_field < 10"))
        #expect(try !matches("new_status < 10"))  // not a number: false, not an error
    }

    @Test func stringsOrderLexicographically() throws {
        #expect(try matches("not_after < '2031-01-01'"))
        #expect(try !matches("not_after > '2031-01-01'"))
    }

    @Test func inBetweenExistsContains() throws {
        #expect(try matches("new_status in (EXPIRED, REVOKED)"))
        #expect(try !matches("new_status in (VALID)"))
        #expect(try matches("new_status not in (VALID, EXPIRING)"))
        #expect(try matches("days_left in (1, 5, 7)"))
        #expect(try matches("days_left between 1 and 7"))
        #expect(try matches("days_left between 5 and 5"))
        #expect(try !matches("days_left between 6 and 30"))
        #expect(try matches("common_name exists"))
        #expect(try !matches("group_id exists"))
        #expect(try matches("not group_id exists"))
        #expect(try matches("sans contains 'b.example.com'"))
        #expect(try !matches("sans contains 'c.example.com'"))
        #expect(try matches("common_name contains example"))
    }

    @Test func booleanStructureAndPrecedence() throws {
        #expect(try matches("action = RENEW and outcome = FAILURE"))
        #expect(try !matches("action = RENEW and outcome = SUCCESS"))
        #expect(try matches("action = ISSUE or outcome = FAILURE"))
        // and binds tighter than or: false or (true and true)
        #expect(try matches("action = ISSUE or days_left < 7 and outcome = FAILURE"))
        // parentheses change it: (false or true) and false
        #expect(try !matches("(action = ISSUE or days_left < 7) and outcome = SUCCESS"))
        #expect(try matches("not (action = ISSUE)"))
        #expect(try matches("NOT action = ISSUE AND days_left BETWEEN 1 AND 7"))
    }

    @Test func canonicalTextParsesBackToTheSameCondition() throws {
        let texts = [
            "days_left <= 7", "new_status in (EXPIRED, 'RE VOKED', 3)", "a = 1 and (b = 2 or not c exists)",
            "x between -1.5 and 7", "name = 'it''s'", "sans contains 'a.example.com'", "a != null or b = true",
        ]
        for text in texts {
            let condition = try TriggerCondition.parse(text)
            #expect(try TriggerCondition.parse(condition.description) == condition, "round trip of \(text)")
        }
    }

    @Test(arguments: [
        ("days_left <=", "expected a value", 12),
        ("days_left", "expected an operator", 9),
        ("days_left ~ 7", "unexpected character '~'", 10),
        ("= 7", "expected a payload field name", 0),
        ("days_left <= 7 days_left", "after a complete condition", 15),
        ("(days_left <= 7", "expected ')'", 15),
        ("new_status in EXPIRED", "expected '('", 14),
        ("new_status in (A B)", "expected ',' or ')'", 17),
        ("name = 'open", "string not closed", 7),
        ("days_left between 7 and 1", "empty range", 10),
        ("days_left between 1 7", "expected 'and'", 20),
        ("days_left is 7", "found 'is'", 10),
        ("a = 1 and", "missing at the end", 9),
        ("a = and", "keyword 'and'", 4),
        ("a < true", "not true/false", 2),
        ("a ! 1", "'!' must be followed", 2),
        ("a = 7x", "cannot run into letters", 4),
    ])
    func badConditionsSayWhereAndWhy(text: String, message: String, position: Int) {
        do {
            _ = try TriggerCondition.parse(text)
            Issue.record("'\(text)' parsed but should not")
        } catch let error as TriggerConditionError {
            #expect(error.message.contains(message), "\(error.message)")
            #expect(error.position == position, "\(text): \(error)")
            #expect(error.description.contains("^"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func overlongOrTooDeepConditionsAreRefused() {
        #expect(throws: TriggerConditionError.self) {
            try TriggerCondition.parse(String(repeating: "a = 1 and ", count: 300) + "a = 1")
        }
        #expect(throws: TriggerConditionError.self) {
            try TriggerCondition.parse(String(repeating: "(", count: 40) + "a = 1" + String(repeating: ")", count: 40))
        }
        #expect(throws: TriggerConditionError.self) {
            try TriggerCondition.parse(String(repeating: "not ", count: 40) + "a = 1")
        }
    }
}
