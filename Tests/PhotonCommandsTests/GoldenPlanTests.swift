import Foundation
import Testing

/// Plans of every shipped blueprint, in every format, compared with the files under Golden/.
/// Set PHOTON_RECORD_GOLDEN=1 to write the files anew after a deliberate change, then review the diff.
@Suite("Golden plans of the shipped blueprints")
struct GoldenPlanTests {
    static let blueprints = ["quickstart", "swarm-ha", "mesos", "kubernetes", "platform", "static"]
    static let formats = ["text", "json", "dot"]
    static let cases = blueprints.flatMap { name in formats.map { (name, $0) } }
    static let goldenDirectory = CLIFixture.repository.appendingPathComponent("Tests/PhotonCommandsTests/Golden")

    @Test("plan output matches the golden file", arguments: cases)
    func plan(_ name: String, _ format: String) async throws {
        let result = try await CLIFixture.run(["plan", "-f", "blueprints/\(name).yaml", "--format", format])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        // Mesos publishes no builds: the plan warns that apply needs the user's, and previews the rest.
        let warnings = result.stderr.split(separator: "\n").filter { $0.contains(": warning: ") }
        #expect(warnings.count == (["mesos", "platform"].contains(name) ? 2 : 0), "\(result.stderr)")
        #expect(!result.stderr.contains("error:"), "\(result.stderr)")
        // The management plane uploads photon itself; its digest changes with every build.
        let digest = try CLIFixture.executableDigest()
        let output = result.stdout
            .replacingOccurrences(of: digest, with: "<photon-sha256>")
            .replacingOccurrences(of: String(digest.prefix(12)), with: "<photon-sha>")
        let golden = Self.goldenDirectory.appendingPathComponent("\(name).\(format)")
        if ProcessInfo.processInfo.environment["PHOTON_RECORD_GOLDEN"] != nil {
            try Data(output.utf8).write(to: golden)
            return
        }
        let expected = try String(contentsOf: golden, encoding: .utf8)
        if output != expected {
            let outputLines = output.split(separator: "\n", omittingEmptySubsequences: false)
            let expectedLines = expected.split(separator: "\n", omittingEmptySubsequences: false)
            let first = zip(outputLines, expectedLines).enumerated().first { $0.element.0 != $0.element.1 }
            Issue.record(
                """
                plan of \(name).yaml (\(format)) differs from \(golden.lastPathComponent) at line \((first?.offset ?? min(outputLines.count, expectedLines.count)) + 1)
                got:      \(first.map { String($0.element.0) } ?? "(\(outputLines.count) lines)")
                expected: \(first.map { String($0.element.1) } ?? "(\(expectedLines.count) lines)")
                (PHOTON_RECORD_GOLDEN=1 swift test --filter GoldenPlanTests records the new output)
                """)
        }
    }

    @Test("the JSON plan is a versioned, dependency-ordered graph that names the blueprint and state")
    func jsonShape() async throws {
        let result = try await CLIFixture.run(["plan", "-f", "blueprints/platform.yaml", "--format", "json"])
        let document = try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(document["formatVersion"] as? Int == 1)
        #expect(document["stateSerial"] as? Int == 0)
        let blueprint = try #require(document["blueprint"] as? [String: Any])
        #expect((blueprint["digest"] as? String)?.hasPrefix("sha256:") == true)
        #expect(blueprint["file"] as? String == "blueprints/platform.yaml")
        let actions = try #require(document["actions"] as? [[String: Any]])
        var seen = Set<String>()
        for action in actions {
            let id = try #require(action["id"] as? String)
            for dependency in action["dependsOn"] as? [String] ?? [] {
                #expect(seen.contains(dependency), "\(id) depends on \(dependency), which comes later")
            }
            #expect(seen.insert(id).inserted, "duplicate action id \(id)")
        }
        let summary = try #require(document["summary"] as? [String: Int])
        #expect(summary["create"] == 29)
        #expect(summary["delete"] == 0)
        // Every cluster machine waits for the management plane.
        let gate = actions.firstIndex { $0["id"] as? String == "gate/management/ready" }
        let firstCluster = actions.firstIndex { ($0["id"] as? String)?.hasPrefix("platform-web-") == true }
        #expect(try #require(gate) < #require(firstCluster))
    }
}
