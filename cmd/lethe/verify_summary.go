//go:build linux

package main

import (
	"fmt"
	"io"

	"github.com/lethe-project/lethe/internal/devices"
	"github.com/lethe-project/lethe/internal/wipe"
)

// writeRangeSummary prints what went wrong as counts and a few ranges, not
// one line per range: a device that does not hold the pattern at all (a
// random wipe checked against zeros) would otherwise print a thousand
// lines. what is "mismatched" or "unreadable"; sectors is the total count
// of affected sectors when known (ranges may be truncated), else 0.
func writeRangeSummary(out io.Writer, what string, rs []wipe.Range, sectors int64, sectorSize int, read int64, show int) {
	if len(rs) == 0 && sectors == 0 {
		return
	}
	var inRanges int64
	first, last := int64(-1), int64(-1)
	for _, r := range rs {
		inRanges += r.Count
		if first < 0 || r.LBA < first {
			first = r.LBA
		}
		if end := r.LBA + r.Count - 1; end > last {
			last = end
		}
	}
	if sectors < inRanges {
		sectors = inRanges
	}
	line := fmt.Sprintf("  %s: %d sector(s), %s", what, sectors, devices.HumanBytes(sectors*int64(sectorSize)))
	if read > 0 {
		line += fmt.Sprintf(" = %.1f%% of what was read", 100*float64(sectors*int64(sectorSize))/float64(read))
	}
	fmt.Fprintln(out, line)
	if len(rs) == 0 {
		return
	}
	more := ""
	if sectors > inRanges {
		more = fmt.Sprintf("; the first %d range(s) were recorded", len(rs))
	}
	fmt.Fprintf(out, "    in %d range(s) between LBA %d and LBA %d%s\n", len(rs), first, last, more)
	for i, r := range rs {
		if i == show {
			fmt.Fprintf(out, "    ... %d more range(s) (--ranges N shows more, --json all recorded)\n", len(rs)-show)
			break
		}
		s := fmt.Sprintf("    LBA %d-%d (%d sector(s))", r.LBA, r.LBA+r.Count-1, r.Count)
		if r.Error != "" {
			s += ": " + r.Error
		}
		fmt.Fprintln(out, s)
	}
}
