import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs a program on the installer host (`ip`, `lxc-start`, …) and waits for it on a thread of its own,
/// never on the cooperative pool.
///
/// Children are started with posix_spawn, a clean signal mask and default handlers: threads of this
/// process (libdispatch's) block signals, and a child would otherwise inherit that mask. Output goes to
/// unlinked temporary files rather than pipes, so a program that daemonizes and leaves a descendant
/// holding its stdout (as `lxc-start -d` may) cannot keep the caller waiting for an end of file.
public enum HostCommand {
    public struct Output: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
        public var succeeded: Bool { status == 0 }

        /// The last lines of stderr (or stdout when stderr is empty), for error messages.
        public var diagnostic: String {
            let text = stderr.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? stdout : stderr
            return text.split(separator: "\n").suffix(4).joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    /// Runs `arguments` (the first an absolute path or a name looked up in PATH) and returns how it ended.
    public static func run(_ arguments: [String], input: String? = nil) async throws -> Output {
        try await OwnThread.run(stackSize: 512 << 10) { try runBlocking(arguments, input: input) }
    }

    /// The blocking form, for code already on a thread of its own.
    public static func runBlocking(_ arguments: [String], input: String? = nil) throws -> Output {
        guard let program = arguments.first, let path = resolve(program) else {
            throw PhotonError("cannot run \(arguments.first ?? "nothing"): no such program in PATH")
        }
        let stdoutFile = try temporaryFile(), stderrFile = try temporaryFile()
        defer {
            close(stdoutFile)
            close(stderrFile)
        }
        var inputFile: Int32 = -1
        if let input {
            inputFile = try temporaryFile()
            let bytes = Array(input.utf8)
            _ = bytes.withUnsafeBytes { write(inputFile, $0.baseAddress, $0.count) }
            lseek(inputFile, 0, SEEK_SET)
        }
        defer { if inputFile >= 0 { close(inputFile) } }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if inputFile >= 0 {
            posix_spawn_file_actions_adddup2(&actions, inputFile, 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, stdoutFile, 1)
        posix_spawn_file_actions_adddup2(&actions, stderrFile, 2)
        let pid = try spawn(path, arguments: Array(arguments.dropFirst()), actions: &actions)
        var status: Int32 = 0
        var waited = waitpid(pid, &status, 0)
        while waited < 0 && errno == EINTR { waited = waitpid(pid, &status, 0) }
        guard waited == pid else {
            // Someone else reaped it: how it ended is unknown, so it must not read as a success.
            throw PhotonError("cannot learn how \(program) ended: \(String(cString: strerror(errno)))")
        }
        let exitStatus: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Output(status: exitStatus, stdout: readAll(stdoutFile), stderr: readAll(stderrFile))
    }

    /// Starts a program with its input and output on /dev/null and returns its pid; the caller waits for it.
    public static func spawnDetached(_ arguments: [String]) throws -> pid_t {
        guard let program = arguments.first, let path = resolve(program) else {
            throw PhotonError("cannot run \(arguments.first ?? "nothing"): no such program in PATH")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for descriptor: Int32 in 0...2 {
            posix_spawn_file_actions_addopen(&actions, descriptor, "/dev/null", descriptor == 0 ? O_RDONLY : O_WRONLY, 0)
        }
        return try spawn(path, arguments: Array(arguments.dropFirst()), actions: &actions)
    }

    /// Starts a program with its stdout and stderr on pipes and returns its pid and the read ends
    /// (close-on-exec); `environment` is added to this process's. The caller reads and waits.
    public static func spawnWithPipes(_ arguments: [String], environment: [String: String] = [:]) throws -> (pid: pid_t, stdout: Int32, stderr: Int32) {
        guard let program = arguments.first, let path = resolve(program) else {
            throw PhotonError("cannot run \(arguments.first ?? "nothing"): no such program in PATH")
        }
        var out: [Int32] = [0, 0], err: [Int32] = [0, 0]
        guard pipe(&out) == 0 else { throw PhotonError("cannot make a pipe: \(String(cString: strerror(errno)))") }
        guard pipe(&err) == 0 else {
            close(out[0])
            close(out[1])
            throw PhotonError("cannot make a pipe: \(String(cString: strerror(errno)))")
        }
        // No end may leak into another child (it would hold the pipe open); dup2 gives the child its own.
        for descriptor in out + err { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, out[1], 1)
        posix_spawn_file_actions_adddup2(&actions, err[1], 2)
        var merged = ProcessInfo.processInfo.environment
        merged.merge(environment) { _, new in new }
        let pid: pid_t
        do {
            pid = try spawn(path, arguments: Array(arguments.dropFirst()), actions: &actions, environment: merged.map { "\($0.key)=\($0.value)" })
        } catch {
            for descriptor in out + err { close(descriptor) }
            throw error
        }
        close(out[1])
        close(err[1])
        return (pid, out[0], err[0])
    }

    /// Waits for a child started by ``spawnWithPipes(_:environment:)``; returns its exit status (128 + the signal that ended it).
    public static func wait(_ pid: pid_t) async -> Int32 {
        (try? await OwnThread.run(stackSize: 256 << 10) {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        }) ?? -1
    }

    /// posix_spawn with an empty signal mask and default handlers (see the type's comment), and no
    /// descriptor but 0, 1 and 2: a long-lived child (the agent, a machine's monitor) must not hold
    /// open what its parent had, such as the pipe or socket a caller waits on to see the parent exit.
    private static func spawn(_ path: String, arguments: [String], actions: inout posix_spawn_file_actions_t, environment: [String]? = nil) throws -> pid_t {
        // After the callers' dup2 actions, which read descriptors above 2.
        if let closeFrom = closeFrom { _ = closeFrom(&actions, 3) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t(), all = sigset_t()
        sigemptyset(&empty)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let spawned: Int32
        if let environment {
            let envp = environment.map { strdup($0) } + [nil]
            defer { for pointer in envp { free(pointer) } }
            spawned = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        } else {
            spawned = posix_spawn(&pid, path, &actions, &attributes, argv, environ)
        }
        guard spawned == 0 else {
            throw PhotonError("cannot run \((path as NSString).lastPathComponent): \(String(cString: strerror(spawned)))")
        }
        return pid
    }

    /// glibc's posix_spawn_file_actions_addclosefrom_np (2.34 and later), which Swift's Glibc module
    /// does not declare: looked up once.
    private static let closeFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()

    /// Finds `program` in PATH (and the sbin directories, which a non-login environment may lack).
    public static func resolve(_ program: String) -> String? {
        if program.contains("/") { return access(program, X_OK) == 0 ? program : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let directories = path.split(separator: ":").map(String.init) + ["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        for directory in directories where access(directory + "/" + program, X_OK) == 0 {
            return directory + "/" + program
        }
        return nil
    }

    private static func temporaryFile() throws -> Int32 {
        var template = Array((NSTemporaryDirectory() + "/photon-command-XXXXXX").utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard descriptor >= 0 else { throw PhotonError("cannot make a temporary file: \(String(cString: strerror(errno)))") }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        return descriptor
    }

    private static func readAll(_ descriptor: Int32) -> String {
        lseek(descriptor, 0, SEEK_SET)
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16 << 10)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            bytes.append(contentsOf: buffer[0..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Blocking work (waiting for a child, file system walks, polls) on a thread of its own, so it never
/// occupies a thread of Swift's cooperative pool.
public enum OwnThread {
    public static func run<T: Sendable>(stackSize: Int = 1 << 20, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { continuation.resume(with: Result { try body() }) }
            thread.stackSize = stackSize
            thread.start()
        }
    }
}

/// The running program's own file, which photon uploads to machines and starts again as agents and
/// plan workers: what `/proc/self/exe` points at (the real file, not a symlink it was started
/// through), or the command line's first word where there is no procfs.
public enum RunningExecutable {
    public static var path: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    public static var url: URL { URL(fileURLWithPath: path) }
}
