package tcsyntax_test

import (
	"errors"
	"os"
	"syscall"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/classifier/ebpf"
	"github.com/clsbpf/clsbpf/classifier/tcsyntax"
)

// FuzzParseFilter: the parser never panics, returns a Filter exactly when
// it returns no error, and every accepted line prints (String) to a line
// that parses to the same printed form and the same netlink request:
// parse, print, parse is a fixed point.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		`tc filter add dev eth0 ingress protocol ip pref 10 bpf bytecode '1,6 0 0 4294967295' classid 1:10`,
		`egress handle 0x10 chain 3 bpf da bc '1,6 0 0 2' skip_hw`,
		`bpf bc '1,6 0 0 0' action mirred egress redirect dev eth1 index 3 cookie 12ab`,
		`bpf bc '1,6 0 0 0' action mirred egress mirror dev eth1 drop action gact goto chain 4`,
		`bpf bc '1,6 0 0 0' police rate 1mbit burst 10k/8 mtu 2k peakrate 2mbit conform-exceed drop/pass index 4`,
		`bpf bc '1,6 0 0 0' action police pkts_rate 1000 pkts_burst 10 drop`,
		`bpf bc '1,6 0 0 0' action skbedit queue_mapping 1 priority 1:2 mark 0x5/0xff ptype host inheritdsfield`,
		`bpf bc '1,6 0 0 0' action vlan push_eth dst_mac 02:00:00:00:00:01 src_mac 02:00:00:00:00:02`,
		`bpf bc '1,6 0 0 0' action vlan modify id 7 priority 2 pass index 9`,
		`bpf bc '1,6 0 0 0' action csum iph or udp | sctp continue index 2 no_percpu skip_sw`,
		`bpf bc '1,6 0 0 0' action bpf bytecode '1,6 0 0 0' jump 1 action gact random netrand drop 5`,
		`tc filter replace dev eth0 parent 1: protocol 0x1234 prio 3 bpf obj p.o sec s export /tmp/u verbose da`,
		`bpf pinned /sys/fs/bpf/p classid ffff:ffff`,
		`bpf bc "2,6 0 0 1,6 0 0 2" flowid :a`,
	} {
		f.Add(s)
	}
	cfg := tcsyntax.Config{Devices: testDevs, ReadFile: func(string) ([]byte, error) { return []byte("1,6 0 0 0"), nil }}
	f.Fuzz(func(t *testing.T, line string) {
		fl, err := tcsyntax.ParseFilter(line, cfg)
		if err != nil {
			require.Nil(t, fl)
			return
		}
		require.NotNil(t, fl)
		printed := fl.String()
		again, err := tcsyntax.ParseFilter(printed, cfg)
		require.NoError(t, err, "printed %q from %q", printed, line)
		require.Equal(t, printed, again.String(), "from %q", line)
		// The printed line asks the kernel for exactly the same.
		m1, err1 := fl.Message()
		m2, err2 := again.Message()
		require.Equal(t, err1 == nil, err2 == nil, "from %q", line)
		if err1 == nil {
			require.Equal(t, m1.Flags, m2.Flags, "from %q", line)
			require.Equal(t, m1.Body(), m2.Body(), "request of %q and of %q", line, printed)
		}
	})
}

// FuzzParseActions: action lists alone, same properties.
func FuzzParseActions(f *testing.F) {
	f.Add("action drop action mirred ingress redirect dev eth0")
	f.Add("action police rate 1gbit burst 1m mtu 9000 overhead 4 linklayer atm")
	f.Add("action gact index 5")
	f.Fuzz(func(t *testing.T, line string) {
		words, err := tcsyntax.Split(line)
		if err != nil {
			return
		}
		specs, n, err := tcsyntax.ParseActions(words, testDevs)
		if err != nil {
			require.Nil(t, specs)
			return
		}
		require.LessOrEqual(t, n, len(words))
		printed := tcsyntax.FormatActions(specs, testDevs)
		again, _, err := tcsyntax.ParseActions(printed, testDevs)
		require.NoError(t, err, "printed %q from %q", printed, line)
		require.Equal(t, printed, tcsyntax.FormatActions(again, testDevs))
	})
}

// FuzzObjectLine: an "obj" line over any object bytes and section never
// panics; it loads a program exactly when it returns no error, and a
// refusal carries an errno.
func FuzzObjectLine(f *testing.F) {
	for _, name := range []string{"testdata/obj/cls.o", "testdata/obj/pin.o"} {
		obj, err := os.ReadFile(name)
		require.NoError(f, err)
		f.Add(obj, "classifier")
		f.Add(obj[:len(obj)/2], "classifier")
	}
	f.Add([]byte("\x7fELF"), "classifier")
	f.Add([]byte{}, "")
	f.Fuzz(func(t *testing.T, obj []byte, section string) {
		o := &tcsyntax.Objects{FS: fstest.MapFS{"x.o": {Data: obj}}, Programs: &ebpf.ProgramTable{}}
		words := []string{"bpf", "da", "obj", "x.o"}
		if section != "" {
			words = append(words, "sec", section)
		}
		fl, err := tcsyntax.ParseFilterArgs(words, tcsyntax.Config{Objects: o})
		if err != nil {
			require.Nil(t, fl)
			var errno syscall.Errno
			require.True(t, errors.As(err, &errno), "%v", err)
			return
		}
		require.NotZero(t, fl.FD)
		_, err = o.Programs.Program(fl.FD, false)
		require.NoError(t, err)
	})
}
