//go:build !linux

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "tun: TUN devices with virtio headers need Linux")
	os.Exit(1)
}
