import Foundation
import PhotonCore

#if canImport(Glibc)
import Glibc
#endif

/// What a plane server hands the `photon` child that runs an operation, or previews one: the request
/// and where its materialized blueprint and kinds are. The child's command line is always
/// `photon run-operation JOB` (``arguments(executable:file:)``); no value of a request becomes an argument.
public struct OperationJob: Codable, Sendable, Hashable {
    public enum Format: String, Codable, Sendable {
        /// NDJSON run events on stdout (what the server records), or the plan as JSON.
        case json
        case text
    }

    public var request: OperationRequest
    /// The materialized blueprint file.
    public var blueprint: String
    /// The materialized folder of kinds.
    public var kinds: String
    /// Only the plan it would carry out (exit 2 when it has changes); an apply or a scale.
    public var preview: Bool
    public var format: Format

    /// Refuses a request that cannot run (``OperationRequest/problem``), and a preview of a destroy.
    public init(request: OperationRequest, blueprint: String, kinds: String, preview: Bool = false, format: Format = .json) throws {
        if let problem = request.problem { throw PhotonError("the operation cannot run: \(problem)") }
        if preview, request.kind == .destroy { throw PhotonError("the plane previews applies and scales only") }
        self.request = request
        self.blueprint = blueprint
        self.kinds = kinds
        self.preview = preview
        self.format = format
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(
            request: try container.decode(OperationRequest.self, forKey: .request), blueprint: try container.decode(String.self, forKey: .blueprint),
            kinds: try container.decode(String.self, forKey: .kinds), preview: try container.decode(Bool.self, forKey: .preview),
            format: try container.decode(Format.self, forKey: .format))
    }

    /// The child's whole command line.
    public static func arguments(executable: String, file: String) -> [String] { [executable, "run-operation", file] }

    /// Writes the job beside the operation's files, readable by this user only, under its final name
    /// only once complete.
    public func write(to file: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let temporary = file + ".new"
        guard FileManager.default.createFile(atPath: temporary, contents: try encoder.encode(self), attributes: [.posixPermissions: 0o600]),
            rename(temporary, file) == 0
        else { throw PhotonError("cannot write the operation's job to \(file): \(String(cString: strerror(errno)))") }
    }

    /// Reads and checks a job a server wrote.
    public static func read(_ file: String) throws -> OperationJob {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw PhotonError("cannot read the operation's job \(file)", help: "photon serve writes it; run-operation is not for people")
        }
        do { return try JSONDecoder().decode(OperationJob.self, from: data) } catch let error as PhotonError { throw error } catch {
            throw PhotonError("the operation's job \(file) is not one photon serve wrote: \(error)")
        }
    }
}
