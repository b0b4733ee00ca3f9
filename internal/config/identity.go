package config

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
)

// FallbackID is the uid/gid the command runs as when awf itself runs as
// root and no invoking user is known, like the original's agent user.
const FallbackID = 1000

// ResolveIdentity finds the user the command runs as.
//
//   - Under sudo (euid 0 and SUDO_UID set): SUDO_UID/SUDO_GID.
//   - Root without SUDO_UID: uid/gid 1000, so the command never runs as root.
//   - Otherwise: the current euid and its passwd gid.
//
// Only 0 is lifted to 1000. The original lifts every id below 1000 because
// its container image has system accounts there; the native sandbox runs on
// the host's own files, where a real user with a low uid owns the workspace
// and must keep write access to it.
//
// The home directory comes from the password database for the chosen uid
// (before the lift), then the SUDO_USER entry, then $HOME, then /root for
// root and /tmp otherwise. It is never "/" or relative: the sandbox mounts
// a fresh directory over it.
func ResolveIdentity(sys System, env map[string]string) (Identity, []Warning) {
	sys = sys.withDefaults()
	var warns []Warning
	id := Identity{UID: -1, GID: -1}
	euid := sys.Geteuid()
	if euid == 0 {
		if u, err := strconv.Atoi(env["SUDO_UID"]); err == nil && u >= 0 {
			id.UID = u
			if g, err := strconv.Atoi(env["SUDO_GID"]); err == nil && g >= 0 {
				id.GID = g
			}
		} else {
			id.UID, id.GID = 0, 0
			warns = append(warns, Warning{slog.LevelInfo, fmt.Sprintf("Running as root without SUDO_UID: the command runs as uid/gid %d", FallbackID)})
		}
	} else {
		id.UID = euid
	}
	if pw, err := sys.LookupID(strconv.Itoa(id.UID)); err == nil {
		id.Name, id.Home = pw.Username, pw.HomeDir
		if id.GID < 0 {
			id.GID, _ = strconv.Atoi(pw.Gid)
		}
	} else if name := env["SUDO_USER"]; name != "" && euid == 0 {
		if pw, err := sys.LookupName(name); err == nil && pw.Uid == strconv.Itoa(id.UID) {
			id.Name, id.Home = pw.Username, pw.HomeDir
		}
	}
	if id.GID < 0 {
		id.GID = id.UID
	}
	if !usableHome(id.Home) {
		id.Home = env["HOME"]
	}
	if !usableHome(id.Home) {
		id.Home = "/tmp"
		if id.UID == 0 {
			id.Home = "/root"
		}
	}
	if id.UID == 0 {
		id.UID, id.Name = FallbackID, ""
	}
	if id.GID == 0 {
		id.GID = FallbackID
	}
	return id, warns
}

func usableHome(h string) bool { return filepath.IsAbs(h) && filepath.Clean(h) != "/" }
