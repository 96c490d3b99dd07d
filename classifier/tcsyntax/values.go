package tcsyntax

import (
	"math"
	"strconv"
	"strings"
)

// strtoul reads an unsigned number as C's strtoul does on a 64-bit host
// (leading blanks and a sign; base 0 takes a 0x prefix for hex and a
// leading 0 for octal). ok is false when no digit was read, when anything
// follows the number, or on overflow.
func strtoul(s string, base int) (uint64, bool) {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\v' || s[i] == '\f' || s[i] == '\r') {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	if base == 0 || base == 16 {
		if i+2 < len(s)+1 && i+1 < len(s) && s[i] == '0' && (s[i+1] == 'x' || s[i+1] == 'X') && i+2 < len(s) && hexDigit(s[i+2]) {
			i += 2
			base = 16
		}
	}
	if base == 0 {
		base = 10
		if i < len(s) && s[i] == '0' {
			base = 8
		}
	}
	start := i
	var v uint64
	over := false
	for ; i < len(s); i++ {
		d, ok := digitVal(s[i])
		if !ok || d >= uint64(base) {
			break
		}
		if v > (math.MaxUint64-d)/uint64(base) {
			over = true
		}
		v = v*uint64(base) + d
	}
	if i == start || i != len(s) || over {
		return 0, false
	}
	if neg {
		v = -v
	}
	return v, true
}

func hexDigit(c byte) bool { _, ok := digitVal(c); d, _ := digitVal(c); return ok && d < 16 }

func digitVal(c byte) (uint64, bool) {
	switch {
	case c >= '0' && c <= '9':
		return uint64(c - '0'), true
	case c >= 'a' && c <= 'z':
		return uint64(c-'a') + 10, true
	case c >= 'A' && c <= 'Z':
		return uint64(c-'A') + 10, true
	}
	return 0, false
}

// getUint is iproute2's get_u32/get_u16/get_u8: strtoul in base, at most
// max.
func getUint(s string, base int, max uint64) (uint64, bool) {
	v, ok := strtoul(s, base)
	if !ok || v > max {
		return 0, false
	}
	return v, true
}

// strtod reads the longest prefix of s that C's strtod reads as a decimal
// or hexadecimal number and returns it with the rest of s. ok is false
// when no number starts s.
func strtod(s string) (v float64, rest string, ok bool) {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	if i+1 < len(s) && s[i] == '0' && (s[i+1] == 'x' || s[i+1] == 'X') {
		j := i + 2
		for j < len(s) && hexDigit(s[j]) {
			j++
		}
		if j > i+2 {
			n, err := strconv.ParseUint(s[i+2:j], 16, 64)
			if err != nil {
				return 0, "", false
			}
			v = float64(n)
			if s[0] == '-' {
				v = -v
			}
			return v, s[j:], true
		}
	}
	digits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return 0, "", false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		k := j
		for k < len(s) && s[k] >= '0' && s[k] <= '9' {
			k++
		}
		if k > j {
			i = k
		}
	}
	f, err := strconv.ParseFloat(s[:i], 64)
	if err != nil {
		return 0, "", false
	}
	return f, s[i:], true
}

// rateSuffixes is iproute2's table of rate units (tc_util.c), matched
// without regard to case.
var rateSuffixes = []struct {
	name  string
	scale float64
}{
	{"bit", 1}, {"Kibit", 1024}, {"kbit", 1000}, {"mibit", 1024 * 1024}, {"mbit", 1000000},
	{"gibit", 1024 * 1024 * 1024}, {"gbit", 1000000000}, {"tibit", 1024 * 1024 * 1024 * 1024},
	{"tbit", 1000000000000}, {"Bps", 8}, {"KiBps", 8 * 1024}, {"KBps", 8000},
	{"MiBps", 8 * 1024 * 1024}, {"MBps", 8000000}, {"GiBps", 8 * 1024 * 1024 * 1024},
	{"GBps", 8000000000}, {"TiBps", 8 * 1024 * 1024 * 1024 * 1024}, {"TBps", 8000000000000},
}

// getRate64 is iproute2's get_rate64: a rate with a unit (bits per second
// without one), in bytes per second.
func getRate64(s string) (uint64, bool) {
	bps, rest, ok := strtod(s)
	if !ok || bps < 0 || math.IsNaN(bps) {
		return 0, false
	}
	if rest != "" {
		found := false
		for _, u := range rateSuffixes {
			if strings.EqualFold(u.name, rest) {
				bps *= u.scale
				found = true
				break
			}
		}
		if !found {
			return 0, false
		}
	}
	bps /= 8
	if bps >= 1<<64 {
		return 0, false
	}
	return uint64(bps), true
}

// getRate is iproute2's get_rate: getRate64 that must fit 32 bits
// exactly.
func getRate(s string) (uint32, bool) {
	bps, rest, ok := strtod(s)
	if !ok || bps < 0 {
		return 0, false
	}
	if rest != "" {
		found := false
		for _, u := range rateSuffixes {
			if strings.EqualFold(u.name, rest) {
				bps *= u.scale
				found = true
				break
			}
		}
		if !found {
			return 0, false
		}
	}
	bps /= 8
	if bps >= 1<<32 || float64(uint32(bps)) != math.Floor(bps) {
		return 0, false
	}
	return uint32(bps), true
}

// getSize is iproute2's get_size: bytes with an optional unit (b, k/kb,
// m/mb, g/gb, kbit, mbit, gbit), exactly representable in 32 bits.
func getSize(s string) (uint32, bool) {
	sz, rest, ok := strtod(s)
	if !ok {
		return 0, false
	}
	switch strings.ToLower(rest) {
	case "":
	case "kb", "k":
		sz *= 1024
	case "gb", "g":
		sz *= 1024 * 1024 * 1024
	case "gbit":
		sz *= 1024 * 1024 * 1024 / 8
	case "mb", "m":
		sz *= 1024 * 1024
	case "mbit":
		sz *= 1024 * 1024 / 8
	case "kbit":
		sz *= 1024 / 8
	case "b":
	default:
		return 0, false
	}
	if sz < 0 || sz >= 1<<32 || float64(uint32(sz)) != math.Floor(sz) {
		return 0, false
	}
	return uint32(sz), true
}

// getSizeAndCell is iproute2's get_size_and_cell: SIZE[/CELL] with CELL a
// power of two; cellLog is -1 without one.
func getSizeAndCell(s string) (size uint32, cellLog int, ok bool) {
	cellLog = -1
	sz, cell, hasCell := strings.Cut(s, "/")
	if size, ok = getSize(sz); !ok {
		return 0, 0, false
	}
	if hasCell {
		c, ok := strtoul(cell, 0)
		if !ok || int64(c) != int64(int32(c)) {
			return 0, 0, false
		}
		for i := 0; i < 32; i++ {
			if int32(1)<<i == int32(c) {
				return size, i, true
			}
		}
		return 0, 0, false
	}
	return size, cellLog, true
}

// protocols is iproute2's ll_proto table (lib/ll_proto.c) in its order:
// names are matched without regard to case, and printing takes the first
// name with the value.
var protocols = []struct {
	name string
	id   uint16
}{
	{"loop", 0x0060}, {"pup", 0x0200}, {"pupat", 0x0201}, {"ip", 0x0800}, {"x25", 0x0805},
	{"arp", 0x0806}, {"bpq", 0x08FF}, {"ieeepup", 0x0a00}, {"ieeepupat", 0x0a01},
	{"dec", 0x6000}, {"dna_dl", 0x6001}, {"dna_rc", 0x6002}, {"dna_rt", 0x6003},
	{"lat", 0x6004}, {"diag", 0x6005}, {"cust", 0x6006}, {"sca", 0x6007}, {"rarp", 0x8035},
	{"atalk", 0x809B}, {"aarp", 0x80F3}, {"ipx", 0x8137}, {"ipv6", 0x86DD},
	{"ppp_disc", 0x8863}, {"ppp_ses", 0x8864}, {"atmmpoa", 0x884c}, {"atmfate", 0x8884},
	{"802.1Q", 0x8100}, {"802.1ad", 0x88A8}, {"mpls_uc", 0x8847}, {"mpls_mc", 0x8848},
	{"teb", 0x6558}, {"802_3", 0x0001}, {"ax25", 0x0002}, {"all", 0x0003},
	{"802_2", 0x0004}, {"snap", 0x0005}, {"ddcmp", 0x0006}, {"wan_ppp", 0x0007},
	{"ppp_mp", 0x0008}, {"localtalk", 0x0009}, {"can", 0x000C}, {"ppptalk", 0x0010},
	{"tr_802_2", 0x0011}, {"mobitex", 0x0015}, {"control", 0x0016}, {"irda", 0x0017},
	{"econet", 0x0018}, {"tipc", 0x88ca}, {"aoe", 0x88a2}, {"LLDP", 0x88CC},
}

// ParseProtocol parses a protocol as iproute2's ll_proto_a2n does: a name
// from its table (all, ip, ipv6, arp, 802.1Q, 802.1ad, mpls_uc, lldp, ...,
// in any case) or a 16-bit number (0x prefix for hex, leading 0 for
// octal). The result is in host order.
func ParseProtocol(s string) (uint16, bool) {
	for _, p := range protocols {
		if strings.EqualFold(p.name, s) {
			return p.id, true
		}
	}
	v, ok := getUint(s, 0, 0xFFFF)
	return uint16(v), ok
}

// ProtocolName prints a protocol as tc does (ll_proto_n2a): its name, or
// the decimal number in brackets.
func ProtocolName(id uint16) string {
	for _, p := range protocols {
		if p.id == id {
			return p.name
		}
	}
	return "[" + strconv.FormatUint(uint64(id), 10) + "]"
}
