package cert

import (
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/gowebpki/jcs"
)

// RFC 8785 §3.2.2 and §3.2.3: the published input and its canonical form.
func TestCanonicalizeRFC8785Examples(t *testing.T) {
	for name, tc := range map[string]struct{ in, want string }{
		"§3.2.2 primitives": {
			in: `{
  "numbers": [333333333.33333329, 1E30, 4.50,
              2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}`,
			want: `{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`,
		},
		"§3.2.3 sorting by UTF-16 code units": {
			in: `{
  "\u20ac": "Euro Sign",
  "\r": "Carriage Return",
  "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "1": "One",
  "\ud83d\ude00": "Emoji: Grinning Face",
  "\u0080": "Control",
  "\u00f6": "Latin Small Letter O With Diaeresis"
}`,
			want: "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u0080\":\"Control\",\"\u00f6\":\"Latin Small Letter O With Diaeresis\",\"\u20ac\":\"Euro Sign\",\"\U0001F600\":\"Emoji: Grinning Face\",\"\ufb33\":\"Hebrew Letter Dalet With Dagesh\"}",
		},
		"U+2028 and U+2029 stay raw": {
			in:   `{"a":"x\u2028y\u2029z"}`,
			want: "{\"a\":\"x\u2028y\u2029z\"}",
		},
		"nested and empty": {
			in:   ` { "b" : [ { "d":1 , "c":[] } , {} ], "a" : "" } `,
			want: `{"a":"","b":[{"c":[],"d":1},{}]}`,
		},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := Canonicalize([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Fatalf("\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

// RFC 8785 Appendix B: IEEE 754 doubles and their canonical text.
func TestES6NumberAppendixB(t *testing.T) {
	for _, tc := range []struct {
		bits uint64
		want string
	}{
		{0x0000000000000000, "0"},
		{0x8000000000000000, "0"},
		{0x0000000000000001, "5e-324"},
		{0x8000000000000001, "-5e-324"},
		{0x7fefffffffffffff, "1.7976931348623157e+308"},
		{0xffefffffffffffff, "-1.7976931348623157e+308"},
		{0x4340000000000000, "9007199254740992"},
		{0xc340000000000000, "-9007199254740992"},
		{0x4430000000000000, "295147905179352830000"},
		{0x44b52d02c7e14af5, "9.999999999999997e+22"},
		{0x44b52d02c7e14af6, "1e+23"},
		{0x44b52d02c7e14af7, "1.0000000000000001e+23"},
		{0x444b1ae4d6e2ef4e, "999999999999999700000"},
		{0x444b1ae4d6e2ef4f, "999999999999999900000"},
		{0x444b1ae4d6e2ef50, "1e+21"},
		{0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"},
		{0x3eb0c6f7a0b5ed8d, "0.000001"},
		{0x41b3de4355555553, "333333333.3333332"},
		{0x41b3de4355555554, "333333333.33333325"},
		{0x41b3de4355555555, "333333333.3333333"},
		{0x41b3de4355555556, "333333333.3333334"},
		{0x41b3de4355555557, "333333333.33333343"},
		{0xbecbf647612f3696, "-0.0000033333333333333333"},
		{0x43143ff3c1cb0959, "1424953923781206.2"},
	} {
		f := math.Float64frombits(tc.bits)
		lit := strconv.FormatFloat(f, 'g', -1, 64)
		got, err := es6Number(lit)
		if err != nil || got != tc.want {
			t.Errorf("%016x (%s): got %q, %v; want %q", tc.bits, lit, got, err, tc.want)
		}
	}
	for _, lit := range []string{"1e400", "-1e400"} {
		if _, err := es6Number(lit); err == nil {
			t.Errorf("%s: outside the double range, accepted", lit)
		}
	}
}

func TestCanonicalizeRefuses(t *testing.T) {
	for in, want := range map[string]string{
		`{"a":1,"a":2}`:         "duplicate key",
		`{"a":1,"A":2}`:         "differ only in case",
		"{\"a\":\"\xff\"}":      "invalid UTF-8",
		`{"a":"\ud800"}`:        "lone surrogate",
		`{"a":"\udc00x"}`:       "lone surrogate",
		`{"a":1} x`:             "data after",
		`{"a":01}`:              "expected ',' or",
		`{"a":1.}`:              "no digits after",
		`{"a":+1}`:              "unexpected character",
		`{"a":"x` + "\n" + `"}`: "control character",
		`[1,]`:                  "unexpected character",
		`{"a":1e999}`:           "outside the IEEE 754 double range",
		strings.Repeat("[", 100) + strings.Repeat("]", 100): "nested more than",
	} {
		if _, err := Canonicalize([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}

// An independent implementation agrees (github.com/gowebpki/jcs, a Go port
// of the RFC's reference code) on every document this one accepts.
func FuzzCanonicalize(f *testing.F) {
	for _, s := range []string{`{"b":1,"a":[1.5,"x",null,true]}`, `{"\u20ac":1,"\r":2}`, `[1e21,1e-7,0.1,-0]`, `"\u2028"`, `{"k":"\u001f\b"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		mine, err := Canonicalize(data)
		if err != nil {
			return
		}
		theirs, err := jcs.Transform(data)
		if err != nil {
			t.Fatalf("accepted %q, the reference refuses it: %v", data, err)
		}
		if string(mine) != string(theirs) {
			t.Fatalf("%q:\n mine %s\n ref  %s", data, mine, theirs)
		}
		again, err := Canonicalize(mine)
		if err != nil || string(again) != string(mine) {
			t.Fatalf("canonical form is not a fixed point: %q -> %q (%v)", mine, again, err)
		}
	})
}
