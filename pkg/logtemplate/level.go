package logtemplate

import "strings"

// Level is a line's severity.
type Level int

// Levels, from least to most severe. LevelUnknown is a line naming no level.
const (
	LevelUnknown Level = iota
	LevelDebug
	LevelInfo
	LevelWarn
	LevelError
)

// String returns the level's lower-case name.
func (l Level) String() string {
	switch l {
	case LevelDebug:
		return "debug"
	case LevelInfo:
		return "info"
	case LevelWarn:
		return "warn"
	case LevelError:
		return "error"
	}
	return "unknown"
}

// levelWords maps the words logging libraries print for a level (upper-cased) to the level.
var levelWords = map[string]Level{
	"TRACE": LevelDebug, "DEBUG": LevelDebug, "DBG": LevelDebug,
	"INFO": LevelInfo, "INF": LevelInfo, "NOTICE": LevelInfo,
	"WARN": LevelWarn, "WARNING": LevelWarn, "WRN": LevelWarn,
	"ERROR": LevelError, "ERR": LevelError, "CRITICAL": LevelError, "CRIT": LevelError,
	"FATAL": LevelError, "PANIC": LevelError, "EXCEPTION": LevelError, "TRACEBACK": LevelError,
	"ALERT": LevelError, "EMERG": LevelError,
}

// levelScan is how many leading tokens LineLevel looks at: levels sit near the start of a line
// (after a time stamp and a logger name), and a word further on is more often prose.
const levelScan = 6

// LineLevel finds the level a line names among its first tokens: a bare word (ERROR, [WARN],
// INFO:), a key=value pair (level=error) or a JSON field ("level":"error"). It returns
// LevelUnknown when none is found.
func LineLevel(line string) Level {
	if len(line) > MaxLineBytes {
		line = line[:MaxLineBytes]
	}
	if strings.HasPrefix(strings.TrimSpace(line), "{") {
		return jsonLevel(line)
	}
	n := 0
	for tok := range strings.FieldsSeq(line) {
		if l := tokenLevel(tok); l != LevelUnknown {
			return l
		}
		if n++; n == levelScan {
			break
		}
	}
	return LevelUnknown
}

// tokenLevel reads the level of one token, stripping a key (level=, "severity":) and
// punctuation around the word.
func tokenLevel(tok string) Level {
	if i := strings.LastIndexAny(tok, "=:"); i >= 0 && i < len(tok)-1 {
		key := strings.ToLower(strings.Trim(tok[:i], `{"',[]`))
		if key == "level" || key == "severity" || key == "lvl" || key == "levelname" {
			tok = tok[i+1:]
		}
	}
	word := strings.ToUpper(strings.Trim(tok, `[]():,;"'{}<>|-`))
	return levelWords[word]
}

// Priority maps a syslog priority (0 emerg .. 7 debug) to a level.
func Priority(p int) Level {
	switch {
	case p < 0 || p > 7:
		return LevelUnknown
	case p <= 3:
		return LevelError
	case p == 4:
		return LevelWarn
	case p <= 6:
		return LevelInfo
	}
	return LevelDebug
}

// jsonKeys are the keys JSON log lines carry their level under.
var jsonKeys = []string{`"level"`, `"severity"`, `"levelname"`, `"lvl"`}

// jsonLevel reads the level of a JSON log line from its first level key with a string value.
func jsonLevel(line string) Level {
	for _, k := range jsonKeys {
		i := strings.Index(line, k)
		if i < 0 {
			continue
		}
		rest := strings.TrimLeft(line[i+len(k):], " ")
		rest, ok := strings.CutPrefix(rest, ":")
		if !ok {
			continue
		}
		rest, ok = strings.CutPrefix(strings.TrimLeft(rest, " "), `"`)
		if !ok {
			continue
		}
		if end := strings.IndexByte(rest, '"'); end >= 0 {
			return levelWords[strings.ToUpper(rest[:end])]
		}
	}
	return LevelUnknown
}
