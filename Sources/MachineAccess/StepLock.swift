import PhotonCore

/// Every remote run of a step — its command and the guard that decides whether it runs — holds that
/// step's lock on the machine (`flock` on a file under `/run/photon/steps`).
///
/// A photon that dies mid-step leaves its command running on the machine: the SSH connection drops,
/// the command does not (`docker swarm init` goes on asking dockerd). The next apply's guard would
/// then look at a half-done state (a swarm still `pending`) and run the step again. Under the lock the
/// next run's guard waits until the orphan has ended and then looks at what it left. The lock file
/// lives in `/run`, so a machine's restart (which ends every orphan) clears it.
///
/// The command itself runs without the lock's descriptor, so a daemon it starts never holds the lock;
/// its output goes to files beside the lock (mode 0600) and is passed on when it ends, so a run whose
/// connection dropped is not ended by its next line of output (SIGPIPE) halfway through its work.
public struct StepLock: Sendable {
    /// Where the lock files live on each machine.
    public var directory: String
    /// How long a run waits for an earlier one to end before it fails, saying what holds the lock.
    public var wait: Duration

    public init(directory: String = "/run/photon/steps", wait: Duration = .seconds(600)) {
        self.directory = directory
        self.wait = wait
    }

    /// The first words of the line a run prints on stderr when it had to wait.
    public static let waitedMarker = "photon: waited "

    /// `command` (a shell command line or script) run under the lock of step `step`.
    public func wrap(_ command: String, step: String) -> String {
        let file = directory + "/" + Self.fileName(step) + ".lock"
        let seconds = max(1, Int(wait.components.seconds))
        // Without flock or a writable directory the command runs as it would have without the lock.
        // `command exec` keeps a failed redirection from ending the shell.
        return """
            l=\(ShellQuoting.quote(file))
            if command -v flock >/dev/null 2>&1 && mkdir -p \(ShellQuoting.quote(directory)) 2>/dev/null && command exec 9>>"$l"; then
            if ! flock -n 9; then
            s=$(date +%s)
            if ! flock -w \(seconds) 9; then echo "an earlier run of this step (started by a photon that stopped) still runs on this machine after \(seconds) s: it holds $l" >&2; exit 75; fi
            echo "\(Self.waitedMarker)$(( $(date +%s) - s )) s for an earlier run of this step to end" >&2
            fi
            if (umask 077 && : >"$l.out" && : >"$l.err") 2>/dev/null; then
            (
            \(command)
            ) 9>&- >>"$l.out" 2>>"$l.err"
            s=$?
            cat "$l.out"; cat "$l.err" >&2; rm -f "$l.out" "$l.err"
            exit $s
            fi
            fi
            (
            \(command)
            ) 9>&-
            """
    }

    /// A step id as a file name: letters, digits, '.', '-' kept; everything else '_'.
    static func fileName(_ step: String) -> String {
        String(
            step.unicodeScalars.map { scalar -> Character in
                switch scalar {
                case "a"..."z", "A"..."Z", "0"..."9", ".", "-": return Character(scalar)
                default: return "_"
                }
            })
    }

    /// How many seconds the run waited for an earlier one, from its stderr; nil when it did not wait.
    public static func waited(in stderr: String) -> Int? {
        guard let range = stderr.range(of: waitedMarker) else { return nil }
        return Int(stderr[range.upperBound...].prefix { $0.isNumber })
    }
}
