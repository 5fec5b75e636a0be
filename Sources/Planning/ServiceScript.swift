import Foundation
import Kinds
import PhotonCore

/// The shell command behind a `service` step. It works on machines with systemd, and without one: photon
/// then supervises the declared `exec` command itself (a pid file under /run/photon, a log under
/// /var/log/photon, and the command started again a second after it exits, as systemd's
/// `Restart=always` would), or uses the SysV init script when the kind declares no command.
public enum ServiceScript {
    public static func script(name: String, action: ServiceAction, exec: [String]?) -> String {
        let service = ShellQuoting.quote(name)
        let pidFile = "/run/photon/\(name).pid"
        let logFile = "/var/log/photon/\(name).log"
        var noInit: String
        if let exec, !exec.isEmpty {
            let command = ShellQuoting.join(exec)
            // The pid file names the supervising shell; stopping it (TERM) stops the command and waits for it.
            let supervisor =
                "echo $$ > \(pidFile); trap 'kill $c 2>/dev/null; wait $c; exit 0' TERM INT; "
                + "while :; do \(command) & c=$!; wait $c; echo \"photon: \(name) exited ($?); starting it again in 1 s\"; sleep 1; done"
            let stop =
                "if [ -f \(pidFile) ]; then kill $(cat \(pidFile)) 2>/dev/null; i=0; while kill -0 $(cat \(pidFile)) 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; rm -f \(pidFile); fi"
            let start =
                "if [ -f \(pidFile) ] && kill -0 $(cat \(pidFile)) 2>/dev/null; then :; else mkdir -p /run/photon /var/log/photon; setsid sh -c \(ShellQuoting.quote(supervisor)) >>\(logFile) 2>&1 </dev/null & fi"
            switch action {
            case .start: noInit = start
            case .stop: noInit = stop
            case .restart: noInit = "\(stop); \(start)"
            }
        } else {
            noInit = "echo 'photon: no init system and no exec command for service \(name)' >&2; exit 1"
        }
        // systemd only when it runs and knows the unit. Without it, the kind's own `exec` command under
        // photon's supervision comes before a SysV script: those scripts differ between distributions and
        // some fail outside a full init (Debian's docker script stops on a missing pid file).
        let systemd = "if [ -d /run/systemd/system ] && systemctl cat \(service) >/dev/null 2>&1; then systemctl \(action.rawValue) \(service); "
        if let exec, !exec.isEmpty {
            return systemd + "else \(noInit); fi"
        }
        return systemd + "elif [ -x /etc/init.d/\(service) ]; then /etc/init.d/\(service) \(action.rawValue); "
            + "else \(noInit); fi"
    }
}
