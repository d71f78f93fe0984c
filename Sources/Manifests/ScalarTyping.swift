/// How a scalar is typed: by the schema of the field that reads it, never by its look alone.
///
/// Kubernetes decodes manifests against typed Go structs, so the same text means different things
/// in different fields. Gitway follows that, and picks the strict side where YAML 1.1 and 1.2 differ:
///
/// * **String fields** (names, hosts, paths, annotation and label values, ...) take any scalar as its
///   literal text: plain `on`, `yes`, `0755`, `1e3`, `true` become the strings "on", "yes", "0755",
///   "1e3", "true". The one exception is a plain, untagged `null`/`Null`/`NULL`/`~`/empty value, which
///   YAML defines as "no value": the field counts as absent (missing, if it is required), and a map
///   value such as an annotation must be quoted (`""`) to be an empty string.
/// * **Integer fields** (ports) take plain decimal integers only (`80`, `+80`, `-1`). A quoted `"80"`
///   is a string, which Kubernetes rejects for an int field, and so does Gitway. `0755` (octal in
///   YAML 1.1, decimal in 1.2), `0x1F`, `1e3`, `1_000` and `8080.0` are rejected as ambiguous rather
///   than guessed. For `IntOrString` fields (`targetPort`) a quoted value is always a string and a
///   plain decimal is always an integer.
/// * **Boolean fields** take `true`/`false` (also `True`/`TRUE`/`False`/`FALSE`). The YAML 1.1 forms
///   `yes`/`no`/`on`/`off`/`y`/`n` (any case variant Kubernetes' YAML reader knows) are accepted as
///   Kubernetes would read them, with a warning that asks for `true`/`false`; a quoted `"true"` is a
///   string and is rejected.
/// * A `!!str` tag (or the non-specific `!`) makes a plain scalar a string, like quoting it;
///   `!!int` and `!!bool` are read like plain integers and booleans, `!!null` is null.
enum ScalarTyping {
    enum IntResult {
        case int(Int)
        /// Looks numeric but is not a plain decimal: leading zeros, hex, octal, floats, underscores.
        case ambiguous
        case overflow
        case notANumber
    }

    /// Reads a plain scalar's text as a decimal integer.
    static func parseInt(_ b: UnsafeBufferPointer<UInt8>) -> IntResult {
        guard !b.isEmpty else { return .notANumber }
        var i = 0
        var negative = false
        if b[0] == UInt8(ascii: "+") || b[0] == UInt8(ascii: "-") {
            negative = b[0] == UInt8(ascii: "-")
            i = 1
        }
        let digitsStart = i
        var value = 0
        while i < b.count, b[i] >= UInt8(ascii: "0"), b[i] <= UInt8(ascii: "9") {
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int(b[i] - UInt8(ascii: "0")))
            if o1 || o2 { return .overflow }
            value = a
            i += 1
        }
        let digits = i - digitsStart
        if i == b.count, digits > 0 {
            if digits > 1, b[digitsStart] == UInt8(ascii: "0") { return .ambiguous }
            return .int(negative ? -value : value)
        }
        return looksNumeric(b) ? .ambiguous : .notANumber
    }

    /// Any YAML 1.1/1.2 number form: `0x1F`, `0o17`, `1e3`, `1.5`, `1_000`, `.inf`, `0b101`, `1:30`.
    static func looksNumeric(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        var sawDigit = false
        for (i, c) in b.enumerated() {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): sawDigit = true
            case UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: ":"): continue
            case UInt8(ascii: "x"), UInt8(ascii: "o"), UInt8(ascii: "b"), UInt8(ascii: "e"), UInt8(ascii: "E"):
                if i == 0 { return false }
            case UInt8(ascii: "a")...UInt8(ascii: "f"), UInt8(ascii: "A")...UInt8(ascii: "F"):
                // Hex digits only after 0x.
                let x = b.count > 2 ? b[1] | 0x20 : 0
                if !(b[0] == UInt8(ascii: "0") && x == UInt8(ascii: "x")) { return false }
            default: return false
            }
        }
        if sawDigit { return true }
        // .inf, -.Inf, .NaN
        let s = String(decoding: b, as: UTF8.self).lowercased()
        return s == ".inf" || s == "-.inf" || s == "+.inf" || s == ".nan"
    }

    enum BoolResult {
        case bool(Bool)
        /// A YAML 1.1 spelling (`yes`, `off`, ...), read as Kubernetes' YAML reader would.
        case yaml11(Bool)
        case notABool
    }

    static func parseBool(_ text: String) -> BoolResult {
        switch text {
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        case "yes", "Yes", "YES", "on", "On", "ON", "y", "Y": return .yaml11(true)
        case "no", "No", "NO", "off", "Off", "OFF", "n", "N": return .yaml11(false)
        default: return .notABool
        }
    }

    /// What a scalar is, for "got ..." in messages: `string "80"`, `integer 80`, `boolean true`, `null`.
    static func describe(_ doc: YAMLDocument, _ id: NodeID) -> String {
        switch doc.kind(id) {
        case .mapping: return "a mapping"
        case .sequence: return "a sequence"
        case .scalar: break
        }
        if doc.isNull(id) { return "null" }
        var text = doc.string(id)
        if doc.isPlainUntagged(id) {
            if case .int = doc.withBytes(id, parseInt) { return "integer \(text)" }
            if case .bool = parseBool(text) { return "boolean \(text)" }
        }
        if text.count > 40 { text = String(text.prefix(37)) + "..." }
        return "string \(quoted(text))"
    }

    /// `"text"` with quotes, backslashes and control characters escaped, for messages.
    static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 {
                    out += "\\u{\(String(scalar.value, radix: 16))}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
