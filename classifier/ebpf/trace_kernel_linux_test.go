package ebpf_test

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	cebpf "github.com/cilium/ebpf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clsbpf/clsbpf/classifier/ebpf"
	trc "github.com/clsbpf/clsbpf/classifier/trace"
	"github.com/clsbpf/clsbpf/internal/ebpfvm"
	"github.com/clsbpf/clsbpf/internal/kerneltest"
)

// TestRunTraceAgainstKernel runs every test object's program (the cases
// of TestObjectsAgainstKernel without variables) on the packet corpus
// through BPF_PROG_TEST_RUN and through RunTrace, and compares the return
// values, output packets and marks; every traced run must end on its last
// step. A second library collection runs the corpus under a Coverage,
// which must give the same results and count each run.
func TestRunTraceAgainstKernel(t *testing.T) {
	kerneltest.RequireBPF(t)
	runs := 0
	for _, tc := range objectCases {
		if tc.vars != nil {
			continue
		}
		t.Run(tc.object+"/"+tc.prog, func(t *testing.T) {
			path := filepath.Join("testdata", tc.object+".o")
			spec, err := ebpf.LoadObjectFile(path)
			require.NoError(t, err)
			lib, err := ebpf.NewCollection(spec, ebpf.CollectionOptions{Slots: 1})
			skipUnserved(t, err)
			require.NoError(t, err)
			lib2, err := ebpf.NewCollection(spec, ebpf.CollectionOptions{Slots: 1})
			require.NoError(t, err)
			kern := kernelObject(t, path)
			if tc.seed != nil {
				tc.seed(func(name string, k, v []byte) {
					require.NoError(t, kern.Maps[name].Put(k, v))
					require.NoError(t, lib.Maps[name].Put(k, v))
					require.NoError(t, lib2.Maps[name].Put(k, v))
				})
			}
			for arr, slots := range tc.jumps {
				for slot, prog := range slots {
					require.NoError(t, kern.Maps[arr].Put(slot, kern.Programs[prog]))
					require.NoError(t, lib.Maps[arr].Put(slot, ebpf.TailCallTarget(lib.Programs[prog])))
					require.NoError(t, lib2.Maps[arr].Put(slot, ebpf.TailCallTarget(lib2.Programs[prog])))
				}
			}
			kprog, lprog := kern.Programs[tc.prog], lib.Programs[tc.prog]
			require.NotNil(t, kprog)
			require.NotNil(t, lprog)
			cov := ebpf.NewCoverage(lib2.Programs[tc.prog])
			var tr trc.Trace
			frames := corpus()
			for i, frame := range frames {
				mark, prio, cb := ctxFor(i)
				var ctxIn, ctxOut [skbSize]byte
				binary.LittleEndian.PutUint32(ctxIn[skbMark:], mark)
				binary.LittleEndian.PutUint32(ctxIn[skbPriority:], prio)
				binary.LittleEndian.PutUint32(ctxIn[skbIfindex:], 1)
				for c := range cb {
					binary.LittleEndian.PutUint32(ctxIn[skbCB+4*c:], cb[c])
				}
				opts := cebpf.RunOptions{Data: frame, DataOut: make([]byte, len(frame)+256), Context: ctxIn[:], ContextOut: ctxOut[:]}
				kret, err := kprog.Run(&opts)
				require.NoError(t, err, "frame %d", i)

				pkt := testRunPacket(t, frame)
				pkt.Mark, pkt.Priority, pkt.CB, pkt.Ifindex = mark, prio, cb, 1
				lret := lprog.RunTrace(pkt, &tr)

				what := fmt.Sprintf("frame %d %x", i, frame)
				assert.Equal(t, kret, lret, "retval, %s", what)
				assert.Equal(t, hex.EncodeToString(opts.DataOut), hex.EncodeToString(pkt.Bytes()), "packet out, %s", what)
				assert.Equal(t, binary.LittleEndian.Uint32(ctxOut[skbMark:]), pkt.Mark, "mark out, %s", what)
				assert.Empty(t, tr.Fault, what)
				require.NotEmpty(t, tr.Steps, what)
				assert.True(t, tr.Last().Ends, what)

				pkt = testRunPacket(t, frame)
				pkt.Mark, pkt.Priority, pkt.CB, pkt.Ifindex = mark, prio, cb, 1
				assert.Equal(t, kret, cov.Run(pkt), "coverage run, %s", what)
				runs++
			}
			assert.Zero(t, lprog.Faults())
			assert.Equal(t, uint64(len(frames)), cov.Runs())
			covered, _, _, _ := cov.Summary()
			assert.NotZero(t, covered)
		})
	}
	t.Logf("%d traced runs compared with the kernel", runs)
}

// verifierInsn matches an instruction line of the kernel verifier's
// log at LogLevelInstruction: "12: (b4) w0 = 0", optionally followed by
// "  ; R0_w=0" state.
var verifierInsn = regexp.MustCompile(`^(\d+): \(([0-9a-f]{2})\) (.*?)(?:\s+; .*)?$`)

// TestDisassembleAgainstVerifierLog loads every test object's programs
// into the kernel with an instruction-level verifier log and compares
// each instruction the log prints (kernel/bpf/disasm.c print_bpf_insn, on
// the program as loaded) with Disassemble. LD_IMM64 loads of maps are
// left out: the kernel prints the map's fd or address there.
func TestDisassembleAgainstVerifierLog(t *testing.T) {
	kerneltest.RequireBPF(t)
	compared := 0
	for _, object := range []string{"elfmap", "events", "globals", "lpm", "mapinmap", "nat", "port", "progarray", "sections", "tailcall", "trace", "vlan"} {
		t.Run(object, func(t *testing.T) {
			path := filepath.Join("testdata", object+".o")
			spec, err := cebpf.LoadCollectionSpec(path)
			require.NoError(t, err)
			for _, m := range spec.Maps {
				m.Extra, m.Pinning = nil, cebpf.PinNone
			}
			for _, p := range spec.Programs {
				p.Type = cebpf.SchedCLS
			}
			col, err := cebpf.NewCollectionWithOptions(spec, cebpf.CollectionOptions{
				Programs: cebpf.ProgramOptions{LogLevel: cebpf.LogLevelInstruction | cebpf.LogLevelBranch},
			})
			require.NoError(t, err)
			t.Cleanup(col.Close)
			lib := loadSpec(t, object)
			for name, kp := range col.Programs {
				ps := lib.Programs[name]
				require.NotNil(t, ps, name)
				raw := make([]ebpfvm.Instruction, len(ps.Instructions))
				for i, in := range ps.Instructions {
					raw[i] = ebpfvm.Instruction{Op: in.Op, Dst: in.Dst, Src: in.Src, Off: in.Off, Imm: in.Imm}
				}
				seen := map[int]bool{}
				for _, line := range strings.Split(kp.VerifierLog, "\n") {
					m := verifierInsn.FindStringSubmatch(line)
					if m == nil {
						continue
					}
					pc, _ := strconv.Atoi(m[1])
					if seen[pc] || pc >= len(raw) {
						continue
					}
					seen[pc] = true
					if raw[pc].Op == 0x18 && raw[pc].Src != 0 {
						continue
					}
					assert.Equal(t, m[2], fmt.Sprintf("%02x", raw[pc].Op), "%s pc %d opcode", name, pc)
					assert.Equal(t, m[3], ebpfvm.Disassemble(raw, pc, ebpf.HelperName), "%s pc %d", name, pc)
					compared++
				}
				assert.NotEmpty(t, seen, "%s: no instructions in the verifier log", name)
			}
		})
	}
	t.Logf("%d instructions compared with the verifier log", compared)
}
