package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"syscall"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// capture reads frames from a pcap or pcapng file.
type capture struct {
	next     func() ([]byte, gopacket.CaptureInfo, error)
	linkType func(ci gopacket.CaptureInfo) (layers.LinkType, error)
	format   string
	n        int // frames read so far
}

// CaptureError is a capture that cannot be read. Frame is the number
// (from 1) of the frame being read when it broke, 0 for the file header.
type CaptureError struct {
	Frame int
	Err   error
}

// Error prints "capture: frame 7: ...".
func (e *CaptureError) Error() string {
	if e.Frame == 0 {
		return "capture: " + e.Err.Error()
	}
	return fmt.Sprintf("capture: frame %d: %v", e.Frame, e.Err)
}

// Unwrap returns the cause.
func (e *CaptureError) Unwrap() error { return e.Err }

// Magic numbers at the start of capture files.
const (
	pcapMagicMicro = 0xa1b2c3d4
	pcapMagicNano  = 0xa1b23c4d
	pcapngMagic    = 0x0a0d0d0a // section header block type
)

// openCapture detects the format by its magic number: pcap (micro- or
// nanosecond, either byte order, also gzip-compressed) or pcapng.
func openCapture(data []byte) (*capture, error) {
	if len(data) < 4 {
		return nil, &CaptureError{Err: fmt.Errorf("%d bytes: too short for a capture file header: %w", len(data), syscall.EINVAL)}
	}
	le, be := binary.LittleEndian.Uint32(data), binary.BigEndian.Uint32(data)
	switch {
	case le == pcapngMagic:
		r, err := pcapgo.NewNgReader(bytes.NewReader(data), pcapgo.DefaultNgReaderOptions)
		if err != nil {
			return nil, &CaptureError{Err: fmt.Errorf("pcapng header: %w", err)}
		}
		return &capture{
			next:   r.ReadPacketData,
			format: "pcapng",
			linkType: func(ci gopacket.CaptureInfo) (layers.LinkType, error) {
				intf, err := r.Interface(ci.InterfaceIndex)
				if err != nil {
					return 0, err
				}
				return intf.LinkType, nil
			},
		}, nil
	case le == pcapMagicMicro || be == pcapMagicMicro || le == pcapMagicNano || be == pcapMagicNano || data[0] == 0x1f && data[1] == 0x8b:
		r, err := pcapgo.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, &CaptureError{Err: fmt.Errorf("pcap header: %w", err)}
		}
		lt := r.LinkType()
		return &capture{
			next:     r.ReadPacketData,
			format:   "pcap",
			linkType: func(gopacket.CaptureInfo) (layers.LinkType, error) { return lt, nil },
		}, nil
	}
	return nil, &CaptureError{Err: fmt.Errorf("not a pcap or pcapng file (magic %08x): %w", be, syscall.EINVAL)}
}

// read returns the next frame and its link type, or io.EOF after the last.
func (c *capture) read() ([]byte, gopacket.CaptureInfo, layers.LinkType, error) {
	data, ci, err := c.next()
	if errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, ci, 0, io.EOF
	}
	c.n++
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("record cut short: %w", err)
		}
		return nil, ci, 0, &CaptureError{Frame: c.n, Err: err}
	}
	lt, err := c.linkType(ci)
	if err != nil {
		return nil, ci, 0, &CaptureError{Frame: c.n, Err: err}
	}
	return data, ci, lt, nil
}
