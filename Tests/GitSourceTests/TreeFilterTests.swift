import Testing

@testable import GitSource

@Suite struct TreeFilterTests {
    @Test func defaultsSelectYAMLEverywhere() {
        let filter = TreeFilter.manifests
        #expect(filter.path == "")
        #expect(filter.matches("a.yaml"))
        #expect(filter.matches("x/y/z.yml"))
        #expect(!filter.matches("README.md"))
        #expect(!filter.matches("a.yaml.bak"))
        #expect(filter.maxFileSize == 4 * 1024 * 1024)
    }

    @Test func pathIsNormalised() {
        #expect(TreeFilter(path: "/routing/").path == "routing")
        #expect(TreeFilter(path: ".").path == "")
        #expect(TreeFilter(path: "./a//b/").path == "a/b")
        var filter = TreeFilter()
        filter.path = "/x/"
        #expect(filter.path == "x")
    }

    @Test func subdirectoryAndGlobsRelativeToIt() {
        let filter = TreeFilter(path: "routing", include: ["**/*.yaml"], exclude: ["test/**"])
        #expect(filter.matches("routing/a.yaml"))
        #expect(filter.matches("routing/x/b.yaml"))
        #expect(!filter.matches("routing/test/c.yaml"))
        #expect(!filter.matches("other/a.yaml"))
        #expect(!filter.matches("routingx/a.yaml"))
        #expect(!filter.matches("routing"))
    }

    @Test func globSemantics() {
        #expect(Glob.matches("*.yaml", "a.yaml"))
        #expect(!Glob.matches("*.yaml", "x/a.yaml"))
        #expect(Glob.matches("**/*.yaml", "a.yaml"))
        #expect(Glob.matches("**/*.yaml", "x/y/a.yaml"))
        #expect(Glob.matches("a/**/b.yaml", "a/b.yaml"))
        #expect(Glob.matches("a/**/b.yaml", "a/x/y/b.yaml"))
        #expect(!Glob.matches("a/**/b.yaml", "c/a/b.yaml"))
        #expect(Glob.matches("?.yaml", "a.yaml"))
        #expect(Glob.matches("?.yaml", "é.yaml"))
        #expect(!Glob.matches("?.yaml", "ab.yaml"))
        #expect(Glob.matches("[ab]*.yml", "b1.yml"))
        #expect(!Glob.matches("[!ab]*.yml", "b1.yml"))
        #expect(Glob.matches("v[0-9].yaml", "v7.yaml"))
        #expect(Glob.matches("x/**", "x/a/b"))
        #expect(Glob.matches("*a*b*", "xxaxxbxx"))
        #expect(!Glob.matches("*a*b", "xxaxxbxx"))
    }
}

struct TreeFilterHiddenTests {
    @Test func hiddenFilesAreSkippedAsInDirectoryMode() {
        let filter = TreeFilter()
        #expect(!filter.matches(".github/workflows/gitway-plan.yml"))
        #expect(!filter.matches("routes/.hidden.yaml"))
        #expect(!filter.matches(".gitlab-ci.yml"))
        #expect(filter.matches("routes/shop.yaml"))
        #expect(TreeFilter(include: ["**/*.yaml", ".config/**/*.yaml"]).matches(".config/routes/a.yaml"))
        #expect(!TreeFilter(include: ["**/*.yaml", ".config/**/*.yaml"]).matches(".other/a.yaml"))
    }
}
