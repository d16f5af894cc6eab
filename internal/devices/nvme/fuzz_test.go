package nvme

import "testing"

func FuzzParseIdentifyController(f *testing.F) {
	f.Add(controllerPage())
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseController(b)
		if err != nil {
			return
		}
		c.Sanitize()
		c.Format()
	})
}

func FuzzParseIdentifyNamespace(f *testing.F) {
	f.Add(make([]byte, IdentifyDataBytes))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := ParseNamespace(b)
		if err != nil {
			return
		}
		if len(n.Formats) != int(n.NLBAF)+1 {
			t.Fatalf("%d formats for NLBAF %d", len(n.Formats), n.NLBAF)
		}
		n.Current()
		_ = n.SizeBytes()
		_ = n.ID()
		ParseNSList(b)
	})
}

func FuzzParseSanitizeLog(f *testing.F) {
	f.Add(make([]byte, SanitizeLogBytes))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := ParseSanitizeLog(b)
		if err != nil {
			return
		}
		if l.Progress < 0 || l.Progress >= 1 {
			t.Fatalf("progress %v", l.Progress)
		}
		_ = l.Status.String()
		for _, nd := range []uint8{0, 2} {
			if d, ok := l.Estimate(SanitizeRequest{Action: l.Action(), NoDeallocate: true, OverwritePasses: 3}, nd); ok && d < 0 {
				t.Fatalf("negative estimate %v", d)
			}
		}
	})
}
