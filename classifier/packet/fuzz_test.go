package packet

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"testing"
)

// FuzzSetFrame feeds arbitrary bytes to every constructor: none may panic,
// an accepted frame is held byte for byte, and Protocol follows
// eth_type_trans.
func FuzzSetFrame(f *testing.F) {
	f.Add(frame(macB, []uint16{0x0800}, filled(46, 0x45)...))
	f.Add(frame(macB, []uint16{0x8100, 5, 0x0800}, filled(46, 0x45)...))
	f.Add(frame(macB, []uint16{0x88a8, 5, 0x8100, 6, 0x86dd}, filled(46, 0x60)...))
	f.Add(frame(BroadcastMAC, []uint16{0x0806}))
	f.Add(frame(macB, []uint16{0x0030}, 0xff, 0xff))
	f.Add(frame(macB, []uint16{0x8100, 5}, 0))
	f.Add([]byte{0x45})
	f.Add([]byte{})
	p := New(0)
	dev := EthernetDevice(2, macB)
	f.Fuzz(func(t *testing.T, b []byte) {
		err := p.SetFrame(b)
		if (err == nil) != (len(b) >= 14) {
			t.Fatalf("SetFrame(%d bytes) error %v", len(b), err)
		}
		if err == nil {
			if !bytes.Equal(p.Bytes(), b) {
				t.Fatal("frame not held byte for byte")
			}
			if et := binary.BigEndian.Uint16(b[12:]); et >= 0x0600 && p.Protocol != et {
				t.Fatalf("protocol %#x for EtherType %#x", p.Protocol, et)
			}
			checkInvariants(t, p)
		}
		before := *p
		if err := p.Receive(b, dev); err != nil {
			if !reflect.DeepEqual(before, *p) {
				t.Fatalf("Receive(%x) failed with %v but changed the packet", b, err)
			}
		} else {
			if p.VLANPresent == (p.Len() == len(b)) {
				t.Fatalf("untag state %v with %d of %d bytes", p.VLANPresent, p.Len(), len(b))
			}
			if p.WireLen != uint32(p.Len()-14) {
				t.Fatalf("wire length %d for %d bytes", p.WireLen, p.Len())
			}
			checkInvariants(t, p)
		}
		before = *p
		if err := p.ReceiveL3(b, dev); err != nil {
			if !reflect.DeepEqual(before, *p) {
				t.Fatalf("ReceiveL3(%x) failed with %v but changed the packet", b, err)
			}
		}
		if err := p.SetL3(b); err == nil {
			checkInvariants(t, p)
		}
	})
}

// FuzzOps runs random sequences of buffer and header operations (Push, Pull,
// Put, Trim, SetLinearLen, SetMetaLen, UntagVLAN, Set*Offset): none may
// panic, every
// step keeps the layout invariants (data ≤ linear end ≤ end ≤ len(buf), the
// metadata inside the headroom, at most MaxLen bytes), a failed step changes
// nothing, and the frame content moves only as each operation says.
func FuzzOps(f *testing.F) {
	f.Add(frame(macB, []uint16{0x8100, 5, 0x0800}, filled(46, 0x45)...), []byte{0, 4, 1, 4, 2, 10, 3, 20, 4, 30, 5, 8, 6})
	f.Add(frame(macB, []uint16{0x0800}, filled(46, 0x45)...), []byte{0, 255, 0, 255, 0, 255, 2, 255, 2, 255})
	f.Add(frame(macB, []uint16{0x0800}, 1), []byte{5, 255, 1, 20, 4, 0, 3, 0})
	f.Add(frame(macB, []uint16{0x88a8, 1, 0x8100, 2, 0x0800}, filled(20, 0)...), []byte{5, 16, 6, 6, 4, 14, 6})
	f.Add([]byte{}, []byte{2, 8, 0, 8, 1, 4})
	f.Fuzz(func(t *testing.T, b []byte, ops []byte) {
		var p Packet
		if len(b) >= 14 {
			_ = p.SetFrame(b)
		}
		model := append([]byte{}, p.Bytes()...)
		for i := 0; i+1 < len(ops) && i < 64; i += 2 {
			n := int(ops[i+1])
			if ops[i]&0x80 != 0 {
				n *= 257 // reach past the headroom and tailroom
			}
			before := p
			beforeMeta := append([]byte{}, p.Meta()...)
			var err error
			op := (ops[i] & 0x7f) % 10
			switch op {
			case 0:
				err = p.Push(n)
				if err == nil {
					model = append(append([]byte{}, p.Bytes()[:n]...), model...)
				}
			case 1:
				err = p.Pull(n)
				if err == nil {
					model = model[n:]
				}
			case 2:
				err = p.Put(n)
				if err == nil {
					model = append(model, make([]byte, n)...)
				}
			case 3:
				err = p.Trim(n)
				if err == nil {
					model = model[:n]
				}
			case 4:
				err = p.SetLinearLen(n)
			case 5:
				err = p.SetMetaLen(n % (MaxMetaLen + 2))
			case 6:
				err = p.UntagVLAN()
				if err == nil {
					model = append(append([]byte{}, model[:12]...), model[16:]...)
				}
			case 7:
				err = p.SetNetworkOffset(n)
			case 8:
				err = p.SetMACOffset(n - 2) // -2 is refused, -1 unsets
			case 9:
				err = p.SetTransportOffset(n - 2)
			}
			if err != nil {
				if !reflect.DeepEqual(before, p) {
					t.Fatalf("op %d failed with %v but changed the packet", op, err)
				}
			} else if op <= 3 || op == 6 {
				if n := min(len(beforeMeta), p.meta); !bytes.Equal(beforeMeta[len(beforeMeta)-n:], p.Meta()[p.meta-n:]) {
					t.Fatalf("op %d lost metadata", op)
				}
			}
			checkInvariants(t, &p)
			if !bytes.Equal(model, p.Bytes()) {
				t.Fatalf("after op %d (%d): frame %x, want %x", op, n, p.Bytes(), model)
			}
		}
	})
}
