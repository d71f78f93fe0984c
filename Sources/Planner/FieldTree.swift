import Manifests
import RouteModel

/// A typed object's content as a comparable tree, without source locations (moving an object to
/// another file or line is not a change to apply). Built by reflection so that every field of every
/// typed kind is compared, including fields added to the model later.
indirect enum FieldTree: Equatable {
    case null
    case scalar(String)
    case list([FieldTree])
    case map([String: FieldTree])

    init(reflecting value: Any) {
        let mirror = Mirror(reflecting: value)
        switch mirror.displayStyle {
        case .optional:
            self = mirror.children.first.map { FieldTree(reflecting: $0.value) } ?? .null
        case .collection, .set:
            var items = mirror.children.map { FieldTree(reflecting: $0.value) }
            if mirror.displayStyle == .set { items.sort { "\($0)" < "\($1)" } }
            self = .list(items)
        case .dictionary:
            var out: [String: FieldTree] = [:]
            for child in mirror.children {
                let pair = Array(Mirror(reflecting: child.value).children)
                guard pair.count == 2 else { continue }
                out["\(pair[0].value)"] = FieldTree(reflecting: pair[1].value)
            }
            self = .map(out)
        case .enum:
            // A case with a payload is `{case: payload}`; a plain case is its name.
            if let payload = mirror.children.first, let label = payload.label {
                self = .map([label: FieldTree(reflecting: payload.value)])
            } else {
                self = .scalar("\(value)")
            }
        case .struct, .class, .tuple:
            if value is SourceLocation || value is ObjectSource { self = .null; return }
            var out: [String: FieldTree] = [:]
            for child in mirror.children {
                guard let label = child.label, !FieldTree.isLocation(label) else { continue }
                out[label] = FieldTree(reflecting: child.value)
            }
            self = .map(out)
        default:
            self = .scalar("\(value)")
        }
    }

    /// Fields that only say where something is written.
    static func isLocation(_ label: String) -> Bool {
        label == "location" || label == "source" || label.hasSuffix("Location") || label.hasSuffix("Locations")
    }

    var fields: [String: FieldTree] {
        if case .map(let m) = self { return m }
        return [:]
    }
}
