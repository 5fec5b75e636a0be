import Blueprints
import PhotonCore
import Testing
import YAMLReader

// Bad blueprints and exactly what the loader says about them: message, line:column and help.
// Each case is a whole file, so the positions in it can be checked by eye.

/// One diagnostic a case expects.
struct ExpectedDiagnostic: Sendable, CustomStringConvertible {
    enum Text: Sendable {
        case exactly(String)
        /// For messages whose wording is still being improved: only the parts that must stay.
        case containing([String])
    }

    enum Help: Sendable {
        case exactly(String)
        case none
        /// Not checked (see the notes next to the case).
        case unchecked
    }

    var line: Int
    var column: Int
    var message: Text
    var help: Help

    var description: String { "\(line):\(column) \(message)" }

    func check(_ diagnostic: Diagnostic, file: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        #expect(diagnostic.location?.file == file, sourceLocation: sourceLocation)
        #expect(diagnostic.location?.line == line, "line of: \(diagnostic.message)", sourceLocation: sourceLocation)
        #expect(diagnostic.location?.column == column, "column of: \(diagnostic.message)", sourceLocation: sourceLocation)
        switch message {
        case .exactly(let text):
            #expect(diagnostic.message == text, sourceLocation: sourceLocation)
        case .containing(let parts):
            for part in parts { #expect(diagnostic.message.contains(part), "\(diagnostic.message)", sourceLocation: sourceLocation) }
        }
        switch help {
        case .exactly(let text): #expect(diagnostic.help == text, sourceLocation: sourceLocation)
        case .none: #expect(diagnostic.help == nil, sourceLocation: sourceLocation)
        case .unchecked: break
        }
    }
}

/// `E(3, 5, "message", help: "…")`: an exact message, and an exact help (no help when omitted).
func E(_ line: Int, _ column: Int, _ message: String, help: String? = nil) -> ExpectedDiagnostic {
    ExpectedDiagnostic(line: line, column: column, message: .exactly(message), help: help.map { .exactly($0) } ?? .none)
}

/// A bad blueprint: the file, what the environment holds, and every diagnostic expected, in order.
struct BadBlueprint: Sendable, CustomTestStringConvertible {
    var name: String
    var yaml: String
    var variables: [String: String] = [:]
    var existingFiles: Set<String> = []
    var expected: [ExpectedDiagnostic]

    var testDescription: String { name }

    init(_ name: String, _ yaml: String, variables: [String: String] = [:], existingFiles: Set<String> = [], _ expected: ExpectedDiagnostic...) {
        self.name = name
        self.yaml = yaml
        self.variables = variables
        self.existingFiles = existingFiles
        self.expected = expected
    }
}

/// The base directory relative `file:` references resolve against in these tests.
let testBaseDirectory = "/srv/photon"

func loader(variables: [String: String] = [:], existingFiles: Set<String> = []) -> BlueprintLoader {
    BlueprintLoader(
        environment: LoadEnvironment(
            variables: variables, baseDirectory: testBaseDirectory,
            fileExists: { existingFiles.contains($0) }))
}

/// The diagnostics loading `bytes` produces; records an issue when it loads.
func loadErrors(
    _ bytes: [UInt8], variables: [String: String] = [:], existingFiles: Set<String> = [],
    sourceLocation: Testing.SourceLocation = #_sourceLocation
) -> [Diagnostic] {
    do {
        _ = try loader(variables: variables, existingFiles: existingFiles).load(bytes: bytes, file: "bp.yaml")
        Issue.record("the blueprint loaded without errors", sourceLocation: sourceLocation)
        return []
    } catch {
        return error.diagnostics
    }
}

func loadErrors(
    _ yaml: String, variables: [String: String] = [:], existingFiles: Set<String> = [],
    sourceLocation: Testing.SourceLocation = #_sourceLocation
) -> [Diagnostic] {
    loadErrors(Array(yaml.utf8), variables: variables, existingFiles: existingFiles, sourceLocation: sourceLocation)
}

/// Checks `diagnostics` against `expected`, one for one, and that they come sorted by position.
func check(_ diagnostics: [Diagnostic], _ expected: [ExpectedDiagnostic], sourceLocation: Testing.SourceLocation = #_sourceLocation) {
    #expect(diagnostics.count == expected.count, "got:\n\(diagnostics.map(\.description).joined(separator: "\n"))", sourceLocation: sourceLocation)
    for (diagnostic, expectation) in zip(diagnostics, expected) {
        expectation.check(diagnostic, file: "bp.yaml", sourceLocation: sourceLocation)
    }
    let locations = diagnostics.compactMap(\.location)
    #expect(locations.count == diagnostics.count, "every diagnostic has a location", sourceLocation: sourceLocation)
    #expect(locations == locations.sorted(), "sorted by position", sourceLocation: sourceLocation)
}

let anyFingerprint = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

@Suite("Bad blueprints")
struct BadBlueprintTests {

    // MARK: Syntax

    static let syntax: [BadBlueprint] = [
        BadBlueprint(
            "unclosed flow sequence",
            """
            name: [a, b
            controlPlane: x

            """,
            E(2, 13, "did not find expected ',' or ']'", help: "while parsing a flow sequence that starts at line 1, column 7")),
        BadBlueprint(
            "key indented less than its siblings",
            """
            name: demo
            controlPlane:
              driver: local
             network: 10.0.0.0/24

            """,
            E(4, 2, "did not find expected key", help: "while parsing a block mapping that starts at line 1, column 1")),
        BadBlueprint(
            "a colon and space inside a plain value",
            """
            name: demo: x
            controlPlane:
              driver: local

            """,
            E(1, 11, "mapping values are not allowed in this context")),
        BadBlueprint(
            "value continued on a more indented line",
            """
            name: demo
              extra: 1

            """,
            E(2, 8, "mapping values are not allowed in this context")),
        BadBlueprint(
            "list item inside a mapping",
            """
            name: demo
            - item

            """,
            E(2, 1, "did not find expected key", help: "while parsing a block mapping that starts at line 1, column 1")),
        BadBlueprint(
            "text after a closing quote",
            """
            name: "demo"x

            """,
            E(1, 13, "did not find expected key", help: "while parsing a block mapping that starts at line 1, column 1")),
        BadBlueprint(
            "unterminated quoted string",
            """
            name: "demo
            controlPlane:
              driver: local
            """,
            E(3, 16, "found unexpected end of stream", help: "while scanning a quoted scalar that starts at line 1, column 7")),
        BadBlueprint(
            "tab as the whole indentation", "name: demo\ncontrolPlane:\n\tdriver: local\n",
            E(
                3, 1, "found character that cannot start any token",
                help: "YAML indentation must use spaces, not tabs")),
        BadBlueprint(
            "tab after spaces in the indentation", "name: demo\ncontrolPlane:\n  \tdriver: local\n",
            E(
                3, 3, "found character that cannot start any token",
                help: "YAML indentation must use spaces, not tabs")),
        BadBlueprint(
            "tab on a continuation line", "name: demo\ncontrolPlane:\n  driver: local\n\tnetwork: 10.0.0.0/24\n",
            E(
                4, 1, "found a tab character that violates indentation",
                help: "YAML indentation must use spaces, not tabs")),
        BadBlueprint(
            "tab after a list dash", "name: demo\nclusters:\n  -\tname: web\n",
            E(
                3, 4, "found character that cannot start any token",
                help: "YAML indentation must use spaces, not tabs")),
    ]

    @Test("syntax errors carry libyaml's message at its position", arguments: syntax)
    func syntaxErrors(_ bad: BadBlueprint) {
        check(loadErrors(bad.yaml), bad.expected)
    }

    // MARK: Unknown keys

    static let unknownKeys: [BadBlueprint] = [
        BadBlueprint(
            "misspelt top-level key",
            """
            version: 1
            name: demo
            controlPlan:
              driver: local
              network: 10.213.0.0/24

            """,
            // One error: the misspelling names the required key, which is not reported missing as well.
            E(3, 1, "unknown key 'controlPlan' in the top level", help: "did you mean 'controlPlane'?")),
        BadBlueprint(
            "top-level key that resembles nothing",
            """
            name: demo
            zzzzzz: 1
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            E(
                2, 1, "unknown key 'zzzzzz' in the top level",
                help: "valid keys here: 'version', 'name', 'secrets', 'flavors', 'controlPlane', 'ssh', 'management', 'clusters', 'binaries'")),
        BadBlueprint(
            "misspelt controlPlane key",
            """
            name: demo
            controlPlane:
              driver: local
              netwrok: 10.213.0.0/24

            """,
            E(4, 3, "unknown key 'netwrok' in controlPlane", help: "did you mean 'network'?")),
        BadBlueprint(
            "local-driver key under the static driver",
            """
            name: demo
            controlPlane:
              driver: static
              network: 10.213.0.0/24
              machines:
                - address: 10.0.0.5
                  hostKey: \(anyFingerprint)

            """,
            E(4, 3, "'network' belongs to 'driver: local'", help: "static machines are listed under 'machines:' with their addresses")),
        BadBlueprint(
            "misspelt cluster key",
            """
            name: demo
            controlPlane:
              driver: local
              network: 10.213.0.0/24
            clusters:
              - name: web
                kind: swarm
                role:
                  managers: 1

            """,
            E(8, 5, "unknown key 'role' in clusters[0]", help: "did you mean 'roles'?")),
        BadBlueprint(
            "misspelt role key in a flow mapping",
            """
            name: demo
            controlPlane:
              driver: local
              network: 10.213.0.0/24
            clusters:
              - name: web
                kind: swarm
                roles:
                  managers: {count: 1, flavour: small}

            """,
            E(9, 28, "unknown key 'flavour' in clusters[0].roles.managers", help: "did you mean 'flavor'?")),
        BadBlueprint(
            "misspelt flavor key",
            """
            name: demo
            flavors:
              big: {cpu: 2, memroy: 4GiB, disk: 20GiB}
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            E(3, 17, "unknown key 'memroy' in flavors.big", help: "did you mean 'memory'?")),
        BadBlueprint(
            "misspelt ssh key",
            """
            name: demo
            ssh:
              usr: admin
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            E(3, 3, "unknown key 'usr' in ssh", help: "did you mean 'user'?")),
        BadBlueprint(
            "misspelt management key",
            """
            name: demo
            management:
              machines: 1
              flavour: small
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            E(4, 3, "unknown key 'flavour' in management", help: "did you mean 'flavor'?")),
        BadBlueprint(
            "rollout key with the wrong case",
            """
            name: demo
            controlPlane:
              driver: local
              network: 10.213.0.0/24
            clusters:
              - name: web
                kind: swarm
                roles: {managers: 1}
                rollout: {maxInflight: 2}

            """,
            E(9, 15, "unknown key 'maxInflight' in clusters[0].rollout", help: "did you mean 'maxInFlight'?")),
        BadBlueprint(
            "static machine key with the wrong case",
            """
            name: demo
            controlPlane:
              driver: static
              machines:
                - address: 10.0.0.5
                  hostkey: \(anyFingerprint)

            """,
            E(6, 7, "unknown key 'hostkey' in controlPlane.machines[0]", help: "did you mean 'hostKey'?")),
    ]

    @Test("unknown keys at every level, with the closest valid key", arguments: unknownKeys)
    func unknownKeyErrors(_ bad: BadBlueprint) {
        check(loadErrors(bad.yaml), bad.expected)
    }

    // MARK: Missing keys and wrong types

    static let missingAndTypes: [BadBlueprint] = [
        BadBlueprint(
            "no deployment name",
            """
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            E(1, 1, "missing required key 'name' in the top level")),
        BadBlueprint(
            "no control plane", "name: demo\n",
            E(1, 1, "missing required key 'controlPlane' in the top level")),
        BadBlueprint(
            "deployment name key with no value",
            """
            name:
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            // Reported at the key that is there, not as a missing key.
            E(1, 1, "'name' in the top level has no value")),
        BadBlueprint(
            "network with no value, and with ~",
            """
            name: demo
            controlPlane:
              driver: local
              network: ~

            """,
            E(
                4, 3, "'network' in controlPlane has no value",
                help: "give the machines' network in CIDR form, for example 10.213.0.0/24")),
        BadBlueprint(
            "no driver",
            """
            name: demo
            controlPlane:
              network: 10.213.0.0/24

            """,
            E(3, 3, "missing required key 'driver' in controlPlane")),
        BadBlueprint(
            "no network for the local driver",
            """
            name: demo
            controlPlane:
              driver: local

            """,
            E(
                3, 3, "missing required key 'network' in controlPlane",
                help: "give the machines' network in CIDR form, for example 10.213.0.0/24")),
        BadBlueprint(
            "cluster without a kind",
            """
            name: demo
            controlPlane:
              driver: local
              network: 10.213.0.0/24
            clusters:
              - name: web
                roles: {managers: 1}

            """,
            E(
                6, 5, "missing required key 'kind' in clusters[0]",
                help: "one of the kinds 'photon kinds' lists, such as swarm, mesos or kubernetes")),
        BadBlueprint(
            "flavor without cpu",
            """
            name: demo
            flavors:
              big: {memory: 4GiB, disk: 20GiB}
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            E(3, 8, "missing required key 'cpu' in flavors.big")),
        BadBlueprint(
            "role mapping without count",
            """
            name: demo
            controlPlane:
              driver: local
              network: 10.213.0.0/24
            clusters:
              - name: web
                kind: swarm
                roles:
                  managers: {flavor: small}

            """,
            E(9, 17, "missing required key 'count' in clusters[0].roles.managers")),
        BadBlueprint(
            "a word for a role count",
            """
            name: demo
            controlPlane:
              driver: local
              network: 10.213.0.0/24
            clusters:
              - name: web
                kind: swarm
                roles:
                  managers: three

            """,
            E(9, 17, "expected an integer for clusters[0].roles.managers, found 'three'")),
        BadBlueprint(
            "a quoted number for a count",
            """
            name: demo
            controlPlane:
              driver: local
              network: 10.213.0.0/24
            clusters:
              - name: web
                kind: swarm
                roles:
                  managers: {count: "3"}

            """,
            E(9, 25, "expected an integer for clusters[0].roles.managers.count, found the string \"3\"")),
        BadBlueprint(
            "integers too large for a machine integer",
            """
            name: demo
            ssh:
              port: 99999999999999999999
            controlPlane:
              driver: local
              network: 10.213.0.0/24
            clusters:
              - name: web
                kind: swarm
                roles: {managers: 1, workers: 99999999999999999999}

            """,
            E(3, 9, "ssh.port is too large: 99999999999999999999"),
            E(10, 35, "clusters[0].roles.workers is too large: 99999999999999999999")),
        BadBlueprint(
            "a list where a mapping belongs",
            """
            name: demo
            controlPlane:
              - driver: local

            """,
            E(3, 3, "expected a mapping for controlPlane, found a list")),
        BadBlueprint(
            "a mapping where a list belongs",
            """
            name: demo
            controlPlane:
              driver: local
              network: 10.213.0.0/24
            clusters:
              name: web

            """,
            E(6, 3, "expected a list for clusters, found a mapping")),
        BadBlueprint(
            "a scalar where a flavor mapping belongs",
            """
            name: demo
            flavors:
              tiny: small
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            E(3, 9, "expected a mapping for flavors.tiny, found 'small'")),
        BadBlueprint(
            "quoted port and yes for a number",
            """
            name: demo
            ssh:
              port: "22"
              parallelism: yes
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            E(3, 9, "expected an integer for ssh.port, found the string \"22\""),
            E(4, 16, "expected an integer for ssh.parallelism, found 'yes'")),
        BadBlueprint(
            "a duration that is not one",
            """
            name: demo
            ssh:
              connectTimeout: soon
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            E(3, 19, "expected a duration (like 10s or 1m) for ssh.connectTimeout, found 'soon'")),
        BadBlueprint(
            "a list at the top", "- name: demo\n",
            E(1, 1, "expected a mapping for the top level, found a list")),
        BadBlueprint(
            "a scalar at the top", "hello\n",
            E(1, 1, "expected a mapping for the top level, found 'hello'")),
        BadBlueprint(
            "version 2",
            """
            version: 2
            name: demo
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            E(1, 10, "this photon reads blueprint version 1, found version 2")),
        BadBlueprint(
            "version as a quoted string",
            """
            version: "1"
            name: demo
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            E(1, 10, "expected an integer for version, found the string \"1\"")),
        BadBlueprint(
            "version 1.0",
            """
            version: 1.0
            name: demo
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            E(1, 10, "expected an integer for version, found '1.0'")),
    ]

    @Test("missing required keys and values of the wrong type", arguments: missingAndTypes)
    func missingAndTypeErrors(_ bad: BadBlueprint) {
        check(loadErrors(bad.yaml), bad.expected)
    }

    @Test(
        "what is not a decimal integer is not called too large",
        arguments: [
            ("½", "expected an integer for ssh.port, found '½'"),
            ("٣", "expected an integer for ssh.port, found '٣'"),
            ("１２", "expected an integer for ssh.port, found '１２'"),
            ("--5", "expected an integer for ssh.port, found '--5'"),
            ("+-3", "expected an integer for ssh.port, found '+-3'"),
            ("-99999999999999999999", "ssh.port is too small: -99999999999999999999"),
        ])
    func notTooLarge(value: String, message: String) {
        check(
            loadErrors("name: demo\nssh:\n  port: \(value)\ncontrolPlane:\n  driver: local\n  network: 10.213.0.0/24\n"),
            [E(3, 9, message)])
    }

    // MARK: Names

    static let names: [BadBlueprint] = [
        BadBlueprint(
            "uppercase deployment name",
            """
            name: Demo
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            E(
                1, 7,
                "deployment name 'Demo' is not a valid host name part: it has uppercase letters; names are lowercase so that host names, DNS and cluster software agree",
                help: "use lowercase letters, digits and '-', for example 'demo'")),
        BadBlueprint(
            "underscore in the deployment name",
            """
            name: my_demo
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            E(
                1, 7, "deployment name 'my_demo' is not a valid host name part: '_' is not allowed; use lowercase letters, digits and '-'",
                help: "use lowercase letters, digits and '-', for example 'my-demo'")),
        BadBlueprint(
            "deployment name starting with a hyphen",
            """
            name: -demo
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            E(
                1, 7, "deployment name '-demo' is not a valid host name part: it starts or ends with '-'",
                help: "use lowercase letters, digits and '-', for example 'demo'")),
        BadBlueprint(
            "deployment name of 64 characters",
            """
            name: \(String(repeating: "a", count: 64))
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            // Long values are cut to 40 characters in messages.
            E(
                1, 7,
                "deployment name '\(String(repeating: "a", count: 40))…' is not a valid host name part: it is 64 characters long; a host name label has at most 63",
                help: "use lowercase letters, digits and '-', for example '\(String(repeating: "a", count: 40))'")),
        BadBlueprint(
            "empty quoted deployment name",
            """
            name: ""
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            E(
                1, 7, "deployment name '' is not a valid host name part: it is empty",
                help: "use lowercase letters, digits and '-', for example 'web'")),
        BadBlueprint(
            "machine names longer than a host name allows",
            """
            name: a-rather-long-deployment-name
            controlPlane:
              driver: local
              network: 10.213.0.0/24
            clusters:
              - name: an-equally-long-cluster-name
                kind: swarm
                roles: {managers: 1}

            """,
            E(
                6, 11,
                "machine names of cluster 'an-equally-long-cluster-name' role 'managers' would be 69 characters ('a-rather-long-deployment-name-an-equally-long-cluster-name-managers-1'); host names allow 63",
                help: "shorten the deployment or cluster name")),
        BadBlueprint(
            "command separator in a cluster name",
            """
            name: demo
            controlPlane:
              driver: local
              network: 10.213.0.0/24
            clusters:
              - name: "web; rm -rf /"
                kind: swarm
                roles: {managers: 1}

            """,
            E(
                6, 11, "cluster name 'web; rm -rf /' is not a valid host name part: ';' is not allowed; use lowercase letters, digits and '-'",
                help: "use lowercase letters, digits and '-', for example 'web-rm-rf'")),
        BadBlueprint(
            "command substitution in a cluster name",
            """
            name: demo
            controlPlane:
              driver: local
              network: 10.213.0.0/24
            clusters:
              - name: $(reboot)
                kind: swarm
                roles: {managers: 1}

            """,
            E(
                6, 11, "cluster name '$(reboot)' is not a valid host name part: '$' is not allowed; use lowercase letters, digits and '-'",
                help: "use lowercase letters, digits and '-', for example 'reboot'")),
        BadBlueprint(
            "backticks in a quoted deployment name",
            """
            name: "`id`"
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            E(
                1, 7, "deployment name '`id`' is not a valid host name part: '`' is not allowed; use lowercase letters, digits and '-'",
                help: "use lowercase letters, digits and '-', for example 'id'")),
        BadBlueprint(
            "pipe in a deployment name",
            """
            name: demo|reboot
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            E(
                1, 7, "deployment name 'demo|reboot' is not a valid host name part: '|' is not allowed; use lowercase letters, digits and '-'",
                help: "use lowercase letters, digits and '-', for example 'demo-reboot'")),
        BadBlueprint(
            "uppercase role name",
            """
            name: demo
            controlPlane:
              driver: local
              network: 10.213.0.0/24
            clusters:
              - name: web
                kind: swarm
                roles: {Managers: 1}

            """,
            E(
                8, 13,
                "role name 'Managers' is not a valid host name part: it has uppercase letters; names are lowercase so that host names, DNS and cluster software agree",
                help: "use the role names of the cluster's kind ('photon kinds' lists them), for example 'managers'")),
        BadBlueprint(
            "underscore in a flavor name",
            """
            name: demo
            flavors:
              Big_One: {cpu: 2, memory: 4GiB, disk: 20GiB}
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            E(
                3, 3, "flavor name 'Big_One' is not valid: '_' is not allowed; use lowercase letters, digits and '-'",
                help: "for example 'big-one'")),
        BadBlueprint(
            "static machine address with a command separator",
            """
            name: demo
            controlPlane:
              driver: static
              machines:
                - address: "host;reboot"
                  hostKey: \(anyFingerprint)

            """,
            E(5, 16, "'host;reboot' is neither an IPv4 address nor a host name")),
        BadBlueprint(
            "ssh user with a command separator",
            """
            name: demo
            ssh:
              user: "root; reboot"
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            E(
                3, 9, "'root; reboot' is not a valid user name",
                help: "user names are lowercase letters, digits, '_' and '-', starting with a letter or '_'")),
        BadBlueprint(
            "ssh user with uppercase letters",
            """
            name: demo
            ssh:
              user: Admin
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            E(
                3, 9, "'Admin' is not a valid user name",
                help: "user names are lowercase letters, digits, '_' and '-', starting with a letter or '_'")),
        BadBlueprint(
            "duplicate cluster names",
            """
            name: demo
            controlPlane:
              driver: local
              network: 10.213.0.0/24
            clusters:
              - name: web
                kind: swarm
                roles: {managers: 1}
              - name: web
                kind: swarm
                roles: {managers: 1}

            """,
            E(
                9, 11, "duplicate cluster name 'web'",
                help: "a cluster named 'web' is already defined at line 6; cluster names must be unique")),
    ]

    @Test("names that cannot be host names, and duplicate names", arguments: names)
    func nameErrors(_ bad: BadBlueprint) {
        check(loadErrors(bad.yaml), bad.expected)
    }

    @Test("POSIX user names load, for ssh and for a static machine")
    func userNames() throws {
        let yaml = """
            name: demo
            ssh:
              user: _svc-1
            controlPlane:
              driver: static
              machines:
                - address: 10.0.0.5
                  user: deploy_2
                  hostKey: \(anyFingerprint)

            """
        let blueprint = try loader().load(bytes: Array(yaml.utf8), file: "bp.yaml")
        #expect(blueprint.ssh.user == "_svc-1")
        guard case .static(let plane) = blueprint.controlPlane else {
            Issue.record("expected the static driver")
            return
        }
        #expect(plane.machines.map(\.user) == ["deploy_2"])
    }

    // MARK: Duplicate keys

    static let duplicateKeys: [BadBlueprint] = [
        BadBlueprint(
            "duplicate key in a block mapping",
            """
            name: demo
            controlPlane:
              driver: local
              network: 10.213.0.0/24
              driver: static

            """,
            E(5, 3, "duplicate key 'driver'", help: "'driver' is already set at line 3, column 3; keep one")),
        BadBlueprint(
            "duplicate top-level key",
            """
            name: demo
            name: other
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            E(2, 1, "duplicate key 'name'", help: "'name' is already set at line 1, column 1; keep one")),
        BadBlueprint(
            "duplicate key in a flow mapping",
            """
            name: demo
            controlPlane: {driver: local, network: 10.213.0.0/24, network: 10.0.0.0/8}

            """,
            E(2, 55, "duplicate key 'network'", help: "'network' is already set at line 2, column 31; keep one")),
    ]

    @Test("duplicate keys are reported at the second one, naming the first", arguments: duplicateKeys)
    func duplicateKeyErrors(_ bad: BadBlueprint) {
        check(loadErrors(bad.yaml), bad.expected)
    }

    // MARK: Flavors and management

    static let flavors: [BadBlueprint] = [
        BadBlueprint(
            "misspelt flavor reference",
            """
            name: demo
            controlPlane:
              driver: local
              network: 10.213.0.0/24
            clusters:
              - name: web
                kind: swarm
                flavor: meduim
                roles: {managers: 1}

            """,
            E(8, 13, "flavor 'meduim' is not defined", help: "did you mean 'medium'?")),
        BadBlueprint(
            "flavor reference that resembles nothing",
            """
            name: demo
            controlPlane:
              driver: local
              network: 10.213.0.0/24
            clusters:
              - name: web
                kind: swarm
                roles:
                  managers: {count: 1, flavor: gigantic}

            """,
            E(9, 36, "flavor 'gigantic' is not defined", help: "define it under 'flavors:' or use one of: large, medium, small")),
        BadBlueprint(
            "user flavor offered as a suggestion",
            """
            name: demo
            flavors:
              gpu-node: {cpu: 8, memory: 32GiB, disk: 100GiB}
            controlPlane:
              driver: local
              network: 10.213.0.0/24
            clusters:
              - name: web
                kind: swarm
                flavor: gpu-nod
                roles: {managers: 1}

            """,
            E(10, 13, "flavor 'gpu-nod' is not defined", help: "did you mean 'gpu-node'?")),
        BadBlueprint(
            "misspelt management flavor",
            """
            name: demo
            management:
              machines: 1
              flavor: smal
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            E(4, 11, "flavor 'smal' is not defined", help: "did you mean 'small'?")),
        BadBlueprint(
            "sizes that are not sizes, or too small",
            """
            name: demo
            flavors:
              big: {cpu: 2, memory: 4 gigs, disk: 10MiB}
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            E(3, 25, "expected a size (like 512MiB or 4GiB) for flavors.big.memory, found '4 gigs'"),
            E(3, 39, "flavors.big.disk is 10MiB, below the minimum of 256MiB")),
        BadBlueprint(
            "memory below the minimum",
            """
            name: demo
            flavors:
              tiny: {cpu: 1, memory: 32MiB, disk: 1GiB}
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            E(3, 26, "flavors.tiny.memory is 32MiB, below the minimum of 64MiB")),
        BadBlueprint(
            "zero CPUs",
            """
            name: demo
            flavors:
              tiny: {cpu: 0, memory: 512MiB, disk: 1GiB}
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            E(3, 15, "flavors.tiny.cpu must be between 0.001 and 1024, found 0")),
        BadBlueprint(
            "negative CPUs",
            """
            name: demo
            flavors:
              tiny: {cpu: -1, memory: 512MiB, disk: 1GiB}
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            E(3, 15, "flavors.tiny.cpu must be between 0.001 and 1024, found -1")),
        BadBlueprint(
            "CPUs in exponent notation",
            """
            name: demo
            flavors:
              tiny: {cpu: 1e1, memory: 512MiB, disk: 1GiB}
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            E(3, 15, "expected a number of CPUs (like 1, 2 or 0.5) for flavors.tiny.cpu, found '1e1'")),
        BadBlueprint(
            "more CPUs than a machine can have",
            """
            name: demo
            flavors:
              tiny: {cpu: 2000, memory: 512MiB, disk: 1GiB}
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            E(3, 15, "flavors.tiny.cpu must be between 0.001 and 1024, found 2000")),
        BadBlueprint(
            "a flavor with errors is reported where it is defined, not again where it is used",
            """
            name: demo
            flavors:
              tiny: {cpu: 0, memory: 512MiB, disk: 1GiB}
              Big_One: {cpu: 2, memory: 4GiB, disk: 20GiB}
            management:
              machines: 1
              flavor: Big_One
            controlPlane:
              driver: local
              network: 10.213.0.0/24
            clusters:
              - name: web
                kind: swarm
                flavor: tiny
                roles:
                  managers: {count: 1, flavor: tiny}

            """,
            E(3, 15, "flavors.tiny.cpu must be between 0.001 and 1024, found 0"),
            E(
                4, 3, "flavor name 'Big_One' is not valid: '_' is not allowed; use lowercase letters, digits and '-'",
                help: "for example 'big-one'")),
        BadBlueprint(
            "two management machines",
            """
            name: demo
            management:
              machines: 2
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            E(
                3, 13, "management.machines must be 1, 3 or 5, found 2",
                help: "the management plane's etcd needs an odd number of members: 1 (no fault tolerance), 3 or 5")),
        BadBlueprint(
            "four management machines",
            """
            name: demo
            management:
              machines: 4
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            E(
                3, 13, "management.machines must be 1, 3 or 5, found 4",
                help: "the management plane's etcd needs an odd number of members: 1 (no fault tolerance), 3 or 5")),
        BadBlueprint(
            "seven management machines",
            """
            name: demo
            management:
              machines: 7
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            E(
                3, 13, "management.machines must be 1, 3 or 5, found 7",
                help: "the management plane's etcd needs an odd number of members: 1 (no fault tolerance), 3 or 5")),
    ]

    @Test("flavor references, sizes and management counts", arguments: flavors)
    func flavorErrors(_ bad: BadBlueprint) {
        check(loadErrors(bad.yaml), bad.expected)
    }

    // MARK: Control plane

    static let controlPlane: [BadBlueprint] = [
        BadBlueprint(
            "misspelt driver",
            """
            name: demo
            controlPlane:
              driver: locl
              network: 10.213.0.0/24

            """,
            E(3, 11, "unknown control-plane driver 'locl'", help: "did you mean 'local'?")),
        BadBlueprint(
            "driver photon does not have",
            """
            name: demo
            controlPlane:
              driver: vsphere
              network: 10.213.0.0/24

            """,
            E(3, 11, "unknown control-plane driver 'vsphere'", help: "valid drivers here: 'local', 'static'")),
        BadBlueprint(
            "network without a prefix length",
            """
            name: demo
            controlPlane:
              driver: local
              network: 10.213.0.0

            """,
            E(4, 12, "expected an IPv4 network in CIDR form (like 10.213.0.0/24) for controlPlane.network, found '10.213.0.0'")),
        BadBlueprint(
            "prefix length 33",
            """
            name: demo
            controlPlane:
              driver: local
              network: 10.213.0.0/33

            """,
            E(4, 12, "expected an IPv4 network in CIDR form (like 10.213.0.0/24) for controlPlane.network, found '10.213.0.0/33'")),
        BadBlueprint(
            "network with host bits set",
            """
            name: demo
            controlPlane:
              driver: local
              network: 10.213.0.5/24

            """,
            E(4, 12, "network 10.213.0.5/24 has host bits set", help: "did you mean 10.213.0.0/24?")),
        BadBlueprint(
            "bridge name too long",
            """
            name: demo
            controlPlane:
              driver: local
              network: 10.213.0.0/24
              bridge: a-very-long-bridge-name

            """,
            E(
                5, 11, "bridge name 'a-very-long-bridge-name' is not a valid Linux interface name",
                help: "use at most 15 letters, digits, '-', '_' or '.'")),
        BadBlueprint(
            "bridge name with a command separator",
            """
            name: demo
            controlPlane:
              driver: local
              network: 10.213.0.0/24
              bridge: "br0;reboot"

            """,
            E(
                5, 11, "bridge name 'br0;reboot' is not a valid Linux interface name",
                help: "use at most 15 letters, digits, '-', '_' or '.'")),
        BadBlueprint(
            "static machines under the local driver",
            """
            name: demo
            controlPlane:
              driver: local
              network: 10.213.0.0/24
              machines:
                - address: 10.0.0.5
                  hostKey: \(anyFingerprint)
              bogus: 1

            """,
            // 'machines' is not offered among the valid keys: it is reported as belonging to the other driver.
            E(5, 3, "'machines' belongs to 'driver: static'", help: "the local driver makes its own machines on 'network:'"),
            E(8, 3, "unknown key 'bogus' in controlPlane", help: "valid keys here: 'driver', 'network', 'bridge', 'layers'")),
        BadBlueprint(
            "network and bridge under the static driver",
            """
            name: demo
            controlPlane:
              driver: static
              network: 10.213.0.0/24
              bridge: br0
              machines:
                - address: 10.0.0.5
                  hostKey: \(anyFingerprint)
              bogus: 1

            """,
            E(4, 3, "'network' belongs to 'driver: local'", help: "static machines are listed under 'machines:' with their addresses"),
            E(5, 3, "'bridge' belongs to 'driver: local'", help: "static machines are listed under 'machines:' with their addresses"),
            E(9, 3, "unknown key 'bogus' in controlPlane", help: "valid keys here: 'driver', 'machines'")),
        BadBlueprint(
            "static machine address with a number out of range",
            """
            name: demo
            controlPlane:
              driver: static
              machines:
                - address: 10.0.0.256
                  hostKey: \(anyFingerprint)

            """,
            // All digits and dots: meant as an IPv4 address, not a host name.
            E(5, 16, "'10.0.0.256' is not a valid IPv4 address", help: "four numbers from 0 to 255 separated by dots")),
        BadBlueprint(
            "static machine address with three numbers",
            """
            name: demo
            controlPlane:
              driver: static
              machines:
                - address: 10.0.0
                  hostKey: \(anyFingerprint)

            """,
            E(5, 16, "'10.0.0' is not a valid IPv4 address", help: "four numbers from 0 to 255 separated by dots")),
        BadBlueprint(
            "static machine user with a command separator",
            """
            name: demo
            controlPlane:
              driver: static
              machines:
                - address: 10.0.0.5
                  user: "root; reboot"
                  hostKey: \(anyFingerprint)

            """,
            E(
                6, 13, "'root; reboot' is not a valid user name",
                help: "user names are lowercase letters, digits, '_' and '-', starting with a letter or '_'")),
        BadBlueprint(
            "RSA host key",
            """
            name: demo
            controlPlane:
              driver: static
              machines:
                - address: 10.0.0.5
                  hostKey: ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7

            """,
            E(
                6, 16, "host key algorithm ssh-rsa cannot be verified by photon's SSH library (libssh2 1.10 lacks rsa-sha2)",
                help: "pin the machine's ed25519 key instead: ssh-keyscan -t ed25519 HOST")),
        BadBlueprint(
            "DSA host key",
            """
            name: demo
            controlPlane:
              driver: static
              machines:
                - address: 10.0.0.5
                  hostKey: ssh-dss AAAAB3NzaC1kc3MAAACBAP

            """,
            E(
                6, 16, "host key algorithm ssh-dss (DSA) is obsolete and refused",
                help: "pin the machine's ed25519 key instead: ssh-keyscan -t ed25519 HOST")),
        BadBlueprint(
            "fingerprint of the wrong length",
            """
            name: demo
            controlPlane:
              driver: static
              machines:
                - address: 10.0.0.5
                  hostKey: SHA256:tooShort

            """,
            E(
                6, 16, "'SHA256:tooShort' is not a SHA-256 fingerprint",
                help: "'ssh-keygen -lf KEY.pub' prints one: SHA256: and 43 characters")),
        BadBlueprint(
            "host key that is no key at all",
            """
            name: demo
            controlPlane:
              driver: static
              machines:
                - address: 10.0.0.5
                  hostKey: not a key

            """,
            E(
                6, 16, "host key must be a 'SHA256:…' fingerprint, a public key ('ssh-ed25519 AAAA…') or a known_hosts line",
                help: "'ssh-keyscan -t ed25519 HOST' prints a known_hosts line")),
        BadBlueprint(
            "ed25519 key data that is not base64",
            """
            name: demo
            controlPlane:
              driver: static
              machines:
                - address: 10.0.0.5
                  hostKey: ssh-ed25519 AAAA!!notbase64

            """,
            E(
                6, 16, "the ssh-ed25519 key data is not valid base64 of an ssh-ed25519 key",
                help: "copy the line again from 'ssh-keyscan -t ed25519 HOST'")),
        BadBlueprint(
            "same machine listed twice",
            """
            name: demo
            controlPlane:
              driver: static
              machines:
                - address: 10.0.0.5
                  hostKey: \(anyFingerprint)
                - address: 10.0.0.5
                  hostKey: SHA256:BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB

            """,
            E(7, 16, "machine 10.0.0.5:22 is listed twice", help: "it is first listed at line 5")),
        BadBlueprint(
            "no static machines",
            """
            name: demo
            controlPlane:
              driver: static
              machines: []

            """,
            E(4, 13, "controlPlane.machines is empty", help: "list the machines photon may use")),
        BadBlueprint(
            "SSH port 0",
            """
            name: demo
            controlPlane:
              driver: static
              machines:
                - address: 10.0.0.5
                  port: 0
                  hostKey: \(anyFingerprint)

            """,
            E(6, 13, "controlPlane.machines[0].port must be between 1 and 65535, found 0")),
    ]

    @Test("control plane: drivers, networks, static machines and host keys", arguments: controlPlane)
    func controlPlaneErrors(_ bad: BadBlueprint) {
        check(loadErrors(bad.yaml), bad.expected)
    }

    // MARK: Secrets

    static let secrets: [BadBlueprint] = [
        BadBlueprint(
            "unset environment variable",
            """
            name: demo
            secrets:
              token: env:REGISTRY_TOKEN
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            variables: ["OTHER": "x"],
            E(3, 10, "environment variable REGISTRY_TOKEN is not set", help: "export REGISTRY_TOKEN before running photon, or use 'generate'")),
        BadBlueprint(
            "missing file, relative path",
            """
            name: demo
            secrets:
              key: file:keys/id_ed25519
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            existingFiles: ["/srv/photon/keys/other"],
            E(
                3, 8, "secret file 'keys/id_ed25519' does not exist or is not readable",
                help: "relative paths are read from the blueprint's directory (/srv/photon)")),
        BadBlueprint(
            "missing file, absolute path",
            """
            name: demo
            secrets:
              key: file:/nonexistent/key
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            E(3, 8, "secret file '/nonexistent/key' does not exist or is not readable")),
        BadBlueprint(
            "missing file, home path",
            """
            name: demo
            secrets:
              key: file:~/.photon/key
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            variables: ["HOME": "/home/op"], existingFiles: ["/srv/photon/~/.photon/key"],
            E(3, 8, "secret file '~/.photon/key' does not exist or is not readable")),
        BadBlueprint(
            "misspelt secret name",
            """
            name: demo
            secrets:
              deployKey: generate
            ssh:
              key: secret:deployKy
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            E(5, 8, "secret 'deployKy' is not defined under 'secrets:'", help: "did you mean 'deployKey'?")),
        BadBlueprint(
            "secret never defined",
            """
            name: demo
            ssh:
              key: secret:other
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            E(3, 8, "secret 'other' is not defined under 'secrets:'", help: "add 'other: generate' (or env:/file:) under 'secrets:'")),
        BadBlueprint(
            "literal secret value",
            """
            name: demo
            secrets:
              token: hunter2
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            E(
                3, 10, "'hunter2' is not a secret reference",
                help: "write 'env:NAME', 'file:PATH', 'generate' or 'secret:NAME'; secret values never go in a blueprint")),
        BadBlueprint(
            "unknown reference scheme",
            """
            name: demo
            secrets:
              token: vault:kv/token
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            E(
                3, 10, "'vault:kv/token' is not a secret reference",
                help: "write 'env:NAME', 'file:PATH', 'generate' or 'secret:NAME'; secret values never go in a blueprint")),
        BadBlueprint(
            "reference without a name",
            """
            name: demo
            secrets:
              token: "env:"
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            E(
                3, 10, "'env:' is not a secret reference",
                help: "write 'env:NAME', 'file:PATH', 'generate' or 'secret:NAME'; secret values never go in a blueprint")),
        BadBlueprint(
            "secret naming another secret",
            """
            name: demo
            secrets:
              a: generate
              b: secret:a
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            E(
                4, 6, "a secret under 'secrets:' must say where its value comes from, not name another secret",
                help: "use 'env:NAME', 'file:PATH' or 'generate'")),
        BadBlueprint(
            "secret name with a hyphen",
            """
            name: demo
            secrets:
              my-token: generate
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            E(
                3, 3, "secret name 'my-token' is not valid",
                help: "use letters, digits and '_', starting with a letter, so templates can name it as secrets.my_token")),
        BadBlueprint(
            "secret name starting with a digit",
            """
            name: demo
            secrets:
              1-key: generate
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            E(
                3, 3, "secret name '1-key' is not valid",
                help: "use letters, digits and '_', starting with a letter, so templates can name it as secrets.key")),
        BadBlueprint(
            "generate: false",
            """
            name: demo
            secrets:
              token: {generate: false}
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            E(3, 10, "'generate: false' gives the secret no value", help: "use 'env:NAME' or 'file:PATH' instead")),
        BadBlueprint(
            "the long form of generate, misspelt or not a boolean",
            """
            name: demo
            secrets:
              a: {generat: true}
              b: {generate: yes}
              c: {}
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            E(3, 7, "unknown key 'generat' in secrets.a", help: "did you mean 'generate'?"),
            E(4, 17, "expected true or false for secrets.b.generate, found 'yes'"),
            E(5, 6, "missing required key 'generate' in secrets.c")),
        BadBlueprint(
            "list of secrets",
            """
            name: demo
            secrets:
              - generate
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """,
            E(3, 3, "expected a mapping for secrets, found a list")),
    ]

    @Test("secret references that cannot be resolved or are malformed", arguments: secrets)
    func secretErrors(_ bad: BadBlueprint) {
        check(loadErrors(bad.yaml, variables: bad.variables, existingFiles: bad.existingFiles), bad.expected)
    }

    @Test("secret references that resolve load")
    func resolvableSecrets() throws {
        let yaml = """
            name: demo
            secrets:
              token: env:REGISTRY_TOKEN
              key: file:keys/id_ed25519
              home: file:~/.photon/key
              absolute: file:/etc/photon/key
              random: generate
              long: {generate: true}
              block:
                generate: true
            ssh:
              key: secret:key
            controlPlane:
              driver: local
              network: 10.213.0.0/24

            """
        let blueprint = try loader(
            variables: ["REGISTRY_TOKEN": "t", "HOME": "/home/op"],
            existingFiles: ["/srv/photon/keys/id_ed25519", "/home/op/.photon/key", "/etc/photon/key"]
        )
        .load(bytes: Array(yaml.utf8), file: "bp.yaml")
        #expect(blueprint.secrets.map(\.name.value) == ["token", "key", "home", "absolute", "random", "long", "block"])
        // '{generate: true}' is the long form of 'generate'.
        #expect(
            blueprint.secrets.map(\.reference.value) == [
                .environment("REGISTRY_TOKEN"), .file("keys/id_ed25519"), .file("~/.photon/key"), .file("/etc/photon/key"), .generate,
                .generate, .generate,
            ])
        #expect(blueprint.ssh.key?.value == .named("key"))
        #expect(blueprint.ssh.key?.location == PhotonCore.SourceLocation(file: "bp.yaml", line: 12, column: 8))
    }

    // MARK: Rollout

    static let rollout: [BadBlueprint] = [
        BadBlueprint(
            "maxInFlight 0",
            """
            name: demo
            controlPlane:
              driver: local
              network: 10.213.0.0/24
            clusters:
              - name: web
                kind: swarm
                roles: {managers: 1}
                rollout: {maxInFlight: 0}

            """,
            E(9, 28, "clusters[0].rollout.maxInFlight must be a count of at least 1 or a percentage from 1% to 100%, found '0'")),
        BadBlueprint(
            "maxInFlight 150%",
            """
            name: demo
            controlPlane:
              driver: local
              network: 10.213.0.0/24
            clusters:
              - name: web
                kind: swarm
                roles: {managers: 1}
                rollout:
                  maxInFlight: 150%

            """,
            E(10, 20, "clusters[0].rollout.maxInFlight must be a count of at least 1 or a percentage from 1% to 100%, found '150%'")),
        BadBlueprint(
            "canaries -1",
            """
            name: demo
            controlPlane:
              driver: local
              network: 10.213.0.0/24
            clusters:
              - name: web
                kind: swarm
                roles: {managers: 1}
                rollout:
                  canaries: -1

            """,
            E(10, 17, "clusters[0].rollout.canaries must be between 0 and 1000, found -1")),
        BadBlueprint(
            "role rollout with 0% and a word",
            """
            name: demo
            controlPlane:
              driver: local
              network: 10.213.0.0/24
            clusters:
              - name: web
                kind: swarm
                roles:
                  managers:
                    count: 1
                    rollout: {maxInFlight: "0%", canaries: many}

            """,
            E(11, 32, "clusters[0].roles.managers.rollout.maxInFlight must be a count of at least 1 or a percentage from 1% to 100%, found '0%'"),
            E(11, 48, "expected an integer for clusters[0].roles.managers.rollout.canaries, found 'many'")),
        BadBlueprint(
            "maxInFlight as a list",
            """
            name: demo
            controlPlane:
              driver: local
              network: 10.213.0.0/24
            clusters:
              - name: web
                kind: swarm
                roles: {managers: 1}
                rollout: {maxInFlight: [1]}

            """,
            E(9, 28, "expected a count or a percentage (like 2 or 25%) for clusters[0].rollout.maxInFlight, found a list")),
    ]

    @Test("rollout limits", arguments: rollout)
    func rolloutErrors(_ bad: BadBlueprint) {
        check(loadErrors(bad.yaml), bad.expected)
    }

    // MARK: Everything at once

    @Test("every error in a file is reported in one run, sorted by position")
    func manyErrorsAtOnce() {
        let yaml = """
            version: 3
            name: Demo
            flavors:
              big: {cpu: 2, memory: 1GiB, disk: 1MiB}
            controlPlane:
              driver: local
              network: 10.213.0.1/24
            secrets:
              token: env:MISSING
            clusters:
              - name: web
                kind: swarm
                flavor: hug
                roles: {managers: two}
              - name: web
                kind: swarm
                roles: {managers: 1}
                extra: 1

            """
        check(
            loadErrors(yaml),
            [
                E(1, 10, "this photon reads blueprint version 1, found version 3"),
                E(
                    2, 7,
                    "deployment name 'Demo' is not a valid host name part: it has uppercase letters; names are lowercase so that host names, DNS and cluster software agree",
                    help: "use lowercase letters, digits and '-', for example 'demo'"),
                E(4, 37, "flavors.big.disk is 1MiB, below the minimum of 256MiB"),
                E(7, 12, "network 10.213.0.1/24 has host bits set", help: "did you mean 10.213.0.0/24?"),
                E(9, 10, "environment variable MISSING is not set", help: "export MISSING before running photon, or use 'generate'"),
                E(13, 13, "flavor 'hug' is not defined", help: "define it under 'flavors:' or use one of: large, medium, small"),
                E(14, 23, "expected an integer for clusters[0].roles.managers, found 'two'"),
                E(15, 11, "duplicate cluster name 'web'", help: "a cluster named 'web' is already defined at line 11; cluster names must be unique"),
                E(18, 5, "unknown key 'extra' in clusters[1]", help: "valid keys here: 'name', 'kind', 'flavor', 'roles', 'settings', 'rollout'"),
            ])
    }

    @Test("syntax errors stop the reading: only the first one is reported")
    func syntaxErrorStops() {
        // libyaml cannot recover, so the later problems (an unknown key, a bad name) are not reached.
        let yaml = "name: Demo\nbogus: 1\ncontrolPlane:\n\tdriver: local\n"
        check(
            loadErrors(yaml),
            [
                E(
                    4, 1, "found character that cannot start any token",
                    help: "YAML indentation must use spaces, not tabs")
            ])
    }

    @Test("diagnostics render as file:line:column: error: message, then help")
    func rendering() {
        let diagnostics = loadErrors(
            """
            name: demo
            controlPlane:
              driver: locl
              network: 10.213.0.0/24

            """)
        #expect(
            diagnostics.map(\.description) == [
                "bp.yaml:3:11: error: unknown control-plane driver 'locl'\n  help: did you mean 'local'?"
            ])
    }

    @Test("a good blueprint loads, with the positions of what it says")
    func goodBlueprint() throws {
        let yaml = """
            version: 1
            name: demo
            flavors:
              big: {cpu: 0.5, memory: 1536MiB, disk: 10GiB}
            controlPlane:
              driver: local
              network: 10.213.0.0/24
            clusters:
              - name: web
                kind: swarm
                flavor: big
                roles:
                  managers: 3
                  workers: {count: 2, flavor: medium, rollout: {maxInFlight: 50%, canaries: 0}}
                rollout: {maxInFlight: 2}
                settings:
                  dataRoot: /data/docker

            """
        let blueprint = try loader().load(bytes: Array(yaml.utf8), file: "bp.yaml")
        #expect(blueprint.name == Located("demo", at: PhotonCore.SourceLocation(file: "bp.yaml", line: 2, column: 7)))
        #expect(
            blueprint.flavors["big"]
                == Flavor(
                    name: "big", milliCPU: 500, memory: ByteSize(bytes: 1536 << 20), disk: ByteSize(bytes: 10 << 30),
                    location: PhotonCore.SourceLocation(file: "bp.yaml", line: 4, column: 3)))
        guard case .local(let local) = blueprint.controlPlane else {
            Issue.record("expected the local driver")
            return
        }
        #expect(local.network.value.description == "10.213.0.0/24")
        #expect(local.network.location == PhotonCore.SourceLocation(file: "bp.yaml", line: 7, column: 12))
        let cluster = try #require(blueprint.clusters.first)
        #expect(cluster.roles.map(\.name.value) == ["managers", "workers"])
        #expect(cluster.roles.map(\.count.value) == [3, 2])
        #expect(cluster.role("workers")?.count.location == PhotonCore.SourceLocation(file: "bp.yaml", line: 14, column: 24))
        #expect(cluster.role("workers")?.rollout == Rollout(maxInFlight: .percent(50), canaries: 0))
        #expect(cluster.rollout == Rollout(maxInFlight: .count(2)))
        #expect(cluster.settings.map(\.name) == ["dataRoot"])
    }
}
