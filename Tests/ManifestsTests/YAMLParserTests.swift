import Manifests
import RouteModel
import Testing

@Suite struct YAMLParserTests {
    private func parse(_ yaml: String, limits: YAMLLimits = YAMLLimits()) -> ([YAMLDocument], [Diagnostic]) {
        let result = YAMLParser.parse(Array(yaml.utf8), file: "t.yaml", limits: limits)
        return (result.documents, result.diagnostics)
    }

    @Test func scalarsKeepStyleTagAndLocation() throws {
        let (docs, diags) = parse(
            """
            a: plain
            b: 'single'
            c: "double"
            d: |
              literal
            e: >
              folded
              text
            f: !!str 80
            ü: x
            """)
        #expect(diags.isEmpty)
        let root = try #require(docs.first?.root)
        #expect(root["a"]?.scalar == YAMLScalar("plain"))
        #expect(root["b"]?.scalar == YAMLScalar("single", style: .quoted))
        #expect(root["c"]?.scalar == YAMLScalar("double", style: .quoted))
        #expect(root["d"]?.scalar == YAMLScalar("literal\n", style: .literal))
        #expect(root["e"]?.scalar == YAMLScalar("folded text\n", style: .folded))
        #expect(root["f"]?.scalar == YAMLScalar("80", tag: "tag:yaml.org,2002:str"))
        #expect(root["a"]?.location == SourceLocation(file: "t.yaml", line: 1, column: 4))
        #expect(root["d"]?.location == SourceLocation(file: "t.yaml", line: 4, column: 4))
        // Columns count characters, not bytes.
        #expect(root["ü"]?.location == SourceLocation(file: "t.yaml", line: 10, column: 4))
        #expect(root.location == SourceLocation(file: "t.yaml", line: 1, column: 1))
    }

    @Test func collectionsAndTheirLocations() throws {
        let (docs, _) = parse(
            """
            list:
              - one
              - {k: v}
            flow: [a, b]
            """)
        let root = try #require(docs.first?.root)
        let list = try #require(root["list"])
        #expect(list.sequence?.count == 2)
        #expect(list.location == SourceLocation(file: "t.yaml", line: 2, column: 3))
        #expect(list[1]?.location == SourceLocation(file: "t.yaml", line: 3, column: 5))
        #expect(list[1]?["k"]?.scalar?.value == "v")
        #expect(root["flow"]?.sequence?.map { $0.scalar?.value } == ["a", "b"])
        #expect(root.mapping?.map { $0.key.scalar?.value } == ["list", "flow"])
    }

    @Test func multiDocumentStreamsSkipEmptyDocuments() {
        let (docs, diags) = parse(
            """
            # leading comment
            a: 1
            ---
            # only a comment
            ---
            ---
            null
            ---
            ~
            --- b
            ...
            """)
        #expect(diags.isEmpty)
        #expect(docs.map(\.index) == [0, 5])
        #expect(docs.last?.root.scalar?.value == "b")
    }

    @Test func emptyAndCommentOnlyStreams() {
        #expect(parse("").0.isEmpty)
        #expect(parse("# nothing\n\n").0.isEmpty)
        #expect(parse("").1.isEmpty)
    }

    @Test func anchorsAliasesAndMergeKeys() throws {
        let (docs, diags) = parse(
            """
            base: &base {a: 1, b: 2}
            copy: *base
            merged:
              <<: *base
              b: 3
              c: 4
            multi:
              <<: [{x: 1}, {x: 2, y: 2}]
            """)
        #expect(diags.isEmpty)
        let root = try #require(docs.first?.root)
        #expect(root["copy"]?["a"]?.scalar?.value == "1")
        // An alias is located where it is written.
        #expect(root["copy"]?.location == SourceLocation(file: "t.yaml", line: 2, column: 7))
        let merged = try #require(root["merged"]?.mapping)
        #expect(merged.map { "\($0.key.scalar!.value)=\($0.value.scalar!.value)" } == ["b=3", "c=4", "a=1"])
        #expect(root["multi"]?["x"]?.scalar?.value == "1")
        #expect(root["multi"]?["y"]?.scalar?.value == "2")
    }

    @Test func duplicateKeysAreLocatedAtTheSecondKey() {
        let (docs, diags) = parse("a: 1\nb: 2\na: 3\n---\nok: 1\n")
        #expect(diags.map(\.description) == ["t.yaml:3:1: error: duplicate key \"a\" (first defined at line 1)"])
        // The other document still loads.
        #expect(docs.map(\.index) == [1])
    }

    @Test func duplicateKeysInLargeMappings() {
        let keys = (0..<40).map { "k\($0): v" } + ["k17: again"]
        let (_, diags) = parse(keys.joined(separator: "\n"))
        #expect(diags.map(\.description) == ["t.yaml:41:1: error: duplicate key \"k17\" (first defined at line 18)"])
    }

    @Test func billionLaughsIsStopped() {
        var yaml = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        for (prev, name) in zip("abcdefgh", "bcdefghi") {
            yaml += "\(name): &\(name) [" + Array(repeating: "*\(prev)", count: 9).joined(separator: ", ") + "]\n"
        }
        let (docs, diags) = parse(yaml)
        #expect(docs.isEmpty)
        #expect(diags.first?.message == "alias expansion exceeds limit (possible billion-laughs document)")
    }

    @Test func nestingIsBounded() {
        let deep = String(repeating: "[", count: 11) + String(repeating: "]", count: 11)
        let (docs, diags) = parse(deep, limits: YAMLLimits(maxDepth: 10))
        #expect(docs.isEmpty)
        #expect(diags.map(\.description) == ["t.yaml:1:11: error: nesting deeper than 10 levels"])
        #expect(parse(deep, limits: YAMLLimits(maxDepth: 11)).1.isEmpty)
    }

    @Test func nestingThroughAliasesIsBounded() {
        let yaml = "a: &a [[[[1]]]]\nb: [[[[[[*a]]]]]]\n"
        let (_, diags) = parse(yaml, limits: YAMLLimits(maxDepth: 8))
        #expect(diags.first?.message == "nesting deeper than 8 levels (through alias \"*a\")")
    }

    @Test func syntaxErrorsUseLibyamlsWordsAndMarks() {
        let (_, diags) = parse("a: b\n c: d\n")
        #expect(
            diags.map(\.description) == [
                "t.yaml:2:3: error: invalid YAML: mapping values are not allowed in this context"
            ])
        let (_, quote) = parse("a: \"open\nb: c\n")
        #expect(quote.first?.message.hasPrefix("invalid YAML: found unexpected end of stream") == true)
        #expect(quote.first?.message.contains("while scanning a quoted scalar at line 1, column 4") == true)
    }

    @Test func invalidUTF8IsALocatedReaderError() {
        var bytes = Array("a: ok\nb: ".utf8)
        bytes += [0xFF, 0x0A]
        let result = YAMLParser.parse(bytes, file: "t.yaml")
        #expect(result.diagnostics.first?.location == SourceLocation(file: "t.yaml", line: 2, column: 4))
        #expect(result.diagnostics.first?.message.contains("invalid leading UTF-8 octet") == true)
    }

    @Test func crlfLineEndings() throws {
        let (docs, diags) = parse("a: 1\r\nb:\r\n  c: 2\r\n")
        #expect(diags.isEmpty)
        #expect(docs.first?.root["b"]?["c"]?.location == SourceLocation(file: "t.yaml", line: 3, column: 6))
    }
}
