package safetext

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, ok := range []string{"", "A. Tech", "Zoë Ñoño", "東京 DC-3", "ops@example.org", `back\slash`} {
		if err := Check(ok); err != nil {
			t.Errorf("Check(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"a\nStatus ERASED", "x\rY", "tab\there", "\x1b[32mERASED\x1b[0m", "del\x7f", "c1\u0085", "rlo\u202eDESAREE", "iso\u2066x", "ls\u2028", "bad\xffutf8"} {
		if err := Check(bad); err == nil {
			t.Errorf("Check(%q) accepted", bad)
		}
	}
}

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"plain":                 "plain",
		"a\nStatus ERASED":      `a\nStatus ERASED`,
		"\x1b[32mERASED\x1b[0m": `\x1b[32mERASED\x1b[0m`,
		"rlo\u202eX":            `rlo\u202eX`,
		`fake \n escape`:        `fake \\n escape`,
		"bad\xffbyte":           `bad\xffbyte`,
		"Zoë":                   "Zoë",
		"\u0085":                `\x85`,
	} {
		got := Escape(in)
		if got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
		if strings.ContainsAny(got, "\n\r\x1b") || Check(got) != nil {
			t.Errorf("Escape(%q) = %q still holds control characters", in, got)
		}
	}
}

func FuzzEscape(f *testing.F) {
	f.Add("a\nb\x1b[0m\u202e\\")
	f.Fuzz(func(t *testing.T, s string) {
		if err := Check(Escape(s)); err != nil {
			t.Fatalf("Escape(%q) = %q: %v", s, Escape(s), err)
		}
		if Check(s) == nil && Escape(s) != s && !strings.Contains(s, `\`) {
			t.Fatalf("Escape changed acceptable text %q to %q", s, Escape(s))
		}
	})
}

func TestEscapeAll(t *testing.T) {
	type inner struct{ S string }
	type outer struct {
		A    string
		P    *inner
		L    []inner
		M    map[string]string
		B    []byte
		priv string
	}
	o := &outer{A: "a\n", P: &inner{"p\x1b"}, L: []inner{{"l\u202e"}}, M: map[string]string{"k": "v\r"}, B: []byte("\n"), priv: "x\n"}
	EscapeAll(&struct {
		O, Again *outer
		Same     *inner
	}{o, o, o.P}) // aliases: each string once
	if o.A != `a\n` || o.P.S != `p\x1b` || o.L[0].S != `l\u202e` || o.M["k"] != `v\r` || string(o.B) != "\n" || o.priv != "x\n" {
		t.Fatalf("%+v %+v", o, o.P)
	}
}
