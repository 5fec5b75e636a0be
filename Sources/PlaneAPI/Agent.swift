import Blueprints
import Engine
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTLS
import Logging
import MachineAccess
import NIOCore
import NIOHTTP1
import PhotonCore

/// How the plane reaches the installer's agent: its URL on the machines' bridge, its certificate
/// (pinned) and its token. Kept sealed in the plane's etcd.
public struct AgentEndpoint: Codable, Sendable, Hashable {
    public var url: String
    public var certificatePEM: String
    public var token: String

    public init(url: String, certificatePEM: String, token: String) {
        self.url = url
        self.certificatePEM = certificatePEM
        self.token = token
    }
}

/// A machine as the agent's API carries it.
struct MachineSpecBody: Codable, Sendable {
    var name, group, kind, role: String
    var index: Int
    var flavor: String
    var milliCPU: Int
    var memoryBytes: UInt64
    var diskBytes: UInt64
    var address: String?
    var needs: [String]

    init(_ spec: MachineSpec) {
        name = spec.name
        group = spec.group
        kind = spec.kind
        role = spec.role
        index = spec.index
        flavor = spec.flavor.name
        milliCPU = spec.flavor.milliCPU
        memoryBytes = spec.flavor.memory.bytes
        diskBytes = spec.flavor.disk.bytes
        address = spec.address
        needs = spec.needs
    }

    var spec: MachineSpec {
        MachineSpec(
            name: name, group: group, kind: kind, role: role, index: index,
            flavor: Flavor(name: flavor, milliCPU: milliCPU, memory: ByteSize(bytes: memoryBytes), disk: ByteSize(bytes: diskBytes)),
            address: address, needs: needs)
    }
}

struct RunningBody: Codable, Sendable {
    var running: Bool?
}

/// `photon agent`: serves a machine driver (the local LXC driver) to the management plane over HTTPS,
/// bound only to the machines' bridge address, with a pinned certificate and a bearer token.
public struct AgentServer: Sendable {
    public var driver: any MachineDriver
    public var identity: ServerIdentity
    public var token: String
    public var address: String
    public var port: Int
    /// The deployment it serves: it touches only machines named `<deployment>-…`.
    public var deployment: String
    public var limits = ServerLimits.standard

    public init(driver: any MachineDriver, identity: ServerIdentity, token: String, address: String, port: Int, deployment: String) {
        self.driver = driver
        self.identity = identity
        self.token = token
        self.address = address
        self.port = port
        self.deployment = deployment
    }

    /// Why `name` is not a machine of this deployment (a host name label starting with its name), or nil.
    /// Names become paths on this host (`<machines>/<name>`): `..` or a slash must never get that far.
    func problem(withMachine name: String) -> String? {
        if let problem = Hostname.problem(withLabel: name) { return "'\(name.debugDescription.dropFirst().dropLast())' is not a machine name: \(problem)" }
        guard name.hasPrefix(deployment + "-") else { return "'\(name)' is not a machine of deployment \(deployment)" }
        return nil
    }

    func refuse(_ problem: String) throws -> Response {
        try JSONResponse.error(.badRequest, APIErrorBody(error: problem, help: "machine names are <deployment>-<cluster>-<role>-<n>"))
    }

    public func run(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let router = Router(context: PlaneRequestContext.self)
        router.add(middleware: ErrorMiddleware())
        router.add(middleware: BearerTokenMiddleware(token: token))
        let driver = self.driver
        router.post("/v1/machines") { request, context -> Response in
            let body = try await request.decode(as: MachineSpecBody.self, context: context)
            let labels = [body.name, body.group, body.role, body.kind, body.flavor] + body.needs
            if let problem = self.problem(withMachine: body.name) ?? labels.lazy.compactMap({ label in
                Hostname.problem(withLabel: label).map { "'\(label.debugDescription.dropFirst().dropLast())' is not a name: \($0)" }
            }).first ?? body.address.flatMap({ IPv4Address($0) == nil ? "'\($0.debugDescription.dropFirst().dropLast())' is not an IPv4 address" : nil }) {
                return try self.refuse(problem)
            }
            return try JSONResponse.encode(try await driver.create(body.spec), status: .created)
        }
        router.get("/v1/machines") { _, _ -> Response in
            try JSONResponse.encode(try await driver.list())
        }
        router.get("/v1/machines/{name}") { _, context -> Response in
            let name = try context.parameters.require("name")
            if let problem = self.problem(withMachine: name) { return try self.refuse(problem) }
            guard let handle = try await driver.lookup(name: name) else {
                return try JSONResponse.error(.notFound, APIErrorBody(error: "no machine \(name)"))
            }
            return try JSONResponse.encode(handle)
        }
        router.get("/v1/machines/{name}/running") { _, context -> Response in
            let name = try context.parameters.require("name")
            if let problem = self.problem(withMachine: name) { return try self.refuse(problem) }
            return try JSONResponse.encode(RunningBody(running: await driver.isRunning(name: name)))
        }
        router.delete("/v1/machines/{name}") { _, context -> Response in
            let name = try context.parameters.require("name")
            if let problem = self.problem(withMachine: name) { return try self.refuse(problem) }
            try await driver.delete(name: name)
            return Response(status: .noContent)
        }
        var logger = Logger(label: "photon.agent")
        logger.logLevel = .warning
        let app = Application(
            router: router, server: try limits.server(tls: try identity.serverTLS()),
            configuration: limits.configuration(address: address, port: port, serverName: "photon-agent"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) }, logger: logger)
        try await app.runService()
    }
}

// MARK: - Shared HTTP pieces

/// Refuses every request without `Authorization: Bearer <token>` (401), comparing in constant time,
/// except on the public paths (the health check HAProxy makes, which must need no secret).
struct BearerTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let expected: [UInt8]
    let publicPaths: Set<String>

    init(token: String, publicPaths: Set<String> = []) {
        expected = Array(token.utf8)
        self.publicPaths = publicPaths
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard publicPaths.contains(request.uri.path) || Self.presents(request, token: expected) else {
            var response = try JSONResponse.error(
                .unauthorized,
                APIErrorBody(
                    error: "missing or wrong bearer token",
                    help: "send 'Authorization: Bearer <token>' with the token from the context file"))
            response.headers[.wwwAuthenticate] = "Bearer"
            return response
        }
        return try await next(request, context)
    }

    /// Whether the request carries exactly this token (compared in constant time).
    static func presents(_ request: Request, token expected: [UInt8]) -> Bool {
        let header = request.headers[.authorization] ?? ""
        let presented = header.hasPrefix("Bearer ") ? Array(header.dropFirst("Bearer ".count).utf8) : []
        var difference = UInt8(presented.count == expected.count ? 0 : 1)
        for index in 0..<min(presented.count, expected.count) { difference |= presented[index] ^ expected[index] }
        return difference == 0 && !presented.isEmpty
    }
}

enum JSONResponse {
    static func encode<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: try buffer(value)))
    }

    static func buffer<T: Encodable>(_ value: T) throws -> ByteBuffer {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        var data = try encoder.encode(value)
        data.append(UInt8(ascii: "\n"))
        return ByteBuffer(data: data)
    }

    static func error(_ status: HTTPResponse.Status, _ body: APIErrorBody) throws -> Response {
        try encode(body, status: status)
    }
}
