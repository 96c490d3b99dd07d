package core

import (
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/internal/btftarget"
)

// shipped returns the library's target BTF, indexed.
func shipped(t testing.TB) *Target {
	t.Helper()
	spec, err := btftarget.Spec()
	require.NoError(t, err)
	tg, err := NewTarget(spec)
	require.NoError(t, err)
	return tg
}

// object loads a committed test object.
func object(t testing.TB, name string) *ebpf.CollectionSpec {
	t.Helper()
	cs, err := ebpf.LoadCollectionSpec("testdata/" + name)
	require.NoError(t, err)
	return cs
}

// retImm returns the constant a "r0 = imm; exit" program returns.
func retImm(t testing.TB, insns asm.Instructions) int64 {
	t.Helper()
	require.GreaterOrEqual(t, len(insns), 2)
	ins := insns[0]
	require.Equal(t, asm.R0, ins.Dst, "first instruction sets r0: %v", ins)
	require.True(t, ins.IsConstantLoad(asm.DWord) || ins.OpCode == asm.Mov.Op(asm.ImmSource) || ins.OpCode == asm.Mov.Op32(asm.ImmSource), "first instruction loads a constant: %v", ins)
	require.Equal(t, asm.Exit.Op(asm.ImmSource), insns[1].OpCode, "then exits")
	return ins.Constant
}

// typeID returns the ID of the one type called name in spec.
func typeID(t testing.TB, spec *btf.Spec, name string) int64 {
	t.Helper()
	typ, err := spec.AnyTypeByName(name)
	require.NoError(t, err)
	id, err := spec.TypeID(typ)
	require.NoError(t, err)
	return int64(id)
}

// relocate applies the CO-RE relocations of one program of cs.
func relocate(t testing.TB, cs *ebpf.CollectionSpec, prog string, tg *Target, opts *Options) (asm.Instructions, error) {
	t.Helper()
	p, ok := cs.Programs[prog]
	require.True(t, ok, "program %s", prog)
	return Apply(p, cs.Types, tg, opts)
}
