package main

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/classifier"
	"github.com/clsbpf/clsbpf/classifier/cbpf"
	"github.com/clsbpf/clsbpf/classifier/packet"
	"github.com/clsbpf/clsbpf/handle"
)

// tourFrame is an Ethernet frame carrying IPv4.
var tourFrame = append([]byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00, 0x45}, make([]byte, 45)...)

// Example_tour is the README's example, kept here so that it compiles and
// runs; TestREADME checks the README shows this very code.
func Example_tour() {
	frame := tourFrame
	// tcpdump -ddd ip, with the match return made -1 (the filter's classid)
	raw, err := cbpf.ParseBytecode("4,40 0 0 12,21 0 1 2048,6 0 0 4294967295,6 0 0 0")
	if err != nil {
		panic(err)
	}
	prog, err := cbpf.LoadRaw(raw) // checked as the kernel checks it
	if err != nil {
		panic(err)
	}
	chain := classifier.New(classifier.Config{})
	spec := classifier.FilterSpec{Program: prog, ClassID: handle.Make(1, 0x10)}
	if _, err := chain.Change(spec, classifier.Create|classifier.Excl); err != nil {
		panic(err)
	}
	pkt := packet.New(1500) // reuse one per worker: no allocation per frame
	if err := pkt.SetFrame(frame); err != nil {
		panic(err)
	}
	res := chain.Classify(pkt) // lock-free, allocation-free
	fmt.Println(res.Verdict, res.ClassID)
	// Output: pass 1:10
}

// TestREADME keeps README.md honest: its Go example is Example_tour's
// body, its commands are the ones CI runs, and its sample output is the
// command's real output.
func TestREADME(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	src, err := os.ReadFile("tour_test.go")
	require.NoError(t, err)

	body := regexp.MustCompile(`(?s)func Example_tour\(\) \{\n\tframe := tourFrame\n(.*?)\t// Output:`).FindSubmatch(src)
	require.NotNil(t, body)
	var code []string
	for _, line := range strings.Split(strings.TrimRight(string(body[1]), "\n"), "\n") {
		code = append(code, strings.TrimPrefix(line, "\t"))
	}
	assert.Contains(t, string(readme), "```go\n"+strings.Join(code, "\n")+"\n```", "README's Go example must be Example_tour's body")

	ci, err := os.ReadFile("../../.ci/run")
	require.NoError(t, err)
	testCmd := regexp.MustCompile(`(?m)^go test .*$`).Find(ci)
	require.NotNil(t, testCmd)
	assert.Contains(t, string(readme), "\n"+string(testCmd)+"\n", "README's test command is what .ci/run runs")
	assert.Contains(t, string(readme), "\ngo run ./examples/classify\n")

	out := regexp.MustCompile("(?s)<!-- classify output -->\n```\n(.*?)```").FindSubmatch(readme)
	require.NotNil(t, out, "README shows the command's output")
	golden, err := os.ReadFile("testdata/default.golden")
	require.NoError(t, err)
	for _, line := range strings.Split(strings.TrimRight(string(out[1]), "\n"), "\n") {
		if line == "..." {
			continue
		}
		assert.Contains(t, string(golden), line+"\n", "README output line not in the real output")
	}
}
