import GitSource
import Manifests

/// Dates every object by the commit that first introduced it on the branch.
///
/// Kubernetes breaks route conflicts by creation time (oldest Ingress wins). Git has no such time,
/// and commit timestamps can lie or tie, so an object's age is the position in the branch's
/// first-parent history (oldest commit = 0) of the commit from which it has existed continuously,
/// under any file name. Every replica walking the same history gets the same ages.
public enum ObjectAges {
    /// Commits walked at most; objects older than that share the oldest walked position.
    public static let historyLimit = 2_000

    public static func compute(
        repository: GitRepository, tip: String, filter: TreeFilter, tipObjects: ManifestSet
    ) throws -> [ObjectKey: Int] {
        let history = Array(try repository.firstParentHistory(from: tip, limit: historyLimit).reversed())
        var ages: [ObjectKey: Int] = [:]
        var keysByFile: [String: Set<ObjectKey>] = [:]
        var previous: String?
        // Every commit but the tip: the tip's objects are already parsed by the caller.
        for (position, commit) in history.dropLast().enumerated() {
            let changed = try repository.changedPaths(from: previous, to: commit.sha, filter: filter)
            if !changed.isEmpty {
                let present = try repository.readFiles(commit: commit.sha, paths: changed)
                for path in changed {
                    if let bytes = present[path] {
                        let (set, _) = ManifestLoader.load([ManifestFile(path: path, bytes: bytes)])
                        keysByFile[path] = Set(set.objects.map(\.key))
                    } else {
                        keysByFile[path] = nil
                    }
                }
                advance(&ages, to: keysByFile.values.reduce(into: Set()) { $0.formUnion($1) }, at: position)
            }
            previous = commit.sha
        }
        advance(&ages, to: Set(tipObjects.objects.map(\.key)), at: history.count - 1)
        return ages
    }

    /// Objects present now keep their age or get `position`; objects gone are forgotten (a later
    /// re-introduction makes them young again).
    static func advance(_ ages: inout [ObjectKey: Int], to present: Set<ObjectKey>, at position: Int) {
        for key in ages.keys where !present.contains(key) { ages[key] = nil }
        for key in present where ages[key] == nil { ages[key] = position }
    }
}
