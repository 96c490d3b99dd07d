package port_test

import (
	"encoding/binary"
	"errors"
	"testing"

	ebpf "github.com/clsbpf/clsbpf/classifier/ebpf/ciliumcompat"
)

// portVal is struct port_val of testdata/port.c.
type portVal struct {
	ClassID uint32
	Pad     uint32
	Packets uint64
}

// tcpFrame is an Ethernet/IPv4/TCP frame to dport.
func tcpFrame(dport uint16) []byte {
	f := make([]byte, 14+20+20)
	f[12], f[13] = 0x08, 0x00 // IPv4
	f[14] = 0x45              // version 4, ihl 5
	f[23] = 6                 // TCP
	binary.BigEndian.PutUint16(f[14+20+2:], dport)
	return f
}

// TestPortClassifier loads the port classifier, gives port 80 a classid
// and runs frames through it with BPF_PROG_TEST_RUN.
func TestPortClassifier(t *testing.T) {
	spec, err := ebpf.LoadCollectionSpec("../../../testdata/port.o")
	if err != nil {
		t.Fatal(err)
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer coll.Close()
	prog := coll.Programs["port_classifier"]
	ports := coll.Maps["ports"]
	if err := ports.Put(uint16(80), portVal{ClassID: 0x10001}); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name  string
		frame []byte
		want  uint32
	}{
		{"known port", tcpFrame(80), 0x10001},
		{"unknown port", tcpFrame(81), 0xffffffff},
		{"arp", append([]byte{12: 0x08, 13: 0x06}, make([]byte, 28)...), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := make([]byte, len(tc.frame)+64)
			ctx := make([]byte, 192)
			ctx[8] = 0x2a // mark
			ctxOut := make([]byte, 192)
			ret, err := prog.Run(&ebpf.RunOptions{
				Data:       tc.frame,
				DataOut:    out,
				Context:    ctx,
				ContextOut: ctxOut,
				Repeat:     1,
			})
			if err != nil {
				t.Fatal(err)
			}
			if ret != tc.want {
				t.Fatalf("ret %#x, want %#x", ret, tc.want)
			}
			if ctxOut[8] != 0x2a {
				t.Fatalf("ctx_out mark %#x, want 0x2a", ctxOut[8])
			}
		})
	}

	var v portVal
	if err := ports.Lookup(uint16(80), &v); err != nil {
		t.Fatal(err)
	}
	if v.Packets != 1 {
		t.Fatalf("port 80 counted %d packets, want 1", v.Packets)
	}
	if err := ports.Lookup(uint16(81), &v); !errors.Is(err, ebpf.ErrKeyNotExist) {
		t.Fatalf("lookup of port 81: %v, want ErrKeyNotExist", err)
	}
	if _, err := prog.Run(&ebpf.RunOptions{Data: tcpFrame(80), Flags: 1}); err == nil {
		t.Fatal("flags 1 accepted")
	}
	if _, err := prog.Run(&ebpf.RunOptions{Data: tcpFrame(80)[:33]}); err == nil {
		t.Fatal("33-byte IPv4 frame accepted")
	}
}
