import Foundation

extension AgentStatus {
    /// Decodes `GET /revision` (times with or without fractional seconds), for `gitway status`.
    public static func decode(json: Data) throws -> AgentStatus {
        try Ledger.decoder.decode(AgentStatus.self, from: json)
    }
}
