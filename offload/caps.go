package offload

import (
	"encoding/binary"
	"fmt"
	"slices"
	"syscall"
)

// ClassSet is a set of BPF instruction classes (BPF_CLASS(code), 0..7):
// bit c set means class c is supported.
type ClassSet uint8

// AllClasses holds every instruction class.
const AllClasses ClassSet = 0xFF

// Has reports whether class c is in the set.
func (s ClassSet) Has(c uint8) bool { return s&(1<<(c&7)) != 0 }

// Capabilities is what a driver declares it can run. The zero value runs
// nothing: a driver lists what it supports.
type Capabilities struct {
	// Classic and Extended say which program kinds the device runs.
	Classic, Extended bool
	// MaxInsns is the largest program in instructions; 0 for no limit.
	MaxInsns int
	// Classes are the instruction classes the device executes.
	Classes ClassSet
	// Helpers are the eBPF helper ids the device implements; nil for
	// none.
	Helpers []int32
	// MapTypes are the map types (BPF_MAP_TYPE_*) the device hosts; nil
	// for none.
	MapTypes []uint32
	// Chains says the driver offloads filters of chains other than 0;
	// most drivers do not ("Driver supports only offload of chain 0").
	Chains bool
}

// Error is a refusal by the offload layer or a device: which device, what
// for, the extack text the kernel or driver reports, and the errno.
// errors.Is(err, syscall.EOPNOTSUPP) (or EINVAL, ...) holds.
type Error struct {
	// Device is the device's name, "" when the refusal is the block's.
	Device string
	// Msg says what was wrong.
	Msg string
	// Extack is the kernel's or a driver's extended-ack text, verbatim,
	// "" when none is sent.
	Extack string
	// Errno is the kernel's errno for the refusal.
	Errno syscall.Errno
	// Err is the underlying cause (a driver's error), or nil.
	Err error
}

// Error formats "offload: device: msg: cause: errno".
func (e *Error) Error() string {
	s := "offload"
	if e.Device != "" {
		s += ": " + e.Device
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	if e.Err != nil {
		return s + ": " + e.Err.Error()
	}
	return s + ": " + e.Errno.Error()
}

// Unwrap returns the errno and the cause.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Errno}
	}
	return []error{e.Errno, e.Err}
}

// Check refuses a program the capabilities do not cover, as a device's
// offload verifier refuses it at load or attach time: EOPNOTSUPP for a
// program kind, size, instruction class, helper or map type the device
// lacks, and EINVAL for an eBPF program whose instruction bytes are not a
// whole number of instructions.
func (c Capabilities) Check(p *Program) error {
	fail := func(format string, args ...any) error {
		return &Error{Msg: fmt.Sprintf(format, args...), Errno: syscall.EOPNOTSUPP}
	}
	switch p.Kind {
	case Classic:
		if !c.Classic {
			return fail("device does not run classic BPF")
		}
		if c.MaxInsns > 0 && len(p.Classic) > c.MaxInsns {
			return fail("program of %d instructions exceeds the device's %d", len(p.Classic), c.MaxInsns)
		}
		for i, in := range p.Classic {
			if cl := uint8(in.Op & 7); !c.Classes.Has(cl) {
				return fail("instruction %d: class %#x not supported", i, cl)
			}
		}
		return nil
	case Extended:
		if !c.Extended {
			return fail("device does not run eBPF")
		}
	default:
		return &Error{Msg: fmt.Sprintf("program kind %d", p.Kind), Errno: syscall.EINVAL}
	}
	if len(p.Insns)%8 != 0 {
		return &Error{Msg: fmt.Sprintf("%d bytes of instructions is not a multiple of 8", len(p.Insns)), Errno: syscall.EINVAL}
	}
	n := len(p.Insns) / 8
	if p.Insns == nil && (c.MaxInsns > 0 || c.Classes != AllClasses) {
		return fail("program code unavailable for the device's checks")
	}
	if c.MaxInsns > 0 && n > c.MaxInsns {
		return fail("program of %d instructions exceeds the device's %d", n, c.MaxInsns)
	}
	helpers := p.Helpers
	for i := 0; i < n; i++ {
		code := p.Insns[i*8]
		if cl := code & 7; !c.Classes.Has(cl) {
			return fail("instruction %d: class %#x not supported", i, cl)
		}
		// BPF_JMP|BPF_CALL with src_reg 0 calls helper imm.
		if code == 0x85 && p.Insns[i*8+1]>>4 == 0 && p.Helpers == nil {
			helpers = append(helpers, int32(binary.LittleEndian.Uint32(p.Insns[i*8+4:])))
		}
	}
	for _, h := range helpers {
		if !slices.Contains(c.Helpers, h) {
			return fail("helper %d not supported", h)
		}
	}
	for _, m := range p.Maps {
		if !slices.Contains(c.MapTypes, m.Type) {
			return fail("map %d: type %d not supported", m.ID, m.Type)
		}
	}
	return nil
}
