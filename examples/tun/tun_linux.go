//go:build linux

package main

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// openTUN creates (or attaches to) the L3 TUN device name with
// IFF_VNET_HDR and no packet information header, in the network namespace
// of the calling thread. With csumOffload the device advertises checksum
// offload (TUNSETOFFLOAD TUN_F_CSUM), so the kernel hands it packets with
// partial checksums and VIRTIO_NET_HDR_F_NEEDS_CSUM. The file is
// non-blocking, so Close ends a pending Read.
func openTUN(name string, csumOffload bool) (*os.File, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/net/tun: %w", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("tun %q: %w", name, err)
	}
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI | unix.IFF_VNET_HDR)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("TUNSETIFF %q: %w", name, err)
	}
	if csumOffload {
		if err := unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, unix.TUN_F_CSUM); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("TUNSETOFFLOAD %q: %w", name, err)
		}
	}
	return os.NewFile(uintptr(fd), "tun:"+ifr.Name()), nil
}
