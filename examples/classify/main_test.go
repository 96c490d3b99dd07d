package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/examples/classify/internal/samplecap"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, string(want), got)
}

// files is an in-memory file system for the readFile hook.
type files map[string][]byte

func (fs files) read(name string) ([]byte, error) {
	if b, ok := fs[name]; ok {
		return b, nil
	}
	return nil, fmt.Errorf("%s: no such file: %w", name, syscall.ENOENT)
}

// runClassify runs the command's logic with fs as the file system.
func runClassify(t *testing.T, opts options, fs files) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := classify(opts, fs.read, &out)
	return out.String(), err
}

func TestDefault(t *testing.T) {
	out, err := runClassify(t, options{}, nil)
	require.NoError(t, err)
	golden(t, "default.golden", out)
}

func TestDefaultVerbose(t *testing.T) {
	out, err := runClassify(t, options{verbose: true}, nil)
	require.NoError(t, err)
	golden(t, "verbose.golden", out)
}

// TestEgress: on the egress hook a VLAN tag stays in the frame, so the
// tagged web frames no longer match the web filter and fall through to the
// catch-all.
func TestEgress(t *testing.T) {
	out, err := runClassify(t, options{hook: "egress"}, nil)
	require.NoError(t, err)
	golden(t, "egress.golden", out)
	_, err = runClassify(t, options{hook: "sideways"}, nil)
	assert.ErrorIs(t, err, syscall.EINVAL)
}

func TestRunMain(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, run(nil, &stdout, &stderr))
	assert.Empty(t, stderr.String())
	want, err := os.ReadFile("testdata/default.golden")
	require.NoError(t, err)
	assert.Equal(t, string(want), stdout.String(), "go run ./examples/classify prints the default report")
}

// TestSampleCaptureIsGenerated keeps sample.pcap equal to what gen.go
// writes, so the committed capture and its generator cannot drift.
func TestSampleCaptureIsGenerated(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, samplecap.Write(&buf))
	assert.True(t, bytes.Equal(buf.Bytes(), sampleCapture), "sample.pcap is stale: run go generate ./examples/classify")

	frames, err := samplecap.Frames()
	require.NoError(t, err)
	assert.GreaterOrEqual(t, len(frames), 50)
	assert.LessOrEqual(t, len(frames), 200)
	var tagged, cut int
	for _, f := range frames {
		if len(f.Data) >= 14 && f.Data[12] == 0x81 && f.Data[13] == 0x00 {
			tagged++
		}
		if len(f.Data) < f.Length {
			cut++
		}
	}
	assert.Positive(t, tagged, "an 802.1Q-tagged frame")
	assert.Equal(t, 1, cut, "one frame cut by the snap length")
}

// TestPcapng reads the same frames from a pcapng file: the counts must not
// change.
func TestPcapng(t *testing.T) {
	frames, err := samplecap.Frames()
	require.NoError(t, err)
	var buf bytes.Buffer
	w, err := pcapgo.NewNgWriter(&buf, layers.LinkTypeEthernet)
	require.NoError(t, err)
	for i, f := range frames {
		ci := gopacket.CaptureInfo{Timestamp: samplecap.Start, CaptureLength: len(f.Data), Length: f.Length}
		require.NoError(t, w.WritePacket(ci, f.Data), "frame %d", i+1)
	}
	require.NoError(t, w.Flush())

	out, err := runClassify(t, options{pcap: "trace.pcapng"}, files{"trace.pcapng": buf.Bytes()})
	require.NoError(t, err)
	want, err := os.ReadFile("testdata/default.golden")
	require.NoError(t, err)
	assert.Equal(t, strings.Replace(string(want), "embedded sample.pcap (pcap,", "trace.pcapng (pcapng,", 1), out)
}

// TestRawIP classifies a raw-IP capture (LINKTYPE_RAW, as from a TUN
// device): no MAC header, so filters written for Ethernet see the IP
// header at offset 0, and a filter written for it matches.
func TestRawIP(t *testing.T) {
	frames, err := samplecap.Frames()
	require.NoError(t, err)
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	require.NoError(t, w.WriteFileHeader(65535, layers.LinkTypeRaw))
	n := 0
	for _, f := range frames {
		if len(f.Data) < 15 || f.Data[12] != 0x08 || f.Data[13] != 0x00 || len(f.Data) != f.Length {
			continue // IPv4 over Ethernet only
		}
		require.NoError(t, w.WritePacket(gopacket.CaptureInfo{Timestamp: samplecap.Start, CaptureLength: len(f.Data) - 14, Length: len(f.Data) - 14}, f.Data[14:]))
		n++
	}
	// tcpdump -ddd -y RAW 'udp dst port 53', match return rewritten to -1
	spec := `pref 1 bpf bytecode "19,48 0 0 0,84 0 0 240,21 0 4 96,48 0 0 6,21 0 13 17,40 0 0 42,21 10 11 53,48 0 0 0,84 0 0 240,21 0 8 64,48 0 0 9,21 0 6 17,40 0 0 6,69 4 0 8191,177 0 0 0,72 0 0 2,21 0 1 53,6 0 0 4294967295,6 0 0 0" classid 1:53`
	out, err := runClassify(t, options{pcap: "raw.pcap", filters: stringList{spec}}, files{"raw.pcap": buf.Bytes()})
	require.NoError(t, err)
	assert.Contains(t, out, fmt.Sprintf("(pcap, %d frames, 0 cut", n))
	assert.Contains(t, out, "1:53                     4 ")
	assert.Contains(t, out, fmt.Sprintf("unclassified           %3d ", n-4))
}

// TestUserFilters covers -filter and -filters: preferences, automatic
// preferences (newest first, as tc adds them), one preference with two
// filters, handles, protocols, direct-action, bytecode-file and comments.
func TestUserFilters(t *testing.T) {
	fs := files{
		"ip.bpf": []byte("5\n40 0 0 12\n21 1 0 2048\n21 0 1 34525\n6 0 0 4294967295\n6 0 0 0\n"),
		"filters.txt": []byte(strings.Join([]string{
			"# arp to its own class",
			"protocol arp pref 10 bpf bytecode \"1,6 0 0 4294967295\" classid 1:a",
			"",
			"# everything IP, from a bytecode-file",
			"pref 20 handle 0x20 bytecode-file ip.bpf flowid 1:20",
			"# a second filter at pref 20: the chain tries it first",
			"pref 20 handle 0x21 bpf bytecode '4,40 0 0 12,21 0 1 34525,6 0 0 4294967295,6 0 0 0' classid 1:21",
		}, "\n")),
	}
	opts := options{
		filtersFile: "filters.txt",
		filters: stringList{
			// Automatic preferences: 49152, then 49151 (one below the
			// lowest above 32768), tried after the file's. tcpdump -ddd
			// -y EN10MB -s 65537 icmp: the snap length is the match
			// return, here classid 1:1 itself, whatever classid the
			// filter names.
			`bytecode "6,40 0 0 12,21 0 3 2048,48 0 0 23,21 0 1 1,6 0 0 65537,6 0 0 0" classid 1:ff`,
			`protocol 802.1Q bytecode "1,6 0 0 4294967295" classid 1:100`,
			// Direct action: the return value is the verdict (2: drop).
			`pref 5 da bytecode "4,40 0 0 12,21 0 1 2054,6 0 0 2,6 0 0 4294967295"`,
		},
		verbose: true,
	}
	out, err := runClassify(t, opts, fs)
	require.NoError(t, err)
	golden(t, "user_filters.golden", out)
}

func TestFlags(t *testing.T) {
	dir := t.TempDir()
	capPath := filepath.Join(dir, "x.pcap")
	require.NoError(t, os.WriteFile(capPath, sampleCapture, 0o644))
	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     string // substring
		stderr     string // substring
		noStdout   bool
		exactEmpty bool
	}{
		{name: "help", args: []string{"-h"}, code: 0, stderr: "usage: classify"},
		{name: "unknown_flag", args: []string{"-bogus"}, code: 2, stderr: "flag provided but not defined: -bogus", noStdout: true},
		{name: "stray_argument", args: []string{"x.pcap"}, code: 2, stderr: `unexpected argument "x.pcap"`, noStdout: true},
		{name: "pcap_flag", args: []string{"-pcap", capPath}, code: 0, stdout: "capture: " + capPath + " (pcap, 129 frames"},
		{name: "missing_pcap", args: []string{"-pcap", filepath.Join(dir, "nope.pcap")}, code: 1, stderr: "classify: read capture: ", noStdout: true},
		{name: "missing_filters_file", args: []string{"-filters", filepath.Join(dir, "nope.txt")}, code: 1, stderr: "classify: read filters: ", noStdout: true},
		{name: "bad_hook", args: []string{"-hook", "up"}, code: 2, stderr: `classify: -hook "up": want ingress or egress`, noStdout: true},
		{name: "egress", args: []string{"-hook", "egress"}, code: 0, stdout: "hook: clsact egress of ifindex 2"},
		{name: "bad_filter", args: []string{"-filter", "bytecode"}, code: 1, stderr: `classify: filter 1: token 1 "bytecode": Command line is not complete`, noStdout: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			assert.Equal(t, tt.code, run(tt.args, &stdout, &stderr))
			assert.Contains(t, stdout.String(), tt.stdout)
			assert.Contains(t, stderr.String(), tt.stderr)
			if tt.noStdout {
				assert.Empty(t, stdout.String())
			}
		})
	}
}

func TestSpecErrors(t *testing.T) {
	fs := files{"big.bpf": []byte("2\n6 0 0 0\n"), defaultObject: defaultObjectData}
	tests := []struct {
		name  string
		spec  string
		msg   string
		errno syscall.Errno
	}{
		{"empty", "", "filter 1: empty filter spec", syscall.EINVAL},
		{"unterminated_quote", `bytecode "1,6 0 0 0`, `filter 1: unterminated " quote at byte 10`, syscall.EINVAL},
		{"unknown_option", `bytcode "1,6 0 0 0"`, `filter 1: token 1 "bytcode": What mode is "bytcode"?`, syscall.EINVAL},
		{"unknown_option_after_program", `bc "1,6 0 0 0" flowid 1:1 bytcode`, `filter 1: token 5 "bytcode": What is "bytcode"?`, syscall.EINVAL},
		{"no_program", `classid 1:1`, "filter 1: bpf needs a program", syscall.EINVAL},
		{"duplicate_program", `bc "1,6 0 0 0" bc "1,6 0 0 0"`, `filter 1: token 3 "bc": What is "bc"?`, syscall.EINVAL},
		{"bad_bytecode_count", `bytecode "2,6 0 0 0"`, `filter 1: token 2 "2,6 0 0 0": Illegal "bytecode": cbpf: bytecode: Parsed program length is less than encoded length parameter!`, syscall.EINVAL},
		{"bad_bytecode_insn", `bytecode "1,6 x 0 0"`, `filter 1: token 2 "1,6 x 0 0": Illegal "bytecode": cbpf: bytecode: Error at instruction 0!`, syscall.EINVAL},
		{"bad_bytecode_file", `bytecode-file big.bpf`, `filter 1: token 2 "big.bpf": Illegal "bytecode-file"`, syscall.EINVAL},
		{"missing_bytecode_file", `bcf none.bpf`, `filter 1: token 2 "none.bpf": Cannot read bytecode-file: none.bpf: no such file`, syscall.ENOENT},
		{"bad_classid", `bc "1,6 0 0 0" classid 1:10000`, `filter 1: token 4 "1:10000": Illegal "classid"`, syscall.EINVAL},
		{"classid_missing_arg", `bc "1,6 0 0 0" classid`, `filter 1: token 3 "classid": Command line is not complete`, syscall.EINVAL},
		{"bad_protocol", `protocol ipx4 bc "1,6 0 0 0"`, `filter 1: token 2 "ipx4": invalid protocol`, syscall.EINVAL},
		{"protocol_too_big", `protocol 0x10000 bc "1,6 0 0 0"`, `filter 1: token 2 "0x10000": invalid protocol`, syscall.EINVAL},
		{"pref_too_big", `pref 65536 bc "1,6 0 0 0"`, `filter 1: token 2 "65536": invalid priority value`, syscall.EINVAL},
		{"bad_handle", `handle 1:2 bc "1,6 0 0 0"`, `filter 1: token 2 "1:2": Illegal "handle"`, syscall.EINVAL},
		{"other_chain", `chain 1 bc "1,6 0 0 0"`, `filter 1: token 2 "1": only chain 0 is modelled`, syscall.EINVAL},
		{"ebpf_object_missing", `obj prog.o sec classifier`, `filter 1: token 2 "prog.o": Unable to load program: prog.o: no such file`, syscall.ENOENT},
		{"ebpf_object_no_section", `da obj testdata/arp.o sec action`, `filter 1: token 3 "testdata/arp.o": Unable to load program: object file doesn't contain sec action`, syscall.ENOENT},
		{"ebpf_pinned", `da pinned /sys/fs/bpf/tc/globals/p`, `filter 1: token 3 "/sys/fs/bpf/tc/globals/p": pinned programs cannot be loaded: use obj FILE`, syscall.EOPNOTSUPP},
		{"action_missing", `bc "1,6 0 0 0" action`, `filter 1: token 3 "action": Command line is not complete`, syscall.EINVAL},
		{"action_unknown_device", `bc "1,6 0 0 0" action mirred egress redirect dev eth9`, `filter 1: token 8 "eth9": Cannot find device "eth9"`, syscall.ENODEV},
		{"action_other_kind", `bc "1,6 0 0 0" action pedit ex munge ip ttl set 1`, `filter 1: token 4 "pedit": action kind "pedit" is not supported`, syscall.EOPNOTSUPP},
		{"action_unknown", `bc "1,6 0 0 0" action bogus`, `filter 1: token 4 "bogus": Bad action type bogus`, syscall.EINVAL},
		{"action_gact_no_control", `bc "1,6 0 0 0" action gact`, `filter 1: token 4 "gact": Command line is not complete`, syscall.EINVAL},
		{"action_goto_chain", `bc "1,6 0 0 0" action goto chain 1`, `filter 1: token 4 "goto": goto chain: only chain 0 is modelled`, syscall.EINVAL},
		{"action_random_type", `bc "1,6 0 0 0" action pass random foo drop 5`, `filter 1: token 6 "foo": Illegal "random type"`, syscall.EINVAL},
		{"action_random_short", `bc "1,6 0 0 0" action pass random netrand drop`, `filter 1: token 7 "drop": random needs a value`, syscall.EINVAL},
		{"action_random_value", `bc "1,6 0 0 0" action pass random netrand drop 70000`, `filter 1: token 8 "70000": Illegal probability val`, syscall.EINVAL},
		{"action_index", `bc "1,6 0 0 0" action drop index x`, `filter 1: token 6 "x": Illegal "index"`, syscall.EINVAL},
		{"action_index_missing", `bc "1,6 0 0 0" action drop index`, `filter 1: token 5 "index": Command line is not complete`, syscall.EINVAL},
		{"police_without_burst", `bc "1,6 0 0 0" police rate 1mbit`, `'burst' requires 'rate'.`, syscall.EINVAL},
		{"count_below_program", `bc "1,6 0 0 0,6 0 0 0" pref 1`, `token 2 "1,6 0 0 0,6 0 0 0": Illegal "bytecode": cbpf: bytecode: Real program length exceeds encoded length parameter!`, syscall.EINVAL},
		{"checker_rejects_no_ret", `pref 1 bc "1,40 0 0 12"`, "filter 1: refused: cbpf: check: ", syscall.EINVAL},
		{"skip_sw_without_offload", `pref 1 bc "1,6 0 0 0" skip_sw`, "filter 1: refused: ", syscall.EOPNOTSUPP},
		{"both_skip_flags", `pref 1 bc "1,6 0 0 0" skip_sw skip_hw`, "filter 1: refused: ", syscall.EINVAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runClassify(t, options{filters: stringList{tt.spec}}, fs)
			require.Error(t, err)
			assert.Empty(t, out)
			assert.ErrorIs(t, err, tt.errno)
			assert.Contains(t, err.Error(), tt.msg)
		})
	}
}

func TestBlockErrors(t *testing.T) {
	tests := []struct {
		name  string
		specs []string
		msg   string
		errno syscall.Errno
	}{
		{
			name:  "same_pref_other_protocol",
			specs: []string{`pref 3 protocol ip bc "1,6 0 0 0"`, `pref 3 protocol arp bc "1,6 0 0 0"`},
			msg:   "filter 2: refused: classifier: change: priority 3 holds protocol 0x0800, not 0x0806",
			errno: syscall.EINVAL,
		},
		{
			name:  "protocol_zero_new_pref",
			specs: []string{`pref 3 protocol 0 bc "1,6 0 0 0"`},
			msg:   "filter 1: refused: classifier: change: a new classifier needs a kind and a protocol",
			errno: syscall.EINVAL,
		},
		{
			name:  "duplicate_handle",
			specs: []string{`pref 3 handle 7 bc "1,6 0 0 0"`, `pref 3 handle 7 bc "1,6 0 0 0"`},
			msg:   "filter 2: refused: ",
			errno: syscall.EEXIST,
		},
		{
			name:  "automatic_pref_finds_32768",
			specs: []string{`pref 32768 bc "1,6 0 0 0"`, `bc "1,6 0 0 0"`},
			msg:   "filter 2: refused: classifier: change: automatic priority: the lowest one is in use",
			errno: syscall.ENOSPC,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runClassify(t, options{filters: tt.specs}, nil)
			require.Error(t, err)
			assert.ErrorIs(t, err, tt.errno)
			assert.Contains(t, err.Error(), tt.msg)
		})
	}
}

// TestAutomaticPreference: tc_new_tfilter gives a filter without pref one
// below the lowest preference above 32768, or 49152.
func TestAutomaticPreference(t *testing.T) {
	tests := []struct {
		name  string
		specs []string
		want  []uint16 // preferences in show order
	}{
		{"first", []string{`bc "1,6 0 0 0"`}, []uint16{49152}},
		{"second_below_first", []string{`bc "1,6 0 0 0"`, `bc "1,6 0 0 0"`}, []uint16{49151, 49152}},
		{"low_prefs_ignored", []string{`pref 1 bc "1,6 0 0 0"`, `pref 32767 bc "1,6 0 0 0"`, `bc "1,6 0 0 0"`}, []uint16{1, 32767, 49152}},
		{"below_first_above_32768", []string{`pref 40000 bc "1,6 0 0 0"`, `pref 60000 bc "1,6 0 0 0"`, `bc "1,6 0 0 0"`}, []uint16{39999, 40000, 60000}},
		{"down_to_32769", []string{`pref 32769 bc "1,6 0 0 0"`, `bc "1,6 0 0 0"`}, []uint16{32768, 32769}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var specs []filterSpec
			var sources []string
			for i, text := range tt.specs {
				fs, err := parseSpec("f", text, nil)
				require.NoError(t, err)
				specs = append(specs, fs)
				sources = append(sources, fmt.Sprint(i))
			}
			blk, err := buildBlock(specs, sources, false)
			require.NoError(t, err)
			var got []uint16
			for _, f := range blk.filters() {
				got = append(got, f.where.Prio)
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestFilterFileErrors(t *testing.T) {
	tests := []struct {
		name string
		file string
		msg  string
	}{
		{"empty", "# nothing\n\n", "f.txt: no filter specs in file"},
		{"bad_line", "# ok\npref 1 bc \"1,6 0 0 0\"\n\npref 2 bogus\n", `f.txt:4: token 3 "bogus": What mode is "bogus"?`},
		{"refused_line", "# ok\npref 1 bc \"1,6 0 0 0\"\n\npref 2 bc \"1,40 0 0 12\"\n", `f.txt:4: refused: cbpf: check: `},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runClassify(t, options{filtersFile: "f.txt"}, files{"f.txt": []byte(tt.file)})
			require.Error(t, err)
			assert.ErrorIs(t, err, syscall.EINVAL)
			assert.Contains(t, err.Error(), tt.msg)
		})
	}
}

func TestCaptureErrors(t *testing.T) {
	// A capture that breaks in its third record: its header promises more
	// bytes than the file holds.
	cut := sampleCapture[:24+16+60+16+60+16+30]
	// A record whose header claims more captured bytes than the frame had.
	var bad bytes.Buffer
	w := pcapgo.NewWriter(&bad)
	require.NoError(t, w.WriteFileHeader(65535, layers.LinkTypeEthernet))
	require.NoError(t, w.WritePacket(gopacket.CaptureInfo{CaptureLength: 60, Length: 60}, make([]byte, 60)))
	hdr := []byte{0, 0, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0, 50, 0, 0, 0}
	badBytes := append(bad.Bytes(), hdr...)
	// A capture with a link type the command does not take.
	var ppp bytes.Buffer
	w = pcapgo.NewWriter(&ppp)
	require.NoError(t, w.WriteFileHeader(65535, layers.LinkTypePPP))
	require.NoError(t, w.WritePacket(gopacket.CaptureInfo{CaptureLength: 4, Length: 4}, []byte{0xff, 0x03, 0, 0x21}))

	tests := []struct {
		name  string
		data  []byte
		frame int
		msg   string
		errno error
	}{
		{"empty", nil, 0, "capture: 0 bytes: too short for a capture file header", syscall.EINVAL},
		{"not_a_capture", []byte("hello, world"), 0, "capture: not a pcap or pcapng file (magic 68656c6c)", syscall.EINVAL},
		{"pcap_header_cut", sampleCapture[:10], 0, "capture: pcap header: ", nil},
		{"record_cut_short", cut, 3, "capture: frame 3: record cut short", nil},
		{"caplen_above_len", badBytes, 2, "capture: frame 2: capture length exceeds original packet length: 100 > 50", nil},
		{"link_type", ppp.Bytes(), 1, "capture: frame 1: link type PPP is not supported", syscall.EPROTONOSUPPORT},
		{"pcapng_header_cut", []byte{0x0a, 0x0d, 0x0d, 0x0a, 0x1c, 0, 0}, 0, "capture: pcapng header: ", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runClassify(t, options{pcap: "c"}, files{"c": tt.data})
			require.Error(t, err)
			assert.Empty(t, out)
			var ce *CaptureError
			require.True(t, errors.As(err, &ce), "%v", err)
			assert.Equal(t, tt.frame, ce.Frame)
			assert.Contains(t, err.Error(), tt.msg)
			if tt.errno != nil {
				assert.ErrorIs(t, err, tt.errno)
			}
		})
	}
}

// TestRuntFrames: frames the kernel drops before tc (shorter than an
// Ethernet header, or tagged and shorter than 20 bytes) are counted, not
// classified, and do not stop the run.
func TestRuntFrames(t *testing.T) {
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	require.NoError(t, w.WriteFileHeader(65535, layers.LinkTypeEthernet))
	runts := [][]byte{
		make([]byte, 13),
		append(bytes.Repeat([]byte{2}, 12), 0x81, 0x00, 0, 5, 0x08),
		append(bytes.Repeat([]byte{2}, 12), 0x08, 0x06),
	}
	for _, f := range runts {
		require.NoError(t, w.WritePacket(gopacket.CaptureInfo{CaptureLength: len(f), Length: len(f)}, f))
	}
	out, err := runClassify(t, options{pcap: "r", verbose: true}, files{"r": buf.Bytes()})
	require.NoError(t, err)
	golden(t, "runts.golden", out)
}

// TestDefaultFiltersMatchTcpdump regenerates the default bytecode with
// tcpdump and checks the committed literals (match return rewritten to -1).
func TestDefaultFiltersMatchTcpdump(t *testing.T) {
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Skip("tcpdump not installed: the committed bytecode cannot be regenerated here")
	}
	for i, d := range defaultFilters {
		if !strings.Contains(d.spec, "bytecode") {
			continue // the eBPF object
		}
		t.Run(fmt.Sprintf("%d_%s", i+1, d.expr), func(t *testing.T) {
			out, err := exec.Command("tcpdump", "-ddd", "-y", "EN10MB", d.expr).Output()
			require.NoError(t, err)
			lines := strings.Fields(strings.ReplaceAll(strings.TrimSpace(string(out)), "\n", ","))
			bc := strings.Join(lines, " ")
			bc = strings.ReplaceAll(bc, "6 0 0 262144", "6 0 0 4294967295")
			assert.Contains(t, d.spec, `bytecode "`+bc+`"`)
		})
	}
}

// FuzzSpec: the spec parser never panics, and an accepted spec has a
// program.
func FuzzSpec(f *testing.F) {
	for _, d := range defaultFilters {
		f.Add(d.spec)
	}
	f.Add(`protocol 802.1Q pref 7 handle 0x10 bpf da skip_hw bytecode '1,6 0 0 0' flowid 1:1`)
	f.Add(`bcf x.bpf classid root`)
	f.Add(`"`)
	fs := files{"x.bpf": []byte("1\n6 0 0 0\n"), defaultObject: defaultObjectData}
	f.Fuzz(func(t *testing.T, spec string) {
		got, err := parseSpec("f", spec, fs.read)
		if err == nil && (got.f == nil || len(got.f.Bytecode) == 0 && got.f.Collection == nil) {
			t.Fatalf("accepted %q without a program", spec)
		}
		if err != nil && got.f != nil {
			t.Fatalf("refused %q but returned a program", spec)
		}
	})
}

// FuzzCapture: any bytes as a capture give a report or an error, never a
// panic.
func FuzzCapture(f *testing.F) {
	f.Add(sampleCapture[:24+16+60+16+60])
	f.Add([]byte{0x0a, 0x0d, 0x0d, 0x0a})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var out bytes.Buffer
		_ = classify(options{pcap: "c"}, files{"c": data}.read, &out)
	})
}

// TestTcpdumpReturnIsClassid: unchanged tcpdump bytecode returns its snap
// length (262144) on a match, and cls_bpf in classid mode takes that as the
// classid, 4:0, whatever classid the filter names.
func TestTcpdumpReturnIsClassid(t *testing.T) {
	// tcpdump -ddd -y EN10MB ip
	out, err := runClassify(t, options{filters: stringList{`bytecode "4,40 0 0 12,21 0 1 2048,6 0 0 262144,6 0 0 0" classid 1:1`}}, nil)
	require.NoError(t, err)
	assert.Contains(t, out, "\n4:                     105 ")
	assert.NotContains(t, out, "\n1:1 ")
}

// TestActions: gact actions on filters, printed and counted as
// `tc -s filter show` shows them; dropped frames reach no class.
func TestActions(t *testing.T) {
	out, err := runClassify(t, options{filters: stringList{
		// ARP: dropped by a gact action in classid mode.
		`pref 1 bytecode "4,40 0 0 12,21 0 1 2054,6 0 0 4294967295,6 0 0 0" classid 1:1 action drop`,
		// Everything else: pipe, then pass with every 10th frame dropped.
		`pref 2 bytecode "1,6 0 0 4294967295" classid 1:2 action gact pipe action pass random determ drop 10 index 7`,
	}}, nil)
	require.NoError(t, err)
	for _, want := range []string{
		"\taction order 1: gact action drop\n\t random type none pass val 0\n",
		// 3 ARP frames, 134 bytes as qdisc_pkt_len counts at ingress
		// (no MAC header, no offloaded tag).
		"\tSent 134 bytes 3 pkt (dropped 3, overlimits 0 requeues 0) \n",
		"\taction order 1: gact action pipe\n",
		"\taction order 2: gact action pass\n\t random type determ drop val 10\n",
		"\tSent 18722 bytes 126 pkt (dropped 12, overlimits 0 requeues 0) \n",
		"\nverdict             frames\npass                   114\ndrop                    15\n",
		"\n1:2                    114     18868\nunclassified             0         0\n",
	} {
		assert.Contains(t, out, want)
	}
	assert.NotContains(t, out, "\n1:1 ", "dropped frames reach no class")
}

// TestMirredAndPolice: tc's mirred and legacy police configure the
// command as they configure tc. ARP frames are redirected to eth1 (the
// forwarder counts them, the verdict is stolen), the rest pass a police
// whose bucket holds them all, and the filters print as tc shows them.
func TestMirredAndPolice(t *testing.T) {
	specs := []string{
		`pref 1 bpf bytecode "4,40 0 0 12,21 0 1 2054,6 0 0 4294967295,6 0 0 0" action mirred egress redirect dev eth1 cookie 0a0b`,
		`pref 2 bpf bytecode "1,6 0 0 4294967295" classid 1:1 police rate 1gbit burst 1m mtu 64k conform-exceed drop/pass`,
	}
	out, err := runClassify(t, options{filters: specs}, nil)
	require.NoError(t, err)
	for _, want := range []string{
		"filter parent ffff:fff2 protocol all pref 1 bpf chain 0 handle 0x1 not_in_hw bytecode '4,40 0 0 12,21 0 1 2054,6 0 0 4294967295,6 0 0 0'\n\taction order 1: mirred (Egress Redirect to device eth1) stolen\n",
		"\tcookie 0a0b\n",
		"filter parent ffff:fff2 protocol all pref 2 bpf chain 0 handle 0x1 flowid 1:1 not_in_hw bytecode '1,6 0 0 4294967295'\n police 0x1 rate 1Gbit burst ",
		" mtu 64Kb action drop overhead 0b \n\tref 1 bind 1\n",
		"\nstolen                   3\n",
		"\nredirect egress to eth1            3\n",
	} {
		assert.Contains(t, out, want)
	}
	assert.Contains(t, out, "\n1:1                    126 ")
	assert.NotContains(t, out, "\nnone ", "redirected frames reach no class")
}

// TestObjectSpecs: an eBPF object is found next to the spec file that
// names it, or from the working directory, and classifies as it does in
// the default set.
func TestObjectSpecs(t *testing.T) {
	tests := []struct {
		name string
		opts options
		fs   files
		want []string
	}{
		{"spec_file_directory", options{filtersFile: "specs/f.txt"}, files{
			"specs/f.txt": []byte("# arp from the spec's directory\nprotocol all pref 1 bpf da obj arp.o sec classifier classid 1:\npref 2 bc \"1,6 0 0 4294967295\" classid 1:99\n"),
			"specs/arp.o": defaultObjectData,
		}, []string{
			"pref 1 bpf chain 0 handle 0x1 flowid 1: arp.o:[classifier] direct-action not_in_hw id 1 name arp tag ",
			"  # arp from the spec's directory\n  matched 3 frames, 180 bytes\n",
			"\n1:60                     3       180\n1:99                   126     ",
		}},
		{"working_directory", options{filters: stringList{`da obj objs/arp.o section classifier classid 2:`}}, files{
			"objs/arp.o": defaultObjectData,
		}, []string{
			"arp.o:[classifier] direct-action",
			"\n2:60                     3       180\n",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runClassify(t, tt.opts, tt.fs)
			require.NoError(t, err)
			for _, w := range tt.want {
				assert.Contains(t, out, w)
			}
		})
	}
}
