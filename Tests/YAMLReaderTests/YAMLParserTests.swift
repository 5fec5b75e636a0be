import PhotonCore
import Testing
import YAMLReader

private func parse(_ yaml: String, limits: YAMLLimits = YAMLLimits()) throws(DiagnosticsError) -> YAMLNode? {
    try YAMLParser.parse(Array(yaml.utf8), file: "doc.yaml", limits: limits)
}

/// The diagnostics parsing `yaml` throws; records an issue when it parses.
private func parseErrors(_ yaml: String, limits: YAMLLimits = YAMLLimits(), sourceLocation: Testing.SourceLocation = #_sourceLocation) -> [Diagnostic] {
    do {
        _ = try parse(yaml, limits: limits)
        Issue.record("expected a parse error", sourceLocation: sourceLocation)
        return []
    } catch {
        return error.diagnostics
    }
}

private func at(_ line: Int, _ column: Int) -> PhotonCore.SourceLocation {
    PhotonCore.SourceLocation(file: "doc.yaml", line: line, column: column)
}

private extension YAMLNode {
    /// The scalar and its style, for comparisons.
    var scalarAndStyle: (String, ScalarStyle)? {
        if case .scalar(let text, let style) = content { return (text, style) }
        return nil
    }
}

@Suite("YAML parser")
struct YAMLParserTests {

    // MARK: Nodes and positions

    @Test("nodes carry the 1-based line and column where they start")
    func positions() throws {
        let yaml = """
            name: demo
            nested:
              list:
                - one
                - {a: 1, b: [x, y]}
            """
        let root = try #require(try parse(yaml))
        #expect(root.location == at(1, 1))
        let pairs = try #require(root.pairs)
        #expect(pairs.map(\.key) == ["name", "nested"])
        #expect(pairs.map(\.keyLocation) == [at(1, 1), at(2, 1)])
        #expect(root["name"]?.location == at(1, 7))
        #expect(root["nested"]?.location == at(3, 3))
        let list = try #require(root["nested"]?["list"]?.items)
        #expect(list.map(\.location) == [at(4, 7), at(5, 7)])
        #expect(list[1]["a"]?.location == at(5, 11))
        #expect(list[1]["b"]?.location == at(5, 17))
        #expect(list[1]["b"]?.items?.map(\.location) == [at(5, 18), at(5, 21)])
    }

    @Test("columns count characters, not bytes")
    func unicodeColumns() throws {
        let root = try #require(try parse("clé: été\nk: {é: 1, z: 2}\n"))
        #expect(root["clé"]?.location == at(1, 6))
        #expect(root["k"]?.pairs?.map(\.keyLocation) == [at(2, 5), at(2, 11)])
    }

    @Test("plain scalars keep their text: typing is the reader's job")
    func plainScalarsStayText() throws {
        let root = try #require(try parse("a: NO\nb: 0644\nc: 1.0\nd: yes\ne: 0x1F\nf: ~\n"))
        for (key, text) in [("a", "NO"), ("b", "0644"), ("c", "1.0"), ("d", "yes"), ("e", "0x1F"), ("f", "~")] {
            #expect(root[key]?.scalar == text)
            #expect(root[key]?.scalarAndStyle?.1 == .plain)
        }
    }

    @Test(
        "quoted, block and !!str scalars are always strings",
        arguments: [
            ("v: \"3\"\n", "3"),
            ("v: '3'\n", "3"),
            ("v: |\n  line one\n  line two\n", "line one\nline two\n"),
            ("v: >-\n  folded\n  text\n", "folded text"),
            ("v: !!str 3\n", "3"),
            ("v: \"\"\n", ""),
        ])
    func quotedScalars(yaml: String, text: String) throws {
        let value = try #require(try parse(yaml)?["v"])
        #expect(value.scalar == text)
        #expect(value.scalarAndStyle?.1 == .quoted)
        #expect(!value.isNull)
    }

    @Test(
        "null is an empty value, ~ or null written without quotes",
        arguments: [
            ("v:\n", true), ("v: ~\n", true), ("v: null\n", true), ("v: Null\n", true), ("v: NULL\n", true),
            ("v: \"null\"\n", false), ("v: '~'\n", false), ("v: nil\n", false), ("v: \"\"\n", false),
        ])
    func nulls(yaml: String, isNull: Bool) throws {
        #expect(try parse(yaml)?["v"]?.isNull == isNull)
    }

    @Test(
        "kindDescription names what was found",
        arguments: [
            ("v: 3\n", "'3'"),
            ("v: \"3\"\n", "the string \"3\""),
            ("v:\n", "nothing (null)"),
            ("v: [1]\n", "a list"),
            ("v: {a: 1}\n", "a mapping"),
            ("v: \(String(repeating: "x", count: 50))\n", "'\(String(repeating: "x", count: 40))…'"),
        ])
    func kindDescriptions(yaml: String, description: String) throws {
        #expect(try parse(yaml)?["v"]?.kindDescription == description)
    }

    @Test("an empty input is no document", arguments: ["", "\n", "# comment only\n", "  \n\n"])
    func emptyInput(yaml: String) throws {
        #expect(try parse(yaml) == nil)
    }

    @Test("an explicit empty document is a null node")
    func explicitEmptyDocument() throws {
        let root = try #require(try parse("---\n"))
        #expect(root.isNull)
    }

    @Test("a second document is refused at its marker")
    func secondDocument() {
        let diagnostics = parseErrors("a: 1\n---\nb: 2\n")
        #expect(
            diagnostics == [
                Diagnostic(
                    "a blueprint holds one YAML document; found a second one", at: at(2, 1),
                    help: "remove the '---' line or put the second document in its own file")
            ])
    }

    // MARK: Aliases and merge keys

    @Test("an alias copies its anchor's node and reports the position of its use")
    func aliasPosition() throws {
        let root = try #require(try parse("a: &x {k: 1}\nb: *x\n"))
        #expect(root["a"]?.location == at(1, 4))
        #expect(root["b"]?.location == at(2, 4))
        // What is inside the copy keeps the anchor's positions.
        #expect(root["b"]?["k"]?.location == at(1, 11))
        #expect(root["b"]?.pairs?.first?.keyLocation == at(1, 8))
    }

    @Test("an anchor can be redefined; aliases see the latest definition")
    func anchorRedefined() throws {
        let root = try #require(try parse("a: &x 1\nb: *x\nc: &x 2\nd: *x\n"))
        #expect(root["b"]?.scalar == "1")
        #expect(root["d"]?.scalar == "2")
    }

    @Test("merge keys: written keys win over merged ones, earlier merged mappings over later ones")
    func mergePrecedence() throws {
        let yaml = """
            one: &one {a: 1, b: 1, c: 1}
            two: &two {b: 2, d: 2}
            m:
              <<: [*one, *two]
              c: 3
              e: 3
            """
        let merged = try #require(try parse(yaml)?["m"])
        let pairs = try #require(merged.pairs)
        // Written keys first, in file order, then the merged ones not written.
        #expect(pairs.map(\.key) == ["c", "e", "a", "b", "d"])
        #expect(pairs.map { $0.value.scalar } == ["3", "3", "1", "1", "2"])
        // Merged values come with their position in the anchored mapping.
        #expect(merged["a"]?.location == at(1, 15))
        #expect(merged["d"]?.location == at(2, 21))
    }

    @Test("a merge of a 20,000-key anchor finishes, each key once")
    func largeMerge() throws {
        // Nothing here is timed: the merge just has to end with the right keys.
        let keys = (0..<20_000).map { "k\($0): \($0)" }.joined(separator: ", ")
        let yaml = "big: &big {\(keys)}\nm:\n  <<: [*big, *big]\n  k5: written\n"
        let merged = try #require(try parse(yaml)?["m"])
        let pairs = try #require(merged.pairs)
        #expect(pairs.count == 20_000)
        #expect(pairs.first?.key == "k5")
        #expect(pairs.first?.value.scalar == "written")
        #expect(Set(pairs.map(\.key)).count == 20_000)
        #expect(pairs.last?.key == "k19999")
    }

    @Test("a written key after a merge key overrides it, and no duplicate is reported")
    func mergeThenOverride() throws {
        let root = try #require(try parse("base: &b {cpu: 1, memory: 2}\nbig:\n  <<: *b\n  cpu: 4\n"))
        #expect(root["big"]?["cpu"]?.scalar == "4")
        #expect(root["big"]?["memory"]?.scalar == "2")
    }

    @Test("a quoted '<<' is an ordinary key")
    func quotedMergeKey() throws {
        let root = try #require(try parse("base: &b {x: 1}\nm: {\"<<\": *b}\n"))
        #expect(root["m"]?.pairs?.map(\.key) == ["<<"])
        #expect(root["m"]?["x"] == nil)
    }

    @Test("a merge key takes mappings only")
    func mergeNonMapping() {
        #expect(
            parseErrors("m:\n  <<: [1, {a: 1}]\n") == [
                Diagnostic("a merge key '<<' takes a mapping or a list of mappings, found '1'", at: at(2, 8))
            ])
    }

    @Test("an undefined alias is refused where it is used")
    func undefinedAlias() {
        #expect(
            parseErrors("a: 1\nb: [*nope]\n") == [
                Diagnostic("alias '*nope' refers to no anchor defined before it", at: at(2, 5), help: "define '&nope' earlier in the file")
            ])
    }

    // MARK: Keys

    @Test("duplicate keys are reported at the duplicate, naming the first; all of them at once")
    func duplicateKeys() {
        let yaml = """
            a: 1
            b: {x: 1, x: 2}
            a: 3
            a: 4
            """
        #expect(
            parseErrors(yaml) == [
                Diagnostic("duplicate key 'x'", at: at(2, 11), help: "'x' is already set at line 2, column 5; keep one"),
                Diagnostic("duplicate key 'a'", at: at(3, 1), help: "'a' is already set at line 1, column 1; keep one"),
                Diagnostic("duplicate key 'a'", at: at(4, 1), help: "'a' is already set at line 1, column 1; keep one"),
            ])
    }

    @Test("keys must be scalars")
    func complexKeys() {
        #expect(
            parseErrors("? {a: 1}\n: 1\n? [b]\n: 2\n") == [
                Diagnostic("mapping keys must be plain strings, found a mapping", at: at(1, 3)),
                Diagnostic("mapping keys must be plain strings, found a list", at: at(3, 3)),
            ])
    }

    // MARK: Tags

    @Test("only the core string, map and seq tags (and the non-specific '!') are accepted")
    func tags() throws {
        let root = try #require(try parse("a: !!str x\nb: !!map {k: v}\nc: !!seq [1]\nd: ! plain\n"))
        #expect(root["a"]?.scalar == "x")
        #expect(root["b"]?["k"]?.scalar == "v")
        #expect(root["c"]?.items?.count == 1)
        #expect(root["d"]?.scalar == "plain")
        #expect(
            parseErrors("a: !!float 1\nb: !custom {}\n") == [
                Diagnostic("YAML tag '!!float' is not supported", at: at(1, 4), help: "remove the tag; photon reads plain values"),
                Diagnostic("YAML tag '!custom' is not supported", at: at(2, 4), help: "remove the tag; photon reads plain values"),
            ])
    }

    // MARK: Syntax errors

    @Test(
        "libyaml's syntax errors come with its message and position",
        arguments: [
            // libyaml's context ("while parsing …") is the help, with where that construct starts.
            ("a: [1, 2\nb: 3\n", 2, 2, "did not find expected ',' or ']'", "while parsing a flow sequence that starts at line 1, column 4"),
            ("a: b: c\n", 1, 5, "mapping values are not allowed in this context", nil),
            ("a: 'open\n", 2, 1, "found unexpected end of stream", "while scanning a quoted scalar that starts at line 1, column 4"),
            ("a: &\n", 1, 5, "did not find expected alphabetic or numeric character", "while scanning an anchor that starts at line 1, column 4"),
            // A more specific help replaces the context: tabs, and characters YAML reserves.
            ("a:\n\tb: 1\n", 2, 1, "found character that cannot start any token", "YAML indentation must use spaces, not tabs"),
            ("a:\n  b: 1\n\tc: 2\n", 3, 1, "found a tab character that violates indentation", "YAML indentation must use spaces, not tabs"),
            ("a: `x`\n", 1, 4, "found character that cannot start any token", "'`' is reserved in YAML; put the value in quotes"),
            ("a: @x\n", 1, 4, "found character that cannot start any token", "'@' is reserved in YAML; put the value in quotes"),
        ] as [(String, Int, Int, String, String?)])
    func syntaxErrors(yaml: String, line: Int, column: Int, message: String, help: String?) {
        #expect(parseErrors(yaml) == [Diagnostic(message, at: at(line, column), help: help)])
    }

    // MARK: Limits

    @Test("the size limit")
    func sizeLimit() throws {
        let limits = YAMLLimits(maxBytes: 16)
        #expect(try parse("a: 123456789012\n", limits: limits) != nil)
        #expect(
            parseErrors("a: 1234567890123\n", limits: limits) == [
                Diagnostic("file is 17 bytes, larger than the 16 bytes photon reads", at: at(1, 1), help: "split the deployment into several blueprints")
            ])
    }

    @Test("the depth limit counts lists and mappings, the top level included")
    func depthLimit() throws {
        let limits = YAMLLimits(maxDepth: 3)
        #expect(try parse("a: {b: [1]}\n", limits: limits) != nil)
        #expect(
            parseErrors("a: {b: [[1]]}\n", limits: limits) == [
                Diagnostic("lists and mappings nest more than 3 levels deep", at: at(1, 9))
            ])
    }

    @Test("the node limit counts every alias at its expanded size")
    func nodeLimit() throws {
        // The root, 2 keys, the list and its 3 items, then an alias worth 4: 11 nodes.
        let yaml = "a: &x [1, 2, 3]\nb: *x\n"
        #expect(try parse(yaml, limits: YAMLLimits(maxNodes: 11)) != nil)
        // The alias brings the count to 10.
        #expect(
            parseErrors(yaml, limits: YAMLLimits(maxNodes: 9)) == [
                Diagnostic(
                    "the document expands to more than 9 nodes once its aliases are resolved", at: at(2, 4),
                    help: "aliases that refer to other aliases multiply; is this an alias bomb?")
            ])
    }

    @Test("a control character is reported at its line and column")
    func controlCharacter() {
        #expect(
            parseErrors("a: 1\nb: x\u{07}y\n") == [
                Diagnostic("control character 0x07 is not allowed", at: at(2, 5), help: "remove it, or write it as an escape inside a double-quoted string")
            ])
        // Columns count characters.
        #expect(
            parseErrors("é: \u{1B}\n") == [
                Diagnostic("control character 0x1B is not allowed", at: at(1, 4), help: "remove it, or write it as an escape inside a double-quoted string")
            ])
    }

    @Test("a UTF-8 byte-order mark at the start is skipped; positions are as without it")
    func byteOrderMark() throws {
        let root = try #require(try YAMLParser.parse([0xEF, 0xBB, 0xBF] + Array("a: 1\nb: x\n".utf8), file: "doc.yaml"))
        #expect(root.pairs?.map(\.key) == ["a", "b"])
        #expect(root.pairs?.map(\.keyLocation) == [at(1, 1), at(2, 1)])
        #expect(root["a"]?.location == at(1, 4))
    }

    @Test("the size limit counts the file without its byte-order mark")
    func byteOrderMarkAndSize() throws {
        let bytes: [UInt8] = [0xEF, 0xBB, 0xBF] + Array("a: 123456789012\n".utf8)
        #expect(try YAMLParser.parse(bytes, file: "doc.yaml", limits: YAMLLimits(maxBytes: 16)) != nil)
    }

    @Test("invalid UTF-8 is found before libyaml sees it")
    func invalidUTF8() {
        do {
            _ = try YAMLParser.parse(Array("a: 1\nb: \u{e9}".utf8) + [0xFF], file: "doc.yaml")
            Issue.record("expected an error")
        } catch {
            #expect(error.diagnostics == [Diagnostic("invalid UTF-8 byte 0xFF", at: at(2, 5), help: "save the file as UTF-8")])
        }
    }

    @Test("a large flat document parses")
    func largeFlatDocument() throws {
        var yaml = ""
        for index in 0..<20_000 { yaml += "key\(index): value\(index)\n" }
        let root = try #require(try parse(yaml))
        #expect(root.pairs?.count == 20_000)
        #expect(root["key19999"]?.location == at(20_000, 11))
    }
}

// MARK: - Typed readers

@Suite("Typed readers")
struct YAMLReadingTests {
    /// Reads `yaml` with `body` and returns what it produced and every diagnostic.
    private func read<T>(_ yaml: String, _ body: (YAMLValue) -> T) throws -> (T, [Diagnostic]) {
        let root = try #require(try parse(yaml))
        let reader = DocumentReader(file: "doc.yaml")
        let result = body(reader.root(root))
        return (result, reader.diagnostics.diagnostics)
    }

    private func value(_ key: String, in root: YAMLValue) -> YAMLValue {
        root.child(key, root.node[key]!)
    }

    @Test(
        "int(): unquoted decimal integers only",
        arguments: [
            ("v: 42\n", 42, nil),
            ("v: -7\n", -7, nil),
            ("v: \"42\"\n", nil, "expected an integer for v, found the string \"42\""),
            ("v: 4.2\n", nil, "expected an integer for v, found '4.2'"),
            ("v: 0x10\n", nil, "expected an integer for v, found '0x10'"),
            ("v: [1]\n", nil, "expected an integer for v, found a list"),
            ("v:\n", nil, "expected an integer for v, found nothing (null)"),
        ] as [(String, Int?, String?)])
    func ints(yaml: String, expected: Int?, message: String?) throws {
        let (result, diagnostics) = try read(yaml) { root in value("v", in: root).int() }
        #expect(result == expected)
        #expect(diagnostics.map(\.message) == (message.map { [$0] } ?? []))
        // A null value starts right after its key's colon.
        #expect(diagnostics.first.map { $0.location == (yaml == "v:\n" ? at(1, 3) : at(1, 4)) } ?? true)
    }

    @Test(
        "int(): integers too large for Int are named as such",
        arguments: [
            ("v: 99999999999999999999\n", "v is too large: 99999999999999999999"),
            ("v: 9223372036854775808\n", "v is too large: 9223372036854775808"),
        ])
    func tooLarge(yaml: String, message: String) throws {
        let (result, diagnostics) = try read(yaml) { root in value("v", in: root).int(in: 0...100) }
        #expect(result == nil)
        #expect(diagnostics == [Diagnostic(message, at: at(1, 4))])
        // Int.max itself is an integer, only out of the range.
        let (_, atMax) = try read("v: 9223372036854775807\n") { root in value("v", in: root).int(in: 0...100) }
        #expect(atMax.map(\.message) == ["v must be between 0 and 100, found 9223372036854775807"])
    }

    @Test("int(in:): the range is named in the message")
    func intRange() throws {
        let (results, diagnostics) = try read("a: 0\nb: 70000\nc: 5\n") { root in
            [value("a", in: root).int(in: 1...65535), value("b", in: root).int(in: 1...65535), value("c", in: root).int(in: 1...Int.max)]
        }
        #expect(results == [nil, nil, 5])
        #expect(
            diagnostics == [
                Diagnostic("a must be between 1 and 65535, found 0", at: at(1, 4)),
                Diagnostic("b must be between 1 and 65535, found 70000", at: at(2, 4)),
            ])
        let (_, atLeast) = try read("d: 0\n") { root in value("d", in: root).int(in: 1...Int.max) }
        #expect(atLeast.map(\.message) == ["d must be at least 1, found 0"])
    }

    @Test(
        "bool(): true and false without quotes; yes, no, on and off are not booleans",
        arguments: [
            ("v: true\n", true), ("v: True\n", true), ("v: TRUE\n", true), ("v: false\n", false), ("v: FALSE\n", false),
            ("v: yes\n", nil), ("v: no\n", nil), ("v: on\n", nil), ("v: off\n", nil), ("v: \"true\"\n", nil), ("v: 1\n", nil),
        ] as [(String, Bool?)])
    func bools(yaml: String, expected: Bool?) throws {
        let (result, diagnostics) = try read(yaml) { root in value("v", in: root).bool() }
        #expect(result == expected)
        #expect(diagnostics.count == (expected == nil ? 1 : 0))
        if expected == nil {
            #expect(diagnostics.first?.message.hasPrefix("expected true or false for v, found ") == true)
        }
    }

    @Test("string(): any non-null scalar")
    func strings() throws {
        let (results, diagnostics) = try read("a: 3\nb: \"x\"\nc:\nd: {k: v}\n") { root in
            ["a", "b", "c", "d"].map { value($0, in: root).string() }
        }
        #expect(results == ["3", "x", nil, nil])
        #expect(
            diagnostics == [
                Diagnostic("expected a string for c, found nothing (null)", at: at(3, 3)),
                Diagnostic("expected a string for d, found a mapping", at: at(4, 4)),
            ])
    }

    @Test("parsed(): the expected form and help are in the message")
    func parsed() throws {
        let (result, diagnostics) = try read("size: big\n") { root in
            value("size", in: root).parsed("a size (like 4GiB)", help: "sizes end in MiB or GiB") { ByteSize($0) }
        }
        #expect(result == nil)
        #expect(diagnostics == [Diagnostic("expected a size (like 4GiB) for size, found 'big'", at: at(1, 7), help: "sizes end in MiB or GiB")])
    }

    @Test("list() and entries() give each item its path")
    func paths() throws {
        let yaml = "items:\n  - a\n  - {k: [x]}\nmap: {one: 1, two: 2}\n"
        let (_, diagnostics) = try read(yaml) { root -> Void in
            let items = value("items", in: root).list() ?? []
            #expect(items.map(\.path) == ["items[0]", "items[1]"])
            _ = items[1].mapping()?.required("k")?.list()?.first?.int()
            let entries = value("map", in: root).entries() ?? []
            #expect(entries.map(\.key) == ["one", "two"])
            #expect(entries.map(\.value.path) == ["map.one", "map.two"])
            #expect(entries.map(\.keyLocation) == [at(4, 7), at(4, 15)])
            _ = value("map", in: root).list()
            _ = value("items", in: root).entries()
        }
        #expect(
            diagnostics == [
                Diagnostic("expected an integer for items[1].k[0], found 'x'", at: at(3, 10)),
                Diagnostic("expected a list for map, found a mapping", at: at(4, 6)),
                Diagnostic("expected a mapping for items, found a list", at: at(2, 3)),
            ])
    }

    @Test("the top level is named as such")
    func topLevel() throws {
        let (_, diagnostics) = try read("- 1\n") { root in root.mapping() }
        #expect(diagnostics == [Diagnostic("expected a mapping for the top level, found a list", at: at(1, 1))])
    }

    @Test("MappingReader: required, optional, has and finish() with suggestions")
    func mappingReader() throws {
        let yaml = """
            server:
              hostname: a
              prot: 80
              empty:
              zzzzzz: 1
              Timeout: 5s
            """
        let (_, diagnostics) = try read(yaml) { root -> Void in
            guard let server = value("server", in: root).mapping() else { return }
            #expect(server.optional("hostname")?.string() == "a")
            #expect(server.optional("port") == nil)
            #expect(server.has("empty"))
            #expect(!server.has("port"))
            _ = server.required("address", help: "the server's address")
            _ = server.required("empty")
            _ = server.optional("timeout")
            server.finish()
        }
        // A required key written without a value is reported at once, at the key; missing keys when the reader finishes.
        #expect(
            diagnostics == [
                Diagnostic("'empty' in server has no value", at: at(4, 3)),
                Diagnostic("unknown key 'prot' in server", at: at(3, 3), help: "did you mean 'port'?"),
                Diagnostic("unknown key 'zzzzzz' in server", at: at(5, 3), help: "valid keys here: 'hostname', 'port', 'address', 'empty', 'timeout'"),
                Diagnostic("unknown key 'Timeout' in server", at: at(6, 3), help: "did you mean 'timeout'?"),
                Diagnostic("missing required key 'address' in server", at: at(2, 3), help: "the server's address"),
            ])
    }

    @Test("a misspelt required key is reported once, as the unknown key")
    func misspeltRequiredKey() throws {
        let (_, diagnostics) = try read("server:\n  adress: a\n  hostname: h\n") { root -> Void in
            guard let server = value("server", in: root).mapping() else { return }
            _ = server.required("address", help: "the server's address")
            _ = server.required("port")
            _ = server.optional("hostname")
            server.finish()
        }
        #expect(
            diagnostics == [
                Diagnostic("unknown key 'adress' in server", at: at(2, 3), help: "did you mean 'address'?"),
                Diagnostic("missing required key 'port' in server", at: at(2, 3)),
            ])
    }

    @Test("a required key with an empty value keeps its help")
    func requiredEmptyWithHelp() throws {
        let (_, diagnostics) = try read("server: {address: ~}\n") { root -> Void in
            guard let server = value("server", in: root).mapping() else { return }
            _ = server.required("address", help: "the server's address")
            server.finish()
        }
        #expect(diagnostics == [Diagnostic("'address' in server has no value", at: at(1, 10), help: "the server's address")])
    }

    @Test("long unknown keys are cut in the message")
    func longUnknownKey() throws {
        let key = String(repeating: "k", count: 50)
        let (_, diagnostics) = try read("m: {\(key): 1}\n") { root in value("m", in: root).mapping()?.finish() }
        #expect(
            diagnostics == [
                Diagnostic("unknown key '\(String(repeating: "k", count: 40))…' in m", at: at(1, 5), help: "no key is allowed here")
            ])
    }

    @Test("optional() treats an empty value as absent")
    func optionalNull() throws {
        let (_, diagnostics) = try read("m: {a: , b: ~, c: \"\"}\n") { root -> Void in
            guard let m = value("m", in: root).mapping() else { return }
            #expect(m.optional("a") == nil)
            #expect(m.optional("b") == nil)
            #expect(m.optional("c")?.string() == "")
            m.finish()
        }
        #expect(diagnostics.isEmpty)
    }

    @Test("finish() with nothing asked says no key is allowed")
    func finishWithNothingAsked() throws {
        let (_, diagnostics) = try read("empty: {a: 1}\n") { root in value("empty", in: root).mapping()?.finish() }
        #expect(diagnostics == [Diagnostic("unknown key 'a' in empty", at: at(1, 9), help: "no key is allowed here")])
    }

    @Test("errors from the reader are thrown together, sorted by position")
    func throwsSorted() throws {
        let root = try #require(try parse("a: x\nb: y\n"))
        let reader = DocumentReader(file: "doc.yaml")
        let mapping = try #require(reader.root(root).mapping())
        _ = mapping.optional("b")?.int()
        _ = mapping.optional("a")?.int()
        do {
            try reader.diagnostics.throwIfAny()
            Issue.record("expected an error")
        } catch {
            #expect(error.diagnostics.map { $0.location?.line } == [1, 2])
        }
    }
}

@Suite("Suggestions")
struct SuggestionTests {
    @Test(
        "the closest candidate within a few edits",
        arguments: [
            ("contrlPlane", "controlPlane"), ("flavour", "flavor"), ("maxInflight", "maxInFlight"), ("swarn", "swarm"),
            ("wrokers", "workers"), ("NETWORK", "network"), ("cpu", "cpu"),
        ])
    func closest(word: String, expected: String) {
        #expect(Suggestions.closest(to: word, among: ["controlPlane", "flavor", "maxInFlight", "swarm", "workers", "network", "cpu", "disk"]) == expected)
    }

    @Test("nothing when no candidate is close", arguments: ["zzzzzz", "kubernetes", "x"])
    func nothingClose(word: String) {
        #expect(Suggestions.closest(to: word, among: ["swarm", "mesos", "cpu"]) == nil)
    }
}
