package ebpf_test

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/classifier/ebpf"
	"github.com/clsbpf/clsbpf/classifier/packet"
)

// testObjects returns the committed test objects' bytes.
func testObjects(t testing.TB) map[string][]byte {
	paths, err := filepath.Glob(filepath.Join("testdata", "*.o"))
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	out := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		out[filepath.Base(p)] = b
	}
	return out
}

// checkObject loads elf and, when it loads, makes its collection and
// runs its programs once: errors are fine, panics and a spec together
// with an error are not.
func checkObject(t *testing.T, elf []byte) {
	spec, err := ebpf.LoadObject(bytes.NewReader(elf))
	if (err == nil) != (spec != nil) {
		t.Fatalf("LoadObject returned spec %v with error %v", spec != nil, err)
	}
	if err != nil {
		return
	}
	col, err := ebpf.NewCollection(spec, ebpf.CollectionOptions{Slots: 1, Budget: 1 << 16, MapOptions: []ebpf.MapOption{ebpf.WithMaxMemory(1 << 20)}})
	if (err == nil) != (col != nil) {
		t.Fatalf("NewCollection returned a collection %v with error %v", col != nil, err)
	}
	if err != nil {
		return
	}
	var pkt packet.Packet
	for _, p := range col.Programs {
		_ = pkt.SetFrame(tcpFrame(80))
		_, _ = p.RunChecked(&pkt)
	}
}

// mutate flips, overwrites or cuts bytes of an object.
func mutate(r *rand.Rand, elf []byte) []byte {
	b := append([]byte(nil), elf...)
	for range 1 + r.IntN(4) {
		switch i := r.IntN(len(b)); r.IntN(4) {
		case 0:
			b[i] ^= 1 << r.IntN(8)
		case 1:
			b[i] = byte(r.Uint32())
		case 2:
			b[i] = 0xff
		default:
			b = b[:i]
		}
		if len(b) == 0 {
			break
		}
	}
	return b
}

// TestLoadObjectMutated loads mutated test objects: errors, never panics.
func TestLoadObjectMutated(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 15))
	n := 60
	if testing.Short() {
		n = 10
	}
	for name, elf := range testObjects(t) {
		t.Run(name, func(t *testing.T) {
			for range n {
				checkObject(t, mutate(r, elf))
			}
		})
	}
}

func FuzzLoadObject(f *testing.F) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, elf := range testObjects(f) {
		f.Add(elf)
		f.Add(mutate(r, elf))
	}
	f.Add([]byte("\x7fELF"))
	f.Fuzz(checkObject)
}
