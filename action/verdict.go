package action

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"github.com/clsbpf/clsbpf/internal/uapi"
)

// Verdict is a tc control action (TC_ACT_*, include/uapi/linux/pkt_cls.h):
// what a classifier, a direct-action program or an action says should
// happen to the packet. It is signed, as in the kernel, which compares
// verdicts as int. The top nibble of a non-negative verdict may carry an
// extended opcode (ExtJump, ExtGotoChain) whose value is in the low 28
// bits.
type Verdict int32

// Plain verdicts.
const (
	// Unspec is TC_ACT_UNSPEC (-1): no decision; go on with the next
	// filter. tc calls it "continue".
	Unspec Verdict = uapi.TC_ACT_UNSPEC
	// OK is TC_ACT_OK (0): accept the packet. tc calls it "pass".
	OK Verdict = uapi.TC_ACT_OK
	// Reclassify is TC_ACT_RECLASSIFY (1): classify again from the first
	// filter of the original chain.
	Reclassify Verdict = uapi.TC_ACT_RECLASSIFY
	// Shot is TC_ACT_SHOT (2): drop the packet. tc calls it "drop".
	Shot Verdict = uapi.TC_ACT_SHOT
	// Pipe is TC_ACT_PIPE (3): go on with the next action.
	Pipe Verdict = uapi.TC_ACT_PIPE
	// Stolen is TC_ACT_STOLEN (4): the packet was consumed; report success.
	Stolen Verdict = uapi.TC_ACT_STOLEN
	// Queued is TC_ACT_QUEUED (5): the packet was queued elsewhere.
	Queued Verdict = uapi.TC_ACT_QUEUED
	// Repeat is TC_ACT_REPEAT (6): run the same action again.
	Repeat Verdict = uapi.TC_ACT_REPEAT
	// Redirect is TC_ACT_REDIRECT (7): the packet is to be redirected
	// (bpf_redirect).
	Redirect Verdict = uapi.TC_ACT_REDIRECT
	// Trap is TC_ACT_TRAP (8): hardware traps the packet to the CPU; in
	// software it behaves as Stolen.
	Trap Verdict = uapi.TC_ACT_TRAP
	// ValueMax is TC_ACT_VALUE_MAX (= Trap): the largest plain verdict an
	// action configuration may carry.
	ValueMax Verdict = uapi.TC_ACT_VALUE_MAX
)

// Extended opcodes: the top nibble of the verdict; the low 28 bits are the
// value.
const (
	// ExtJump is TC_ACT_JUMP (0x10000000): continue the action list at
	// the action whose index is the value (see the package doc).
	ExtJump Verdict = uapi.TC_ACT_JUMP
	// ExtGotoChain is TC_ACT_GOTO_CHAIN (0x20000000): continue
	// classification in the chain whose index is the value.
	ExtGotoChain Verdict = uapi.TC_ACT_GOTO_CHAIN
	// ExtOpcodeMax is TC_ACT_EXT_OPCODE_MAX (= ExtGotoChain), the largest
	// extended opcode.
	ExtOpcodeMax Verdict = uapi.TC_ACT_EXT_OPCODE_MAX
	// ExtValueMask is TC_ACT_EXT_VAL_MASK (0x0FFFFFFF), the value bits.
	ExtValueMask Verdict = uapi.TC_ACT_EXT_VAL_MASK
	// ExtOpcodeMask is ~TC_ACT_EXT_VAL_MASK (0xF0000000 as a uint32), the
	// opcode bits, as TC_ACT_EXT_OPCODE applies them.
	ExtOpcodeMask Verdict = ^ExtValueMask
)

// Jump returns the verdict "jump n" (TC_ACT_JUMP | n): skip to the action
// whose index is n within the filter's action list. n must fit in 28 bits;
// a larger n gives an error wrapping syscall.EINVAL (tc refuses it with
// "Invalid jump count").
func Jump(n uint32) (Verdict, error) {
	if n > uint32(ExtValueMask) {
		return 0, fmt.Errorf("jump count %d exceeds %#x: %w", n, uint32(ExtValueMask), syscall.EINVAL)
	}
	return ExtJump | Verdict(n), nil
}

// GotoChain returns the verdict "goto chain n" (TC_ACT_GOTO_CHAIN | n).
// Chain indexes fit in 28 bits (cls_api: "Specified chain index exceeds
// upper limit"); a larger one gives an error wrapping syscall.EINVAL.
func GotoChain(chain uint32) (Verdict, error) {
	if chain > uint32(ExtValueMask) {
		return 0, fmt.Errorf("chain index %d exceeds upper limit %#x: %w", chain, uint32(ExtValueMask), syscall.EINVAL)
	}
	return ExtGotoChain | Verdict(chain), nil
}

// ExtOpcode returns the opcode bits of v (TC_ACT_EXT_OPCODE(v)): ExtJump,
// ExtGotoChain, 0 for a plain non-negative verdict, or another value for a
// verdict no kernel defines (negative verdicts have the top bit set).
func (v Verdict) ExtOpcode() Verdict { return v & ExtOpcodeMask }

// ExtValue returns the value bits of v (v & TC_ACT_EXT_VAL_MASK): the jump
// count or chain index of an extended verdict.
func (v Verdict) ExtValue() uint32 { return uint32(v & ExtValueMask) }

// IsExt reports whether v carries the extended opcode op
// (TC_ACT_EXT_CMP(v, op)).
func (v Verdict) IsExt(op Verdict) bool { return v.ExtOpcode() == op }

// IsJump reports whether v is a "jump n" verdict.
func (v Verdict) IsJump() bool { return v.IsExt(ExtJump) }

// IsGotoChain reports whether v is a "goto chain n" verdict.
func (v Verdict) IsGotoChain() bool { return v.IsExt(ExtGotoChain) }

// Valid reports whether an action configuration may carry v, as the
// kernel's tcf_action_check_ctrlact (net/sched/act_api.c) decides: a plain
// verdict up to ValueMax, a jump or goto-chain verdict with any value, and
// any negative value (the kernel compares the opcode as a signed int, so
// the top bit passes). Everything else (9 and up, opcodes 3 to 7) is
// refused.
func (v Verdict) Valid() bool {
	op := v.ExtOpcode()
	if op == 0 {
		return v <= ValueMax
	}
	return op <= ExtOpcodeMax
}

// Validate returns nil when v is Valid, else an error wrapping
// syscall.EINVAL with the kernel's extack text "invalid control action".
func (v Verdict) Validate() error {
	if v.Valid() {
		return nil
	}
	return &ControlError{Verdict: v}
}

// ControlError is the error Validate returns for a verdict the kernel
// refuses in an action configuration. It matches syscall.EINVAL through
// errors.Is.
type ControlError struct {
	// Verdict is the refused value.
	Verdict Verdict
}

// Error returns the kernel's extack text with the value.
func (e *ControlError) Error() string {
	return fmt.Sprintf("invalid control action %d (%#x)", int32(e.Verdict), uint32(e.Verdict))
}

// Unwrap returns syscall.EINVAL, the errno the kernel returns.
func (e *ControlError) Unwrap() error { return syscall.EINVAL }

// String returns v as tc prints a control action (iproute2 tc_util.c,
// action_n2a and print_action_control): "continue", "pass", "reclassify",
// "drop", "pipe", "stolen", "trap", "goto chain N", "jump N", and the
// decimal number for any other value (tc prints 5, 6 and 7, for Queued,
// Repeat and Redirect, as numbers). ParseVerdict(v.String()) == v for
// every v.
func (v Verdict) String() string {
	switch {
	case v.IsGotoChain():
		return "goto chain " + strconv.FormatUint(uint64(v.ExtValue()), 10)
	case v.IsJump():
		return "jump " + strconv.FormatUint(uint64(v.ExtValue()), 10)
	}
	switch v {
	case Unspec:
		return "continue"
	case OK:
		return "pass"
	case Shot:
		return "drop"
	case Reclassify:
		return "reclassify"
	case Pipe:
		return "pipe"
	case Stolen:
		return "stolen"
	case Trap:
		return "trap"
	}
	return strconv.FormatInt(int64(v), 10)
}

// verdictNames is iproute2's action_a2n table, in its order: a word
// matches an entry it is a prefix of, the first such entry wins.
var verdictNames = [...]struct {
	name string
	v    Verdict
}{
	{"continue", Unspec},
	{"drop", Shot},
	{"shot", Shot},
	{"pass", OK},
	{"ok", OK},
	{"reclassify", Reclassify},
	{"pipe", Pipe},
	{"goto", ExtGotoChain},
	{"jump", ExtJump},
	{"trap", Trap},
}

// ParseVerdictError reports a string tc would refuse as a control action.
// It is a user input error and wraps no errno.
type ParseVerdictError struct {
	// Input is the string as given.
	Input string
	// Reason says what is wrong with it.
	Reason string
}

// Error implements error: parse verdict "<input>": <reason>.
func (e *ParseVerdictError) Error() string {
	return fmt.Sprintf("parse verdict %q: %s", e.Input, e.Reason)
}

// ParseVerdict parses a control action as tc's parse_action_control does
// with numbers allowed (iproute2 tc/tc_util.c), with the words separated by
// white space:
//
//   - a name or any prefix of one, tried in tc's order: continue, drop,
//     shot, pass, ok, reclassify, pipe, goto, jump, trap (so "p" is
//     "pass" and "s" is "shot");
//   - "goto chain N" ("chain" may be abbreviated) and "jump N", with N a
//     decimal number up to 0x0FFFFFFF;
//   - a decimal number, read as C's "%d" reads it (a value beyond 32 bits
//     keeps its low 32 bits, as glibc's scanf stores it).
//
// One addition to tc: the word "stolen", which tc prints but does not
// parse, is accepted (in full only), so that every String parses back.
func ParseVerdict(s string) (Verdict, error) {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return 0, &ParseVerdictError{Input: s, Reason: "empty"}
	}
	v, n, reason := parseWords(fields)
	if reason == "" && n != len(fields) {
		reason = "trailing words after the verdict"
	}
	if reason != "" {
		return 0, &ParseVerdictError{Input: s, Reason: reason}
	}
	return v, nil
}

// parseWords is parse_action_control on words (at least one): it returns
// the verdict and how many words it took, or the reason it failed. Words
// it did not take are left for the caller, as tc leaves them to the next
// option parser.
func parseWords(words []string) (v Verdict, n int, reason string) {
	v, ok := lookupVerdict(words[0])
	if !ok {
		v, ok = scanInt(words[0])
		if !ok {
			return 0, 0, "bad action type " + strconv.Quote(words[0])
		}
	}
	n = 1
	if v == ExtGotoChain {
		if len(words) < 2 || !matches(words[1], "chain") {
			return 0, 0, `"chain index" expected`
		}
		if len(words) < 3 {
			return 0, 0, "missing chain index"
		}
		c, ok := getU32Dec(words[2])
		if !ok || c > uint32(ExtValueMask) {
			return 0, 0, `illegal "chain index" ` + strconv.Quote(words[2])
		}
		v |= Verdict(c)
		n = 3
	}
	if v == ExtJump {
		if len(words) < n+1 {
			return 0, 0, "missing jump count"
		}
		c, ok := getU32Dec(words[n])
		if !ok || c > uint32(ExtValueMask) {
			return 0, 0, `invalid "jump count" ` + strconv.Quote(words[n])
		}
		v |= Verdict(c)
		n++
	}
	return v, n, ""
}

func lookupVerdict(word string) (Verdict, bool) {
	for _, e := range verdictNames {
		if matches(word, e.name) {
			return e.v, true
		}
	}
	if word == "stolen" {
		return Stolen, true
	}
	return 0, false
}

// matches reports whether word is a non-empty prefix of name (iproute2's
// matches()).
func matches(word, name string) bool {
	return word != "" && strings.HasPrefix(name, word)
}

// getU32Dec reads s as iproute2's get_u32(s, 10): strtoul with base 10, the
// whole string, at most 0xFFFFFFFF.
func getU32Dec(s string) (uint32, bool) {
	v, end, neg, overflow := scanDec(s)
	if end == 0 || end != len(s) || overflow {
		return 0, false
	}
	if neg && v != 0 {
		// strtoul negates modulo 2^64: anything but -0 exceeds 32 bits.
		return 0, false
	}
	if v > 0xFFFFFFFF {
		return 0, false
	}
	return uint32(v), true
}

// scanInt reads s as sscanf(s, "%d%c") == 1 does with glibc: the whole
// string is a decimal number (leading white space and a sign allowed),
// converted as strtol (saturating at the 64-bit limits) and stored into a
// 32-bit int by truncation.
func scanInt(s string) (Verdict, bool) {
	v, end, neg, overflow := scanDec(s)
	if end == 0 || end != len(s) {
		return 0, false
	}
	var l int64
	switch {
	case overflow || (!neg && v > 1<<63-1) || (neg && v > 1<<63):
		if neg {
			l = -1 << 63
		} else {
			l = 1<<63 - 1
		}
	case neg:
		l = int64(-v)
	default:
		l = int64(v)
	}
	return Verdict(int32(l)), true
}

// scanDec reads optional white space, an optional sign and decimal digits.
// It returns the magnitude, the index past the digits (0 if there were
// none), the sign and whether the magnitude overflowed 64 bits.
func scanDec(s string) (v uint64, end int, neg, overflow bool) {
	i := 0
	for i < len(s) && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r')) {
		i++
	}
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	start := i
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		d := uint64(s[i] - '0')
		if v > (^uint64(0)-d)/10 {
			overflow = true
		}
		if !overflow {
			v = v*10 + d
		}
	}
	if i == start {
		return 0, 0, false, false
	}
	return v, i, neg, overflow
}
