//go:build ignore

// gen writes sample.pcap, the capture examples/classify embeds. Run it with
// `go generate ./examples/classify`; the output is the same on every run.
package main

import (
	"bytes"
	"log"
	"os"

	"github.com/clsbpf/clsbpf/examples/classify/internal/samplecap"
)

func main() {
	var buf bytes.Buffer
	if err := samplecap.Write(&buf); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile("sample.pcap", buf.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
}
