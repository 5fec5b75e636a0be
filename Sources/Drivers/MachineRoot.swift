import Foundation
import PhotonCore

#if canImport(Glibc)
import Glibc
#endif

/// The ids of a machine's user namespace: root inside a machine is an unprivileged id range on the host,
/// so what root can do there (load a module, mount a disk, write a host sysctl) the kernel refuses.
public struct IDMap: Sendable, Hashable {
    /// The host id that is root (uid and gid 0) inside.
    public var hostBase: UInt32
    /// How many ids are mapped, from 0 inside.
    public var count: UInt32

    public init(hostBase: UInt32, count: UInt32) {
        self.hostBase = hostBase
        self.count = count
    }

    /// Host ids 1,000,000 to 1,065,535: above the ranges Debian hands to users (`/etc/subuid` starts at
    /// 100,000) and wide enough for every id a Debian system uses (nobody is 65,534).
    public static let standard = IDMap(hostBase: 1_000_000, count: 65_536)

    /// The host id for an id inside the machine; ids beyond the map become `nobody`.
    func host(_ inside: UInt32) -> UInt32 { hostBase + (inside < count ? inside : 65_534) }

    var lxcLines: [String] { ["lxc.idmap = u 0 \(hostBase) \(count)", "lxc.idmap = g 0 \(hostBase) \(count)"] }
}

/// Where a machine's root and the host files it mounts appear in the machine's mount namespace while
/// LXC starts it: a tmpfs of that namespace alone, on a folder every id can reach. LXC mounts them as the
/// machine's root (an unprivileged id), which cannot look into photon's state folders (mode 0700).
struct StagedPaths {
    static let base = "/run/photon"
    var name: String

    var directory: String { "\(StagedPaths.base)/\(name)" }
    var root: String { directory + "/root" }
    var lower: String { directory + "/lower" }
    var docker: String { directory + "/docker" }
    func layer(_ index: Int) -> String { directory + "/layers/\(index)" }
}

/// A machine's root file system and its start. The root is an overlay whose lower layer is the host's
/// `/` through an id-mapped mount (the host's root-owned files belong to the machine's root, read-only)
/// and whose upper layer is the machine's own folder. Both are mounted in a mount namespace of their own,
/// in which `lxc-start` runs: the host's mount table never holds them, nothing in the machine can reach
/// the host's root except through the overlay, and they go when the machine stops.
enum MachineRoot {
    /// Mounts the machine's root and the host files it binds (its Docker folder, layer files) at their
    /// ``StagedPaths`` in a new mount namespace and runs `command` (LXC's start) there.
    static func start(
        _ layout: MachineLayout, machinesDirectory: String, userNamespace: UserNamespace, docker: Bool, layerSources: [String],
        command: [String]
    ) throws -> HostCommand.Output {
        guard let calls = LinuxMounts.calls else {
            throw DriverError(
                machine: layout.name, operation: "create", "this C library lacks the mount calls the local driver needs (open_tree, mount_setattr)",
                help: "the local driver needs glibc 2.36 or later (Debian 12) and Linux 5.12 or later")
        }
        let staged = StagedPaths(name: layout.name)
        if mkdir(StagedPaths.base, 0o755) != 0 && errno != EEXIST {
            throw DriverError(machine: layout.name, operation: "create", "cannot make \(StagedPaths.base): \(String(cString: strerror(errno)))")
        }
        return try onThreadOfItsOwn {
            // unshare moves the calling thread alone, and only its children inherit the namespace.
            try check(calls.unshare(LinuxMounts.cloneNewNS), "make a mount namespace for the machine")
            try check(calls.mount(nil, "/", nil, LinuxMounts.recursivePrivate, nil), "make the machine's mount namespace private")
            try check(
                calls.mount("tmpfs", StagedPaths.base, "tmpfs", LinuxMounts.noSuidNoDevNoExec, "mode=0755,size=1m"), "mount a tmpfs on \(StagedPaths.base)")
            for directory in [staged.directory, staged.root, staged.lower, staged.directory + "/layers"] {
                try check(mkdir(directory, 0o755), "make \(directory)")
            }
            try mountLower(at: staged.lower, userNamespace: userNamespace, calls: calls)
            let options = "lowerdir=\(staged.lower),upperdir=\(layout.upper),workdir=\(layout.work)"
            try check(calls.mount("overlay", staged.root, "overlay", 0, options), "mount the machine's root (overlay \(options))")
            if docker {
                try check(mkdir(staged.docker, 0o755), "make \(staged.docker)")
                try check(calls.mount(layout.docker, staged.docker, nil, LinuxMounts.bind, nil), "bind \(layout.docker)")
            }
            for (index, source) in layerSources.enumerated() {
                let target = staged.layer(index)
                let file = open(target, O_CREAT | O_WRONLY | O_CLOEXEC, 0o644)
                try check(file, "make \(target)")
                close(file)
                try check(calls.mount(source, target, nil, LinuxMounts.bind, nil), "bind the layer file \(source)")
            }
            try revealOnly(machinesDirectory, calls: calls)
            return try HostCommand.runBlocking(command)
        }
    }

    /// LXC checks that the machine's root can reach the machines folder (`lxcpath`), which photon keeps in
    /// state folders of mode 0700 (and users keep under `/root`). In this namespace only, the highest
    /// folder on the way that others cannot pass is covered by a tmpfs holding nothing but the way down
    /// to the machines folder, which is bound back at its own path: the same path, nothing else to see.
    private static func revealOnly(_ machinesDirectory: String, calls: LinuxMounts.Calls) throws {
        let components = machinesDirectory.split(separator: "/").map(String.init)
        var blocking: String?
        var prefix = ""
        for component in components.dropLast() {
            prefix += "/" + component
            var info = stat()
            guard stat(prefix, &info) == 0 else { return }
            if info.st_mode & 0o001 == 0 {
                blocking = prefix
                break
            }
        }
        guard let blocking else { return }
        let machines = calls.openTree(LinuxMounts.atCurrentDirectory, machinesDirectory, LinuxMounts.openTreeClone | LinuxMounts.openTreeCloseOnExec)
        try check(machines, "clone \(machinesDirectory)")
        defer { close(machines) }
        try check(calls.mount("tmpfs", blocking, "tmpfs", LinuxMounts.noSuidNoDevNoExec, "mode=0711,size=64k"), "cover \(blocking)")
        var path = blocking
        for component in components.dropFirst(blocking.split(separator: "/").count) {
            path += "/" + component
            try check(mkdir(path, 0o711), "make \(path)")
        }
        try check(
            calls.moveMount(machines, "", LinuxMounts.atCurrentDirectory, machinesDirectory, LinuxMounts.moveMountFromEmptyPath),
            "bind \(machinesDirectory) back")
    }

    /// The host's `/` (that file system alone, not the ones mounted under it), id-mapped so its files of
    /// uid 0 are the machine's root's, read-only and without devices.
    private static func mountLower(at target: String, userNamespace: UserNamespace, calls: LinuxMounts.Calls) throws {
        let tree = calls.openTree(LinuxMounts.atCurrentDirectory, "/", LinuxMounts.openTreeClone | LinuxMounts.openTreeCloseOnExec)
        try check(tree, "clone the host's root mount")
        defer { close(tree) }
        var attributes = LinuxMounts.MountAttributes(
            set: LinuxMounts.attributeIDMap | LinuxMounts.attributeReadOnly | LinuxMounts.attributeNoDevices,
            clear: 0, propagation: 0, userNamespace: UInt64(userNamespace.descriptor))
        let set = withUnsafeMutableBytes(of: &attributes) { calls.mountSetattr(tree, "", LinuxMounts.atEmptyPath, $0.baseAddress!, $0.count) }
        try check(
            set,
            "id-map the host's root for the machine",
            help: "the local driver needs Linux 5.12 or later and a root file system that supports id-mapped mounts (ext4, xfs, btrfs; not an overlay)")
        try check(
            calls.moveMount(tree, "", LinuxMounts.atCurrentDirectory, target, LinuxMounts.moveMountFromEmptyPath),
            "attach the host's root at \(target)")
    }

    private static func check(_ result: Int32, _ doing: String, help: String? = nil) throws {
        guard result >= 0 else {
            throw DriverError(machine: nil, operation: "create", "cannot \(doing): \(String(cString: strerror(errno)))", help: help)
        }
    }

    /// Runs `body` on a new thread that ends with it: a thread that changed its mount namespace must
    /// never run anything else.
    private static func onThreadOfItsOwn<T: Sendable>(_ body: @escaping @Sendable () throws -> T) throws -> T {
        let outcome = ThreadOutcome<T>(), done = DispatchSemaphore(value: 0)
        let thread = Thread {
            outcome.result = Result { try body() }
            done.signal()
        }
        thread.stackSize = 1 << 20
        thread.start()
        done.wait()
        return try outcome.result!.get()
    }
}

/// What a thread's body returned, handed to the thread that waits for it.
private final class ThreadOutcome<T>: @unchecked Sendable {
    var result: Result<T, any Error>?
}

/// A user namespace with a given id map, held by a descriptor: what an id-mapped mount maps through.
/// Made by a short-lived `unshare --user` child whose maps photon writes (as root may) before opening it;
/// the descriptor keeps the namespace after the child is gone. One serves every machine of a driver.
final class UserNamespace: @unchecked Sendable {
    let descriptor: Int32

    init(_ idMap: IDMap) throws {
        let child = try HostCommand.spawnDetached(["unshare", "--user", "--", "sleep", "30"])
        defer {
            kill(child, SIGKILL)
            var status: Int32 = 0
            while waitpid(child, &status, 0) < 0 && errno == EINTR {}
        }
        let own = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/user")
        let deadline = ContinuousClock.now + .seconds(5)
        while (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(child)/ns/user")) == own {
            guard ContinuousClock.now < deadline else {
                throw DriverError(machine: nil, operation: "create", "the helper that makes the machines' user namespace did not start (unshare --user)")
            }
            usleep(1_000)
        }
        let map = "0 \(idMap.hostBase) \(idMap.count)\n"
        for file in ["uid_map", "gid_map"] {
            guard (try? Data(map.utf8).write(to: URL(fileURLWithPath: "/proc/\(child)/\(file)"))) != nil else {
                throw DriverError(machine: nil, operation: "create", "cannot write the machines' id map (/proc/\(child)/\(file))")
            }
        }
        descriptor = open("/proc/\(child)/ns/user", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw DriverError(machine: nil, operation: "create", "cannot open the machines' user namespace: \(String(cString: strerror(errno)))")
        }
    }

    deinit { close(descriptor) }
}

/// The mount calls of Linux that Swift's Glibc module does not declare (glibc 2.36 has wrappers for
/// the new mount API), looked up once.
enum LinuxMounts {
    /// struct mount_attr.
    struct MountAttributes {
        var set: UInt64
        var clear: UInt64
        var propagation: UInt64
        var userNamespace: UInt64
    }

    static let cloneNewNS: Int32 = 0x0002_0000
    static let recursivePrivate: UInt = 0x4000 | (1 << 18)  // MS_REC | MS_PRIVATE
    static let bind: UInt = 0x1000  // MS_BIND
    static let noSuidNoDevNoExec: UInt = 0x2 | 0x4 | 0x8  // MS_NOSUID | MS_NODEV | MS_NOEXEC
    static let atCurrentDirectory: Int32 = -100
    static let atEmptyPath: UInt32 = 0x1000
    static let openTreeClone: UInt32 = 1
    static let openTreeCloseOnExec = UInt32(O_CLOEXEC)
    static let moveMountFromEmptyPath: UInt32 = 0x4
    static let attributeReadOnly: UInt64 = 0x1
    static let attributeNoDevices: UInt64 = 0x4
    static let attributeIDMap: UInt64 = 0x10_0000

    typealias Unshare = @convention(c) (Int32) -> Int32
    typealias Mount = @convention(c) (UnsafePointer<CChar>?, UnsafePointer<CChar>, UnsafePointer<CChar>?, UInt, UnsafeRawPointer?) -> Int32
    typealias OpenTree = @convention(c) (Int32, UnsafePointer<CChar>, UInt32) -> Int32
    typealias MoveMount = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32
    typealias MountSetattr = @convention(c) (Int32, UnsafePointer<CChar>, UInt32, UnsafeMutableRawPointer, Int) -> Int32

    typealias Calls = (unshare: Unshare, mount: Mount, openTree: OpenTree, moveMount: MoveMount, mountSetattr: MountSetattr)

    /// The calls, or nil with a libc older than glibc 2.36.
    static let calls: Calls? = {
        guard let unshare = symbol("unshare", Unshare.self), let mount = symbol("mount", Mount.self),
            let openTree = symbol("open_tree", OpenTree.self), let moveMount = symbol("move_mount", MoveMount.self),
            let mountSetattr = symbol("mount_setattr", MountSetattr.self)
        else { return nil }
        return (unshare, mount, openTree, moveMount, mountSetattr)
    }()

    private static func symbol<F>(_ name: String, _ type: F.Type) -> F? {
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), name).map { unsafeBitCast($0, to: F.self) }
    }
}
