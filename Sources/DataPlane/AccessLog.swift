import Foundation
import NIOConcurrencyHelpers

/// One finished request, as the access log records it.
struct AccessLogRecord {
    var start: Date
    var client: String
    var method: String
    var host: String
    var uri: String
    var status: Int
    var route: String?
    var upstream: String?
    var bytesIn: Int
    var bytesOut: Int
    var durationSeconds: Double
    var upstreamSeconds: Double?
    var requestID: String
}

/// Where access-log lines go: standard output by default, a closure in tests.
public final class AccessLogSink: Sendable {
    private let write: @Sendable ([UInt8]) -> Void

    public init(write: @escaping @Sendable ([UInt8]) -> Void) { self.write = write }

    public static let standardOutput = AccessLogSink { bytes in
        FileHandle.standardOutput.write(Data(bytes))
    }

    func emit(_ bytes: [UInt8]) { write(bytes) }
}

/// Per-loop buffer: lines are batched and written when 16 KiB accumulate or at the next flush tick,
/// so logging costs a memcpy per request rather than a system call.
final class AccessLogBuffer {
    let sink: AccessLogSink
    let format: AccessLogFormat
    private var buffer: [UInt8] = []
    private var cachedSecond = 0
    private var cachedPrefix = ""

    init(sink: AccessLogSink, format: AccessLogFormat) {
        self.sink = sink
        self.format = format
        buffer.reserveCapacity(32 * 1024)
    }

    func append(_ r: AccessLogRecord) {
        switch format {
        case .off: return
        case .text:
            let up = r.upstreamSeconds.map { String(format: "%.3f", $0 * 1000) } ?? "-"
            let line =
                "\(timestamp(r.start)) \(r.client) \"\(r.method) \(r.host)\(r.uri)\" \(r.status) route=\(r.route ?? "-") "
                + "upstream=\(r.upstream ?? "-") in=\(r.bytesIn) out=\(r.bytesOut) "
                + "ms=\(String(format: "%.3f", r.durationSeconds * 1000)) upstream_ms=\(up) id=\(r.requestID)\n"
            buffer.append(contentsOf: line.utf8)
        case .json:
            var fields: [String] = [
                "\"time\":\"\(timestamp(r.start))\"", "\"client\":\(jsonString(r.client))", "\"method\":\(jsonString(r.method))",
                "\"host\":\(jsonString(r.host))", "\"uri\":\(jsonString(r.uri))", "\"status\":\(r.status)",
                "\"bytesIn\":\(r.bytesIn)", "\"bytesOut\":\(r.bytesOut)",
                "\"durationMs\":\(String(format: "%.3f", r.durationSeconds * 1000))", "\"requestId\":\"\(r.requestID)\"",
            ]
            if let route = r.route { fields.append("\"route\":\(jsonString(route))") }
            if let upstream = r.upstream { fields.append("\"upstream\":\(jsonString(upstream))") }
            if let up = r.upstreamSeconds { fields.append("\"upstreamMs\":\(String(format: "%.3f", up * 1000))") }
            buffer.append(contentsOf: ("{" + fields.joined(separator: ",") + "}\n").utf8)
        }
        if buffer.count >= 16 * 1024 { flush() }
    }

    func flush() {
        guard !buffer.isEmpty else { return }
        sink.emit(buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    /// ISO 8601 UTC with milliseconds; the second part is formatted once per second.
    private func timestamp(_ date: Date) -> String {
        let t = date.timeIntervalSince1970
        let second = Int(t)
        if second != cachedSecond {
            var time = time_t(second)
            var parts = tm()
            gmtime_r(&time, &parts)
            cachedPrefix = String(
                format: "%04d-%02d-%02dT%02d:%02d:%02d", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday, parts.tm_hour,
                parts.tm_min, parts.tm_sec)
            cachedSecond = second
        }
        return cachedPrefix + String(format: ".%03dZ", Int((t - Double(second)) * 1000))
    }

    private func jsonString(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
