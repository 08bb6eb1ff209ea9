package logs

import (
	"encoding/json"
	"errors"
	"strconv"

	"github.com/dspyfleet/dspyfleet/pkg/logtemplate"
)

// Entry is what the agent reads from one systemd journal entry.
type Entry struct {
	// Message is the entry's MESSAGE, cut at logtemplate.MaxLineBytes.
	Message string
	// Priority is the syslog priority (0 emerg … 7 debug); -1 when the entry has none.
	Priority int
	// Identifier is SYSLOG_IDENTIFIER (e.g. "sshd", "sudo"), PID is _PID.
	Identifier, PID string
	// Cursor is __CURSOR, the position a restart resumes after.
	Cursor string
	// Cut reports that Message was longer than logtemplate.MaxLineBytes.
	Cut bool
}

// Level is the entry's level: from PRIORITY when it has one (0–3 error, 4 warning, 5–6
// info, 7 debug), else read from the message like a file's line.
func (e Entry) Level() logtemplate.Level {
	switch {
	case e.Priority < 0 || e.Priority > 7:
		return logtemplate.LineLevel(e.Message)
	case e.Priority <= 3:
		return logtemplate.LevelError
	case e.Priority == 4:
		return logtemplate.LevelWarn
	case e.Priority == 7:
		return logtemplate.LevelDebug
	default:
		return logtemplate.LevelInfo
	}
}

// SyslogLine is the entry as a syslog file would carry it after the host name:
// "IDENT[PID]: MESSAGE" (or "IDENT: MESSAGE" without a pid, the bare message without an
// identifier), the form the auth log parser reads.
func (e Entry) SyslogLine() string {
	switch {
	case e.Identifier == "":
		return e.Message
	case e.PID == "":
		return e.Identifier + ": " + e.Message
	default:
		return e.Identifier + "[" + e.PID + "]: " + e.Message
	}
}

// rawEntry holds the fields of journalctl --output=json the agent reads. Each may be a
// string, an array of bytes (a value that is not valid UTF-8 or holds control characters),
// null (a value too long for journalctl to print) or, for a field repeated in the entry, an
// array of those.
type rawEntry struct {
	Message    json.RawMessage `json:"MESSAGE"`
	Priority   json.RawMessage `json:"PRIORITY"`
	Identifier json.RawMessage `json:"SYSLOG_IDENTIFIER"`
	PID        json.RawMessage `json:"_PID"`
	Cursor     json.RawMessage `json:"__CURSOR"`
}

// errNoCursor is the error of an entry without __CURSOR.
var errNoCursor = errors.New("journal entry has no __CURSOR")

// ParseEntry reads one line of journalctl --output=json. An entry without __CURSOR is an
// error: journalctl always prints it, and without it a restart could not resume.
func ParseEntry(line []byte) (Entry, error) {
	var raw rawEntry
	if err := json.Unmarshal(line, &raw); err != nil {
		return Entry{}, err
	}
	cursor, err := fieldValue(raw.Cursor)
	if err != nil {
		return Entry{}, err
	}
	if cursor == "" {
		return Entry{}, errNoCursor
	}
	e := Entry{Cursor: cursor, Priority: -1}
	if e.Message, err = fieldValue(raw.Message); err != nil {
		return Entry{}, err
	}
	if len(e.Message) > logtemplate.MaxLineBytes {
		e.Message, e.Cut = clip(e.Message, logtemplate.MaxLineBytes), true
	}
	if e.Identifier, err = fieldValue(raw.Identifier); err != nil {
		return Entry{}, err
	}
	if e.PID, err = fieldValue(raw.PID); err != nil {
		return Entry{}, err
	}
	prio, err := fieldValue(raw.Priority)
	if err != nil {
		return Entry{}, err
	}
	if p, err := strconv.Atoi(prio); err == nil && p >= 0 && p <= 7 {
		e.Priority = p
	}
	return e, nil
}

// fieldValue decodes one field: a string, an array of bytes, null, or an array of those
// (the first is taken). Absent and null fields are "".
func fieldValue(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if raw[0] == '"' {
		err := json.Unmarshal(raw, &s)
		return s, err
	}
	var bytes []byte
	var arr []json.RawMessage
	if err := json.Unmarshal(raw, &arr); err != nil {
		return "", err
	}
	if len(arr) == 0 {
		return "", nil
	}
	if arr[0][0] == '"' || arr[0][0] == '[' || string(arr[0]) == "null" {
		return fieldValue(arr[0])
	}
	bytes = make([]byte, 0, len(arr))
	for _, v := range arr {
		n, err := strconv.ParseUint(string(v), 10, 8)
		if err != nil {
			return "", errors.New("journal field: array is neither bytes nor values")
		}
		bytes = append(bytes, byte(n))
	}
	return string(bytes), nil
}
