package secmon

import "strings"

// AuthFailure is what one auth log line says failed.
type AuthFailure int

// The failures an auth log line can report.
const (
	NoFailure AuthFailure = iota
	SSHFailure
	SudoFailure
)

// sshMarks are the sshd messages of a failed authentication (OpenSSH, with or without PAM).
var sshMarks = []string{
	"Failed password for ",
	"Failed publickey for ",
	"Failed keyboard-interactive",
	"Invalid user ",
	"authentication failure;",
	"maximum authentication attempts exceeded",
}

// sudoMarks are the sudo messages of a failed authentication or a refusal.
var sudoMarks = []string{
	"authentication failure;",
	"incorrect password attempt",
	"user NOT in sudoers",
	"NOT in sudoers",
}

// ParseAuthLine reads a syslog or journal line of the auth facility: an sshd line (sshd[pid]:
// or sshd-session[pid]:) reporting a failed login, or a sudo line (sudo: or
// pam_unix(sudo:auth):) reporting a failed password or a refusal.
func ParseAuthLine(line string) AuthFailure {
	switch {
	case strings.Contains(line, "sshd[") || strings.Contains(line, "sshd-session[") || strings.Contains(line, "sshd:"):
		if strings.Contains(line, "sudo") && strings.Contains(line, "pam_unix(sudo") {
			break
		}
		for _, m := range sshMarks {
			if strings.Contains(line, m) {
				return SSHFailure
			}
		}
		return NoFailure
	}
	if strings.Contains(line, "sudo:") || strings.Contains(line, "sudo[") || strings.Contains(line, "pam_unix(sudo") {
		for _, m := range sudoMarks {
			if strings.Contains(line, m) {
				return SudoFailure
			}
		}
	}
	return NoFailure
}
