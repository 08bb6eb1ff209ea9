package logtemplate

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Wildcard stands for a masked or varying token in a template.
const Wildcard = "<*>"

// MaxLineBytes is the longest prefix of a line the miner looks at; the rest is ignored.
const MaxLineBytes = 4096

// maxTokens bounds the tokens of one line the miner keeps: further tokens fold into the last.
const maxTokens = 64

// Tokens splits line into whitespace-separated tokens and masks every variable one: a token
// holding a digit (numbers, ids, hex, addresses, durations) becomes Wildcard. A line of more
// than maxTokens tokens keeps its first maxTokens-1 and one Wildcard for the rest.
func Tokens(line string) []string {
	if len(line) > MaxLineBytes {
		line = line[:MaxLineBytes]
	}
	fields := strings.FieldsFunc(line, unicode.IsSpace)
	if len(fields) > maxTokens {
		fields = append(fields[:maxTokens-1], Wildcard)
	}
	for i, f := range fields {
		if variable(f) {
			fields[i] = Wildcard
		} else if !utf8.ValidString(f) {
			fields[i] = strings.ToValidUTF8(f, "\uFFFD")
		}
	}
	return fields
}

// variable reports whether tok looks like a value rather than a word: it holds a digit.
func variable(tok string) bool {
	for i := 0; i < len(tok); i++ {
		if tok[i] >= '0' && tok[i] <= '9' {
			return true
		}
	}
	return false
}
