import Agent
import Foundation
import Testing

@Suite struct LedgerTests {
    static func record(_ sha: String, _ result: AttemptRecord.Result, trigger: SyncTrigger = .poll) -> AttemptRecord {
        AttemptRecord(
            time: Date(timeIntervalSince1970: 1_800_000_000.25), revision: sha, branch: "main", previous: "aaaa", trigger: trigger,
            result: result, reasons: result == .refused ? ["a.yaml:3:5: error: bad"] : [], durations: ["fetch": 1.5, "total": 9],
            routes: .init(added: 2), subject: "change")
    }

    @Test func appendsOneJSONLinePerRecordAndReadsThemBack() throws {
        let dir = try TemporaryDirectory()
        let ledger = Ledger(stateDirectory: dir.path + "/nested")
        try ledger.append(Self.record("1111", .applied))
        try ledger.append(Self.record("2222", .refused, trigger: SyncTrigger(.webhook, provider: "github", delivery: "d-1")))
        let text = try String(contentsOfFile: ledger.path, encoding: .utf8)
        #expect(text.split(separator: "\n").count == 2)
        #expect(text.hasSuffix("}\n"))
        let (records, warnings) = try ledger.read()
        #expect(warnings.isEmpty)
        #expect(
            records == [
                Self.record("1111", .applied),
                Self.record("2222", .refused, trigger: SyncTrigger(.webhook, provider: "github", delivery: "d-1")),
            ])
        let attributes = try FileManager.default.attributesOfItem(atPath: ledger.path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }

    /// A crash mid-write leaves a partial last line: it is skipped with a warning, and the next record still lands
    /// on a line of its own.
    @Test func tornLastLineIsSkippedAndDoesNotSwallowTheNextRecord() throws {
        let dir = try TemporaryDirectory()
        let ledger = Ledger(stateDirectory: dir.path)
        try ledger.append(Self.record("1111", .applied))
        let handle = try #require(FileHandle(forWritingAtPath: ledger.path))
        handle.seekToEndOfFile()
        handle.write(Data(#"{"branch":"main","durations":{},"reas"#.utf8))
        try handle.close()
        var (records, warnings) = try ledger.read()
        #expect(records.count == 1)
        #expect(warnings.count == 1)
        #expect(warnings.first?.contains(":2:") == true)
        try ledger.append(Self.record("3333", .failed))
        (records, warnings) = try ledger.read()
        #expect(records.map(\.revision) == ["1111", "3333"])
        #expect(warnings.count == 1)
    }

    @Test func unknownResultsAndFieldsFromNewerAgentsStillDecode() throws {
        let dir = try TemporaryDirectory()
        let ledger = Ledger(stateDirectory: dir.path)
        let line =
            #"{"branch":"main","durations":{},"reasons":[],"result":"quarantined","time":"2027-01-01T00:00:00Z","trigger":{"kind":"poll"},"future":{"x":1}}"#
        try Data((line + "\n").utf8).write(to: URL(fileURLWithPath: ledger.path))
        let (records, warnings) = try ledger.read()
        #expect(warnings.isEmpty)
        #expect(records.first?.result.rawValue == "quarantined")
    }

    @Test func missingLedgerIsEmpty() throws {
        let dir = try TemporaryDirectory()
        let (records, warnings) = try Ledger(stateDirectory: dir.path).read()
        #expect(records.isEmpty && warnings.isEmpty)
    }

    @Test func noteLineCarriesLocationsNotMessages() {
        var record = Self.record("2222", .refused, trigger: SyncTrigger(.webhook, provider: "gitea", delivery: "abc"))
        record.reasons = ["secrets.yaml:4:7: error: cannot decode 'hunter2' as base64"]
        record.failingTests = [#"t.routetest.yaml:2:5: error: test "x": expected web, got api"#]
        let line = record.noteLine
        #expect(line.contains("gitway refused branch=main trigger=webhook provider=gitea delivery=abc previous=aaaa"))
        #expect(line.contains("at=secrets.yaml:4:7,t.routetest.yaml:2:5"))
        #expect(line.contains("errors=1 failing-tests=1"))
        #expect(!line.contains("hunter2"))
        #expect(!line.contains("\n"))
    }
}
