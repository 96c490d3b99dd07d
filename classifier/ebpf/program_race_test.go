package ebpf_test

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/action"
	"github.com/clsbpf/clsbpf/classifier"
	"github.com/clsbpf/clsbpf/classifier/ebpf"
	"github.com/clsbpf/clsbpf/classifier/packet"
)

// TestConcurrentRuns runs the port classifier on several slots at once,
// all counting into one hash map element with an atomic add, while the
// Go API reads the map: no race, and no update lost.
func TestConcurrentRuns(t *testing.T) {
	const slots = 4
	n := 2000
	if testing.Short() {
		n = 200
	}
	col := loadCollection(t, "port", ebpf.CollectionOptions{Slots: slots})
	ports := col.Maps["ports"]
	require.NoError(t, ports.Put(uint16(80), append(u32le(0x10020), make([]byte, 12)...)))
	prog := col.Programs["port_classifier"]

	var wg sync.WaitGroup
	for s := range slots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var pkt packet.Packet
			frame := tcpFrame(80)
			for range n {
				_ = pkt.SetFrame(frame)
				pkt.Slot = uint32(s)
				if got := prog.Run(&pkt); got != 0x10020 {
					t.Errorf("slot %d: got %#x", s, got)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		var v []byte
		for range n / 10 {
			_ = ports.Lookup(uint16(80), &v)
		}
	}()
	wg.Wait()
	var v []byte
	require.NoError(t, ports.Lookup(uint16(80), &v))
	assert.Equal(t, u64le(uint64(slots*n)), v[8:])
	assert.Zero(t, prog.Faults())
}

// TestClassifyWhileChanging classifies on several slots while another
// goroutine replaces the eBPF filter with programs of other objects: every
// verdict is one of the programs' verdicts, and nothing races.
func TestClassifyWhileChanging(t *testing.T) {
	const slots = 3
	n := 1500
	if testing.Short() {
		n = 150
	}
	reg, err := ebpf.NewHelperRegistry(ebpf.HelperOptions{Slots: slots})
	require.NoError(t, err)
	port := loadCollection(t, "port", ebpf.CollectionOptions{Slots: slots, Helpers: reg})
	require.NoError(t, port.Maps["ports"].Put(uint16(80), append(u32le(0x10020), make([]byte, 12)...)))
	lpm := loadCollection(t, "lpm", ebpf.CollectionOptions{Slots: slots, Helpers: reg})
	globals := loadCollection(t, "globals", ebpf.CollectionOptions{Slots: slots, Helpers: reg})
	progs := []*ebpf.Program{port.Programs["port_classifier"], lpm.Programs["lpm_acl"], globals.Programs["globals"]}

	chain := classifier.New(classifier.Config{})
	_, err = chain.Change(classifier.FilterSpec{Handle: 1, Program: progs[0], DirectAction: true}, classifier.Create)
	require.NoError(t, err)

	done := make(chan struct{})
	var wg sync.WaitGroup
	for s := range slots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pkt := packet.New(100)
			frame := tcpFrame(80)
			for {
				select {
				case <-done:
					return
				default:
				}
				_ = pkt.SetFrame(frame)
				pkt.Slot = uint32(s)
				res := chain.Classify(pkt)
				switch res.Verdict {
				case action.OK, action.Shot, action.Unspec:
				default:
					t.Errorf("verdict %v", res.Verdict)
					return
				}
			}
		}()
	}
	for i := range n {
		_, err := chain.Change(classifier.FilterSpec{Handle: 1, Program: progs[i%len(progs)], DirectAction: true}, 0)
		require.NoError(t, err)
	}
	close(done)
	wg.Wait()
	for _, p := range progs {
		assert.Zero(t, p.Faults())
	}
}
