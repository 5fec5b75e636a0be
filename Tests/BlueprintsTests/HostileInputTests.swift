import Blueprints
import PhotonCore
import Testing
import YAMLReader

// Input written to hurt: every case must end in an error (or a correct load), never a crash or a hang.
// Nothing here measures time; each test just has to finish.

private let network = """
    controlPlane:
      driver: local
      network: 10.213.0.0/24

    """

@Suite("Hostile input")
struct HostileInputTests {

    // MARK: Size and expansion

    /// "Billion laughs": each level is a list of ten aliases to the level before.
    static func aliasBomb(levels: Int) -> String {
        var lines = ["a0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]"]
        for level in 1...levels {
            lines.append("a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ",") + "]")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    @Test("an alias bomb stops at the expansion limit")
    func billionLaughs() {
        let diagnostics = loadErrors(Self.aliasBomb(levels: 9))
        // a5 alone expands to over a million nodes: the third alias of it on line 7 crosses four million.
        check(
            diagnostics,
            [
                E(
                    7, 18, "the document expands to more than 4000000 nodes once its aliases are resolved",
                    help: "aliases that refer to other aliases multiply; is this an alias bomb?")
            ])
    }

    @Test("an alias bomb made of mappings stops at the expansion limit")
    func mappingBomb() {
        var yaml = "m0: &m0 {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8, i: 9, j: 10}\n"
        for level in 1...9 {
            yaml += "m\(level): &m\(level) {" + (0..<10).map { "k\($0): *m\(level - 1)" }.joined(separator: ", ") + "}\n"
        }
        let diagnostics = loadErrors(yaml)
        #expect(diagnostics.count == 1)
        #expect(diagnostics.first?.message == "the document expands to more than 4000000 nodes once its aliases are resolved")
    }

    @Test("the expansion limit is the loader's to set")
    func smallerExpansionLimit() {
        // Ten aliases of a 11-node list is 111 nodes: fine by default, too many for a limit of 100.
        let yaml = "name: demo\n" + network + "a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\nb: [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        let strict = BlueprintLoader(
            environment: LoadEnvironment(variables: [:], fileExists: { _ in false }),
            limits: YAMLLimits(maxNodes: 100))
        #expect(throws: DiagnosticsError.self) { try strict.load(bytes: Array(yaml.utf8), file: "bp.yaml") }
        do {
            _ = try strict.load(bytes: Array(yaml.utf8), file: "bp.yaml")
        } catch {
            #expect(error.diagnostics.map(\.message) == ["the document expands to more than 100 nodes once its aliases are resolved"])
        }
        // With the default limit the aliases are fine and only the unknown keys are wrong.
        #expect(loadErrors(yaml).map(\.message) == ["unknown key 'a' in the top level", "unknown key 'b' in the top level"])
    }

    @Test("a 10 MB file is refused before it is parsed, at 1:1")
    func tenMegabytes() {
        var bytes = Array("name: demo\n# ".utf8)
        bytes += Array(repeating: UInt8(ascii: "x"), count: 10 << 20)
        bytes += Array("\n".utf8)
        let diagnostics = loadErrors(bytes)
        check(
            diagnostics,
            [
                E(1, 1, "file is 10.0 MiB, larger than the 8.0 MiB photon reads", help: "split the deployment into several blueprints")
            ])
    }

    @Test("a file just under the size limit is read")
    func justUnderTheLimit() {
        var yaml = "name: demo\n" + network + "# "
        yaml += String(repeating: "x", count: (8 << 20) - yaml.utf8.count - 1) + "\n"
        #expect(yaml.utf8.count == 8 << 20)
        #expect(throws: Never.self) { try loader().load(bytes: Array(yaml.utf8), file: "bp.yaml") }
    }

    // MARK: Nesting

    @Test("10,000 nested lists end in a nesting error, not a stack overflow")
    func deepFlowLists() {
        let yaml = "name: " + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000) + "\n"
        // The top-level mapping is level 1, so the 64th '[' (column 7 + 63) is level 65.
        check(loadErrors(yaml), [E(1, 70, "lists and mappings nest more than 64 levels deep")])
    }

    @Test("10,000 unclosed lists end in a nesting error too")
    func deepUnclosedLists() {
        let yaml = "name: " + String(repeating: "[", count: 10_000) + "\n"
        check(loadErrors(yaml), [E(1, 70, "lists and mappings nest more than 64 levels deep")])
    }

    @Test("deep flow mappings")
    func deepFlowMappings() {
        let yaml = "name: " + String(repeating: "{a: ", count: 100) + "1" + String(repeating: "}", count: 100) + "\n"
        // Each "{a: " is four columns: the 64th starts at 7 + 63 * 4.
        check(loadErrors(yaml), [E(1, 259, "lists and mappings nest more than 64 levels deep")])
    }

    @Test("deep block mappings")
    func deepBlockMappings() {
        var yaml = ""
        for level in 0..<70 { yaml += String(repeating: "  ", count: level) + "k\(level):\n" }
        yaml += String(repeating: "  ", count: 70) + "v\n"
        // k64's value would be level 65: the mapping starts at its first key, k64 on line 65.
        check(loadErrors(yaml), [E(65, 129, "lists and mappings nest more than 64 levels deep")])
    }

    @Test("nesting up to the limit is fine")
    func nestingAtTheLimit() {
        // 63 lists under the top-level mapping: 64 levels.
        let yaml = "name: demo\n" + network + "x: " + String(repeating: "[", count: 63) + String(repeating: "]", count: 63) + "\n"
        check(
            loadErrors(yaml),
            [
                E(
                    5, 1, "unknown key 'x' in the top level",
                    help: "valid keys here: 'version', 'name', 'secrets', 'flavors', 'controlPlane', 'ssh', 'management', 'clusters', 'binaries'")
            ])
    }

    // MARK: Duplicate keys

    @Test("every duplicate key is reported, each at the duplicate, naming the first")
    func duplicateKeys() {
        let yaml = """
            name: demo
            controlPlane:
              driver: local
              network: 10.213.0.0/24
              network: 10.0.0.0/8
            clusters:
              - name: web
                kind: swarm
                roles: {managers: 1, managers: 3}
            name: again

            """
        check(
            loadErrors(yaml),
            [
                E(5, 3, "duplicate key 'network'", help: "'network' is already set at line 4, column 3; keep one"),
                E(9, 26, "duplicate key 'managers'", help: "'managers' is already set at line 9, column 13; keep one"),
                E(10, 1, "duplicate key 'name'", help: "'name' is already set at line 1, column 1; keep one"),
            ])
    }

    @Test("a quoted key and a plain key with the same text are duplicates")
    func quotedDuplicate() {
        let yaml = "name: demo\n\"name\": other\n" + network
        check(loadErrors(yaml), [E(2, 1, "duplicate key 'name'", help: "'name' is already set at line 1, column 1; keep one")])
    }

    // MARK: Encoding

    @Test(
        "invalid UTF-8 is reported at its line and column",
        arguments: [
            // (bytes, line, column, the byte named)
            (Array("name: demo\ncontrolPlane:\n  driver: local\n  network: 10.213.0.0/24\n  bridge: br".utf8) + [0xFF] + Array("0\n".utf8), 5, 13, "FF"),
            // Columns count characters: 'é' is two bytes but one column.
            (Array("name: dé".utf8) + [0xE9] + Array("mo\n".utf8), 1, 9, "E9"),
            // A Latin-1 file.
            (Array("# caf".utf8) + [0xE9] + Array("\nname: demo\n".utf8), 1, 6, "E9"),
            // An overlong encoding of '/'.
            (Array("name: demo\nkey: a".utf8) + [0xC0, 0xAF] + Array("\n".utf8), 2, 7, "C0"),
            // A UTF-16 surrogate encoded as UTF-8.
            (Array("name: demo\nbridge: ".utf8) + [0xED, 0xA0, 0x80] + Array("x\n".utf8), 2, 9, "ED"),
            // A sequence cut off by the end of the file.
            (Array("name: demo\nx: ".utf8) + [0xE2, 0x82], 2, 4, "E2"),
            // A continuation byte on its own.
            (Array("a: 1\nb: 2\nc: ".utf8) + [0x80], 3, 4, "80"),
        ] as [([UInt8], Int, Int, String)])
    func invalidUTF8(bytes: [UInt8], line: Int, column: Int, byte: String) {
        check(loadErrors(bytes), [E(line, column, "invalid UTF-8 byte 0x\(byte)", help: "save the file as UTF-8")])
    }

    @Test("a UTF-8 byte-order mark at the start is ignored, and the positions stay right")
    func byteOrderMark() throws {
        let bytes: [UInt8] = [0xEF, 0xBB, 0xBF] + Array("name: demo\n\(network)".utf8)
        let blueprint = try loader().load(bytes: bytes, file: "bp.yaml")
        #expect(blueprint.name == Located("demo", at: PhotonCore.SourceLocation(file: "bp.yaml", line: 1, column: 7)))
        // The errors of a file with a mark are where they would be without it.
        check(
            loadErrors([0xEF, 0xBB, 0xBF] + Array("name: Demo\nbogus: 1\n\(network)".utf8)),
            [
                E(
                    1, 7,
                    "deployment name 'Demo' is not a valid host name part: it has uppercase letters; names are lowercase so that host names, DNS and cluster software agree",
                    help: "use lowercase letters, digits and '-', for example 'demo'"),
                E(
                    2, 1, "unknown key 'bogus' in the top level",
                    help: "valid keys here: 'version', 'name', 'secrets', 'flavors', 'controlPlane', 'ssh', 'management', 'clusters', 'binaries'"),
            ])
    }

    @Test("Windows line endings keep the positions right")
    func crlf() {
        let yaml = "name: demo\r\ncontrolPlane:\r\n  driver: local\r\n  network: 10.213.0.0/24\r\n  bogus: 1\r\n"
        check(loadErrors(yaml), [E(5, 3, "unknown key 'bogus' in controlPlane", help: "valid keys here: 'driver', 'network', 'bridge', 'layers'")])
    }

    // MARK: Tabs

    @Test(
        "tabs in the indentation",
        arguments: [
            ("name: demo\ncontrolPlane:\n\tdriver: local\n", 3, 1, "found character that cannot start any token"),
            ("name: demo\ncontrolPlane:\n  driver: local\n\tnetwork: 10.0.0.0/24\n", 4, 1, "found a tab character that violates indentation"),
            ("name: demo\nclusters:\n\t- name: web\n", 3, 1, "found character that cannot start any token"),
        ])
    func tabs(yaml: String, line: Int, column: Int, message: String) {
        check(loadErrors(yaml), [E(line, column, message, help: "YAML indentation must use spaces, not tabs")])
    }

    @Test("a tab between a key and its value is only whitespace")
    func tabAfterColon() throws {
        let blueprint = try loader().load(bytes: Array("name:\tdemo\n\(network)".utf8), file: "bp.yaml")
        #expect(blueprint.name.value == "demo")
        #expect(blueprint.name.location.column == 7)
    }

    // MARK: Shell metacharacters

    @Test(
        "shell metacharacters in names are refused",
        arguments: [
            ("name: \"demo; reboot\"\n", "';' is not allowed"),
            ("name: \"demo && reboot\"\n", "' ' is not allowed"),
            ("name: demo$HOME\n", "'$' is not allowed"),
            ("name: \"$(reboot)\"\n", "'$' is not allowed"),
            ("name: \"demo`id`\"\n", "'`' is not allowed"),
            ("name: demo>x\n", "'>' is not allowed"),
            ("name: \"demo\\nreboot\"\n", "'\\n' is not allowed"),
            ("name: \"demo\\0\"\n", "'\\0' is not allowed"),
            ("name: ../../etc\n", "'.' is not allowed"),
        ])
    func metacharactersInNames(line: String, problem: String) {
        let diagnostics = loadErrors(line + network)
        #expect(diagnostics.count == 1)
        #expect(diagnostics.first?.location?.line == 1)
        #expect(diagnostics.first?.location?.column == 7)
        #expect(diagnostics.first?.message.hasPrefix("deployment name '") == true)
        #expect(
            diagnostics.first?.message.hasSuffix("is not a valid host name part: \(problem); use lowercase letters, digits and '-'") == true,
            "\(diagnostics.first?.message ?? "")")
    }

    @Test("shell metacharacters in role and cluster names are refused")
    func metacharactersInRoleNames() {
        let yaml = """
            name: demo
            \(network)clusters:
              - name: "web$(id)"
                kind: swarm
                roles:
                  "managers;reboot": 1

            """
        check(
            loadErrors(yaml),
            [
                E(
                    6, 11, "cluster name 'web$(id)' is not a valid host name part: '$' is not allowed; use lowercase letters, digits and '-'",
                    help: "use lowercase letters, digits and '-', for example 'web-id'"),
                ExpectedDiagnostic(
                    line: 9, column: 7,
                    message: .exactly(
                        "role name 'managers;reboot' is not a valid host name part: ';' is not allowed; use lowercase letters, digits and '-'"),
                    help: .unchecked),
            ])
    }

    @Test("a string setting keeps shell metacharacters as plain text, quoted flag and all")
    func metacharactersInSettings() throws {
        // Settings are data: photon quotes every value it puts in a command, so the text is kept exactly.
        let yaml = """
            name: demo
            \(network)clusters:
              - name: web
                kind: swarm
                roles: {managers: 1}
                settings:
                  dataRoot: "/data; rm -rf / #"
                  logMaxSize: $(reboot)
                  storageDriver: '`id`'

            """
        let blueprint = try loader().load(bytes: Array(yaml.utf8), file: "bp.yaml")
        let settings = try #require(blueprint.clusters.first?.settings)
        #expect(settings.map(\.name) == ["dataRoot", "logMaxSize", "storageDriver"])
        let values = settings.map { setting -> String in
            guard case .scalar(let text, _) = setting.node.content else { return "?" }
            return text
        }
        #expect(values == ["/data; rm -rf / #", "$(reboot)", "`id`"])
        #expect(settings.map(\.node.location.line) == [10, 11, 12])
    }

    @Test("an unquoted backtick is a YAML syntax error at its position")
    func plainBacktick() {
        // libyaml reserves '`'.
        check(
            loadErrors("name: `reboot`\n" + network),
            [
                E(1, 7, "found character that cannot start any token", help: "'`' is reserved in YAML; put the value in quotes")
            ])
    }

    // MARK: Documents, aliases and tags

    @Test("an empty file", arguments: ["", "\n\n", "# only a comment\n", "   \n"])
    func emptyFile(yaml: String) {
        check(loadErrors(yaml), [E(1, 1, "the blueprint is empty", help: "start from one of the examples in blueprints/")])
    }

    @Test("two YAML documents")
    func twoDocuments() {
        check(
            loadErrors("name: demo\n---\nname: other\n"),
            [
                E(
                    2, 1, "a blueprint holds one YAML document; found a second one",
                    help: "remove the '---' line or put the second document in its own file")
            ])
        check(
            loadErrors("---\nname: demo\n\(network)...\n---\nname: other\n"),
            [
                E(
                    7, 1, "a blueprint holds one YAML document; found a second one",
                    help: "remove the '---' line or put the second document in its own file")
            ])
    }

    @Test("one document with explicit start and end markers loads")
    func explicitMarkers() throws {
        let blueprint = try loader().load(bytes: Array("---\nname: demo\n\(network)...\n".utf8), file: "bp.yaml")
        #expect(blueprint.name.location.line == 2)
    }

    @Test("an alias to an anchor that does not exist")
    func undefinedAlias() {
        check(
            loadErrors("name: *dep\n" + network),
            [
                E(1, 7, "alias '*dep' refers to no anchor defined before it", help: "define '&dep' earlier in the file")
            ])
    }

    @Test("an alias used before its anchor")
    func aliasBeforeAnchor() {
        check(
            loadErrors("name: *n\nother: &n demo\n" + network),
            [
                E(1, 7, "alias '*n' refers to no anchor defined before it", help: "define '&n' earlier in the file")
            ])
    }

    @Test(
        "YAML tags",
        arguments: [
            // The tag is named as written ('!!int'), not as libyaml expands it ('tag:yaml.org,2002:int').
            ("name: !!python/object:os.system reboot\n", 1, 7, "!!python/object:os.system"),
            ("name: !!python/object/apply:os.system [reboot]\n", 1, 7, "!!python/object/apply:os.system"),
            ("name: demo\nversion: !!int \"1\"\n", 2, 10, "!!int"),
            ("name: !!binary ZGVtbw==\n", 1, 7, "!!binary"),
        ])
    func tags(yaml: String, line: Int, column: Int, tag: String) {
        let diagnostics = loadErrors(yaml + network)
        check(diagnostics, [E(line, column, "YAML tag '\(tag)' is not supported", help: "remove the tag; photon reads plain values")])
    }

    @Test("a local tag on a mapping")
    func localTag() {
        let yaml = "name: demo\ncontrolPlane: !local\n  driver: local\n  network: 10.213.0.0/24\n"
        check(loadErrors(yaml), [E(2, 15, "YAML tag '!local' is not supported", help: "remove the tag; photon reads plain values")])
    }

    @Test("!!str turns a number into a string")
    func strTag() {
        check(
            loadErrors("version: !!str 1\nname: demo\n" + network),
            [
                E(1, 10, "expected an integer for version, found the string \"1\"")
            ])
    }

    @Test("a merge key fills in what the mapping does not say")
    func mergeKey() throws {
        let yaml = """
            name: demo
            \(network)flavors:
              base: &base {cpu: 1, memory: 2GiB, disk: 8GiB}
              big:
                <<: *base
                cpu: 4
            clusters:
              - name: web
                kind: swarm
                flavor: big
                roles: {managers: 1}

            """
        let blueprint = try loader().load(bytes: Array(yaml.utf8), file: "bp.yaml")
        #expect(blueprint.flavors["big"]?.milliCPU == 4000)
        #expect(blueprint.flavors["big"]?.memory == ByteSize(bytes: 2 << 30))
        #expect(blueprint.flavors["big"]?.disk == ByteSize(bytes: 8 << 30))
        #expect(blueprint.flavors["base"]?.milliCPU == 1000)
    }

    @Test("a merge of a 20,000-key anchor finishes")
    func largeMerge() {
        // Nothing here is timed: the merge just has to end.
        let keys = (0..<20_000).map { "k\($0): \($0)" }.joined(separator: ", ")
        let yaml = "name: demo\n" + network + "big: &big {\(keys)}\nagain:\n  <<: *big\n  k0: written\n"
        check(
            loadErrors(yaml),
            [
                E(
                    5, 1, "unknown key 'big' in the top level",
                    help: "valid keys here: 'version', 'name', 'secrets', 'flavors', 'controlPlane', 'ssh', 'management', 'clusters', 'binaries'"),
                E(
                    6, 1, "unknown key 'again' in the top level",
                    help: "valid keys here: 'version', 'name', 'secrets', 'flavors', 'controlPlane', 'ssh', 'management', 'clusters', 'binaries'"),
            ])
    }

    @Test("merged keys are checked like written ones")
    func mergedUnknownKey() {
        let yaml = """
            name: demo
            \(network)defaults: &defaults {kind: swarm, flavr: small}
            clusters:
              - <<: *defaults
                name: web
                roles: {managers: 1}

            """
        // The unknown key is reported where it is written, inside the anchored mapping.
        check(
            loadErrors(yaml),
            [
                E(
                    5, 1, "unknown key 'defaults' in the top level",
                    help: "valid keys here: 'version', 'name', 'secrets', 'flavors', 'controlPlane', 'ssh', 'management', 'clusters', 'binaries'"),
                E(5, 35, "unknown key 'flavr' in clusters[0]", help: "did you mean 'flavor'?"),
            ])
    }

    @Test("a merge key needs a mapping")
    func mergeScalar() {
        check(
            loadErrors("name: demo\ncontrolPlane:\n  driver: local\n  network: 10.213.0.0/24\n  <<: 3\n"),
            [
                E(5, 7, "a merge key '<<' takes a mapping or a list of mappings, found '3'")
            ])
    }

    @Test("a list as a mapping key")
    func complexKey() {
        check(loadErrors("name: demo\n? [a, b]\n: 1\n" + network), [E(2, 3, "mapping keys must be plain strings, found a list")])
    }

    @Test(
        "control characters are refused at their line and column, named by their byte",
        arguments: [
            (Array("name: demo\nkey: a".utf8) + [0x00] + Array("b\n".utf8), 2, 7, "00"),
            (Array("name: demo\nkey: a".utf8) + [0x07] + Array("b\n".utf8), 2, 7, "07"),
            (Array("name: demo\nkey: a".utf8) + [0x1B] + Array("b\n".utf8), 2, 7, "1B"),
            (Array("name: demo\nkey: a".utf8) + [0x7F] + Array("b\n".utf8), 2, 7, "7F"),
            // Columns count characters: 'é' is two bytes but one column.
            (Array("name: dé".utf8) + [0x07] + Array("mo\n".utf8), 1, 9, "07"),
            // The first byte of the file, and inside a comment.
            ([0x07] + Array("name: demo\n".utf8), 1, 1, "07"),
            (Array("name: demo\n# note ".utf8) + [0x07] + Array("\n".utf8), 2, 8, "07"),
        ] as [([UInt8], Int, Int, String)])
    func controlCharacters(bytes: [UInt8], line: Int, column: Int, byte: String) {
        check(
            loadErrors(bytes),
            [
                E(line, column, "control character 0x\(byte) is not allowed", help: "remove it, or write it as an escape inside a double-quoted string")
            ])
    }

    @Test("a C1 control character is named by its code point, not its first UTF-8 byte")
    func c1ControlCharacter() {
        check(
            loadErrors(Array("name: demo\nkey: a".utf8) + [0xC2, 0x9B] + Array("b\n".utf8)),
            [
                E(2, 7, "control character U+009B is not allowed", help: "remove it, or write it as an escape inside a double-quoted string")
            ])
    }

    @Test("escaped control characters in a quoted name are named in the message")
    func escapedControlCharacter() {
        check(
            loadErrors("name: \"de\\x1bmo\"\n" + network),
            [
                E(
                    1, 7, "deployment name 'de\u{1B}mo' is not a valid host name part: '\\u{1B}' is not allowed; use lowercase letters, digits and '-'",
                    help: "use lowercase letters, digits and '-', for example 'de-mo'")
            ])
    }

    @Test("many errors in a large file all come back, sorted")
    func manyErrors() {
        var yaml = "name: demo\n" + network + "flavors:\n"
        for index in 0..<2_000 { yaml += "  f\(index): {cpu: 0.5, memory: 1GiB, disk: 8GiB, extra: \(index)}\n" }
        let diagnostics = loadErrors(yaml)
        #expect(diagnostics.count == 2_000)
        #expect(diagnostics.first?.location?.line == 6)
        #expect(diagnostics.last?.location?.line == 2_005)
        #expect(diagnostics.allSatisfy { $0.message.hasPrefix("unknown key 'extra' in flavors.f") })
    }
}
