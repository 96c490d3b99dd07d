package ebpfvm_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/internal/ebpfvm"
	"github.com/clsbpf/clsbpf/internal/ebpfvm/asm"
)

// fuzzSeeds adds the conformance programs and a few generated tc programs
// as raw bytecode.
func fuzzSeeds(f *testing.F, add func(code []byte)) {
	files, _ := filepath.Glob(filepath.Join("testdata", "bpf_conformance", "tests", "*.data"))
	for i, file := range files {
		if i%8 != 0 {
			continue
		}
		text, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		tf, err := asm.ParseData(string(text))
		if err != nil || tf.HasRaw {
			continue
		}
		insns, err := asm.Assemble(tf.Asm)
		if err != nil {
			f.Fatal(err)
		}
		add(ebpfvm.Encode(insns))
	}
	for seed := range uint64(12) {
		add(ebpfvm.Encode(newProgGen(seed).program()))
	}
	add(nil)
	add([]byte{0x95, 0, 0, 0, 0, 0, 0, 0})
}

func FuzzDecode(f *testing.F) {
	fuzzSeeds(f, func(code []byte) { f.Add(code) })
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, code []byte) {
		insns, err := ebpfvm.Decode(code)
		if err != nil {
			if insns != nil {
				t.Fatal("error with a result")
			}
			if !errors.Is(err, syscall.EINVAL) {
				t.Fatalf("errno of %v", err)
			}
			return
		}
		if !bytes.Equal(ebpfvm.Encode(insns), code) && len(code) != 0 {
			t.Fatalf("round trip differs")
		}
	})
}

// loadFuzz loads code under one of four option sets and checks the error
// contract: error xor program, a VerifyError with a known errno.
func loadFuzz(t *testing.T, code []byte, variant uint8) *ebpfvm.Program {
	insns, err := ebpfvm.Decode(code)
	if err != nil {
		return nil
	}
	opts := ebpfvm.Options{Budget: 1 << 16, Linker: &fakeLinker{value: make([]byte, 16)}, Helpers: testHelpers(t)}
	if variant&1 != 0 {
		opts.Context = ebpfvm.ContextMem
	}
	if variant&2 != 0 {
		opts.Profile = ebpfvm.ProfileRFC
	}
	opts.FuncInfo = variant&4 != 0
	p, err := ebpfvm.Load(insns, opts)
	if err != nil {
		if p != nil {
			t.Fatal("error with a program")
		}
		var ve *ebpfvm.VerifyError
		if !errors.As(err, &ve) {
			t.Fatalf("not a VerifyError: %v", err)
		}
		switch ve.Errno {
		case syscall.EINVAL, syscall.EACCES, syscall.E2BIG, syscall.EBADF, syscall.EPROTO:
		default:
			t.Fatalf("unexpected errno %v", err)
		}
		return nil
	}
	return p
}

func FuzzVerify(f *testing.F) {
	fuzzSeeds(f, func(code []byte) {
		for v := range uint8(4) {
			f.Add(code, v)
		}
	})
	f.Fuzz(func(t *testing.T, code []byte, variant uint8) {
		loadFuzz(t, code, variant)
	})
}

const canary = 0xa5

func FuzzRun(f *testing.F) {
	fuzzSeeds(f, func(code []byte) {
		f.Add(code, uint8(0), []byte("0123456789abcdef0123456789abcdef0123456789"))
		f.Add(code, uint8(3), []byte{1, 2, 3, 4, 5, 6, 7, 8})
	})
	f.Fuzz(func(t *testing.T, code []byte, variant uint8, data []byte) {
		p := loadFuzz(t, code, variant)
		if p == nil {
			return
		}
		var err error
		if variant&1 != 0 {
			// Caller memory inside a larger buffer whose edges must
			// survive the run.
			buf := bytes.Repeat([]byte{canary}, len(data)+64)
			mem := buf[32 : 32+len(data) : 32+len(data)]
			copy(mem, data)
			_, err = p.RunMem(mem)
			for i, b := range buf {
				if (i < 32 || i >= 32+len(data)) && b != canary {
					t.Fatalf("write outside the memory region at %d", i-32)
				}
			}
		} else {
			frame := append(make([]byte, 0, 14+len(data)), make([]byte, 14)...)
			frame = append(frame, data...)
			var pkt packet.Packet
			if e := pkt.SetFrame(frame); e != nil {
				return
			}
			_ = pkt.SetMetaLen(int(variant>>2) % 16)
			buf, data0, lin, _ := pkt.Buffer()
			lo := data0 - len(pkt.Meta())
			for i := range buf[:lo] {
				buf[i] = canary
			}
			for i := range buf[lin:] {
				buf[lin+i] = canary
			}
			_, err = p.Run(&pkt)
			for i := range buf {
				if (i < lo || i >= lin) && buf[i] != canary {
					t.Fatalf("write outside the packet window at buffer offset %d", i)
				}
			}
		}
		if err != nil {
			var re *ebpfvm.RunError
			if !errors.As(err, &re) {
				t.Fatalf("not a RunError: %v", err)
			}
		}
	})
}

// FuzzRunGenerated mutates one field of a generated tc program (which the
// kernel would accept) so the fuzzer explores the run loop with programs
// that pass the verifier, not only random bytes that rarely do.
func FuzzRunGenerated(f *testing.F) {
	for seed := range uint64(16) {
		f.Add(seed, uint16(seed*7), uint8(seed%5), uint64(seed*0x9e3779b97f4a7c15))
	}
	f.Fuzz(func(t *testing.T, seed uint64, at uint16, field uint8, val uint64) {
		g := newProgGen(seed)
		prog := g.program()
		i := int(at) % len(prog)
		switch field % 5 {
		case 0:
			prog[i].Op = uint8(val)
		case 1:
			prog[i].Dst = uint8(val) % 11
		case 2:
			prog[i].Src = uint8(val) % 11
		case 3:
			prog[i].Off = int16(val)
		case 4:
			prog[i].Imm = int32(val)
		}
		p := loadFuzz(t, ebpfvm.Encode(prog), 0)
		if p == nil {
			return
		}
		for _, frame := range g.frames(2) {
			var pkt packet.Packet
			if err := pkt.SetFrame(frame); err != nil {
				t.Fatal(err)
			}
			buf, data, lin, _ := pkt.Buffer()
			for j := range buf[:data] {
				buf[j] = canary
			}
			for j := range buf[lin:] {
				buf[lin+j] = canary
			}
			if _, err := p.Run(&pkt); err != nil {
				var re *ebpfvm.RunError
				if !errors.As(err, &re) {
					t.Fatalf("not a RunError: %v", err)
				}
			}
			for j := range buf {
				if (j < data || j >= lin) && buf[j] != canary {
					t.Fatalf("write outside the packet window at buffer offset %d", j)
				}
			}
		}
	})
}

// FuzzEngines runs mutated generated programs on both engines and demands
// the same result, the same fault and the same packet and metadata.
func FuzzEngines(f *testing.F) {
	for seed := range uint64(24) {
		f.Add(seed, uint16(seed*13), uint8(seed%6), uint64(seed*0x9e3779b97f4a7c15))
	}
	f.Fuzz(func(t *testing.T, seed uint64, at uint16, field uint8, val uint64) {
		g := newProgGen(seed)
		prog := g.program()
		i := int(at) % len(prog)
		switch field % 6 {
		case 0:
			prog[i].Op = uint8(val)
		case 1:
			prog[i].Dst = uint8(val) % 11
		case 2:
			prog[i].Src = uint8(val) % 11
		case 3:
			prog[i].Off = int16(val)
		case 4:
			prog[i].Imm = int32(val)
		}
		var progs [2]*ebpfvm.Program
		for k, e := range engines {
			p, err := ebpfvm.Load(prog, ebpfvm.Options{Engine: e.engine, Budget: 1 << 16})
			if err != nil {
				return
			}
			progs[k] = p
		}
		for _, frame := range g.frames(2) {
			var pkts [2]packet.Packet
			var r0 [2]uint64
			var errs [2]error
			for k := range progs {
				if err := pkts[k].SetFrame(frame); err != nil {
					t.Fatal(err)
				}
				r0[k], errs[k] = progs[k].Run(&pkts[k])
			}
			var re0, re1 *ebpfvm.RunError
			switch {
			case errs[0] == nil && errs[1] == nil:
				if r0[0] != r0[1] {
					t.Fatalf("r0 compiled %#x, reference %#x\n%s", r0[0], r0[1], listing(prog))
				}
			case errors.As(errs[0], &re0) && errors.As(errs[1], &re1):
				if re0.Err != re1.Err || re0.PC != re1.PC {
					t.Fatalf("faults differ: %v / %v\n%s", errs[0], errs[1], listing(prog))
				}
				continue
			default:
				t.Fatalf("errors differ: %v / %v\n%s", errs[0], errs[1], listing(prog))
			}
			if !bytes.Equal(pkts[0].Bytes(), pkts[1].Bytes()) || pkts[0].Mark != pkts[1].Mark ||
				pkts[0].Priority != pkts[1].Priority || pkts[0].CB != pkts[1].CB {
				t.Fatalf("packet or metadata differ\n%s", listing(prog))
			}
		}
	})
}
