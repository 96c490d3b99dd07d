package offload

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/clsbpf/clsbpf/classifier/packet"
)

// Device is a network device a block of filters is bound to, as the
// offload layer sees it.
type Device struct {
	// Name is the device's name, used in errors.
	Name string
	// Ifindex is the device's interface index; a device-bound program may
	// go only to the device with its Program.Device index, and a SKIP_SW
	// filter runs on packets whose Ifindex is the index of a device that
	// runs it (see HardwareRunner).
	Ifindex uint32
	// HWTC is the NETIF_F_HW_TC feature ("hw-tc-offload"): without it a
	// device with an Offloader refuses every command with EOPNOTSUPP.
	HWTC bool
	// Offloader is the device's driver; nil for a device with no TC
	// offload hook (a veth, a tap), which counts as "cannot offload".
	Offloader Offloader
}

// HardwareRunner is implemented by an Offloader that runs the programs it
// holds on packets (package soft's device): Run reports the result of the
// filter's offloaded program and whether the device holds that filter. It
// is called on the packet path: it must be safe for concurrent use and
// should not allocate.
type HardwareRunner interface {
	Run(id FilterID, pkt *packet.Packet) (ret uint32, ok bool)
}

// Block is the set of devices a block of filters is bound to and their
// driver callbacks (the kernel's flow_block with nooffloaddevcnt). A nil
// *Block behaves as a block bound to one device that cannot offload.
//
// Devices are added and removed by the classifier that owns the block
// (classifier.Block.Bind and Unbind replay its filters to the device);
// Call and Setup are made under that classifier's writer lock. Run, the
// packet path, takes no lock.
type Block struct {
	mu   sync.Mutex
	devs atomic.Pointer[[]*Device] // bind order
}

// NewBlock returns a block bound to devs, in that order, before it holds
// any filter.
func NewBlock(devs ...*Device) *Block {
	b := &Block{}
	d := slices.Clone(devs)
	b.devs.Store(&d)
	return b
}

func (b *Block) list() []*Device {
	if b == nil {
		return nil
	}
	if p := b.devs.Load(); p != nil {
		return *p
	}
	return nil
}

// Devices returns the bound devices in bind order.
func (b *Block) Devices() []*Device {
	if b == nil {
		return []*Device{{Name: "nooffload"}}
	}
	return slices.Clone(b.list())
}

// NoOffloadDevices counts the bound devices without an offload hook
// (nooffloaddevcnt). A nil Block has one.
func (b *Block) NoOffloadDevices() int {
	if b == nil {
		return 1
	}
	n := 0
	for _, d := range b.list() {
		if d.Offloader == nil {
			n++
		}
	}
	return n
}

// Attach adds dev to the block without replaying any filter; the owning
// classifier calls it once the replay succeeded.
func (b *Block) Attach(dev *Device) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	cur := b.list()
	if slices.Contains(cur, dev) {
		return &Error{Device: dev.Name, Msg: "device already bound", Errno: syscall.EEXIST}
	}
	next := append(slices.Clone(cur), dev)
	b.devs.Store(&next)
	return nil
}

// Detach removes dev from the block; ENOENT when it is not bound.
func (b *Block) Detach(dev *Device) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	cur := b.list()
	i := slices.Index(cur, dev)
	if i < 0 {
		return &Error{Device: dev.Name, Msg: "device not bound", Errno: syscall.ENOENT}
	}
	next := slices.Delete(slices.Clone(cur), i, i+1)
	b.devs.Store(&next)
	return nil
}

// Call sends req to every bound device with an offload hook, the most
// recently bound first, as __tc_setup_cb_call does, and returns how many
// took it. With errStop the first refusal ends the call and is returned;
// otherwise refusals are only not counted.
func (b *Block) Call(req *Request, errStop bool) (ok int, err error) {
	devs := b.list()
	for i := len(devs) - 1; i >= 0; i-- {
		d := devs[i]
		if d.Offloader == nil {
			continue
		}
		if err := d.Setup(req); err != nil {
			if errStop {
				return ok, err
			}
			continue
		}
		ok++
	}
	return ok, nil
}

// Setup sends req to this one device's driver after the checks every
// driver makes (tc_cls_can_offload_and_chain0, the device binding of the
// program, the declared capabilities): EOPNOTSUPP when the device has no
// hook, lacks HWTC, or the filter is in a chain other than 0 and the
// driver does not declare Chains; EINVAL for a program bound to another
// device; the capability check's error; or the driver's own error (EOPNOTSUPP
// when it wraps no errno).
func (d *Device) Setup(req *Request) error {
	if d.Offloader == nil {
		return &Error{Device: d.Name, Msg: "no offload hook", Errno: syscall.EOPNOTSUPP}
	}
	if !d.HWTC {
		return d.refuse(req, "TC offload is disabled on net device", syscall.EOPNOTSUPP)
	}
	caps := d.Offloader.Capabilities()
	if req.Filter.Chain != 0 && !caps.Chains {
		return d.refuse(req, "Driver supports only offload of chain 0", syscall.EOPNOTSUPP)
	}
	if p := req.Prog; p != nil && req.Command != Stats {
		if p.Device != 0 && p.Device != d.Ifindex {
			return &Error{Device: d.Name, Msg: fmt.Sprintf("program bound to device %d", p.Device), Errno: syscall.EINVAL}
		}
		if err := caps.Check(p); err != nil {
			var e *Error
			if errors.As(err, &e) {
				e.Device = d.Name
			}
			return err
		}
	}
	if err := d.Offloader.Setup(req); err != nil {
		var errno syscall.Errno
		if !errors.As(err, &errno) {
			errno = syscall.EOPNOTSUPP
		}
		return &Error{Device: d.Name, Msg: req.Command.String() + " refused by driver", Extack: req.Extack, Errno: errno, Err: err}
	}
	return nil
}

func (d *Device) refuse(req *Request, extack string, errno syscall.Errno) error {
	e := &Error{Device: d.Name, Msg: extack, Errno: errno}
	if req.SkipSW {
		e.Extack = extack
		req.Extack = extack
	}
	return e
}

// Run runs the filter id on pkt on the device the packet arrived on (the
// bound device whose Ifindex is pkt.Ifindex) when that device's driver is
// a HardwareRunner holding the filter. ok is false otherwise: the packet
// did not pass through hardware that runs the filter.
func (b *Block) Run(id FilterID, pkt *packet.Packet) (ret uint32, ok bool) {
	for _, d := range b.list() {
		if d.Ifindex != pkt.Ifindex {
			continue
		}
		if r, is := d.Offloader.(HardwareRunner); is {
			return r.Run(id, pkt)
		}
	}
	return 0, false
}
