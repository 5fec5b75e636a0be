import Blueprints
import Foundation
import Kinds
import PhotonCore
import Planning
import Testing

@testable import Deployments
@testable import PhotonCommands

/// What reaches a terminal: control characters from values are shown (`\x1b`), never obeyed; only
/// photon's own colours are escape sequences; the ssh lines people paste quote every argument.
@Suite("Terminal output")
struct TerminalOutputTests {
    /// Every ESC in `text` starts one of photon's colour sequences (ESC [ digits m).
    static func onlyOwnStyles(_ text: String) -> Bool {
        let scalars = Array(text.unicodeScalars)
        for (index, scalar) in scalars.enumerated() where scalar == "\u{1B}" {
            var next = index + 1
            guard next < scalars.count, scalars[next] == "[" else { return false }
            next += 1
            while next < scalars.count, ("0"..."9").contains(scalars[next]) || scalars[next] == ";" { next += 1 }
            guard next < scalars.count, scalars[next] == "m" else { return false }
        }
        return !scalars.contains { $0 != "\u{1B}" && $0 != "\n" && $0 != "\t" && ($0.value < 0x20 || (0x7F...0x9F).contains($0.value) || $0 == "\u{2028}") }
    }

    @Test("control characters become visible escapes; photon's own colours stay only where it writes colour")
    func visible() {
        #expect(TerminalText.visible("a\u{1B}[31mb\u{7}c\rd\u{0}e\u{85}f\u{2028}\tg\nh") == "a\\x1b[31mb\\x07c\\x0dd\\x00e\\x85f\\u{2028}\tg\nh")
        #expect(TerminalText.sanitized("\u{1B}[1mok\u{1B}[0m \u{1B}]0;title\u{7}", keepingStyles: true) == "\u{1B}[1mok\u{1B}[0m \\x1b]0;title\\x07")
        #expect(TerminalText.sanitized("\u{1B}[1mok", keepingStyles: false) == "\\x1b[1mok")
        #expect(JSONOutput.escapingControls("{\"a\": \"x\u{85}\u{2028}y\"}") == "{\"a\": \"x\\u0085\\u2028y\"}")
    }

    @Test("a diagnostic quoting a value shows its controls, in colour too")
    func diagnostic() {
        var renderer = DiagnosticRenderer(color: true)
        let text = renderer.render([
            Diagnostic(
                "settings.storageDriver must be one of overlay2, vfs, found '\u{1B}]0;pwned\u{7}'",
                at: SourceLocation(file: "bp\u{1B}[2J.yaml", line: 3, column: 1), help: "did you mean '\u{1B}[8m'?")
        ])
        #expect(Self.onlyOwnStyles(text), "\(text.debugDescription)")
        #expect(text.contains("\\x1b]0;pwned\\x07"))
        #expect(text.contains("\\x1b[8m"))
        #expect(text.contains("bp\\x1b[2J.yaml:3:1"))
    }

    @Test("photon validate prints a hostile value's control characters visibly")
    func validateCommand() async throws {
        try await CLIFixture.withTemporaryDirectory { folder in
            let file = folder.appendingPathComponent("bp.yaml")
            try Data(
                """
                name: demo
                controlPlane: {driver: local, network: 10.213.0.0/24}
                clusters:
                  - name: web
                    kind: swarm
                    roles: {managers: 1}
                    settings:
                      storageDriver: "vfs\\e]0;pwned\\a\\r"

                """.utf8
            ).write(to: file)
            let result = try await CLIFixture.run(["validate", "-f", file.path])
            #expect(result.status == 1)
            #expect(result.stderr.contains("found 'vfs\\x1b]0;pwned\\x07\\x0d'"), "\(result.stderr)")
            #expect(!result.stderr.unicodeScalars.contains { $0 == "\u{1B}" || $0 == "\u{7}" || $0 == "\r" })
        }
    }

    @Test("a plan's diff of a file shows the controls it holds visibly")
    func planDiff() throws {
        let catalog = try KindCatalog.load(directory: CLIFixture.repository.appendingPathComponent("templates").path)
        let yaml = "name: d\ncontrolPlane: {driver: local, network: 10.213.0.0/24}\nclusters:\n  - name: s\n    kind: swarm\n    roles: {managers: 1}\n"
        let blueprint = try BlueprintLoader(environment: LoadEnvironment(variables: [:], baseDirectory: "/tmp")).load(bytes: Array(yaml.utf8), file: "bp.yaml")
        let planner = Planner(catalog: catalog, secrets: SecretSource(environment: [:]), photonVersion: "test")
        let first = try planner.plan(blueprint)
        // What the state recorded as the file's last content (an older photon, or a damaged state) holds controls.
        var machines: [RecordedMachine] = []
        for machine in first.machines {
            var files: [String: RecordedFile] = [:]
            for index in machine.actions {
                guard case .upload(let file) = first.actions[index].detail, let sha = file.sha256 else { continue }
                files[file.path] = RecordedFile(sha256: String(sha.reversed()), mode: file.mode, content: "\u{1B}[2J\u{1B}]0;owned\u{7}\n" + file.content.text)
            }
            machines.append(
                RecordedMachine(
                    name: machine.name, group: machine.group, kind: "swarm", role: machine.role, index: machine.index,
                    address: machine.address ?? "", files: files))
        }
        let second = try planner.plan(blueprint, recorded: RecordedState(serial: 1, machines: machines))
        for color in [true, false] {
            let text = PlanTextRenderer(color: color).render(second)
            #expect(text.contains("- \\x1b[2J\\x1b]0;owned\\x07"), "\(text)")
            #expect(Self.onlyOwnStyles(text))
        }
    }

    @Test("the ssh lines apply prints quote every argument for a POSIX shell")
    func accessLines() async throws {
        let yaml = "name: d\ncontrolPlane: {driver: local, network: 10.213.0.0/24}\nssh:\n  key: \"file:/keys/my key's/id$(x)\"\nclusters: []\n"
        let blueprint = try BlueprintLoader(environment: LoadEnvironment(variables: [:], baseDirectory: "/tmp", fileExists: { _ in true }))
            .load(bytes: Array(yaml.utf8), file: "bp.yaml")
        let entry = AccessEntry(
            title: "cluster web (swarm)", machine: "d-web-managers-1", address: "10.213.0.2", user: "root", port: 2222,
            command: "docker node ls --format '{{.Hostname}}'")
        let lines = entry.lines(blueprint: blueprint, stateDirectory: "/state dir")
        #expect(
            lines == [
                "cluster web (swarm): d-web-managers-1 at 10.213.0.2",
                "  ssh -i '/keys/my key'\\''s/id$(x)' -p 2222 root@10.213.0.2 'docker node ls --format '\\''{{.Hostname}}'\\'''",
            ])
        // The shell reads back exactly the arguments.
        let parsed = try await HostCommand.run(["sh", "-c", "printf '%s\\n' " + lines[1].dropFirst("  ssh ".count)])
        #expect(parsed.stdout == "-i\n/keys/my key's/id$(x)\n-p\n2222\nroot@10.213.0.2\ndocker node ls --format '{{.Hostname}}'\n")
    }
}
