// Package logs owns the agent's log analysis: it follows the DSPy service's log files
// (rotation-safe: by inode, surviving truncation) and the systemd journal of its units
// (journalctl as a child process), groups their lines into templates with
// pkg/logtemplate and hands each report window's counts to the report.
package logs
