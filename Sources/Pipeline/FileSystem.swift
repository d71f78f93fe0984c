import Foundation

enum FileSystem {
    static func isDirectory(_ path: String, _ result: inout Bool) -> Bool {
        var flag: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &flag)
        result = flag.boolValue
        return exists
    }
}
