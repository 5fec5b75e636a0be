import Blueprints
import Engine
import Foundation
import MachineAccess
import SSH

/// `photon-bench ssh-fanout`: photon's whole job on N machines — three uploads and a command — through
/// one reused SSH session per machine, for Benchmarks/ssh-fanout.
enum FanOutBench {
    static let usage = """
        usage: photon-bench ssh-fanout --hosts FILE --key KEY --known-hosts FILE --user USER
                                       --files F1,F2,F3 --dest-dir-pattern PATTERN --command CMD
          --hosts             one "HOST PORT" per line; line i is host i
          --key               the ed25519 private key (OpenSSH format, no passphrase)
          --known-hosts       the pinned host keys, one "[HOST]:PORT ssh-ed25519 …" line per server
          --dest-dir-pattern  where files go on host i; "{i}" becomes the line number
        Prints "photon ssh-fanout: N hosts, X s"; exits 0 when every host succeeded.
        """

    static func main(_ arguments: ArraySlice<String>) async -> Int32 {
        var options: [String: String] = [:]
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            if argument == "--help" || argument == "-h" {
                print(usage)
                return 0
            }
            guard argument.hasPrefix("--"), let value = iterator.next() else {
                FileHandle.standardError.write(Data("\(usage)\n".utf8))
                return 64
            }
            options[String(argument.dropFirst(2))] = value
        }
        let required = ["hosts", "key", "known-hosts", "user", "files", "dest-dir-pattern", "command"]
        if let missing = required.first(where: { options[$0] == nil }) {
            FileHandle.standardError.write(Data("photon-bench ssh-fanout: --\(missing) is required\n\(usage)\n".utf8))
            return 64
        }
        do {
            return try await run(options)
        } catch {
            FileHandle.standardError.write(Data("photon-bench ssh-fanout: \(error)\n".utf8))
            return 1
        }
    }

    static func run(_ options: [String: String]) async throws -> Int32 {
        func read(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }
        let hosts = try read(options["hosts"]!).split(separator: "\n").compactMap { line -> (String, Int)? in
            let fields = line.split(whereSeparator: \.isWhitespace)
            guard fields.count == 2, let port = Int(fields[1]) else { return nil }
            return (String(fields[0]), port)
        }
        // Pinned keys by "[host]:port" (or "host" for port 22), from known_hosts lines.
        var pinned: [String: String] = [:]
        for line in try read(options["known-hosts"]!).split(separator: "\n") where !line.hasPrefix("#") {
            guard let pattern = line.split(separator: " ").first, case .success(let key) = HostKeyParsing.parse(String(line)) else { continue }
            pinned[String(pattern)] = key.fingerprint
        }
        let files = try options["files"]!.split(separator: ",").map { path -> (name: String, bytes: [UInt8]) in
            guard let data = FileManager.default.contents(atPath: String(path)) else { throw BenchError("cannot read \(path)") }
            return (URL(fileURLWithPath: String(path)).lastPathComponent, Array(data))
        }
        let transport = SSHTransport(credentials: .privateKeyFile(options["key"]!, passphrase: nil), defaultUser: options["user"]!)
        let machines = hosts.enumerated().map { index, host in
            MachineHandle(
                name: "host-\(index + 1)", address: host.0, port: host.1,
                hostKeyFingerprint: pinned[host.1 == 22 ? host.0 : "[\(host.0)]:\(host.1)"], driverID: "\(index + 1)")
        }
        let pattern = options["dest-dir-pattern"]!, command = options["command"]!
        let clock = ContinuousClock()
        let start = clock.now
        let results = await FanOut.run(Array(machines.enumerated()), limit: 64) { index, machine in
            let directory = pattern.replacingOccurrences(of: "{i}", with: String(index + 1))
            for file in files {
                try await transport.upload(
                    file.bytes, to: (directory.hasSuffix("/") ? directory : directory + "/") + file.name, mode: 0o644, owner: nil, on: machine)
            }
            let output = try await transport.execute(command, on: machine, timeout: .seconds(60))
            guard output.succeeded else { throw BenchError("\(command) exited with \(output.exitStatus): \(output.stderr)") }
        }
        let elapsed = clock.now - start
        await transport.closeAll()
        var failed = 0
        for (index, result) in results.enumerated() {
            if case .failure(let error) = result {
                failed += 1
                FileHandle.standardError.write(Data("host \(index + 1) (\(hosts[index].0):\(hosts[index].1)): \(error)\n".utf8))
            }
        }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print(String(format: "photon ssh-fanout: %d hosts, %.3f s", hosts.count, seconds))
        return failed == 0 ? 0 : 1
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
