import Foundation
import Kinds
import PhotonCore
import Testing

// Kinds built in a temporary folder and exactly what the loader says about them (message, file, line,
// column, help), plus the shipped kinds in templates/. Each bad kind is a whole kind.yaml, so positions
// can be checked by eye.

// MARK: Helpers

/// A kind folder named `folder` inside a fresh temporary directory, holding `kind.yaml` and `files`;
/// the directory is removed when `body` returns or throws.
func withKindFolder<T>(
    named folder: String = "demo", yaml: String, files: [String: String] = [:],
    _ body: (_ folderPath: String) throws -> T
) throws -> T {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("photon-kind-tests-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: root) }
    let path = root + "/" + folder
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    try Data(yaml.utf8).write(to: URL(fileURLWithPath: path + "/kind.yaml"))
    for (name, text) in files { try Data(text.utf8).write(to: URL(fileURLWithPath: path + "/" + name)) }
    return try body(path)
}

/// One diagnostic as text, with the kind folder's path taken out: `kind.yaml:6:9: message [help: …]`.
func describe(_ diagnostic: Diagnostic, folder: String) -> String {
    func local(_ text: String) -> String { text.replacingOccurrences(of: folder, with: "<folder>") }
    var text = diagnostic.location.map { "\(local($0.file).replacingOccurrences(of: "<folder>/", with: "")):\($0.line):\($0.column): " } ?? ""
    text += local(diagnostic.message)
    if let help = diagnostic.help { text += " [help: \(local(help))]" }
    return text
}

/// The diagnostics loading the kind throws, described; records an issue when it loads.
func loadErrors(
    folder: String = "demo", _ yaml: String, files: [String: String] = [:],
    sourceLocation: Testing.SourceLocation = #_sourceLocation
) throws -> [String] {
    try withKindFolder(named: folder, yaml: yaml, files: files) { path in
        do {
            _ = try KindLoader.load(folder: path, name: folder)
            Issue.record("expected the kind not to load", sourceLocation: sourceLocation)
            return []
        } catch let error as DiagnosticsError {
            return error.diagnostics.map { describe($0, folder: path) }
        }
    }
}

/// Loads a kind that must be valid.
func loadKind(folder: String = "demo", _ yaml: String, files: [String: String] = [:]) throws -> Kind {
    try withKindFolder(named: folder, yaml: yaml, files: files) { path in try KindLoader.load(folder: path, name: folder) }
}

/// A bad kind: its files and every diagnostic expected, in order, as `describe` writes them.
struct BadKind: Sendable, CustomTestStringConvertible {
    var name: String
    var folder = "demo"
    var yaml: String
    var files: [String: String] = [:]
    var expected: [String]

    var testDescription: String { name }
}

/// The folder holding the shipped kinds: the repository's templates/.
let shippedTemplates = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("templates").path

// MARK: Bad kinds

let badKinds: [BadKind] = [
    BadKind(
        name: "kind: must match the folder",
        yaml: """
            kind: other
            roles:
              - name: nodes
                count: {min: 1}
                configure:
                  - run: [echo, hi]
            """,
        expected: [
            "kind.yaml:1:7: kind 'other' is in folder 'demo'; the folder name is the kind's name"
        ]),

    BadKind(
        name: "upload of a template that does not exist, with a suggestion",
        yaml: """
            kind: demo
            roles:
              - name: nodes
                count: {min: 1}
                configure:
                  - upload: daemon.jsn
                    path: /etc/docker/daemon.json
            """, files: ["daemon.json.mustache": "{}\n"],
        expected: [
            "kind.yaml:6:17: template 'daemon.jsn' does not exist in <folder> [help: did you mean 'daemon.json'?]"
        ]),

    BadKind(
        name: "upload of a template that does not exist, nothing close",
        yaml: """
            kind: demo
            roles:
              - name: nodes
                count: {min: 1}
                configure:
                  - upload: zookeeper.cfg
                    path: /etc/zookeeper/zoo.cfg
            """, files: ["daemon.json.mustache": "{}\n"],
        expected: [
            "kind.yaml:6:17: template 'zookeeper.cfg' does not exist in <folder> [help: create zookeeper.cfg.mustache beside kind.yaml]"
        ]),

    BadKind(
        name: "{{setings.x}}: a misspelt namespace",
        yaml: """
            kind: demo
            settings:
              port:
                type: port
                default: 8080
            roles:
              - name: nodes
                count: {min: 1}
                configure:
                  - run: [echo, "{{setings.port}}"]
            """,
        expected: [
            "kind.yaml:10:22: 'setings.port' does not exist [help: did you mean 'settings'?]"
        ]),

    BadKind(
        name: "{{settings.nope}}: an undeclared setting",
        yaml: """
            kind: demo
            settings:
              port:
                type: port
                default: 8080
            roles:
              - name: nodes
                count: {min: 1}
                configure:
                  - run: [serve, "--port={{settings.nope}}"]
            """,
        expected: [
            "kind.yaml:10:30: 'settings.nope' does not exist: kind demo declares no setting named 'nope', so settings has no 'nope' [help: valid names here: 'port']"
        ]),

    BadKind(
        name: "{{settings.prot}} in a template file, at the template file's line",
        yaml: """
            kind: demo
            settings:
              port:
                type: port
                default: 8080
            roles:
              - name: nodes
                count: {min: 1}
            """, files: ["config.mustache": "# config\nlisten = 0.0.0.0:{{settings.prot}}\n"],
        expected: [
            "config.mustache:2:18: 'settings.prot' does not exist: kind demo declares no setting named 'prot', so settings has no 'prot' [help: did you mean 'port'?]"
        ]),

    BadKind(
        name: "{{captured.token}} with no capture step",
        yaml: """
            kind: demo
            roles:
              - name: nodes
                count: {min: 1}
                join:
                  - run: [kubeadm, join, --token, "{{captured.token}}"]
            """,
        expected: [
            "kind.yaml:6:40: 'captured.token' does not exist: no step captures it, so captured has no 'token' [help: no name is allowed here]"
        ]),

    BadKind(
        name: "{{captured.joinTokn}}: a misspelt capture",
        yaml: """
            kind: demo
            roles:
              - name: nodes
                count: {min: 1}
                join:
                  - on: first
                    capture: joinToken
                    command: [make-token]
                  - on: others
                    run: [join, "{{captured.joinTokn}}"]
            """,
        expected: [
            "kind.yaml:10:22: 'captured.joinTokn' does not exist: no step captures it, so captured has no 'joinTokn' [help: did you mean 'joinToken'?]"
        ]),

    BadKind(
        name: "an undeclared service in when:",
        yaml: """
            kind: demo
            services:
              etcd:
                required: true
            roles:
              - name: plane
                count: {min: 1}
                configure:
                  - when: services.haproxy
                    run: [systemctl, start, haproxy]
            """,
        expected: [
            "kind.yaml:9:9: 'services.haproxy' does not exist: services has no 'haproxy' [help: valid names here: 'etcd']"
        ]),

    BadKind(
        name: "via: masterz names no role",
        yaml: """
            kind: demo
            roles:
              - name: masters
                count: {min: 1}
              - name: workers
                count: {min: 0}
                drain:
                  - via: masterz
                    run: [drain, "{{machine.hostname}}"]
            """,
        expected: [
            "kind.yaml:8:9: 'via: masterz' names no role of kind demo [help: did you mean 'masters'?]"
        ]),

    BadKind(
        name: "a bring-up step via a role that comes up later",
        yaml: """
            kind: demo
            roles:
              - name: workers
                count: {min: 0}
                join:
                  - via: masters
                    run: [approve, "{{machine.hostname}}"]
                drain:
                  - via: masters
                    run: [drain, "{{machine.hostname}}"]
              - name: masters
                count: {min: 1}
            """,
        expected: [
            "kind.yaml:6:9: role workers runs a join step via masters, which comes up after it [help: run it via workers or an earlier role, or move masters before workers in 'roles']"
        ]),

    BadKind(
        name: "a role field that does not exist",
        yaml: """
            kind: demo
            roles:
              - name: masters
                count: {min: 1}
              - name: workers
                count: {min: 0}
                join:
                  - run: [join, "{{roles.masters.adresses}}", "{{roles.mastr.first.address}}"]
            """,
        expected: [
            "kind.yaml:8:22: 'roles.masters.adresses' does not exist: a role has no 'adresses' [help: did you mean 'addresses'?]",
            "kind.yaml:8:52: 'roles.mastr.first.address' does not exist: roles has no 'mastr' [help: did you mean 'masters'?]",
        ]),

    BadKind(
        name: "a machine field that does not exist",
        yaml: """
            kind: demo
            roles:
              - name: nodes
                count: {min: 1}
                configure:
                  - run: [echo, "{{machine.ip}}"]
            """,
        expected: [
            "kind.yaml:6:22: 'machine.ip' does not exist: machine has no 'ip' [help: valid names here: 'address', 'certificates', 'cpus', 'diskGiB', 'existing', 'first', 'flavor', 'hostname', 'index', 'last', 'memoryMiB', 'name', …]"
        ]),

    BadKind(
        name: "certificates: unknown issuer and role, missing usages, an authority with roles",
        yaml: """
            kind: demo
            certificates:
              ca: {authority: true}
              member: {issuer: cA, roles: [nodez], usages: [server]}
              client: {issuer: ca, roles: [nodes]}
              odd: {authority: true, roles: [nodes]}
              bad: {issuer: ca, roles: [nodes], usages: [peer]}
            roles:
              - name: nodes
                count: {min: 1}
            """,
        expected: [
            "kind.yaml:4:3: certificate 'member' names issuer 'cA', which is not an authority of kind demo [help: did you mean 'ca'?]",
            "kind.yaml:4:3: certificate 'member' names role 'nodez', which kind demo does not have [help: did you mean 'nodes'?]",
            "kind.yaml:5:3: certificate 'client' needs 'usages': server, client or both",
            "kind.yaml:6:3: certificate authority 'odd' takes no issuer, roles or usages [help: an authority signs leaves; declare each leaf with 'issuer: odd']",
            "kind.yaml:7:46: expected server or client for certificates.bad.usages[0], found 'peer'",
        ]),

    BadKind(
        name: "certificate names in templates: authorities under certificates, a machine's leaves under machine.certificates",
        yaml: """
            kind: demo
            certificates:
              ca: {authority: true}
              member: {issuer: ca, roles: [nodes], usages: [server, client]}
            roles:
              - name: nodes
                count: {min: 1}
                configure:
                  - run: [echo, "{{certificates.member.certificate}}", "{{certificates.ca.key}}", "{{machine.certificates.ca.certificate}}"]
                  - run: [echo, "{{machine.certificates.membr.key}}", "{{machine.certificates.member.pem}}", "{{certificates.ca.certificate}}"]
            """,
        expected: [
            "kind.yaml:9:22: 'certificates.member.certificate' does not exist: kind demo declares no certificate authorities named 'member' under certificates [help: valid certificates here: 'ca']",
            "kind.yaml:9:61: 'certificates.ca.key' does not exist: certificates.ca has certificate [help: valid names here: 'certificate']",
            "kind.yaml:9:88: 'machine.certificates.ca.certificate' does not exist: kind demo declares no leaf certificates (a machine's own) named 'ca' under certificates [help: valid certificates here: 'member']",
            "kind.yaml:10:22: 'machine.certificates.membr.key' does not exist: kind demo declares no leaf certificates (a machine's own) named 'membr' under certificates [help: did you mean 'member'?]",
            "kind.yaml:10:60: 'machine.certificates.member.pem' does not exist: machine.certificates.member has certificate and key [help: valid names here: 'certificate', 'key']",
        ]),

    BadKind(
        name: "bad file mode \"0999\"",
        yaml: """
            kind: demo
            roles:
              - name: nodes
                count: {min: 1}
                configure:
                  - upload: config
                    path: /etc/config
                    mode: "0999"
            """, files: ["config.mustache": "x\n"],
        expected: [
            "kind.yaml:8:15: expected an octal file mode (like \"0644\") for roles[0].configure[0].mode, found the string \"0999\""
        ]),

    BadKind(
        name: "count.default below the role's own minimum",
        yaml: """
            kind: demo
            roles:
              - name: managers
                count: {min: 1, max: 7, default: 0}
            """,
        expected: [
            "kind.yaml:4:12: count.default (0) breaks the role's own rule: it must be at least 1 machine"
        ]),

    BadKind(
        name: "count.min above count.max",
        yaml: """
            kind: demo
            roles:
              - name: managers
                count: {min: 3, max: 1}
            """,
        expected: [
            "kind.yaml:4:12: count.min (3) is above count.max (1)"
        ]),

    BadKind(
        name: "a setting with a type that does not exist",
        yaml: """
            kind: demo
            settings:
              port:
                type: prot
                default: 8080
            roles:
              - name: nodes
                count: {min: 1}
            """,
        expected: [
            "kind.yaml:4:11: expected one of string, int, bool, cidr, version, duration, secret, port, list, path, image, size, domain, hostname for settings.port.type, found 'prot'"
        ]),

    BadKind(
        name: "a wait step with neither port nor command",
        yaml: """
            kind: demo
            roles:
              - name: nodes
                count: {min: 1}
                health:
                  - wait: {host: "{{machine.address}}"}
                    timeout: 60s
            """,
        expected: [
            "kind.yaml:6:15: a wait step needs either 'port' or 'command'"
        ]),

    BadKind(
        name: "a wait step with both port and command",
        yaml: """
            kind: demo
            roles:
              - name: nodes
                count: {min: 1}
                health:
                  - wait:
                      port: "2379"
                      command: [etcdctl, endpoint, health]
            """,
        expected: [
            "kind.yaml:7:11: a wait step needs either 'port' or 'command'"
        ]),

    BadKind(
        name: "a partial that does not exist",
        yaml: """
            kind: demo
            roles:
              - name: nodes
                count: {min: 1}
                configure:
                  - upload: config
                    path: /etc/config
            """, files: ["config.mustache": "# config\n{{>hedaer}}\nbody\n", "header.mustache": "# header\n"],
        expected: [
            "config.mustache:2:1: partial 'hedaer' does not exist [help: did you mean 'header'?]"
        ]),

    BadKind(
        name: "a template with a syntax error, at the template file's line",
        yaml: """
            kind: demo
            roles:
              - name: nodes
                count: {min: 1}
            """, files: ["config.mustache": "line 1\nline 2\n  {{#machine}}\n{{name}}\n"],
        expected: [
            "config.mustache:3:3: section 'machine' is never closed [help: add {{/machine}}]"
        ]),

    BadKind(
        name: "a syntax error in a command template inside kind.yaml",
        yaml: """
            kind: demo
            roles:
              - name: nodes
                count: {min: 1}
                configure:
                  - run: [sh, -c, "echo {{machine.address}"]
            """,
        expected: [
            "kind.yaml:6:29: unclosed tag: '{{' without a matching '}}'"
        ]),

    BadKind(
        name: "an unknown step key, with a suggestion",
        yaml: """
            kind: demo
            roles:
              - name: nodes
                count: {min: 1}
                configure:
                  - run: [echo, hi]
                    tiemout: 60s
            """,
        expected: [
            "kind.yaml:7:9: unknown key 'tiemout' in roles[0].configure[0] [help: did you mean 'timeout'?]"
        ]),

    BadKind(
        name: "an unknown key in a role and at the top level",
        yaml: """
            kind: demo
            descripton: a demo
            roles:
              - name: nodes
                count: {min: 1}
                flavour: small
            """,
        expected: [
            "kind.yaml:2:1: unknown key 'descripton' in the top level [help: did you mean 'description'?]",
            "kind.yaml:6:5: unknown key 'flavour' in roles[0] [help: did you mean 'flavor'?]",
        ]),

    BadKind(
        name: "on: with a value that is not all, first or others",
        yaml: """
            kind: demo
            roles:
              - name: nodes
                count: {min: 1}
                join:
                  - on: firts
                    run: [init]
            """,
        expected: [
            "kind.yaml:6:13: expected all, first or others for roles[0].join[0].on, found 'firts'"
        ]),

    BadKind(
        name: "a capture name that is not a word, and an artifact that does not exist",
        yaml: """
            kind: demo
            roles:
              - name: nodes
                count: {min: 1}
                join:
                  - capture: join-token
                    command: [make-token]
                  - artifact: kubectl
                    path: /usr/local/bin/kubectl
            """,
        expected: [
            "kind.yaml:6:18: capture name 'join-token' must be a word of letters, digits and '_'",
            "kind.yaml:8:19: unknown artifact 'kubectl' [help: artifacts are photon, plane-certificate, plane-key, state-key, ssh-key (photon's executable, and the management plane's certificate, its key, the key that seals secrets, the deployment's SSH key)]",
        ]),

    BadKind(
        name: "role names must be host name parts, and unique",
        yaml: """
            kind: demo
            roles:
              - name: Masters
                count: {min: 1}
              - name: workers
                count: {min: 0}
              - name: workers
                count: {min: 0}
            """,
        expected: [
            "kind.yaml:3:5: role name 'Masters' is not a valid host name part: it has uppercase letters; names are lowercase so that host names, DNS and cluster software agree",
            "kind.yaml:7:5: role 'workers' is declared twice",
        ]),

    BadKind(
        name: "missing required keys",
        yaml: """
            description: no kind and no roles
            """,
        expected: [
            "kind.yaml:1:1: missing required key 'kind' in the top level",
            "kind.yaml:1:1: missing required key 'roles' in the top level",
        ]),

    BadKind(
        name: "every problem of the kind at once, sorted by file and position",
        yaml: """
            kind: demo
            settings:
              port:
                type: port
                default: 8080
            roles:
              - name: nodes
                count: {min: 2, max: 1}
                configure:
                  - upload: confg
                    path: "/etc/{{setings.dir}}"
                  - run: [echo, "{{settings.prot}}"]
                    via: nodez
            """, files: ["config.mustache": "{{#a}}\n"],
        expected: [
            "config.mustache:1:1: section 'a' is never closed [help: add {{/a}}]",
            "kind.yaml:8:12: count.min (2) is above count.max (1)",
            "kind.yaml:10:17: template 'confg' does not exist in <folder> [help: create confg.mustache beside kind.yaml]",
            "kind.yaml:11:21: 'setings.dir' does not exist [help: did you mean 'settings'?]",
            "kind.yaml:12:9: 'via: nodez' names no role of kind demo [help: did you mean 'nodes'?]",
            "kind.yaml:12:22: 'settings.prot' does not exist: kind demo declares no setting named 'prot', so settings has no 'prot' [help: did you mean 'port'?]",
        ]),
]

// MARK: Tests

@Suite("Kind loader")
struct KindLoaderTests {

    @Test("bad kinds report exactly what is wrong and where", arguments: badKinds)
    func badKind(_ kind: BadKind) throws {
        let diagnostics = try loadErrors(folder: kind.folder, kind.yaml, files: kind.files)
        #expect(diagnostics == kind.expected)
    }

    @Test("an unknown step type is one diagnostic at its key, suggesting the closest type")
    func unknownStepType() throws {
        let diagnostics = try loadErrors(
            """
            kind: demo
            roles:
              - name: nodes
                count: {min: 1}
                configure:
                  - uplod: config
                    path: /etc/config
            """)
        #expect(
            diagnostics.first
                == "kind.yaml:6:9: a step needs one of 'upload', 'artifact', 'binary', 'run', 'capture', 'wait', 'service' [help: did you mean 'upload'?]")
    }

    @Test("two actions in one step are reported at the step")
    func twoActions() throws {
        let diagnostics = try loadErrors(
            """
            kind: demo
            roles:
              - name: nodes
                count: {min: 1}
                configure:
                  - upload: config
                    path: /etc/config
                    run: [echo, hi]
            """, files: ["config.mustache": "x\n"])
        #expect(diagnostics.first == "kind.yaml:6:9: a step has one action; this one has 'upload' and 'run'")
    }

    @Test("uploading a template with a syntax error reports the syntax error at the template's line")
    func uploadOfBrokenTemplate() throws {
        let diagnostics = try loadErrors(
            """
            kind: demo
            roles:
              - name: nodes
                count: {min: 1}
                configure:
                  - upload: config
                    path: /etc/config
            """, files: ["config.mustache": "line 1\nline 2\n  {{#machine}}\n{{name}}\n"])
        #expect(diagnostics.first == "config.mustache:3:3: section 'machine' is never closed [help: add {{/machine}}]")
    }

    @Test("uploading a template with a syntax error does not also claim the template is missing")
    func uploadOfBrokenTemplateOnlyReportsTheSyntaxError() throws {
        let diagnostics = try loadErrors(
            """
            kind: demo
            roles:
              - name: nodes
                count: {min: 1}
                configure:
                  - upload: config
                    path: /etc/config
            """, files: ["config.mustache": "line 1\nline 2\n  {{#machine}}\n{{name}}\n"])
        #expect(diagnostics == ["config.mustache:3:3: section 'machine' is never closed [help: add {{/machine}}]"])
    }

    @Test("an unknown step type or two actions produce no extra 'unknown key' noise for the step's keys")
    func stepErrorsWithoutNoise() throws {
        let unknownType = try loadErrors(
            """
            kind: demo
            roles:
              - name: nodes
                count: {min: 1}
                configure:
                  - uplod: config
                    path: /etc/config
            """)
        #expect(
            unknownType == [
                "kind.yaml:6:9: a step needs one of 'upload', 'artifact', 'binary', 'run', 'capture', 'wait', 'service' [help: did you mean 'upload'?]"
            ])
        let twoActions = try loadErrors(
            """
            kind: demo
            roles:
              - name: nodes
                count: {min: 1}
                configure:
                  - upload: config
                    path: /etc/config
                    run: [echo, hi]
            """, files: ["config.mustache": "x\n"])
        #expect(twoActions == ["kind.yaml:6:9: a step has one action; this one has 'upload' and 'run'"])
    }

    @Test("count.default that is even in an odd role")
    func evenDefaultInOddRoleLocation() throws {
        let diagnostics = try loadErrors(
            """
            kind: demo
            roles:
              - name: managers
                count: {min: 1, max: 7, odd: true, default: 2}
            """)
        #expect(diagnostics == ["kind.yaml:4:12: count.default (2) breaks the role's own rule: it must be an odd number of machines"])
    }

    @Test("template positions inside kind.yaml are right after escaped quotes in a double-quoted string")
    func positionAfterEscapes() throws {
        let diagnostics = try loadErrors(
            """
            kind: demo
            roles:
              - name: nodes
                count: {min: 1}
                configure:
                  - run: [tr, -d, "echo \\"$1\\" {{machine.adress}}"]
            """)
        // The tag starts at column 36 of line 6 in the file.
        #expect(
            diagnostics == [
                "kind.yaml:6:36: 'machine.adress' does not exist: machine has no 'adress' [help: did you mean 'address'?]"
            ])
    }

    @Test("template positions inside kind.yaml are right in block scalars")
    func positionInBlockScalar() throws {
        let diagnostics = try loadErrors(
            """
            kind: demo
            roles:
              - name: nodes
                count: {min: 1}
                configure:
                  - run:
                      - tr
                      - -d
                      - |
                        set -e
                        echo {{machine.adress}}
            """)
        #expect(
            diagnostics == [
                "kind.yaml:11:18: 'machine.adress' does not exist: machine has no 'adress' [help: did you mean 'address'?]"
            ])
    }

    @Test("the temporary kind folder is removed after the case, also when it throws")
    func temporaryFolderIsRemoved() throws {
        struct Failure: Error {}
        var seen = ""
        _ = try withKindFolder(yaml: "kind: demo\n") { path in
            seen = path
            #expect(FileManager.default.fileExists(atPath: path + "/kind.yaml"))
        }
        #expect(!seen.isEmpty && !FileManager.default.fileExists(atPath: seen))
        #expect(throws: Failure.self) {
            try withKindFolder(yaml: "kind: demo\n") { path in
                seen = path
                throw Failure()
            }
        }
        #expect(!FileManager.default.fileExists(atPath: seen))
        #expect(!FileManager.default.fileExists(atPath: URL(fileURLWithPath: seen).deletingLastPathComponent().path))
    }

    // MARK: Good kinds

    @Test("a small valid kind loads with its settings, roles, steps and templates")
    func validKind() throws {
        let kind = try loadKind(
            """
            kind: demo
            description: a demo kind
            settings:
              port:
                type: port
                default: 8080
                description: where it listens
              mode:
                type: string
                default: fast
                values: [fast, safe]
              peers:
                type: list
                default: [a, b]
            roles:
              - name: leaders
                count: {min: 1, max: 5, odd: true, default: 3}
                flavor: small
                configure:
                  - upload: config
                    path: /etc/demo/{{machine.hostname}}.conf
                    mode: "0600"
                    owner: demo
                  - service: demo
                    action: restart
                join:
                  - on: first
                    capture: token
                    command: [demo, token]
                  - on: others
                    run: [demo, join, "{{captured.token}}", "{{roles.leaders.first.address}}"]
                    retry: {attempts: 3, delay: 1s}
                health:
                  - wait: {port: "{{settings.port}}"}
                    timeout: 30s
              - name: followers
                count: {min: 0}
                drain:
                  - via: leaders
                    run: [demo, drain, "{{machine.hostname}}"]
            """,
            files: [
                "config.mustache": "port={{settings.port}}\n{{>peers}}\n",
                "peers.mustache": "{{#settings.peers}}\npeer={{.}}\n{{/settings.peers}}\n",
            ])
        #expect(kind.name == "demo")
        #expect(kind.description == "a demo kind")
        #expect(kind.settings.map(\.name) == ["port", "mode", "peers"])
        #expect(kind.setting("mode")?.allowed == ["fast", "safe"])
        #expect(kind.setting("port")?.defaultValue == .scalar("8080"))
        #expect(kind.setting("peers")?.defaultValue == .list(["a", "b"]))
        #expect(kind.roles.map(\.name) == ["leaders", "followers"])
        let leaders = try #require(kind.role("leaders"))
        #expect(leaders.count.min == 1 && leaders.count.max == 5 && leaders.count.odd && leaders.count.defaultCount == 3)
        #expect(leaders.defaultFlavor == "small")
        #expect(leaders.steps(in: .configure).map(\.action.typeName) == ["upload", "service"])
        #expect(leaders.steps(in: .join).map(\.on) == [.first, .others])
        #expect(leaders.steps(in: .join)[1].retry?.attempts == 3)
        #expect(leaders.steps(in: .join)[1].retry?.delay == TimeSpan(seconds: 1))
        if case .upload(let template, _, let mode, let owner) = leaders.steps(in: .configure)[0].action {
            #expect(template == "config")
            #expect(mode == 0o600)
            #expect(owner == "demo")
        } else {
            Issue.record("expected an upload")
        }
        #expect(kind.role("followers")?.count.defaultCount == nil)
        #expect(kind.role("followers")?.steps(in: .drain).first?.via == "leaders")
        #expect(Set(kind.templates.keys) == ["config", "peers"])
        let config = try #require(kind.templates["config"])
        let output = try config.render(["settings": ["port": "8080", "peers": ["a", "b"]]], partials: kind.partials)
        #expect(output.text == "port=8080\npeer=a\npeer=b\n")
    }

    @Test("every shipped kind loads")
    func shippedKindsLoad() throws {
        let catalog = try KindCatalog.load(directory: shippedTemplates)
        #expect(Set(catalog.kinds.keys) == ["swarm", "mesos", "kubernetes", "management"])
        #expect(catalog.clusterKinds.map(\.name) == ["kubernetes", "mesos", "swarm"])
        for kind in catalog.kinds.values {
            #expect(!kind.roles.isEmpty, "\(kind.name)")
            #expect(kind.directory.hasSuffix("/" + kind.name))
        }
    }

    @Test(
        "each shipped kind has its roles in the documented order",
        arguments: [
            ("swarm", ["managers", "workers"]),
            ("mesos", ["zookeeper", "masters", "marathon", "agents"]),
            ("kubernetes", ["etcd", "controllers", "workers"]),
            ("management", ["plane"]),
        ])
    func shippedRoleOrder(_ kind: String, _ roles: [String]) throws {
        let loaded = try KindLoader.load(folder: shippedTemplates + "/" + kind, name: kind)
        #expect(loaded.roles.map(\.name) == roles)
    }

    @Test("the swarm daemon.json renders to valid JSON with a realistic context")
    func swarmDaemonJSON() throws {
        let swarm = try KindLoader.load(folder: shippedTemplates + "/swarm", name: "swarm")
        let template = try #require(swarm.templates["daemon.json"])
        var settings: [String: TemplateValue] = [:]
        for setting in swarm.settings {
            if case .scalar(let text) = setting.defaultValue { settings[setting.name] = .text(text) }
        }
        let machine: TemplateValue = [
            "name": "edge-managers-1", "hostname": "edge-managers-1", "address": "10.0.0.11", "index": .number(0),
            "role": "managers", "first": true, "last": false, "flavor": "small", "cpus": .number(2),
            "memoryMiB": .number(2048), "diskGiB": .number(20),
        ]
        let context: TemplateValue = [
            "deployment": ["name": "prod"], "cluster": ["name": "edge", "kind": "swarm"], "photon": ["version": "0.1.0"],
            "settings": .object(TemplateObject(settings)), "machine": machine, "role": ["name": "managers", "count": .number(1)],
        ]
        let output = try template.render(context, partials: swarm.partials)
        #expect(!output.isUnknown && !output.isSensitive)
        let json = try JSONSerialization.jsonObject(with: Data(output.text.utf8)) as? [String: Any]
        let daemon = try #require(json, "\(output.text)")
        #expect(daemon["data-root"] as? String == "/var/lib/docker")
        #expect(daemon["storage-driver"] as? String == "overlay2")
        #expect((daemon["log-opts"] as? [String: Any])?["max-size"] as? String == "10m")
        #expect(daemon["labels"] as? [String] == ["photon.deployment=prod", "photon.cluster=edge", "photon.role=managers"])
        #expect(daemon["live-restore"] as? Bool == false)
    }

    @Test("the swarm health check keeps docker's Go template literal through a delimiter change")
    func swarmGoTemplate() throws {
        let swarm = try KindLoader.load(folder: shippedTemplates + "/swarm", name: "swarm")
        let managers = try #require(swarm.role("managers"))
        let gate = try #require(managers.steps(in: .health).first { $0.name == "node is a ready manager" })
        guard case .waitCommand(let command) = gate.action else {
            Issue.record("expected a wait command")
            return
        }
        let context: TemplateValue = ["machine": ["hostname": "edge-managers-2"]]
        let arguments = try command.map { try $0.render(context).text }
        #expect(
            arguments == [
                "sh", "-c", "docker node inspect --format '{{.Status.State}} {{.Spec.Role}}' \"$1\" | grep -qx 'ready manager'",
                "sh", "edge-managers-2",
            ])
    }

    @Test("the catalog reports the problems of every bad kind at once")
    func catalogReportsEveryKind() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("photon-catalog-tests-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        for (folder, yaml) in [
            ("alpha", "kind: alfa\nroles: []\n"), ("beta", "kind: beta\nroles:\n  - name: x\n    count: {min: 2, max: 1}\n"),
            ("gamma", "kind: gamma\nroles: []\n"),
        ] {
            try FileManager.default.createDirectory(atPath: root + "/" + folder, withIntermediateDirectories: true)
            try Data(yaml.utf8).write(to: URL(fileURLWithPath: root + "/" + folder + "/kind.yaml"))
        }
        // A folder without kind.yaml is not a kind.
        try FileManager.default.createDirectory(atPath: root + "/notes", withIntermediateDirectories: true)
        do {
            _ = try KindCatalog.load(directory: root)
            Issue.record("expected the catalog not to load")
        } catch let error as DiagnosticsError {
            #expect(
                error.diagnostics.map { describe($0, folder: root) } == [
                    "alpha/kind.yaml:1:7: kind 'alfa' is in folder 'alpha'; the folder name is the kind's name",
                    "beta/kind.yaml:4:12: count.min (2) is above count.max (1)",
                ])
        }
    }

    @Test("a templates directory that does not exist, or holds no kinds, is an error")
    func catalogWithoutKinds() throws {
        let missing = FileManager.default.temporaryDirectory.appendingPathComponent("photon-missing-\(UUID().uuidString)").path
        #expect(throws: PhotonError.self) { try KindCatalog.load(directory: missing) }
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("photon-empty-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: empty) }
        do {
            _ = try KindCatalog.load(directory: empty)
            Issue.record("expected an error")
        } catch let error as PhotonError {
            #expect(error.message == "no kinds found in '\(empty)'")
            #expect(error.help == "each kind is a folder with a kind.yaml")
        }
    }
}
