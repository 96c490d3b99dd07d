package action

// UpdateHWStats adds the counters a hardware driver reported for the
// filter to every action of the chain, as the kernel's
// tcf_exts_hw_stats_update does through each kind's stats_update: bytes
// and packets go to both the total and the hardware counters, drops to the
// drop counter, and the last-use time becomes the later of the two. As in
// the kernel only the kinds with a stats_update method take them: gact
// (which counts every packet as a drop when its verdict is drop), mirred,
// skbedit, police and vlan; csum and bpf actions keep software counters
// only.
func (c *Chain) UpdateHWStats(bytes, packets, drops uint64, lastUse int64) {
	if c == nil {
		return
	}
	for _, a := range c.actions {
		g := a.Gen()
		d := drops
		switch g.kind {
		case kindGact:
			if Verdict(g.verdict.Load()) == Shot {
				d = packets
			}
		case kindMirred, kindSkbedit, kindPolice, kindVlan:
		default:
			continue
		}
		g.bytes.Add(bytes)
		g.packets.Add(packets)
		g.hwBytes.Add(bytes)
		g.hwPackets.Add(packets)
		g.drops.Add(d)
		for {
			cur := g.lastuse.Load()
			if lastUse <= cur || g.lastuse.CompareAndSwap(cur, lastUse) {
				break
			}
		}
	}
}
