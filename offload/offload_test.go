package offload

import (
	"encoding/binary"
	"errors"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/bpf"

	"github.com/clsbpf/clsbpf/classifier/packet"
)

// insns encodes eBPF instructions (code, regs, off, imm) as struct
// bpf_insn bytes.
func insns(ins ...[4]int64) []byte {
	var b []byte
	for _, in := range ins {
		b = append(b, byte(in[0]), byte(in[1]))
		b = binary.LittleEndian.AppendUint16(b, uint16(in[2]))
		b = binary.LittleEndian.AppendUint32(b, uint32(in[3]))
	}
	return b
}

func TestCapabilitiesCheck(t *testing.T) {
	full := Capabilities{Classic: true, Extended: true, Classes: AllClasses, Helpers: []int32{1, 2}, MapTypes: []uint32{1}}
	ret0 := insns(
		[4]int64{0xb7, 0, 0, 0}, // r0 = 0
		[4]int64{0x95, 0, 0, 0}, // exit
	)
	callHelper := func(id int64) []byte {
		return insns(
			[4]int64{0x85, 0, 0, id}, // call id
			[4]int64{0x95, 0, 0, 0},  // exit
		)
	}
	classic := []bpf.RawInstruction{
		{Op: 0x28, K: 12},         // ldh [12]
		{Op: 0x06, K: 0xFFFFFFFF}, // ret #-1
	}
	tests := []struct {
		name  string
		caps  Capabilities
		prog  Program
		errno syscall.Errno
	}{
		{"classic_ok", full, Program{Kind: Classic, Classic: classic}, 0},
		{"classic_not_supported", Capabilities{Extended: true, Classes: AllClasses}, Program{Kind: Classic, Classic: classic}, syscall.EOPNOTSUPP},
		{"classic_too_long", Capabilities{Classic: true, Classes: AllClasses, MaxInsns: 1}, Program{Kind: Classic, Classic: classic}, syscall.EOPNOTSUPP},
		{"classic_class_missing", Capabilities{Classic: true, Classes: 1 << 6}, Program{Kind: Classic, Classic: classic}, syscall.EOPNOTSUPP},
		{"ebpf_ok", full, Program{Kind: Extended, Insns: ret0}, 0},
		{"ebpf_not_supported", Capabilities{Classic: true, Classes: AllClasses}, Program{Kind: Extended, Insns: ret0}, syscall.EOPNOTSUPP},
		{"ebpf_partial_instruction", full, Program{Kind: Extended, Insns: ret0[:12]}, syscall.EINVAL},
		{"ebpf_class_missing", Capabilities{Extended: true, Classes: 1 << 5}, Program{Kind: Extended, Insns: ret0}, syscall.EOPNOTSUPP},
		{"ebpf_helper_supported", full, Program{Kind: Extended, Insns: callHelper(2)}, 0},
		{"ebpf_helper_missing", full, Program{Kind: Extended, Insns: callHelper(12)}, syscall.EOPNOTSUPP},
		{"ebpf_declared_helpers_win", full, Program{Kind: Extended, Insns: callHelper(12), Helpers: []int32{1}}, 0},
		{"ebpf_map_type_missing", full, Program{Kind: Extended, Insns: ret0, Maps: []Map{{ID: 3, Type: MapArray}}}, syscall.EOPNOTSUPP},
		{"ebpf_map_type_supported", full, Program{Kind: Extended, Insns: ret0, Maps: []Map{{ID: 3, Type: MapHash}}}, 0},
		{"ebpf_too_long", Capabilities{Extended: true, Classes: AllClasses, MaxInsns: 1}, Program{Kind: Extended, Insns: ret0}, syscall.EOPNOTSUPP},
		{"ebpf_code_unavailable_with_limits", Capabilities{Extended: true, Classes: AllClasses, MaxInsns: 10}, Program{Kind: Extended}, syscall.EOPNOTSUPP},
		{"ebpf_code_unavailable_without_limits", Capabilities{Extended: true, Classes: AllClasses}, Program{Kind: Extended}, 0},
		{"unknown_kind", full, Program{}, syscall.EINVAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.caps.Check(&tt.prog)
			if tt.errno == 0 {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.errno)
			var e *Error
			require.True(t, errors.As(err, &e))
			assert.Equal(t, tt.errno, e.Errno)
		})
	}
}

// recorder takes everything and records the commands it saw.
type recorder struct {
	name string
	log  *[]string
	err  error
}

func (r *recorder) Capabilities() Capabilities {
	return Capabilities{Classic: true, Extended: true, Classes: AllClasses}
}

func (r *recorder) Setup(req *Request) error {
	*r.log = append(*r.log, r.name+":"+req.Command.String())
	return r.err
}

func TestBlockCall(t *testing.T) {
	var log []string
	a := &Device{Name: "a", Ifindex: 1, HWTC: true, Offloader: &recorder{name: "a", log: &log}}
	b := &Device{Name: "b", Ifindex: 2, HWTC: true, Offloader: &recorder{name: "b", log: &log, err: syscall.ENOSPC}}
	veth := &Device{Name: "veth0"}
	blk := NewBlock(a, veth, b)
	assert.Equal(t, 1, blk.NoOffloadDevices())
	req := &Request{Command: Add, Prog: &Program{Kind: Classic, Classic: []bpf.RawInstruction{{Op: 0x06}}}}

	n, err := blk.Call(req, false)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Equal(t, []string{"b:add", "a:add"}, log, "the most recently bound device first")

	log = nil
	n, err = blk.Call(req, true)
	assert.Zero(t, n)
	assert.ErrorIs(t, err, syscall.ENOSPC)
	assert.Equal(t, []string{"b:add"}, log, "err_stop ends the call")

	require.NoError(t, blk.Detach(b))
	requireErrno(t, blk.Detach(b), syscall.ENOENT)
	require.NoError(t, blk.Attach(b))
	requireErrno(t, blk.Attach(b), syscall.EEXIST)

	var nilBlock *Block
	assert.Equal(t, 1, nilBlock.NoOffloadDevices(), "a nil block is bound to one device that cannot offload")
	n, err = nilBlock.Call(req, true)
	assert.Zero(t, n)
	assert.NoError(t, err)
	_, ok := nilBlock.Run(FilterID{}, packet.New(64))
	assert.False(t, ok)
}

func requireErrno(t *testing.T, err error, errno syscall.Errno) {
	t.Helper()
	require.ErrorIs(t, err, errno)
}

func TestDeviceSetupChecks(t *testing.T) {
	var log []string
	classic := &Program{Kind: Classic, Classic: []bpf.RawInstruction{{Op: 0x06}}}
	tests := []struct {
		name   string
		dev    Device
		req    Request
		errno  syscall.Errno
		extack string
		called bool
	}{
		{"no_hook", Device{Name: "veth0"}, Request{Command: Add, Prog: classic}, syscall.EOPNOTSUPP, "", false},
		{"hw_tc_off", Device{Name: "n", Offloader: &recorder{name: "n", log: &log}}, Request{Command: Add, Prog: classic, SkipSW: true}, syscall.EOPNOTSUPP, "TC offload is disabled on net device", false},
		{"hw_tc_off_extack_only_for_skip_sw", Device{Name: "n", Offloader: &recorder{name: "n", log: &log}}, Request{Command: Add, Prog: classic}, syscall.EOPNOTSUPP, "", false},
		{"chain_1", Device{Name: "n", HWTC: true, Offloader: &recorder{name: "n", log: &log}}, Request{Command: Add, Prog: classic, Filter: FilterID{Chain: 1}, SkipSW: true}, syscall.EOPNOTSUPP, "Driver supports only offload of chain 0", false},
		{"bound_elsewhere", Device{Name: "n", Ifindex: 4, HWTC: true, Offloader: &recorder{name: "n", log: &log}}, Request{Command: Add, Prog: &Program{Kind: Classic, Classic: classic.Classic, Device: 5}}, syscall.EINVAL, "", false},
		{"bound_here", Device{Name: "n", Ifindex: 5, HWTC: true, Offloader: &recorder{name: "n", log: &log}}, Request{Command: Add, Prog: &Program{Kind: Classic, Classic: classic.Classic, Device: 5}}, 0, "", true},
		{"driver_error_without_errno_is_eopnotsupp", Device{Name: "n", HWTC: true, Offloader: &recorder{name: "n", log: &log, err: errors.New("nope")}}, Request{Command: Destroy}, syscall.EOPNOTSUPP, "", true},
		{"driver_errno_kept", Device{Name: "n", HWTC: true, Offloader: &recorder{name: "n", log: &log, err: syscall.ENOMEM}}, Request{Command: Stats, Prog: classic}, syscall.ENOMEM, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log = nil
			err := tt.dev.Setup(&tt.req)
			assert.Equal(t, tt.called, len(log) == 1)
			if tt.errno == 0 {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.errno)
			var e *Error
			require.True(t, errors.As(err, &e))
			assert.Equal(t, tt.extack, e.Extack)
			assert.Equal(t, tt.extack, tt.req.Extack)
		})
	}
}

func TestFaulty(t *testing.T) {
	f := &Faulty{FailCommands: []Command{Replace}, FailNth: 2}
	req := func(c Command) *Request { return &Request{Command: c} }
	assert.NoError(t, f.Setup(req(Add)))
	assert.ErrorIs(t, f.Setup(req(Add)), syscall.EIO, "the 2nd call")
	assert.NoError(t, f.Setup(req(Destroy)))
	assert.ErrorIs(t, f.Setup(req(Replace)), syscall.EIO, "every replace")
	assert.Equal(t, []Command{Add, Add, Destroy, Replace}, f.Calls())

	var log []string
	inner := &recorder{name: "inner", log: &log}
	g := &Faulty{Inner: inner, Err: syscall.ENOSPC, FailCommands: []Command{Stats}}
	assert.Equal(t, inner.Capabilities(), g.Capabilities())
	assert.NoError(t, g.Setup(req(Add)))
	assert.ErrorIs(t, g.Setup(req(Stats)), syscall.ENOSPC)
	assert.Equal(t, []string{"inner:add"}, log, "a failed call does not reach the driver")
}

func TestCountersAndNames(t *testing.T) {
	c := Counters{Bytes: 10, Packets: 1, LastUse: 5}
	c.Add(Counters{Bytes: 5, Packets: 2, Drops: 1, LastUse: 3})
	assert.Equal(t, Counters{Bytes: 15, Packets: 3, Drops: 1, LastUse: 5}, c)
	assert.Equal(t, "replace", Replace.String())
	assert.Equal(t, "command(9)", Command(9).String())
	e := &Error{Device: "nic0", Msg: "refused", Errno: syscall.EOPNOTSUPP}
	assert.Equal(t, "offload: nic0: refused: operation not supported", e.Error())
}

func FuzzCheck(f *testing.F) {
	f.Add(uint8(1), []byte{0x06, 0, 0, 0, 0, 0, 0, 0}, uint8(0xFF), 0)
	f.Add(uint8(2), []byte{0x85, 0, 0, 0, 5, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0}, uint8(0x20), 1)
	f.Add(uint8(3), []byte{1, 2, 3}, uint8(0), 0)
	f.Fuzz(func(t *testing.T, kind uint8, code []byte, classes uint8, max int) {
		p := Program{Kind: Kind(kind)}
		if p.Kind == Classic {
			for i := 0; i+8 <= len(code); i += 8 {
				p.Classic = append(p.Classic, bpf.RawInstruction{Op: binary.LittleEndian.Uint16(code[i:]), Jt: code[i+2], Jf: code[i+3], K: binary.LittleEndian.Uint32(code[i+4:])})
			}
		} else {
			p.Insns = code
		}
		caps := Capabilities{Classic: true, Extended: true, Classes: ClassSet(classes), MaxInsns: max, Helpers: []int32{5}}
		err := caps.Check(&p)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || (e.Errno != syscall.EOPNOTSUPP && e.Errno != syscall.EINVAL) {
				t.Fatalf("unexpected error %v", err)
			}
		}
	})
}
