package core

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"testing"

	"github.com/cilium/ebpf/btf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rawObject is what the kernel needs from an ELF object to relocate one of
// its programs: raw BTF (with DATASEC sizes filled in, as libbpf does), the
// program's instruction bytes and its CO-RE records.
type rawObject struct {
	btf      []byte
	sections map[string][]byte
	symbols  map[string]elf.Symbol
	secNames []string
	relos    map[string][]kernelRelo // by section name
}

// kernelRelo is struct bpf_core_relo.
type kernelRelo struct {
	InsnOff, TypeID, AccessStrOff, Kind uint32
}

func readRawObject(t *testing.T, path string) *rawObject {
	t.Helper()
	f, err := elf.Open(path)
	require.NoError(t, err)
	defer f.Close()
	o := &rawObject{sections: map[string][]byte{}, symbols: map[string]elf.Symbol{}, relos: map[string][]kernelRelo{}}
	for _, s := range f.Sections {
		if s.Type == elf.SHT_PROGBITS || s.Name == ".BTF" || s.Name == ".BTF.ext" {
			b, err := s.Data()
			require.NoError(t, err)
			o.sections[s.Name] = b
		}
		o.secNames = append(o.secNames, s.Name)
	}
	syms, err := f.Symbols()
	require.NoError(t, err)
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) == elf.STT_FUNC {
			o.symbols[s.Name] = s
		}
	}
	o.btf = fixDatasecs(t, o.sections[".BTF"], o.sections)
	o.parseExt(t, o.sections[".BTF.ext"])
	return o
}

// btfString reads a string of the raw BTF's string section.
func btfString(raw []byte, off uint32) string {
	le := binary.LittleEndian
	hdr := le.Uint32(raw[4:])
	strOff, strLen := le.Uint32(raw[16:]), le.Uint32(raw[20:])
	s := raw[hdr+strOff : hdr+strOff+strLen]
	end := bytes.IndexByte(s[off:], 0)
	return string(s[off : int(off)+end])
}

// fixDatasecs sets each DATASEC's size to its ELF section's, as libbpf's
// btf_fixup_datasec does; the kernel rejects size 0.
func fixDatasecs(t *testing.T, in []byte, sections map[string][]byte) []byte {
	t.Helper()
	raw := bytes.Clone(in)
	le := binary.LittleEndian
	hdr := le.Uint32(raw[4:])
	typeOff, typeLen := le.Uint32(raw[8:]), le.Uint32(raw[12:])
	p := hdr + typeOff
	end := p + typeLen
	for p < end {
		info := le.Uint32(raw[p+4:])
		kind, vlen := (info>>24)&0x1f, info&0xffff
		body := p + 12
		switch kind {
		case 1, 14, 17: // INT, VAR, DECL_TAG: one u32
			body += 4
		case 3: // ARRAY
			body += 12
		case 4, 5: // STRUCT, UNION
			body += 12 * vlen
		case 6, 13: // ENUM, FUNC_PROTO
			body += 8 * vlen
		case 15: // DATASEC
			name := btfString(raw, le.Uint32(raw[p:]))
			if sec, ok := sections[name]; ok && le.Uint32(raw[p+8:]) == 0 {
				le.PutUint32(raw[p+8:], uint32(len(sec)))
			}
			body += 12 * vlen
		case 19: // ENUM64
			body += 12 * vlen
		}
		p = body
	}
	return raw
}

// parseExt reads the core_relo records of .BTF.ext.
func (o *rawObject) parseExt(t *testing.T, ext []byte) {
	t.Helper()
	le := binary.LittleEndian
	hdrLen := le.Uint32(ext[4:])
	require.GreaterOrEqual(t, hdrLen, uint32(32), ".BTF.ext without core_relo")
	off, n := le.Uint32(ext[24:]), le.Uint32(ext[28:])
	b := ext[hdrLen+off : hdrLen+off+n]
	recSize := le.Uint32(b)
	b = b[4:]
	for len(b) > 0 {
		sec := btfString(o.btf, le.Uint32(b))
		num := le.Uint32(b[4:])
		b = b[8:]
		for range num {
			o.relos[sec] = append(o.relos[sec], kernelRelo{le.Uint32(b), le.Uint32(b[4:]), le.Uint32(b[8:]), le.Uint32(b[12:])})
			b = b[recSize:]
		}
	}
}

// program returns a function's instruction bytes and its CO-RE records,
// rebased to the function's start.
func (o *rawObject) program(t *testing.T, name string) ([]byte, []kernelRelo, string) {
	t.Helper()
	sym, ok := o.symbols[name]
	require.True(t, ok, "symbol %s", name)
	secName := o.secNames[sym.Section]
	code := o.sections[secName][sym.Value : sym.Value+sym.Size]
	var relos []kernelRelo
	for _, r := range o.relos[secName] {
		if uint64(r.InsnOff) >= sym.Value && uint64(r.InsnOff) < sym.Value+sym.Size {
			r.InsnOff -= uint32(sym.Value)
			relos = append(relos, r)
		}
	}
	return code, relos, secName
}

// TestRelocationsMatchELF checks Relocations, which reads cilium/ebpf's
// rendering of each relocation, against the records of .BTF.ext read
// straight from the object files.
func TestRelocationsMatchELF(t *testing.T) {
	for _, obj := range []string{"kinds.o", "matches.o", "parse.o"} {
		raw := readRawObject(t, "testdata/"+obj)
		cs := object(t, obj)
		for name, p := range cs.Programs {
			t.Run(obj+"/"+name, func(t *testing.T) {
				_, records, _ := raw.program(t, name)
				got, err := Relocations(p.Instructions, cs.Types)
				require.NoError(t, err)
				require.Len(t, got, len(records))
				offsets := map[int]int{} // raw byte offset → index
				off := 0
				for i, ins := range p.Instructions {
					offsets[off] = i
					off += int(ins.Size())
				}
				for i, rec := range records {
					want := Relocation{
						Insn:     offsets[int(rec.InsnOff)],
						Kind:     Kind(rec.Kind),
						TypeID:   btf.TypeID(rec.TypeID),
						Accessor: btfString(raw.btf, rec.AccessStrOff),
					}
					assert.Equal(t, want, got[i])
				}
			})
		}
	}
}

// TestApplyDropsMetadata checks that relocated instructions no longer
// carry the relocations applied to them.
func TestApplyDropsMetadata(t *testing.T) {
	tg := shipped(t)
	cs := object(t, "parse.o")
	out, err := Apply(cs.Programs["parse_ipv4"], cs.Types, tg, nil)
	require.NoError(t, err)
	left, err := Relocations(out, cs.Types)
	require.NoError(t, err)
	assert.Empty(t, left)
	in, err := Relocations(cs.Programs["parse_ipv4"].Instructions, cs.Types)
	require.NoError(t, err)
	assert.NotEmpty(t, in, "the input keeps its relocations")
}

func TestParseMetadata(t *testing.T) {
	for k := FieldByteOffset; k <= TypeMatches; k++ {
		r, err := parseMetadata("CORERelocation(" + k.String() + ", Struct:\"a[b]\"[0:1:2], local_id=42)")
		require.NoError(t, err)
		assert.Equal(t, Relocation{Kind: k, TypeID: 42, Accessor: "0:1:2"}, r)
	}
	for _, bad := range []string{
		"",
		"CORERelocation(",
		"CORERelocation(bogus, Struct:\"a\"[0], local_id=1)",
		"CORERelocation(byte_off, Struct:\"a\"[0], local_id=x)",
		"CORERelocation(byte_off, Struct:\"a\"[0])",
		"CORERelocation(byte_off, Struct:\"a\", local_id=1)",
		"Other(byte_off, Struct:\"a\"[0], local_id=1)",
	} {
		_, err := parseMetadata(bad)
		assert.Error(t, err, bad)
	}
}
