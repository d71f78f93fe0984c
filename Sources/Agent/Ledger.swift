import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `<state-dir>/ledger.jsonl`: one JSON line per attempt, append-only, newest last.
///
/// Each record is written with one `write(2)` on an `O_APPEND` descriptor and `fsync`ed before the call returns, so
/// records never interleave and a record the agent reported is on disk. A crash can still leave a torn last line;
/// readers skip lines that do not decode (with a warning) instead of failing, so one bad line never hides the
/// history.
public struct Ledger: Sendable {
    public static let fileName = "ledger.jsonl"

    public let path: String

    public init(path: String) { self.path = path }

    /// The ledger of a state directory.
    public init(stateDirectory: String) { self.init(path: stateDirectory + "/" + Self.fileName) }

    public struct WriteError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Appends one record (creating the file, mode 0600, and its directory if needed) and syncs it to disk.
    public func append(_ record: AttemptRecord) throws {
        var line = try Self.encoder.encode(record)
        line.append(0x0a)
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        // Read-write (still O_APPEND for every write) so the last byte can be checked below.
        let fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw WriteError(description: "cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        // A previous crash may have left a torn line without its newline; start on a fresh line so this record
        // stays readable.
        var last: UInt8 = 0x0a
        let size = lseek(fd, 0, SEEK_END)
        if size > 0, pread(fd, &last, 1, size - 1) == 1, last != 0x0a { line.insert(0x0a, at: 0) }
        let written = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == line.count else {
            throw WriteError(description: "cannot append to \(path): \(String(cString: strerror(errno)))")
        }
        guard fsync(fd) == 0 else { throw WriteError(description: "cannot sync \(path): \(String(cString: strerror(errno)))") }
    }

    /// Every readable record, oldest first, and a warning for each line skipped. A missing file is an empty ledger.
    public func read() throws -> (records: [AttemptRecord], warnings: [String]) {
        guard FileManager.default.fileExists(atPath: path) else { return ([], []) }
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        var records: [AttemptRecord] = []
        var warnings: [String] = []
        let decoder = Self.decoder
        var lineNumber = 0
        for line in data.split(separator: 0x0a, omittingEmptySubsequences: false) {
            lineNumber += 1
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x0d }) { continue }
            do {
                records.append(try decoder.decode(AttemptRecord.self, from: Data(line)))
            } catch {
                warnings.append("\(path):\(lineNumber): skipped a line that is not a complete record (torn write?)")
            }
        }
        return (records, warnings)
    }

    /// Records as a pretty JSON array, in the ledger's field names and time format (`gitway history --format json`).
    public static func json(_ records: [AttemptRecord]) -> String {
        let encoder = Self.encoder
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return ((try? encoder.encode(records)).map { String(decoding: $0, as: UTF8.self) } ?? "[]") + "\n"
    }

    static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(AttemptRecord.timestamp(date))
        }
        return encoder
    }

    static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            if let date = formatter.date(from: text) { return date }
            formatter.formatOptions = [.withInternetDateTime]
            if let date = formatter.date(from: text) { return date }
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an ISO 8601 time: \(text)"))
        }
        return decoder
    }
}
