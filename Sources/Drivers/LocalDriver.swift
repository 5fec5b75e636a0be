import Foundation
import MachineAccess
import PhotonCore
import SSH

#if canImport(Glibc)
import Glibc
#endif

/// photon's embedded control plane: lightweight machines on the installer host, run by LXC.
///
/// Each machine is an unprivileged LXC container (its root is an id range of the host's, in a user
/// namespace of its own) whose root is an overlay over the host's `/` (so every package installed on the
/// host is in every machine), with what the installer keeps hidden in the overlay's upper layer, its own
/// address on the deployment's bridge, its own hostname and host key, and tini starting sshd. Machines
/// outlive photon and are found again by name in `machinesDirectory`.
public final class LocalDriver: MachineDriver, @unchecked Sendable {
    public struct Configuration: Sendable {
        public var deployment: String
        public var network: IPv4Network
        /// The bridge's name; derived from the network when nil.
        public var bridge: String?
        /// Where the blueprint set the network ("photon.yaml:4:14"), for errors.
        public var networkSource: String?
        /// One directory per deployment; LXC's "lxcpath" for its machines.
        public var machinesDirectory: String
        /// What the installer keeps that no machine may see: photon's state (every deployment's keys), the
        /// blueprint's folder, the secret and key files it names. The machines folder is always hidden.
        public var hiddenPaths: [HiddenPath]
        /// The public key line that may log in as root.
        public var authorizedKey: String
        /// Folders whose files appear read-only in every machine at the same paths.
        public var layers: [String] = []
        /// How long a started machine has to answer on port 22.
        public var startTimeout: Duration
        /// Machines started at once; more only make them contend for the CPUs.
        public var concurrentStarts: Int
        /// The host ids that are the machines' ids (root inside is `idMap.hostBase` outside).
        public var idMap: IDMap = .standard
        /// Where every deployment of this host records its hidden paths, so that no deployment's machines
        /// see another's.
        public var hiddenPathRegistry = "/var/lib/photon/hidden-paths"

        public init(
            deployment: String, network: IPv4Network, bridge: String? = nil, networkSource: String? = nil, machinesDirectory: String,
            hiddenPaths: [HiddenPath], authorizedKey: String, startTimeout: Duration = .seconds(30),
            concurrentStarts: Int = max(2, 2 * ProcessInfo.processInfo.activeProcessorCount)
        ) {
            self.deployment = deployment
            self.network = network
            self.bridge = bridge
            self.networkSource = networkSource
            self.machinesDirectory = machinesDirectory
            self.hiddenPaths = hiddenPaths
            self.authorizedKey = authorizedKey
            self.startTimeout = startTimeout
            self.concurrentStarts = concurrentStarts
        }
    }

    public let configuration: Configuration
    let hostNetwork: HostNetwork
    let cgroupVersion = CgroupLimits.hostVersion()
    /// Guards the bridge and the set of machine directories: a create and the delete of the last machine
    /// must not race over the bridge.
    let hostLock = NSLock()
    private var prepared = false
    /// Read once when the host is prepared (under `hostLock`), not for every machine.
    private var masks = MachineMasks(absent: [], emptied: [])
    private var confinement: Confinement?
    private var userNamespace: UserNamespace?
    private var layerFiles: [(source: String, target: String)] = []
    private let starts: DispatchSemaphore

    public init(_ configuration: Configuration) {
        self.configuration = configuration
        hostNetwork = HostNetwork(
            network: configuration.network,
            bridge: configuration.bridge ?? HostNetwork.defaultBridgeName(for: configuration.network),
            source: configuration.networkSource)
        starts = DispatchSemaphore(value: max(1, configuration.concurrentStarts))
    }

    public var bridge: String { hostNetwork.bridge }

    // MARK: MachineDriver

    public func create(_ spec: MachineSpec) async throws -> MachineHandle {
        try checkName(spec.name, operation: "create")
        return try await OwnThread.run { try self.createBlocking(spec) }
    }

    public func delete(name: String) async throws {
        try checkName(name, operation: "delete")
        try await OwnThread.run { try self.deleteBlocking(name: name) }
    }

    public func lookup(name: String) async throws -> MachineHandle? {
        try checkName(name, operation: "lookup")
        return try lookupBlocking(name: name)
    }

    /// A machine runs while LXC keeps its cgroup (it goes when the machine stops or the host reboots).
    public func isRunning(name: String) async -> Bool? {
        guard (try? checkName(name, operation: "look at")) != nil, FileManager.default.fileExists(atPath: layout(name).config) else { return nil }
        return FileManager.default.fileExists(atPath: CgroupLimits.payloadGroup(machine: name, controller: "pids", version: cgroupVersion))
    }

    /// One connection attempt to port 22 of every machine at once, 500 ms at most: a machine on the
    /// bridge answers (or refuses) within a millisecond, so only a deaf one costs the wait.
    public func deafMachines(_ addresses: [String: String]) async -> Set<String> {
        let machines = addresses.compactMap { name, text in IPv4Address(text).map { (name, $0) } }
        guard !machines.isEmpty else { return [] }
        guard let answers = try? await OwnThread.run({ PortProbe.accepting(machines.map { ($0.1, 22) }, within: .milliseconds(500)) }) else { return [] }
        return Set(zip(machines, answers).filter { !$1 }.map { $0.0.0 })
    }

    public func releaseIfUnused() async throws {
        try await OwnThread.run { try self.hostLock.withLock { if try self.machineNames().isEmpty { try self.releaseHost() } } }
    }

    public func list() async throws -> [MachineHandle] {
        try machineNames().compactMap { try lookupBlocking(name: $0) }
    }

    // MARK: Create

    func createBlocking(_ spec: MachineSpec) throws -> MachineHandle {
        let name = spec.name
        guard let addressText = spec.address, let address = IPv4Address(addressText) else {
            throw DriverError(
                machine: name, operation: "create", "no address was allocated for the machine",
                help: "the local driver takes addresses from controlPlane.local.network; this is a bug in the plan")
        }
        guard hostNetwork.network.usableHosts?.contains(address.value) == true, address != hostNetwork.hostAddress else {
            throw DriverError(machine: name, operation: "create", "address \(address) is not a machine address of \(hostNetwork.network)")
        }
        let layout = self.layout(name)
        let made = try hostLock.withLock { () -> Bool in
            try prepareHost()
            if FileManager.default.fileExists(atPath: layout.config) {
                // Made before (perhaps by a photon that was killed): adopt it if it is the same machine.
                let recorded = try String(contentsOfFile: layout.config, encoding: .utf8)
                guard let existing = MachineLayout.address(inConfig: recorded), existing == address else {
                    throw DriverError(
                        machine: name, operation: "create",
                        "a machine of this name exists with another address (\(MachineLayout.address(inConfig: recorded).map(String.init(describing:)) ?? "none")), not \(address)",
                        help: "delete it with 'photon destroy' or remove \(layout.directory)")
                }
                guard recorded.contains("\nlxc.idmap = ") else {
                    throw DriverError(
                        machine: name, operation: "create",
                        "the machine was made by an earlier photon as a privileged container, which root inside it can leave",
                        help:
                            "remove it with 'photon destroy' (or lxc-stop -P \(configuration.machinesDirectory) -n \(name) -k and remove \(layout.directory)), then apply again"
                    )
                }
                updateKnownHosts(adding: layout, removing: address)  // a killed photon may not have listed it
                return false
            }
            try makeMachine(spec, address: address, layout: layout)
            updateKnownHosts(adding: layout, removing: address)
            return true
        }
        let started = try start(spec, layout: layout, fresh: made)
        if !started, !TCPProbe.accepts(address: address, port: 22, within: .seconds(1)) {
            // Adopted, running, and deaf: its sshd died (the machine's other processes may be fine). Start
            // sshd again rather than restart the machine, which would stop what already runs there.
            _ = try? HostCommand.runBlocking([
                "lxc-attach", "-P", configuration.machinesDirectory, "-n", name, "--",
                "/bin/sh", "-c", "mkdir -p /run/sshd; pgrep -x sshd >/dev/null || /usr/sbin/sshd -E /var/log/sshd.log",
            ])
        }
        try waitForSSH(layout, address: address)
        guard let handle = try lookupBlocking(name: name) else {
            throw DriverError(machine: name, operation: "create", "the machine vanished while it started", transient: true)
        }
        return handle
    }

    /// Prepares the machine's files in a temporary directory and renames it into place, so a machine
    /// directory either does not exist or is complete, whenever the process is killed.
    private func makeMachine(_ spec: MachineSpec, address: IPv4Address, layout: MachineLayout) throws {
        let partial = configuration.machinesDirectory + "/.partial-" + spec.name
        try? FileManager.default.removeItem(atPath: partial)
        guard mkdir(partial, 0o700) == 0 else {
            throw DriverError(machine: spec.name, operation: "create", "cannot make \(partial): \(String(cString: strerror(errno)))")
        }
        let staged = MachineLayout(directory: partial, name: spec.name)
        let hostKey = DeploymentKey.generate(comment: "root@\(spec.name)")
        try staged.seed(
            MachineLayout.Seed(
                name: spec.name, address: address, network: hostNetwork.network,
                hostKey: (hostKey.privateKey, hostKey.publicKey), authorizedKey: configuration.authorizedKey),
            docker: spec.needs.contains("docker"), idMap: configuration.idMap)
        try staged.hide(masks, idMap: configuration.idMap)
        // The configuration names the final paths: it is only read once the directory has its final name.
        try writeConfig(spec, address: address, layout: layout, into: staged.config)
        guard rename(partial, layout.directory) == 0 else {
            throw DriverError(machine: spec.name, operation: "create", "cannot move \(partial) to \(layout.directory): \(String(cString: strerror(errno)))")
        }
    }

    /// Every file of the layers, as (file on the host, path inside the machine); a later layer wins.
    private func readLayerFiles() throws -> [(source: String, target: String)] {
        var byTarget: [String: String] = [:]
        for layer in configuration.layers {
            guard let walker = FileManager.default.enumerator(atPath: layer) else {
                throw DriverError(machine: nil, operation: "create", "cannot read the layer \(layer)")
            }
            while let relative = walker.nextObject() as? String {
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: layer + "/" + relative, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
                byTarget["/" + relative] = layer + "/" + relative
            }
        }
        return byTarget.sorted { $0.key < $1.key }.map { (source: $0.value, target: $0.key) }
    }

    /// LXC's configuration of the machine, written under a temporary name and renamed over `path`.
    private func writeConfig(_ spec: MachineSpec, address: IPv4Address, layout: MachineLayout, into path: String) throws {
        guard let confinement else { throw DriverError(machine: spec.name, operation: "create", "the host was not prepared (a bug)") }
        let config = layout.lxcConfig(
            deployment: configuration.deployment, address: address, network: hostNetwork,
            limits: CgroupLimits(flavor: spec.flavor, version: cgroupVersion), docker: spec.needs.contains("docker"),
            layerFiles: layerFiles, confinement: confinement)
        let temporary = path + ".new"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(config.utf8), attributes: [.posixPermissions: 0o600]),
            rename(temporary, path) == 0
        else {
            throw DriverError(machine: spec.name, operation: "create", "cannot write \(path)")
        }
    }

    /// Starts the machine unless it runs already (a machine adopted after a crash may); returns whether it
    /// started it now. A stopped machine gets the current configuration and masks first.
    @discardableResult
    private func start(_ spec: MachineSpec, layout: MachineLayout, fresh: Bool) throws -> Bool {
        if !fresh, state(layout.name) == "RUNNING" { return false }
        // A group an earlier stop left would make LXC start this machine in a group of another name.
        if !fresh { MachineRemains(machinesDirectory: configuration.machinesDirectory, name: layout.name).removeEmptyGroups() }
        if !fresh, let address = spec.address.flatMap(IPv4Address.init) {
            try hostLock.withLock {
                try layout.hide(masks, idMap: configuration.idMap)
                try writeConfig(spec, address: address, layout: layout, into: layout.config)
            }
        }
        starts.wait()
        defer { starts.signal() }
        guard let userNamespace = hostLock.withLock({ self.userNamespace }) else {
            throw DriverError(machine: spec.name, operation: "create", "the host was not prepared (a bug)")
        }
        let result = try MachineRoot.start(
            layout, machinesDirectory: configuration.machinesDirectory, userNamespace: userNamespace,
            docker: spec.needs.contains("docker"), layerSources: layerFiles.map(\.source),
            command: ["lxc-start", "-P", configuration.machinesDirectory, "-n", layout.name, "-d"])
        if result.succeeded { return true }
        if state(layout.name) == "RUNNING" { return false }
        let log = (try? String(contentsOfFile: layout.lxcLog, encoding: .utf8))?.split(separator: "\n").suffix(3).joined(separator: "\n") ?? ""
        throw DriverError(
            machine: layout.name, operation: "create", "lxc-start failed: \(result.diagnostic)\(log.isEmpty ? "" : "\n" + log)",
            help: "see \(layout.lxcLog)")
    }

    /// LXC's state of the machine ("RUNNING", "STOPPED", …), or nil when LXC does not know it.
    func state(_ name: String) -> String? {
        guard let result = try? HostCommand.runBlocking(["lxc-info", "-P", configuration.machinesDirectory, "-n", name, "-s", "-H"]),
            result.succeeded
        else { return nil }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Returns once sshd accepts connections on the machine's address.
    private func waitForSSH(_ layout: MachineLayout, address: IPv4Address) throws {
        let deadline = ContinuousClock.now + configuration.startTimeout
        while ContinuousClock.now < deadline {
            if TCPProbe.accepts(address: address, port: 22, within: .milliseconds(250)) { return }
            usleep(10_000)
        }
        let console = (try? String(contentsOfFile: layout.console, encoding: .utf8))?.split(separator: "\n").suffix(3).joined(separator: "\n") ?? ""
        throw DriverError(
            machine: layout.name, operation: "create",
            "the machine started but nothing answers on \(address):22 after \(configuration.startTimeout)\(console.isEmpty ? "" : ":\n" + console)",
            help: "see \(layout.console) and the machine's /var/log/sshd.log (lxc-attach -P \(configuration.machinesDirectory) -n \(layout.name))",
            transient: true)
    }

    // MARK: The host

    /// Checks the host once and makes the bridge and the machines directory.
    private func prepareHost() throws {
        if prepared, hostNetwork.bridgeExists { return }
        try HostRequirements.check()
        if let character = configuration.machinesDirectory.first(where: { ",:\\\n".contains($0) }) {
            throw DriverError(
                machine: nil, operation: "prepare the host",
                "the machines folder \(configuration.machinesDirectory) holds \(character == "\n" ? "a line break" : "'\(character)'"), which overlayfs cannot take in its options",
                help: "choose a state folder (--state) whose path has no ',', ':' or '\\'")
        }
        // Machines' roots must be able to pass it (LXC checks), not list it: each machine's folder is 0700.
        try FileManager.default.createDirectory(
            atPath: configuration.machinesDirectory, withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o711])
        chmod(configuration.machinesDirectory, 0o711)
        try hostNetwork.ensureBridge()
        masks = try hostMasks()
        try writeSeccompPolicy()
        confinement = Confinement(idMap: configuration.idMap, seccompProfile: seccompPolicyFile, appArmor: Confinement.hostHasAppArmor())
        if userNamespace == nil { userNamespace = try UserNamespace(configuration.idMap) }
        layerFiles = try readLayerFiles()
        prepared = true
    }

    /// With the last machine gone: the bridge (if photon made it and no machine is on it), the machines
    /// directory and LXC's lock directory. Whether photon made the bridge is read from the bridge itself
    /// (its MAC), not from a file a killed photon may not have written or a destroy may have removed.
    func releaseHost() throws {
        if hostNetwork.bridgeExists, hostNetwork.bridgeIsPhotons, hostNetwork.ports.isEmpty {
            try hostNetwork.removeBridge()
        }
        prepared = false
        // The deployment is gone from this host: other deployments' machines need not hide its paths.
        let own = (configuration.hiddenPaths + [HiddenPath(configuration.machinesDirectory, reason: .state)]).compactMap { MachineMasks.realPath($0.path) }
        try? HiddenPathRegistry(file: configuration.hiddenPathRegistry).record([], removing: own)
        try? FileManager.default.removeItem(atPath: configuration.machinesDirectory + "/.bridge")  // older photons' marker
        // What a killed photon may have left half-written: the hosts file and machines never finished.
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: configuration.machinesDirectory)) ?? []
        where entry.hasPrefix("known_hosts") || entry.hasPrefix(".partial-") || entry == ".seccomp" {
            try? FileManager.default.removeItem(atPath: configuration.machinesDirectory + "/" + entry)
        }
        rmdir(configuration.machinesDirectory)
        // LXC keeps lock files for an lxcpath under /run/lxc/lock/<lxcpath>: remove them and the empty chain above.
        var lockDirectory = "/run/lxc/lock" + configuration.machinesDirectory
        try? FileManager.default.removeItem(atPath: lockDirectory)
        lockDirectory = (lockDirectory as NSString).deletingLastPathComponent
        while lockDirectory.count > "/run/lxc/lock".count, rmdir(lockDirectory) == 0 {
            lockDirectory = (lockDirectory as NSString).deletingLastPathComponent
        }
    }

    private var seccompPolicyFile: String { configuration.machinesDirectory + "/.seccomp" }

    /// The masks of every machine: this deployment's hidden paths (and its machines folder) and every
    /// other deployment's on this host, recorded for them all.
    private func hostMasks() throws -> MachineMasks {
        let own = configuration.hiddenPaths + [HiddenPath(configuration.machinesDirectory, reason: .state)]
        if let strange = own.first(where: { !$0.path.hasPrefix("/") || $0.path.contains("\n") }) {
            throw DriverError(
                machine: nil, operation: "prepare the host", "cannot hide \(strange) from the machines: the path must be absolute and on one line")
        }
        // Checked before recording: a path no machine can do without is refused, not recorded.
        _ = try MachineMasks.make(hiding: own)
        let existing = own.compactMap { MachineMasks.realPath($0.path) }
        let recorded = try HiddenPathRegistry(file: configuration.hiddenPathRegistry).record(existing)
        let others = recorded.filter { !existing.contains($0) }.map { HiddenPath($0, reason: .otherDeployment) }
        return try MachineMasks.make(hiding: own + others)
    }

    private func writeSeccompPolicy() throws {
        guard (try? String(contentsOfFile: seccompPolicyFile, encoding: .utf8)) != Confinement.seccompPolicy else { return }
        guard FileManager.default.createFile(atPath: seccompPolicyFile, contents: Data(Confinement.seccompPolicy.utf8), attributes: [.posixPermissions: 0o644])
        else {
            throw DriverError(machine: nil, operation: "prepare the host", "cannot write \(seccompPolicyFile)")
        }
    }
}
