// Package gopacketadapter converts between packets of
// github.com/gopacket/gopacket (the maintained fork of google/gopacket) and
// the packet model of clsbpf, so that a program that already captures,
// decodes or builds packets with gopacket can classify them, and look at a
// classified packet with gopacket's decoders.
//
// # The mapping
//
// FromGopacket copies the frame and maps the metadata gopacket carries:
// the link layer (Ethernet frames, or bare IPv4/IPv6 packets as on TUN
// devices), 802.1Q/802.1ad tags (offloaded as the receive path offloads
// them, or left in the frame), the capture's interface index and its
// timestamp. Options choose the kernel path the frame takes (as captured,
// tc ingress, tc egress) and the device it passes. ToGopacket goes back:
// it writes an offloaded tag into the frame again, as libpcap shows
// AF_PACKET captures, and decodes from the right first layer. A frame that
// went in through Receive comes out byte for byte as it was captured.
//
// # Concurrency and cost
//
// Neither function keeps state; they are safe for concurrent use on
// distinct packets. FromGopacket reuses the destination's buffer and
// allocates nothing itself; ToGopacket allocates as gopacket.NewPacket does.
//
// # Errors
//
// Errors wrap the errno of the matching kernel refusal: EINVAL for an empty
// packet or a frame the kernel would drop (the packet package's
// ErrTruncated), EPROTONOSUPPORT for a link layer the model does not hold
// (ErrLinkType), EMSGSIZE for a frame over packet.MaxLen.
//
// # Limits
//
// Linux cooked captures (LINKTYPE_LINUX_SLL) are refused: they carry no
// destination MAC address, so the frame a tc program would see cannot be
// rebuilt. The VLAN id afpacket reports in CaptureInfo.AncillaryData is not
// read: afpacket writes the tag back into the frame, where the Dot1Q layer
// carries it whole (priority and DEI included).
//
// # Kernel sources
//
// The kernel behaviour is the packet package's: eth_type_trans
// (net/ethernet/eth.c), skb_vlan_untag (net/core/skbuff.c) and
// __netif_receive_skb_core (net/core/dev.c).
package gopacketadapter
