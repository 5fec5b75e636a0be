import Foundation
import Kinds
import PhotonCore

/// The shell command behind a `service` step. It works on machines with systemd, with SysV init
/// scripts, and with no init system at all (photon then supervises the declared `exec` command itself,
/// with a pid file under /run/photon and a log under /var/log/photon).
public enum ServiceScript {
    public static func script(name: String, action: ServiceAction, exec: [String]?) -> String {
        let service = ShellQuoting.quote(name)
        let pidFile = "/run/photon/\(name).pid"
        let logFile = "/var/log/photon/\(name).log"
        var noInit: String
        if let exec, !exec.isEmpty {
            let command = ShellQuoting.join(exec)
            let stop = "if [ -f \(pidFile) ]; then kill $(cat \(pidFile)) 2>/dev/null; i=0; while kill -0 $(cat \(pidFile)) 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; rm -f \(pidFile); fi"
            let start = "if [ -f \(pidFile) ] && kill -0 $(cat \(pidFile)) 2>/dev/null; then :; else mkdir -p /run/photon /var/log/photon; setsid sh -c 'echo $$ > \(pidFile); exec \(command.replacingOccurrences(of: "'", with: "'\\''"))' >>\(logFile) 2>&1 </dev/null & fi"
            switch action {
            case .start: noInit = start
            case .stop: noInit = stop
            case .restart: noInit = "\(stop); \(start)"
            }
        } else {
            noInit = "echo 'photon: no init system and no exec command for service \(name)' >&2; exit 1"
        }
        // systemd only when it runs and knows the unit; software without a unit falls back to `exec`.
        return "if [ -d /run/systemd/system ] && systemctl cat \(service) >/dev/null 2>&1; then systemctl \(action.rawValue) \(service); "
            + "elif [ -x /etc/init.d/\(service) ]; then /etc/init.d/\(service) \(action.rawValue); "
            + "else \(noInit); fi"
    }
}
