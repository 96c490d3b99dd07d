package trace

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"slices"
	"sync/atomic"
	"syscall"
)

// Insn describes one instruction of a program for a Coverage report.
type Insn struct {
	// Bytecode is the instruction as tc bytecode ("21 0 1 80").
	Bytecode string
	// Text is the instruction disassembled.
	Text string
	// Cond is set for a conditional jump, whose directions are counted.
	Cond bool
	// Source is the C source line, when the program came with BTF line
	// information.
	Source Source
}

// Coverage counts, over many runs of one program, how often each
// instruction ran and which way each conditional jump went. Its counters
// are atomic: one Coverage may collect runs from many goroutines at once.
type Coverage struct {
	insns           []Insn
	hits            []atomic.Uint64
	taken, notTaken []atomic.Uint64
	runs            atomic.Uint64
}

// NewCoverage returns an empty Coverage for a program of the given
// instructions; insns is copied.
func NewCoverage(insns []Insn) *Coverage {
	return &Coverage{
		insns:    append([]Insn(nil), insns...),
		hits:     make([]atomic.Uint64, len(insns)),
		taken:    make([]atomic.Uint64, len(insns)),
		notTaken: make([]atomic.Uint64, len(insns)),
	}
}

// Len returns the number of instructions.
func (c *Coverage) Len() int { return len(c.insns) }

// Insn returns instruction pc's description.
func (c *Coverage) Insn(pc int) Insn { return c.insns[pc] }

// Hit counts one execution of instruction pc.
func (c *Coverage) Hit(pc int) { c.hits[pc].Add(1) }

// Branch counts one direction of the conditional jump at pc.
func (c *Coverage) Branch(pc int, taken bool) {
	if taken {
		c.taken[pc].Add(1)
	} else {
		c.notTaken[pc].Add(1)
	}
}

// AddRun counts one run.
func (c *Coverage) AddRun() { c.runs.Add(1) }

// Runs returns the number of runs counted.
func (c *Coverage) Runs() uint64 { return c.runs.Load() }

// Counts returns how often instruction pc ran and, for a conditional
// jump, how often it was taken and not taken.
func (c *Coverage) Counts(pc int) (hits, taken, notTaken uint64) {
	return c.hits[pc].Load(), c.taken[pc].Load(), c.notTaken[pc].Load()
}

// Merge adds o's counts to c. The programs must have the same
// instructions; otherwise Merge changes nothing and returns an error
// wrapping syscall.EINVAL.
func (c *Coverage) Merge(o *Coverage) error {
	if len(o.insns) != len(c.insns) {
		return fmt.Errorf("trace: merge coverage of %d instructions into %d: %w", len(o.insns), len(c.insns), syscall.EINVAL)
	}
	for i := range c.insns {
		if c.insns[i] != o.insns[i] {
			return fmt.Errorf("trace: merge coverage: instruction %d differs: %w", i, syscall.EINVAL)
		}
	}
	for i := range c.insns {
		c.hits[i].Add(o.hits[i].Load())
		c.taken[i].Add(o.taken[i].Load())
		c.notTaken[i].Add(o.notTaken[i].Load())
	}
	c.runs.Add(o.runs.Load())
	return nil
}

// Summary returns the instructions that ran at least once, the number of
// instructions, the branch directions that were seen, and the number of
// branch directions (two per conditional jump).
func (c *Coverage) Summary() (covered, insns, dirs, allDirs int) {
	for i, in := range c.insns {
		h, t, n := c.Counts(i)
		if h > 0 {
			covered++
		}
		if in.Cond {
			allDirs += 2
			if t > 0 {
				dirs++
			}
			if n > 0 {
				dirs++
			}
		}
	}
	return covered, len(c.insns), dirs, allDirs
}

func percent(n, of int) float64 {
	if of == 0 {
		return 100
	}
	return 100 * float64(n) / float64(of)
}

// WriteText writes the report as text: a summary line, then one line per
// instruction with its hit count, for a conditional jump its taken and
// not-taken counts, its bytecode and its disassembly. Uncovered
// instructions are marked "!", jumps with a direction never seen "~".
func (c *Coverage) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	cov, n, dirs, all := c.Summary()
	fmt.Fprintf(bw, "coverage: %d/%d instructions (%.1f%%), %d/%d branch directions (%.1f%%), %d runs\n",
		cov, n, percent(cov, n), dirs, all, percent(dirs, all), c.Runs())
	fmt.Fprintf(bw, "  %8s %8s %8s  %-20s %s\n", "hits", "taken", "not", "bytecode", "instruction")
	for i, in := range c.insns {
		h, t, nt := c.Counts(i)
		mark := " "
		switch {
		case h == 0:
			mark = "!"
		case in.Cond && (t == 0 || nt == 0):
			mark = "~"
		}
		ts, ns := "-", "-"
		if in.Cond {
			ts, ns = fmt.Sprint(t), fmt.Sprint(nt)
		}
		fmt.Fprintf(bw, "%s %8d %8s %8s  %-20s %s\n", mark, h, ts, ns, in.Bytecode, in.Text)
	}
	return bw.Flush()
}

// The page's classes: cov0 is an instruction that never ran (red), cov1
// one that ran (green), as in `go tool cover -html`; a conditional jump
// also carries br-both, br-taken (only the jump was taken), br-not (only
// the fall through) or br-none.
const htmlHead = `<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>%s</title>
<style>
body { background: black; color: rgb(80, 80, 80); font-family: Menlo, monospace; }
pre { margin: 0; line-height: 1.6; }
.cov0 { color: rgb(192, 0, 0); }
.cov1 { color: rgb(44, 212, 149); }
.summary { color: rgb(200, 200, 200); margin-bottom: 1em; }
.br { font-weight: bold; }
.br-none { color: rgb(192, 0, 0); }
.br-taken, .br-not { color: rgb(230, 180, 0); }
.br-both { color: rgb(44, 212, 149); }
</style>
</head>
<body>
<div class="summary">%s</div>
<pre id="program">
`

// WriteHTML writes the report as a page in the style of `go tool cover
// -html`: one line per instruction, green when it ran and red when it did
// not, with hit counts in the line's title and conditional jumps marked
// by the directions seen ("jt+ jf+" both, "jt- jf+" only the fall
// through, and so on).
func (c *Coverage) WriteHTML(w io.Writer, title string) error {
	bw := bufio.NewWriter(w)
	cov, n, dirs, all := c.Summary()
	sum := fmt.Sprintf("%d/%d instructions (%.1f%%), %d/%d branch directions (%.1f%%), %d runs",
		cov, n, percent(cov, n), dirs, all, percent(dirs, all), c.Runs())
	fmt.Fprintf(bw, htmlHead, html.EscapeString(title), html.EscapeString(sum))
	for i, in := range c.insns {
		h, t, nt := c.Counts(i)
		class := "cov0"
		if h > 0 {
			class = "cov1"
		}
		tip := fmt.Sprintf("%d hits", h)
		if in.Cond {
			tip += fmt.Sprintf(", taken %d, not taken %d", t, nt)
		}
		fmt.Fprintf(bw, `<span class="%s" id="pc%d" title="%s">%-20s %s</span>`,
			class, i, tip, html.EscapeString(in.Bytecode), html.EscapeString(in.Text))
		if in.Cond {
			br := "br-none"
			switch {
			case t > 0 && nt > 0:
				br = "br-both"
			case t > 0:
				br = "br-taken"
			case nt > 0:
				br = "br-not"
			}
			fmt.Fprintf(bw, `  <span class="br %s" id="br%d">jt%s jf%s</span>`, br, i, sign(t), sign(nt))
		}
		bw.WriteByte('\n')
	}
	bw.WriteString("</pre>\n</body>\n</html>\n")
	return bw.Flush()
}

func sign(n uint64) string {
	if n > 0 {
		return "+"
	}
	return "-"
}

// Line is the coverage of one C source line: the instructions compiled
// from it and the branch directions of its conditional jumps.
type Line struct {
	Source Source
	// Insns and Covered count the line's instructions and those that ran.
	Insns, Covered int
	// Dirs and AllDirs count the branch directions seen and possible.
	Dirs, AllDirs int
	// Hits is the most often any of the line's instructions ran.
	Hits uint64
}

// Lines returns the coverage per source line, in order of file (as first
// met in the program) and line number. Instructions without a source line
// are left out; a program without line information gives none.
func (c *Coverage) Lines() []Line {
	idx := map[Source]int{}
	var out []Line
	files := map[string]int{}
	for i, in := range c.insns {
		if in.Source.Line == 0 {
			continue
		}
		key := Source{File: in.Source.File, Line: in.Source.Line}
		j, ok := idx[key]
		if !ok {
			j = len(out)
			idx[key] = j
			out = append(out, Line{Source: in.Source})
			if _, ok := files[in.Source.File]; !ok {
				files[in.Source.File] = len(files)
			}
		}
		l := &out[j]
		h, t, n := c.Counts(i)
		l.Insns++
		if h > 0 {
			l.Covered++
		}
		l.Hits = max(l.Hits, h)
		if in.Cond {
			l.AllDirs += 2
			if t > 0 {
				l.Dirs++
			}
			if n > 0 {
				l.Dirs++
			}
		}
	}
	slices.SortStableFunc(out, func(a, b Line) int {
		if d := files[a.Source.File] - files[b.Source.File]; d != 0 {
			return d
		}
		return a.Source.Line - b.Source.Line
	})
	return out
}

// linesSummary counts the lines that ran and all lines.
func linesSummary(ls []Line) (covered int) {
	for _, l := range ls {
		if l.Covered > 0 {
			covered++
		}
	}
	return covered
}

// WriteLinesText writes the report per C source line: a summary line,
// then one line per source line with the most hits of its instructions,
// its instructions that ran of all, its branch directions seen of all,
// its location and its text. A line none of whose instructions ran is
// marked "!", one only partly run or with a branch direction never seen
// "~". A program without line information reports no lines.
func (c *Coverage) WriteLinesText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	ls := c.Lines()
	cov := linesSummary(ls)
	fmt.Fprintf(bw, "coverage: %d/%d source lines (%.1f%%), %d runs\n", cov, len(ls), percent(cov, len(ls)), c.Runs())
	fmt.Fprintf(bw, "  %8s %7s %7s  %-16s %s\n", "hits", "insns", "dirs", "line", "source")
	for _, l := range ls {
		mark := " "
		switch {
		case l.Covered == 0:
			mark = "!"
		case l.Covered < l.Insns || l.Dirs < l.AllDirs:
			mark = "~"
		}
		dirs := "-"
		if l.AllDirs > 0 {
			dirs = fmt.Sprintf("%d/%d", l.Dirs, l.AllDirs)
		}
		fmt.Fprintf(bw, "%s %8d %7s %7s  %-16s %s\n", mark, l.Hits, fmt.Sprintf("%d/%d", l.Covered, l.Insns), dirs, l.Source, l.Source.Text)
	}
	return bw.Flush()
}

// WriteLinesHTML writes the report per C source line as a page in the
// style of `go tool cover -html`: one line per source line, cov1 (green)
// when its instructions ran and cov0 (red) when none did, with the counts
// in the line's title; a line partly run, or with a branch direction
// never seen, also carries the class "partial" and a "~" mark.
func (c *Coverage) WriteLinesHTML(w io.Writer, title string) error {
	bw := bufio.NewWriter(w)
	ls := c.Lines()
	cov := linesSummary(ls)
	sum := fmt.Sprintf("%d/%d source lines (%.1f%%), %d runs", cov, len(ls), percent(cov, len(ls)), c.Runs())
	fmt.Fprintf(bw, htmlHead, html.EscapeString(title), html.EscapeString(sum))
	for i, l := range ls {
		class, mark := "cov0", " "
		if l.Covered > 0 {
			class = "cov1"
			if l.Covered < l.Insns || l.Dirs < l.AllDirs {
				class, mark = "cov1 partial", "~"
			}
		}
		tip := fmt.Sprintf("%d hits, %d/%d instructions, %d/%d branch directions", l.Hits, l.Covered, l.Insns, l.Dirs, l.AllDirs)
		fmt.Fprintf(bw, `<span class="%s" id="line%d" title="%s">%s %-16s %s</span>`+"\n",
			class, i, tip, mark, html.EscapeString(l.Source.String()), html.EscapeString(l.Source.Text))
	}
	bw.WriteString("</pre>\n</body>\n</html>\n")
	return bw.Flush()
}
