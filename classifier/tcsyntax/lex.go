package tcsyntax

import (
	"fmt"
	"strings"
	"syscall"
)

// Split splits a command line into words as a POSIX shell does for tc's
// arguments: blanks separate words; single quotes group literally; double
// quotes group with backslash escaping only \, ", $ and `; outside quotes
// a backslash escapes the next character, and a backslash-newline is
// removed; adjacent quoted and bare parts join into one word. A '#' at the
// start of a word starts a comment that runs to the end of the line.
// Expansions ($VAR, $(...), globs) are not performed: a line that needs
// them is refused with EINVAL rather than read differently from a shell.
func Split(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\'':
			end := strings.IndexByte(line[i+1:], '\'')
			if end < 0 {
				return nil, &Error{Msg: fmt.Sprintf("unterminated ' quote at byte %d", i+1)}
			}
			cur.WriteString(line[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case c == '"':
			j := i + 1
			for ; j < len(line) && line[j] != '"'; j++ {
				if line[j] == '\\' && j+1 < len(line) && strings.IndexByte("\\\"$`\n", line[j+1]) >= 0 {
					j++
					if line[j] != '\n' {
						cur.WriteByte(line[j])
					}
					continue
				}
				if line[j] == '$' || line[j] == '`' {
					return nil, &Error{Msg: fmt.Sprintf("shell expansion at byte %d is not supported", j+1), Err: syscall.EINVAL}
				}
				cur.WriteByte(line[j])
			}
			if j >= len(line) {
				return nil, &Error{Msg: fmt.Sprintf("unterminated \" quote at byte %d", i+1)}
			}
			i = j
			inWord = true
		case c == '\\':
			if i+1 >= len(line) {
				return nil, &Error{Msg: "backslash at the end of the line"}
			}
			i++
			if line[i] != '\n' {
				cur.WriteByte(line[i])
				inWord = true
			}
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '#' && !inWord:
			nl := strings.IndexByte(line[i:], '\n')
			if nl < 0 {
				i = len(line)
			} else {
				i += nl - 1
			}
		case c == '$' || c == '`' || c == '*' || c == '?' || c == '[' || c == '|' || c == ';' || c == '&' || c == '<' || c == '>' || c == '(' || c == ')':
			return nil, &Error{Msg: fmt.Sprintf("shell syntax %q at byte %d is not supported: quote it", c, i+1)}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// Quote returns s as one shell word: unchanged when it needs no quoting,
// otherwise in single quotes.
func Quote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_./:,+=@%", c) >= 0) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// matches is iproute2's matches(): word is a non-empty prefix of name.
func matches(word, name string) bool {
	return word != "" && strings.HasPrefix(name, word)
}

// args walks a line's words as tc's argc/argv does, remembering positions
// for error messages.
type args struct {
	w []string
	i int
	// base is the position of w[0] in the whole line, for messages.
	base int
}

func (a *args) more() bool   { return a.i < len(a.w) }
func (a *args) peek() string { return a.w[a.i] }

// errf makes an error naming the current word (or the last one at the
// end of the line).
func (a *args) errf(format string, v ...any) *Error {
	return a.errAt(a.i, nil, format, v...)
}

func (a *args) errAt(i int, cause error, format string, v ...any) *Error {
	if i >= len(a.w) {
		if len(a.w) == 0 {
			return &Error{Msg: fmt.Sprintf(format, v...), Err: cause}
		}
		i = len(a.w) - 1
	}
	return &Error{Token: a.w[i], Index: a.base + i + 1, Msg: fmt.Sprintf(format, v...), Err: cause}
}

// next moves to the argument of the current keyword (tc's NEXT_ARG),
// failing with tc's "Command line is not complete" at the end.
func (a *args) next() error {
	if a.i+1 >= len(a.w) {
		return a.errf("Command line is not complete. Try option \"help\"")
	}
	a.i++
	return nil
}
