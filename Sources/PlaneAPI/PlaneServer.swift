import Engine
import Etcd
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore
import PhotonCore
import Planning
import StateStore

/// `photon serve`: the management plane's API server. Every server answers reads from etcd; only the
/// leader (see ``Leadership``) runs operations. An operation asked of any server is recorded in etcd
/// at once (202), where the leader picks it up within half a second, so a request is never lost in
/// a hand-off between servers, and one interrupted with its leader is resumed by the next.
public final class PlaneServer: Sendable {
    public let configuration: ServeConfiguration
    let etcd: EtcdClient
    /// For the status resources: answered by the local member, no round of the cluster.
    let reads: EtcdClient
    /// The revision status reads are computed at, read once for all readers at a time.
    let revisions: RevisionReader
    private let opened = Locked<EtcdStateStore?>(nil)
    /// Status bodies by resource, with the etcd revision (and leader) they are computed at: one
    /// computation per revision, joined by every reader that asks meanwhile and reused until a write
    /// moves the revision, so a hundred clients polling cost one shared revision read at a time.
    private let computed = Locked<[String: (revision: Int64, leader: String?, body: Task<ByteBuffer, any Error>)]>([:])
    let book: OperationBook
    /// The same records, read from the local member (the status resources and event streams).
    let readBook: OperationBook
    let leadership: Leadership
    let runner: OperationRunner
    let identity: ServerIdentity
    let token: String
    let limits: ServerLimits
    /// Plan children running now (at most ``ServerLimits/concurrentPlans``).
    let planSlots: Slots

    /// - Parameter executable: photon itself, which runs each operation in a child process.
    public init(configuration: ServeConfiguration, executable: String, limits: ServerLimits = .standard) async throws {
        self.configuration = configuration
        self.limits = limits
        planSlots = Slots(limits.concurrentPlans)
        identity = try ServerIdentity.readOrGenerate(
            certificate: configuration.certificatePath, key: configuration.keyPath,
            commonName: "photon-\(configuration.deployment)")
        token = try configuration.token()
        try FileManager.default.createDirectory(
            atPath: configuration.stateDirectory, withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700])
        etcd = try configuration.etcdClient()
        reads = try configuration.etcdClient(serializableReads: true)
        revisions = RevisionReader(client: reads)
        let authenticator = try RecordAuthenticator(stateDirectory: configuration.stateDirectory)
        book = OperationBook(etcd: etcd, prefix: configuration.prefix, authenticator: authenticator)
        readBook = OperationBook(etcd: reads, prefix: configuration.prefix, authenticator: authenticator)
        leadership = Leadership(etcd: etcd, key: configuration.leaderKey, me: configuration.advertise, ttl: configuration.leaderTTL)
        runner = OperationRunner(book: book, configuration: configuration, executable: executable)
    }

    /// The deployment's store for reads, once etcd answers. A plane's machines come up one at a time and
    /// etcd has no quorum until most have, so the server listens at once and answers 503 until then.
    func store() async throws -> EtcdStateStore {
        if let store = opened.withLock({ $0 }) { return store }
        let store = try await EtcdStateStore(
            etcd: reads, prefix: configuration.prefix, deployment: configuration.deployment,
            keyDirectory: configuration.stateDirectory)
        opened.withLock { $0 = store }
        return store
    }

    /// Serves until SIGTERM or SIGINT.
    public func run(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        var logger = Logger(label: "photon.serve")
        logger.logLevel = .warning
        let app = Application(
            router: router(), server: try limits.server(tls: try identity.serverTLS()),
            configuration: limits.configuration(
                address: configuration.listenAddress, port: configuration.listenPort,
                serverName: "photon-\(configuration.node)"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) }, logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { [leadership, runner] in
                await leadership.run { isLeader in
                    if !isLeader { runner.stopAll() }
                }
            }
            group.addTask { [leadership, runner] in
                while !Task.isCancelled {
                    if leadership.isLeader { await runner.supervise() }
                    try? await Task.sleep(for: .milliseconds(500))
                }
            }
            try await app.runService()
            group.cancelAll()
        }
    }

    // MARK: - Routes

    // Long: the API's routes, each a few lines, listed together as openapi.yaml lists them.
    func router() -> Router<PlaneRequestContext> {
        let router = Router(context: PlaneRequestContext.self)
        router.add(middleware: ErrorMiddleware())
        router.add(middleware: BearerTokenMiddleware(token: token, publicPaths: ["/v1/health"]))
        let api = router.group("v1")
        api.get("health") { request, _ in
            try await self.health(authenticated: BearerTokenMiddleware<PlaneRequestContext>.presents(request, token: Array(self.token.utf8)))
        }
        api.get("deployment") { _, _ in try await self.current("deployment") { try JSONResponse.buffer(try await self.deployment()) } }
        api.get("clusters") { _, _ in try await self.current("clusters") { try JSONResponse.buffer(try await self.clusters()) } }
        api.get("clusters/{name}") { _, context in
            let name = try context.parameters.require("name")
            guard let cluster = try await self.clusters().first(where: { $0.name == name }) else {
                return try JSONResponse.error(.notFound, APIErrorBody(error: "the deployment has no cluster '\(name)'"))
            }
            return try JSONResponse.encode(cluster)
        }
        api.get("runs") { request, _ in
            let limit = request.uri.queryParameters.get("limit", as: Int.self) ?? 20
            return try JSONResponse.encode(try await self.store().runs(limit: max(1, min(limit, 100))).map(Self.runBody))
        }
        api.get("runs/{id}") { _, context in
            let id = try context.parameters.require("id", as: Int64.self)
            guard let run = try await self.store().runs(limit: 100).first(where: { $0.id == id }) else {
                return try JSONResponse.error(.notFound, APIErrorBody(error: "no run \(id) (the plane keeps the last 100)"))
            }
            let steps = try await self.store().journal(run: id).map {
                StepBody(
                    sequence: $0.sequence, action: $0.actionID, machine: $0.machine, status: $0.status.rawValue, at: $0.at,
                    message: $0.message, attempt: $0.attempt)
            }
            return try JSONResponse.encode(RunDetailBody(run: Self.runBody(run), steps: steps))
        }
        api.get("operations") { _, _ in
            try JSONResponse.encode(try await self.readBook.all().sorted { $0.id > $1.id })
        }
        api.get("operations/{id}") { _, context in
            let id = try context.parameters.require("id")
            guard let operation = try await self.readBook.get(id) else {
                return try JSONResponse.error(.notFound, APIErrorBody(error: "no operation \(id)"))
            }
            return try JSONResponse.encode(operation)
        }
        api.get("operations/{id}/events") { request, context in
            let id = try context.parameters.require("id")
            guard try await self.book.get(id) != nil else {
                return try JSONResponse.error(.notFound, APIErrorBody(error: "no operation \(id)"))
            }
            let from = request.uri.queryParameters.get("from", as: Int.self) ?? 1
            return self.eventStream(id, from: from)
        }
        api.post("deployment/apply") { request, context in
            let body = try await request.decode(as: ApplyRequest.self, context: context)
            return try await self.accept(.apply, summary: "apply \(body.workspace.blueprintFile)", workspace: body.workspace)
        }
        api.post("deployment/plan") { request, context in
            let body = try await request.decode(as: PlanRequest.self, context: context)
            if let problem = body.request.problem { return try JSONResponse.error(.badRequest, APIErrorBody(error: problem)) }
            return try JSONResponse.encode(try await self.plan(body))
        }
        api.post("clusters/{name}/scale") { request, context in
            let name = try context.parameters.require("name")
            let body = try await request.decode(as: ScaleRequest.self, context: context)
            return try await self.accept(.scale(name, counts: body.counts, force: body.force == true))
        }
        api.delete("clusters/{name}") { _, context in
            let name = try context.parameters.require("name")
            guard try await self.clusters().contains(where: { $0.name == name && !$0.management }) else {
                return try JSONResponse.error(
                    .notFound,
                    APIErrorBody(
                        error: "the deployment has no cluster '\(name)'",
                        help: "the management plane is removed from the installer with 'photon destroy'"))
            }
            return try await self.accept(.destroy(cluster: name))
        }
        api.delete("clusters") { _, _ in
            return try await self.accept(.destroy(cluster: nil))
        }
        return router
    }

    func health(authenticated: Bool) async throws -> Response {
        let healthy = await etcd.isHealthy()
        var body = HealthBody(status: healthy ? "ok" : "etcd unavailable", authenticated: authenticated)
        if authenticated {
            body.node = configuration.node
            body.leader = leadership.isLeader
            body.etcd = healthy
        }
        return try JSONResponse.encode(body, status: healthy ? .ok : .serviceUnavailable)
    }

    /// The resource as computed at the current etcd revision (reused when nothing was written since).
    func current(_ resource: String, compute: @escaping @Sendable () async throws -> ByteBuffer) async throws -> Response {
        let revision = try await revisions.current()
        let leader = leadership.leader
        let computation = computed.withLock { computed in
            // One computed at a later revision is fresher still than this reader needs.
            if let hit = computed[resource], hit.revision >= revision, hit.leader == leader { return hit.body }
            let started = Task { try await compute() }
            computed[resource] = (revision, leader, started)
            return started
        }
        do {
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: try await computation.value))
        } catch {
            // A failed computation is not kept: the next reader tries again.
            computed.withLock { computed in
                if let hit = computed[resource], hit.revision == revision, hit.leader == leader { computed[resource] = nil }
            }
            throw error
        }
    }

    func deployment() async throws -> DeploymentBody {
        let store = try await store()
        let recorded = try await store.recordedState()
        let applied = try await store.lastApplied()
        let lock = try await store.lockHolder()
        let current = try await readBook.all().first { !$0.status.isFinished }
        let body = DeploymentBody(
            name: configuration.deployment, serial: recorded.serial, node: configuration.node, leader: leadership.leader,
            peers: configuration.peers.map { PeerBody(name: $0.name, url: $0.url) },
            lastApplied: applied.map { AppliedBody(digest: $0.digest, appliedAt: $0.date) },
            lock: lock.map { LockBody(id: $0.id.uuidString, command: $0.command, host: $0.host, pid: $0.pid, since: $0.since) },
            clusters: Array(Set(recorded.machines.map(\.group))).sorted(),
            scaled: recorded.scaledCounts.values.sorted { $0.key < $1.key }.map {
                ScaledBody(cluster: $0.group, role: $0.role, count: $0.count, blueprintCount: $0.baseCount)
            },
            operation: current,
            expiringCertificates: ExpiringCertificate.among(recorded.generatedSecrets).filter { $0.group != "management" })
        return body
    }

    func clusters() async throws -> [ClusterBody] {
        let recorded = try await store().recordedState()
        var groups: [String: [RecordedMachine]] = [:]
        for machine in recorded.machines { groups[machine.group, default: []].append(machine) }
        return groups.keys.sorted().map { name in
            let machines = groups[name]!
            var roles: [String: [RecordedMachine]] = [:]
            var order: [String] = []
            for machine in machines.sorted(by: { $0.index < $1.index }) {
                if roles[machine.role] == nil { order.append(machine.role) }
                roles[machine.role, default: []].append(machine)
            }
            let health =
                machines.contains { $0.lifecycle == .deleting }
                ? "changing"
                : machines.allSatisfy { $0.lifecycle == .ready } ? "ready" : "converging"
            return ClusterBody(
                name: name, kind: machines[0].kind, management: name == "management", health: health,
                roles: order.map { role in
                    let members = roles[role]!
                    return RoleBody(
                        name: role, count: members.count, ready: members.filter { $0.lifecycle == .ready }.count,
                        machines: members.map {
                            MachineBody(
                                name: $0.name, role: $0.role, index: $0.index, address: $0.address,
                                lifecycle: $0.lifecycle.rawValue)
                        })
                })
        }
    }

    static func runBody(_ run: RunRecord) -> RunBody {
        RunBody(id: run.id, command: run.command, status: run.status.rawValue, startedAt: run.startedAt, finishedAt: run.finishedAt, summary: run.summary)
    }
}

/// Turns any error a handler throws into the API's JSON error body (and never echoes a request).
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            return try JSONResponse.error(error.status, APIErrorBody(error: error.body ?? error.status.reasonPhrase))
        } catch let error as PhotonError {
            return try JSONResponse.error(.internalServerError, APIErrorBody(error: error.message, help: error.help))
        } catch let error as EtcdError {
            return try JSONResponse.error(.serviceUnavailable, APIErrorBody(error: error.message, help: "check the plane's etcd members"))
        } catch is NIOTooManyBytesError {
            return try JSONResponse.error(.contentTooLarge, APIErrorBody(error: "the request body is larger than \(ServerLimits.maxRequestBody) bytes"))
        } catch let error as DecodingError {
            return try JSONResponse.error(.badRequest, APIErrorBody(error: "the request body is not what this endpoint takes: \(error)"))
        } catch {
            // Driver errors (the agent's) already say what failed on which machine.
            return try JSONResponse.error(.internalServerError, APIErrorBody(error: String(describing: error)))
        }
    }
}
