// photon-bench: measures load + validate + expand + plan on synthetic blueprints.
//
//   swift run -c release photon-bench                      # 1,000 / 10,000 / 100,000 machines
//   swift run -c release photon-bench --machines 100000 --clusters 1000 [--repeat 3] [--templates DIR]
//   swift run -c release photon-bench engine [--actions 10000]   # engine overhead, journaled durably
//   swift run -c release photon-bench ssh-fanout --help            # photon's side of Benchmarks/ssh-fanout
//   swift run -c release photon-bench machines [--count 50]        # local LXC machines to SSH-ready (root)
//
// Each size runs in its own process so peak memory (ru_maxrss) belongs to that size alone.
import Blueprints
import Engine
import EngineTestSupport
import Foundation
import Kinds
import PhotonCore
import Planning
import StateStore

struct Options {
    var machines: Int?
    var clusters: Int?
    var repeats = 3
    var templates: String?

    init(_ arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--machines": machines = iterator.next().flatMap { Int($0) }
            case "--clusters": clusters = iterator.next().flatMap { Int($0) }
            case "--repeat": repeats = iterator.next().flatMap { Int($0) } ?? 3
            case "--templates": templates = iterator.next()
            default:
                FileHandle.standardError.write(Data("usage: photon-bench [--machines N --clusters C] [--repeat R] [--templates DIR]\n".utf8))
                exit(64)
            }
        }
    }
}

/// Role counts for a cluster of `size` machines of `kind`: small quorum roles, the rest in the big role.
func roles(for kind: Kind, size: Int) -> [(String, Int)] {
    var counts: [(String, Int)] = []
    var remaining = size
    for role in kind.roles.dropLast() {
        let count = min(role.count.odd ? 3 : max(role.count.min, 1), role.count.max, remaining - 1)
        counts.append((role.name, max(count, role.count.min)))
        remaining -= counts.last!.1
    }
    if let last = kind.roles.last { counts.append((last.name, remaining)) }
    return counts
}

func syntheticBlueprint(machines: Int, clusters: Int, kinds: [Kind]) -> String {
    var lines = [
        "# synthetic blueprint: \(clusters) clusters, \(machines) machines",
        "name: bench",
        "controlPlane:",
        "  driver: local",
        "  network: 10.0.0.0/13",
        "flavors:",
        "  worker: {cpu: 2, memory: 4GiB, disk: 40GiB}",
        "clusters:",
    ]
    let perCluster = machines / clusters
    for index in 0..<clusters {
        let kind = kinds[index % kinds.count]
        let size = perCluster + (index < machines % clusters ? 1 : 0)
        lines.append("  - name: c\(index)")
        lines.append("    kind: \(kind.name)")
        lines.append("    rollout: {maxInFlight: 20%, canaries: 1}")
        lines.append("    roles:")
        for (role, count) in roles(for: kind, size: size) {
            lines.append(role == kind.roles.last?.name ? "      \(role): {count: \(count), flavor: worker}" : "      \(role): \(count)")
        }
    }
    return lines.joined(separator: "\n") + "\n"
}

func peakResidentMiB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024  // Linux reports KiB
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func templatesDirectory(_ explicit: String?) -> String {
    if let explicit { return explicit }
    if let fromEnvironment = ProcessInfo.processInfo.environment["PHOTON_TEMPLATES"] { return fromEnvironment }
    var directory = RunningExecutable.url
    for _ in 0..<6 {
        directory = directory.deletingLastPathComponent()
        let candidate = directory.appendingPathComponent("templates").path
        if FileManager.default.fileExists(atPath: candidate + "/swarm/kind.yaml") { return candidate }
    }
    return FileManager.default.currentDirectoryPath + "/templates"
}

/// One size, in this process: prints a line of `key=value` figures.
func measure(machines: Int, clusters: Int, repeats: Int, templates: String) throws {
    let catalog = try KindCatalog.load(directory: templates)
    let kinds = catalog.clusterKinds.filter { !$0.roles.isEmpty }
    let text = syntheticBlueprint(machines: machines, clusters: clusters, kinds: kinds)
    let path = NSTemporaryDirectory() + "photon-bench-\(getpid()).yaml"
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    defer { try? FileManager.default.removeItem(atPath: path) }

    let clock = ContinuousClock()
    var best: (load: Double, resolve: Double, expand: Double, render: Double, build: Double, total: Double)?
    var actions = 0
    for _ in 0..<repeats {
        let start = clock.now
        let blueprint = try BlueprintLoader(environment: LoadEnvironment(variables: [:])).load(path: path)
        let loaded = clock.now
        let planner = Planner(catalog: catalog, secrets: SecretSource(environment: [:]), photonVersion: "bench")
        let resolved = try Resolver(catalog: catalog, secrets: planner.secrets).resolve(blueprint)
        let checked = clock.now
        var times = Planner.PhaseTimes()
        let plan = try planner.plan(resolved, recorded: .empty, times: &times)
        let planned = clock.now
        actions = plan.actions.count
        precondition(plan.machines.count == machines, "planned \(plan.machines.count) machines, expected \(machines)")
        let run = (
            seconds(loaded - start), seconds(checked - loaded), seconds(times.expand), seconds(times.render), seconds(times.build), seconds(planned - start)
        )
        if best == nil || run.5 < best!.total { best = run }
    }
    guard let best else { return }
    print(
        String(
            format: "machines=%d clusters=%d bytes=%d actions=%d load=%.3f validate=%.3f expand=%.3f render=%.3f build=%.3f total=%.3f peak_rss_mib=%.0f",
            machines, clusters, text.utf8.count, actions, best.load, best.resolve, best.expand, best.render, best.build, best.total, peakResidentMiB()))
}

/// Engine overhead: a plan of no-op actions on in-memory machines, journaled durably to a real state store.
func measureEngine(actions: Int, parallelism: Int) async throws {
    let machines = max(1, actions / 10)
    let root = NSTemporaryDirectory() + "photon-bench-engine-\(getpid())"
    defer { try? FileManager.default.removeItem(atPath: root) }
    try FileManager.default.createDirectory(atPath: root + "/kinds/noop", withIntermediateDirectories: true)
    // Nine no-op steps per machine plus its create-machine: ten actions a machine.
    let steps = (1...3).map { "      - run: [\"true\", \"\($0)\"]" }.joined(separator: "\n")
    try Data(
        """
        kind: noop
        roles:
          - name: nodes
            count: {min: 0, max: 100000, default: 1}
            configure:
        \(steps)
            join:
        \(steps)
            health:
        \(steps)

        """.utf8
    ).write(to: URL(fileURLWithPath: root + "/kinds/noop/kind.yaml"))
    let catalog = try KindCatalog.load(directory: root + "/kinds")
    let yaml =
        "name: bench\ncontrolPlane: {driver: local, network: 10.0.0.0/14}\nclusters:\n  - {name: n, kind: noop, roles: {nodes: \(machines)}, rollout: {maxInFlight: 100%}}\n"
    let blueprint = try BlueprintLoader(environment: LoadEnvironment(variables: [:])).load(bytes: Array(yaml.utf8), file: "bench.yaml")
    let planner = Planner(catalog: catalog, secrets: SecretSource(environment: [:]), photonVersion: "bench")
    let (plan, renderer) = try planner.planForApply(try Resolver(catalog: catalog, secrets: planner.secrets).resolve(blueprint), recorded: .empty)
    let shell = InMemoryShell()
    for (label, journal) in [
        ("in-memory journal", InMemoryJournal() as any RunJournal),
        ("SQLite journal (WAL, synchronous=FULL)", try SQLiteStateStore.open(directory: root + "/state", deployment: "bench") as any RunJournal),
    ] {
        if let store = journal as? SQLiteStateStore { _ = try store.beginRun(command: "bench", blueprintDigest: nil) }
        let engine = Engine(
            plan: plan, renderer: renderer, driver: InMemoryDriver(), shell: shell, journal: journal,
            options: EngineOptions(parallelism: parallelism))
        let clock = ContinuousClock()
        let start = clock.now
        let outcome = await engine.run()
        let elapsed = clock.now - start
        precondition(outcome.status == .succeeded, "\(outcome)")
        print(
            String(
                format: "%@: %d actions (%d journaled transitions), parallelism %d: %.3f s, %.1f µs per action",
                label, plan.summary.actions, 2 * plan.summary.actions, parallelism, seconds(elapsed), seconds(elapsed) * 1e6 / Double(plan.summary.actions)))
    }
}

if CommandLine.arguments.dropFirst().first == "ssh-fanout" {
    exit(await FanOutBench.main(CommandLine.arguments.dropFirst(2)))
}

if CommandLine.arguments.dropFirst().first == "machines" {
    exit(await MachinesBench.main(CommandLine.arguments.dropFirst(2)))
}

if CommandLine.arguments.dropFirst().first == "engine" {
    var actions = 10_000, parallelism = 64
    var iterator = CommandLine.arguments.dropFirst(2).makeIterator()
    while let argument = iterator.next() {
        if argument == "--actions", let value = iterator.next().flatMap({ Int($0) }) { actions = value }
        if argument == "--parallelism", let value = iterator.next().flatMap({ Int($0) }) { parallelism = value }
    }
    do {
        try await measureEngine(actions: actions, parallelism: parallelism)
        exit(0)
    } catch {
        FileHandle.standardError.write(Data("\(error)\n".utf8))
        exit(1)
    }
}

let options = Options(CommandLine.arguments)
let templates = templatesDirectory(options.templates)
do {
    if let machines = options.machines {
        try measure(machines: machines, clusters: options.clusters ?? max(1, machines / 100), repeats: options.repeats, templates: templates)
    } else {
        print("photon-bench: load + validate + expand + plan, best of \(options.repeats), each size in its own process")
        print("machines  clusters   actions    load  validate   expand   render    build    total   peak RSS")
        for (machines, clusters) in [(1_000, 10), (10_000, 100), (100_000, 1_000)] {
            let process = Process()
            process.executableURL = RunningExecutable.url
            process.arguments = ["--machines", "\(machines)", "--clusters", "\(clusters)", "--repeat", "\(options.repeats)", "--templates", templates]
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                print("size \(machines) failed (status \(process.terminationStatus))")
                exit(1)
            }
            var fields: [String: String] = [:]
            for pair in output.split(whereSeparator: \.isWhitespace) {
                let parts = pair.split(separator: "=", maxSplits: 1)
                if parts.count == 2 { fields[String(parts[0])] = String(parts[1]) }
            }
            let columns = ["machines", "clusters", "actions", "load", "validate", "expand", "render", "build", "total"].map { fields[$0] ?? "?" }
            print(columns.map { $0.padding(toLength: 9, withPad: " ", startingAt: 0) }.joined() + (fields["peak_rss_mib"] ?? "?") + " MiB")
        }
    }
} catch let error as DiagnosticsError {
    FileHandle.standardError.write(Data("\(error)\n".utf8))
    exit(1)
} catch {
    FileHandle.standardError.write(Data("\(error)\n".utf8))
    exit(1)
}
