import Engine
import Foundation
import SSH
import Testing

@Suite("SSH smoke")
struct SmokeTests {
    @Test("connect, exec, upload")
    func smoke() async throws {
        let server = try SSHD()
        defer { server.stop() }
        let connection = try await server.connect()
        let output = try await connection.execute("echo to-out; echo to-err >&2; exit 3")
        #expect(output.stdout == "to-out\n")
        #expect(output.stderr == "to-err\n")
        #expect(output.exitStatus == 3)
        let path = server.directory.appendingPathComponent("file.txt").path
        try await connection.upload(Array("hello\n".utf8), to: path, mode: 0o640)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "hello\n")
        await connection.close()
    }
}
