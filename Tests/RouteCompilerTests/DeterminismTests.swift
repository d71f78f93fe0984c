import Foundation
import Manifests
import RouteCompiler
import RouteModel
import Testing

/// The same objects give the same bytes, whatever order the files and documents came in.
struct DeterminismTests {
    @Test(arguments: GoldenTests.cases)
    func objectOrderDoesNotChangeTheTable(_ name: String) throws {
        let input = GoldenTests.root.appendingPathComponent(name).appendingPathComponent("input")
        let files = try FileManager.default.contentsOfDirectory(atPath: input.path).filter { $0.hasSuffix(".yaml") }.sorted()
            .map { ManifestFile(path: $0, bytes: Array(try Data(contentsOf: input.appendingPathComponent($0)))) }
        let (set, _) = ManifestLoader.load(files)
        let ages = Dictionary(uniqueKeysWithValues: set.objects.enumerated().map { ($1.key, $0 % 3) })
        let expected = RouteCompiler.compile(set, options: CompileOptions(ages: ages))
        var generator = SeededGenerator(seed: 42)
        for _ in 0..<5 {
            let shuffled = ManifestSet(objects: set.objects.shuffled(using: &generator))
            let actual = RouteCompiler.compile(shuffled, options: CompileOptions(ages: ages))
            #expect(actual.table.canonicalJSON() == expected.table.canonicalJSON())
            #expect(actual.diagnostics == expected.diagnostics)
        }
    }
}

/// A small deterministic generator (SplitMix64), so a failure can be replayed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
