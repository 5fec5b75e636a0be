import Foundation
import PhotonCore
import Testing

@Suite("photon command line")
struct CommandTests {
    @Test("exit codes: 0 done, 1 failure, 2 changes pending, 64 usage")
    func exitCodes() async throws {
        #expect(try await CLIFixture.run(["plan", "-f", "blueprints/quickstart.yaml"]).status == 0)
        #expect(try await CLIFixture.run(["plan", "-f", "blueprints/quickstart.yaml", "--detailed-exitcode"]).status == 2)
        #expect(try await CLIFixture.run(["plan", "-f", "blueprints/missing.yaml"]).status == 1)
        #expect(try await CLIFixture.run(["plan"]).status == 64)
        #expect(try await CLIFixture.run(["plan", "-f", "blueprints/quickstart.yaml", "--format", "yaml"]).status == 64)
        #expect(try await CLIFixture.run(["frobnicate"]).status == 64)
        #expect(try await CLIFixture.run(["validate", "-f", "blueprints/quickstart.yaml", "--format", "dot"]).status == 64)
        #expect(try await CLIFixture.run(["--version"]).status == 0)
    }

    @Test("a mistyped command is named with the closest one (also after help); version says what photon runs with")
    func mistypedCommandsAndVersion() async throws {
        let mistyped = try await CLIFixture.run(["plna", "-f", "blueprints/quickstart.yaml"])
        #expect(mistyped.status == 64 && mistyped.stderr.contains("'plna' is not a photon command") && mistyped.stderr.contains("did you mean 'plan'?"))
        let help = try await CLIFixture.run(["help", "nosuch"])
        #expect(help.status == 64 && help.stderr.contains("'nosuch' is not a photon command"), "\(help.stderr)")
        #expect(try await CLIFixture.run(["help", "plan"]).status == 0)
        let version = try await CLIFixture.run(["version", "--format", "json"])
        let fields = try JSONSerialization.jsonObject(with: Data(version.stdout.utf8)) as? [String: String] ?? [:]
        #expect(fields["version"] == (try await CLIFixture.run(["--version"])).stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(fields["libssh2"]?.first?.isNumber == true && fields["platform"]?.hasPrefix("linux/") == true, "\(fields)")
    }

    @Test("on a terminal photon colours its plan; NO_COLOR=1 and --no-color turn that off, an empty NO_COLOR does not")
    func colour() async throws {
        let photon = ShellQuoting.quote(try CLIFixture.executable.path)
        func escapes(_ prefix: String, _ suffix: String = "") throws -> Bool {
            // script(1) gives photon a terminal.
            let line = "\(prefix) \(photon) plan -f blueprints/quickstart.yaml\(suffix)"
            let result = try HostCommand.runBlocking(["script", "-qec", line, "/dev/null"])
            #expect(result.stdout.contains("quickstart"), "\(result.diagnostic)")
            return result.stdout.contains("\u{1b}[")
        }
        #expect(try escapes("env -u NO_COLOR TERM=xterm"))
        #expect(try escapes("env NO_COLOR= TERM=xterm"))
        #expect(try !escapes("env NO_COLOR=1 TERM=xterm"))
        #expect(try !escapes("env -u NO_COLOR TERM=xterm", " --no-color"))
    }

    @Test("a blueprint that cannot be read says why in words; - reads standard input; a saved plan is recognised")
    func blueprintFiles() async throws {
        let folder = try await CLIFixture.run(["plan", "-f", "blueprints"])
        #expect(folder.status == 1 && folder.stderr.contains("cannot read blueprint 'blueprints': it is a folder, not a file"), "\(folder.stderr)")
        let missing = try await CLIFixture.run(["plan", "-f", "blueprints/nosuch.yaml"])
        #expect(missing.status == 1 && missing.stderr.contains("'blueprints/nosuch.yaml': no such file"), "\(missing.stderr)")
        let photon = ShellQuoting.quote(try CLIFixture.executable.path)
        let piped = try HostCommand.runBlocking([
            "sh", "-c", "cd \(ShellQuoting.quote(CLIFixture.repository.path)) && \(photon) validate -f - < blueprints/quickstart.yaml",
        ])
        #expect(piped.succeeded && piped.stdout.contains("valid (1 group, 3 machines)"), "\(piped.diagnostic)")
        try await CLIFixture.withTemporaryDirectory { directory in
            let plan = directory.appendingPathComponent("plan.json").path
            #expect(try await CLIFixture.run(["plan", "-f", "blueprints/quickstart.yaml", "-o", plan]).status == 0)
            let confused = try await CLIFixture.run(["validate", "-f", plan])
            #expect(confused.status == 1 && confused.stderr.contains("is a plan saved by 'photon plan -o', not a blueprint"), "\(confused.stderr)")
            let shown = try await CLIFixture.run(["show", plan])
            #expect(shown.status == 0 && shown.stdout.hasPrefix("Saved plan of deployment quickstart"), "\(shown.stderr)")
            #expect(
                shown.stdout.contains("+ create the swarm: run docker swarm init") && shown.stdout.contains("Plan: 3 machines to create"), "\(shown.stdout)")
            let notPlan = try await CLIFixture.run(["show", "blueprints/quickstart.yaml"])
            #expect(notPlan.status == 1 && notPlan.stderr.contains("is not a photon plan"))
        }
    }

    @Test("init writes a commented starter blueprint that validates for every kind on local machines; static ones list the machines to fill in")
    func initBlueprints() async throws {
        try await CLIFixture.withTemporaryDirectory { directory in
            for kind in ["swarm", "kubernetes", "mesos"] {
                let path = directory.appendingPathComponent("\(kind).yaml").path
                let written = try await CLIFixture.run(["init", "--kind", kind, "--name", "first-\(kind)", "-o", path])
                #expect(written.status == 0, "\(written.stderr)")
                let validated = try await CLIFixture.run(["validate", "-f", path])
                #expect(validated.status == 0 && validated.stdout.contains("valid (1 group"), "\(kind): \(validated.stderr)")
                #expect(try String(contentsOfFile: path, encoding: .utf8).contains("    #   version: ") == (kind != "swarm"))
            }
            let path = directory.appendingPathComponent("swarm.yaml").path
            let again = try await CLIFixture.run(["init", "-o", path])
            #expect(again.status == 1 && again.stderr.contains("exists") && again.stderr.contains("--force"), "\(again.stderr)")
            #expect(try await CLIFixture.run(["init", "-o", path, "--force"]).status == 0)
        }
        let staticMachines = try await CLIFixture.run(["init", "--kind", "kubernetes", "--driver", "static"])
        #expect(staticMachines.stdout.contains("driver: static") && staticMachines.stdout.components(separatedBy: "- address: ").count - 1 == 5)
        let unknown = try await CLIFixture.run(["init", "--kind", "kubernets"])
        #expect(unknown.status == 1 && unknown.stderr.contains("did you mean 'kubernetes'?"), "\(unknown.stderr)")
    }

    @Test("--state naming a file is a usage error; a blueprint with nothing to make is valid but warned about")
    func stateFileAndEmptyBlueprint() async throws {
        try await CLIFixture.withTemporaryDirectory { directory in
            let file = directory.appendingPathComponent("q.yaml")
            try Data("version: 1\nname: empty\ncontrolPlane: {driver: local, network: 10.198.0.0/24}\nclusters: []\n".utf8).write(to: file)
            let status = try await CLIFixture.run(["status", "--state", file.path])
            #expect(status.status == 64 && status.stderr.contains("--state \(file.path) is a file"), "\(status.stderr)")
            let validated = try await CLIFixture.run(["validate", "-f", file.path])
            #expect(validated.status == 0 && validated.stderr.contains("warning: the blueprint has no clusters"), "\(validated.stderr)")
            // A count below the kind's range names the kind's range, negative or not.
            try Data(
                "version: 1\nname: neg\ncontrolPlane: {driver: local, network: 10.196.0.0/24}\nclusters:\n  - {name: demo, kind: swarm, roles: {managers: -1}}\n"
                    .utf8
            )
            .write(to: file)
            let negative = try await CLIFixture.run(["validate", "-f", file.path])
            #expect(negative.status == 1 && negative.stderr.contains("needs at least 1 machine, found -1"), "\(negative.stderr)")
            #expect(negative.stderr.contains("kind swarm allows 1–7 (odd) managers"), "\(negative.stderr)")
        }
    }

    @Test("an RSA ssh.key is refused at validate, where the blueprint names it")
    func rsaKeyRefused() async throws {
        try await CLIFixture.withTemporaryDirectory { directory in
            let key = directory.appendingPathComponent("rsa").path
            #expect(try HostCommand.runBlocking(["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", key]).succeeded)
            let file = directory.appendingPathComponent("rsa.yaml")
            try Data(
                "version: 1\nname: rsa\ncontrolPlane: {driver: local, network: 10.197.0.0/24}\nssh:\n  key: file:rsa\nclusters:\n  - name: demo\n    kind: swarm\n    roles: {managers: 1}\n"
                    .utf8
            ).write(to: file)
            let validated = try await CLIFixture.run(["validate", "-f", file.path])
            #expect(validated.status == 1 && validated.stderr.contains("rsa.yaml:5:8: error: ssh.key rsa: it is an RSA key"), "\(validated.stderr)")
        }
    }

    @Test("a bad blueprint gets every error with file:line:column, the source line and a caret, on stderr")
    func badBlueprintReport() async throws {
        try await CLIFixture.withTemporaryDirectory { directory in
            let file = directory.appendingPathComponent("bad.yaml")
            try Data(
                """
                name: web
                controlPlane:
                  driver: local
                  network: 10.0.0.0/24
                clusters:
                  - name: a
                    kind: swarn
                    roles: {managers: 1}
                  - name: b
                    kind: swarm
                    roles: {managers: 2, workerz: 1}

                """.utf8
            ).write(to: file)
            let result = try await CLIFixture.run(["validate", "-f", file.path])
            #expect(result.status == 1)
            #expect(result.stdout.isEmpty)
            #expect(
                result.stderr == """
                    \(file.path):7:11: error: unknown kind 'swarn'
                     7 |     kind: swarn
                       |           ^
                      help: did you mean 'swarm'?
                    \(file.path):11:23: error: role 'managers' of cluster 'b' (swarm) needs an odd number of machines, found 2
                     11 |     roles: {managers: 2, workerz: 1}
                        |                       ^
                      help: an even number of members tolerates no more failures than one less; use 1 or 3
                    \(file.path):11:26: error: kind swarm has no role 'workerz'
                     11 |     roles: {managers: 2, workerz: 1}
                        |                          ^
                      help: did you mean 'workers'?
                    3 errors

                    """)
        }
    }

    @Test("validate --format json reports errors as data")
    func validateJSON() async throws {
        try await CLIFixture.withTemporaryDirectory { directory in
            let file = directory.appendingPathComponent("bad.yaml")
            try Data("name: web\ncontrolPlane: {driver: local, network: 10.0.0.0/30}\nclusters: [{name: a, kind: swarm, roles: {managers: 3}}]\n".utf8).write(
                to: file)
            let result = try await CLIFixture.run(["validate", "-f", file.path, "--format", "json"])
            #expect(result.status == 1)
            let report = try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            #expect(report["valid"] as? Bool == false)
            let errors = try #require(report["errors"] as? [[String: Any]])
            #expect(errors.count == 1)
            #expect(errors.first?["line"] as? Int == 2)
            #expect(errors.first?["message"] as? String == "network 10.0.0.0/30 has room for 1 machine, the blueprint needs 3")
        }
        let good = try await CLIFixture.run(["validate", "-f", "blueprints/platform.yaml", "--format", "json"])
        #expect(good.status == 0)
        #expect(good.stdout.contains("\"valid\" : true"))
    }

    @Test("a secret's value never appears in any output, and files holding it are marked sensitive")
    func secretsStayHidden() async throws {
        let secret = "s3cr3t-Value-that-must-not-leak"
        try await CLIFixture.withTemporaryDirectory { directory in
            let file = directory.appendingPathComponent("secret.yaml")
            try Data(
                """
                name: sec
                controlPlane: {driver: local, network: 10.9.0.0/24}
                secrets:
                  token: env:PHOTON_TEST_TOKEN
                management:
                  machines: 1
                  settings:
                    apiToken: secret:token

                """.utf8
            ).write(to: file)
            for format in ["text", "json", "dot"] {
                let result = try await CLIFixture.run(
                    ["plan", "-f", file.path, "--format", format, "-o", directory.appendingPathComponent("plan.json").path],
                    environment: ["PHOTON_TEST_TOKEN": secret])
                #expect(result.status == 0, "\(result.stderr)")
                #expect(!result.stdout.contains(secret))
                #expect(!result.stderr.contains(secret))
                let saved = try String(contentsOf: directory.appendingPathComponent("plan.json"), encoding: .utf8)
                #expect(!saved.contains(secret))
            }
            let text = try await CLIFixture.run(["plan", "-f", file.path], environment: ["PHOTON_TEST_TOKEN": secret]).stdout
            #expect(text.contains("apiToken=(sensitive)"))
            #expect(text.contains("sensitive, sha256:"))
            // Unset, the reference is an error at its position.
            let unset = try await CLIFixture.run(["plan", "-f", file.path])
            #expect(unset.status == 1)
            #expect(unset.stderr.contains("\(file.path):4:10: error: environment variable PHOTON_TEST_TOKEN is not set"))
        }
    }

    @Test("plan -o writes the JSON plan with the blueprint digest and state serial")
    func savedPlan() async throws {
        try await CLIFixture.withTemporaryDirectory { directory in
            let out = directory.appendingPathComponent("plan.json")
            let result = try await CLIFixture.run(["plan", "-f", "blueprints/quickstart.yaml", "-o", out.path, "--format", "text"])
            #expect(result.status == 0)
            #expect(result.stderr.contains("Saved the plan to \(out.path)"))
            let document = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: out)) as? [String: Any])
            #expect(document["formatVersion"] as? Int == 1)
            #expect(document["stateSerial"] as? Int == 0)
            let digest = try #require((document["blueprint"] as? [String: Any])?["digest"] as? String)
            let data = try Data(contentsOf: CLIFixture.repository.appendingPathComponent("blueprints/quickstart.yaml"))
            #expect(digest.count == "sha256:".count + 64)
            #expect(!data.isEmpty)
        }
    }

    @Test("kinds lists every kind with its roles in order")
    func kinds() async throws {
        let result = try await CLIFixture.run(["kinds"])
        #expect(result.status == 0)
        for kind in ["swarm", "mesos", "kubernetes", "management"] { #expect(result.stdout.contains("\(kind)  ")) }
        #expect(result.stdout.contains("    managers  (1–7, odd, default 1; needs docker)"))
        #expect(result.stdout.contains("  files (values written as): daemon.json (json), manager-join.json (json), worker-join.json (json)"))
        #expect(result.stdout.contains("  files (values written as): zoo.cfg (properties), myid (text)"))
        let json = try await CLIFixture.run(["kinds", "--format", "json"])
        let kinds = try #require(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        let swarm = try #require(kinds.first { $0["name"] as? String == "swarm" })
        #expect((swarm["roles"] as? [[String: Any]])?.map { $0["name"] as? String } == ["managers", "workers"])
        #expect((swarm["files"] as? [String: String])?["daemon.json"] == "json")
    }

    @Test("the templates folder can be given explicitly, and a wrong one is a clear error")
    func templatesOption() async throws {
        let missing = try await CLIFixture.run(["kinds", "--templates", "/nonexistent"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("templates directory '/nonexistent' does not exist"))
        let explicit = try await CLIFixture.run(["plan", "-f", "blueprints/quickstart.yaml", "--templates", "templates"])
        #expect(explicit.status == 0)
    }
}

@Suite("Blueprint JSON Schema")
struct SchemaTests {
    @Test("blueprints/schema.json is what 'photon schema' generates from the kinds")
    func upToDate() async throws {
        let result = try await CLIFixture.run(["schema"])
        #expect(result.status == 0)
        let committed = try String(contentsOf: CLIFixture.repository.appendingPathComponent("blueprints/schema.json"), encoding: .utf8)
        #expect(result.stdout == committed, "regenerate it: swift run photon schema > blueprints/schema.json")
    }

    static func validate(_ files: [String], expect: String) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments =
            [
                CLIFixture.repository.appendingPathComponent("Tests/Support/validate_schema.py").path, "--expect=\(expect)",
                CLIFixture.repository.appendingPathComponent("blueprints/schema.json").path,
            ] + files
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test("every shipped blueprint passes the schema (python3-jsonschema) and the loader")
    func shippedBlueprints() async throws {
        let directory = CLIFixture.repository.appendingPathComponent("blueprints")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(files.count >= 6)
        let result = try Self.validate(files.map { directory.appendingPathComponent($0).path }, expect: "valid")
        #expect(result.status == 0, "\(result.output) (needs python3-jsonschema and python3-yaml)")
        for file in files {
            let loaded = try await CLIFixture.run(["validate", "-f", "blueprints/\(file)"])
            #expect(loaded.status == 0, "\(file): \(loaded.stderr)")
        }
    }

    @Test(
        "the schema rejects what the loader rejects",
        arguments: [
            "name: Web\ncontrolPlane: {driver: local, network: 10.0.0.0/24}\n",
            "name: web\ncontrolPlane: {driver: local}\n",
            "name: web\ncontrolPlane: {driver: local, network: 10.0.0.0/24, machines: []}\n",
            "name: web\ncontrolPlane: {driver: local, network: 10.0.0.0/24}\nclusters: [{name: a, kind: swarn, roles: {managers: 1}}]\n",
            "name: web\ncontrolPlane: {driver: local, network: 10.0.0.0/24}\nclusters: [{name: a, kind: swarm, roles: {managers: 2}}]\n",
            "name: web\ncontrolPlane: {driver: local, network: 10.0.0.0/24}\nclusters: [{name: a, kind: swarm, roles: {managers: 1, workerz: 1}}]\n",
            "name: web\ncontrolPlane: {driver: local, network: 10.0.0.0/24}\nclusters: [{name: a, kind: swarm, roles: {managers: 1}, settings: {dataPathPort: 0}}]\n",
            "name: web\ncontrolPlane: {driver: local, network: 10.0.0.0/24}\nmanagement: {machines: 2}\n",
            "name: web\ncontrolPlane: {driver: local, network: 10.0.0.0/24}\nsecrets: {token: plain-value}\n",
            "name: web\ncontrolPlane: {driver: local, network: 10.0.0.0/24}\nclusters: [{name: a, kind: swarm, roles: {managers: 1}, rollout: {maxInFlight: 150%}}]\n",
        ])
    func rejects(_ yaml: String) async throws {
        try await CLIFixture.withTemporaryDirectory { directory in
            let file = directory.appendingPathComponent("bad.yaml")
            try Data(yaml.utf8).write(to: file)
            let result = try Self.validate([file.path], expect: "invalid")
            #expect(result.status == 0, "the schema accepted: \(yaml)\n\(result.output)")
            #expect(try await CLIFixture.run(["validate", "-f", file.path]).status == 1, "the loader accepted: \(yaml)")
        }
    }
}
