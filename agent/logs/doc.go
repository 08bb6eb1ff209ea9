// Package logs owns the agent's log analysis: it follows the DSPy service's log files
// (rotation-safe: by inode, surviving truncation), groups their lines into templates with
// pkg/logtemplate and hands each report window's counts to the report.
package logs
