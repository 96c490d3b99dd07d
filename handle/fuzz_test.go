package handle

import (
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

func addStringSeeds(f *testing.F) {
	for _, tt := range classIDCases {
		f.Add(tt.in)
	}
	for _, tt := range qdiscCases {
		f.Add(tt.in)
	}
	for _, tt := range filterCases {
		f.Add(tt.in)
	}
	f.Add("ingress")
	f.Add("egress")
}

// FuzzParseClassID: no panic; an error comes with a zero handle and a
// *ParseError; an accepted string prints to a string that parses back to
// the same handle.
func FuzzParseClassID(f *testing.F) {
	addStringSeeds(f)
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseClassID(s)
		if err != nil {
			var pe *ParseError
			require.ErrorAs(t, err, &pe)
			require.Zero(t, h)
			return
		}
		again, err := ParseClassID(h.String())
		require.NoError(t, err)
		require.Equal(t, h, again)

		p, err := ParseParent(s)
		require.NoError(t, err)
		require.Equal(t, h, p)
	})
}

// FuzzParseQdisc: no panic; accepted handles have minor 0 and print to a
// string that parses back.
func FuzzParseQdisc(f *testing.F) {
	addStringSeeds(f)
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseQdisc(s)
		if err != nil {
			var pe *ParseError
			require.ErrorAs(t, err, &pe)
			require.Zero(t, h)
			return
		}
		require.Zero(t, h.Minor())
		again, err := ParseQdisc(h.String())
		require.NoError(t, err)
		require.Equal(t, h, again)
	})
}

// FuzzParseFilter: no panic; an accepted handle prints (in tc's 0x%x form
// and in decimal) to strings that parse back.
func FuzzParseFilter(f *testing.F) {
	addStringSeeds(f)
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseFilter(s)
		if err != nil {
			var pe *ParseError
			require.ErrorAs(t, err, &pe)
			require.Zero(t, h)
			return
		}
		for _, form := range []string{formatHex(h), formatDec(h)} {
			again, err := ParseFilter(form)
			require.NoError(t, err)
			require.Equal(t, h, again)
		}
	})
}

func formatHex(h uint32) string {
	const digits = "0123456789abcdef"
	b := []byte{}
	for {
		b = append([]byte{digits[h&15]}, b...)
		h >>= 4
		if h == 0 {
			break
		}
	}
	return "0x" + string(b)
}

func formatDec(h uint32) string {
	b := []byte{}
	for {
		b = append([]byte{byte('0' + h%10)}, b...)
		h /= 10
		if h == 0 {
			break
		}
	}
	return string(b)
}

// FuzzAllocator drives an Allocator with small automatic range and a clone
// from a byte script and compares every answer with refAlloc.
func FuzzAllocator(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 2, 3, 0, 9})
	f.Add([]byte{0x40, 0x41, 0x80, 0x01, 0xC0, 0x00, 0x00})
	f.Add([]byte{0xFF, 0xFE, 0x7F, 0x3F, 0x00, 0x40})
	f.Fuzz(func(t *testing.T, script []byte) {
		const top = 70
		a := newAllocatorMax(top)
		ref := newRefAlloc(top)
		var snap *Allocator
		var snapRef map[uint32]bool
		for _, b := range script {
			h := uint32(b & 0x3F)
			if b&0x3F == 0x3F {
				h = 0xFFFFFFFF
			}
			switch b >> 6 {
			case 0:
				got, err := a.Alloc()
				want, ok := ref.alloc()
				require.Equal(t, ok, err == nil)
				if err != nil {
					require.ErrorIs(t, err, syscall.ENOSPC)
				}
				require.Equal(t, want, got)
			case 1:
				err := a.Reserve(h)
				switch {
				case h == 0:
					require.ErrorIs(t, err, syscall.EINVAL)
				case ref.used[h]:
					require.ErrorIs(t, err, syscall.ENOSPC)
				default:
					require.NoError(t, err)
					ref.add(h)
				}
			case 2:
				a.Release(h)
				ref.del(h)
			case 3:
				snap = a.Clone()
				snapRef = make(map[uint32]bool, len(ref.used))
				for k := range ref.used {
					snapRef[k] = true
				}
			}
			require.Equal(t, len(ref.used), a.Len())
			require.Equal(t, ref.used[h], a.InUse(h))
		}
		if snap != nil {
			require.Equal(t, len(snapRef), snap.Len())
			for k := range snapRef {
				require.True(t, snap.InUse(k))
			}
		}
	})
}
