package tcsyntax

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
)

// Error is a refused tc command line. It names the word at fault (its
// position among the words, from 1) and says why, in tc's words where tc
// has them ("What is \"bytcode\"?", "Illegal \"classid\"", "bad action
// type"). It wraps syscall.EINVAL, as tc's own refusal is an invalid
// argument, unless the cause carries an errno of its own: ENOENT for a
// missing bytecode file, ENODEV for a device the Devices resolver does not
// know, EOPNOTSUPP for what this package does not configure.
type Error struct {
	// Token is the offending word, "" when the line as a whole is at
	// fault.
	Token string
	// Index is the word's position among the line's words, from 1; 0
	// with no word.
	Index int
	// Msg says what is wrong.
	Msg string
	// Err is the underlying cause, if any.
	Err error
}

// Error prints `word 7 "bytcode": What is "bytcode"?` and the cause.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Index > 0 {
		fmt.Fprintf(&b, "word %d %q: ", e.Index, abbreviate(e.Token))
	}
	b.WriteString(e.Msg)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause and syscall.EINVAL, or the cause alone when it
// already carries an errno.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{syscall.EINVAL}
	}
	var errno syscall.Errno
	if errors.As(e.Err, &errno) {
		return []error{e.Err}
	}
	return []error{e.Err, syscall.EINVAL}
}

// abbreviate shortens a long word for an error message.
func abbreviate(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}
