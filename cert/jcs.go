package cert

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
)

// Canonicalize returns the RFC 8785 (JSON Canonicalization Scheme)
// serialization of a JSON document: no insignificant whitespace, object
// members sorted by the UTF-16 code units of their keys (§3.2.3), strings
// with only the escapes §3.2.2.2 requires, numbers in the ECMAScript
// Number-to-String form of their IEEE 754 double (§3.2.2.3). The input is
// parsed strictly (I-JSON, RFC 7493): duplicate keys, invalid UTF-8, lone
// surrogates and numbers outside the double range are refused.
func Canonicalize(data []byte) ([]byte, error) {
	v, err := parseStrict(data)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := writeCanonical(&buf, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeCanonical(buf *bytes.Buffer, v value) error {
	switch v.kind {
	case kindNull:
		buf.WriteString("null")
	case kindBool:
		buf.WriteString(strconv.FormatBool(v.b))
	case kindNumber:
		s, err := es6Number(v.text)
		if err != nil {
			return err
		}
		buf.WriteString(s)
	case kindString:
		writeCanonicalString(buf, v.text)
	case kindArray:
		buf.WriteByte('[')
		for i, it := range v.items {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeCanonical(buf, it); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case kindObject:
		ms := slices.Clone(v.members)
		slices.SortFunc(ms, func(a, b member) int { return slices.Compare(utf16.Encode([]rune(a.key)), utf16.Encode([]rune(b.key))) })
		buf.WriteByte('{')
		for i, m := range ms {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeCanonicalString(buf, m.key)
			buf.WriteByte(':')
			if err := writeCanonical(buf, m.val); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	}
	return nil
}

// writeCanonicalString escapes as RFC 8785 §3.2.2.2 (ECMAScript
// JSON.stringify): '"' and '\\', the two-character forms \b \t \n \f \r,
// other control characters as \u00xx in lowercase hex; everything else,
// U+2028 and U+2029 included, as UTF-8.
func writeCanonicalString(buf *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	buf.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			buf.WriteString(`\"`)
		case r == '\\':
			buf.WriteString(`\\`)
		case r == '\b':
			buf.WriteString(`\b`)
		case r == '\t':
			buf.WriteString(`\t`)
		case r == '\n':
			buf.WriteString(`\n`)
		case r == '\f':
			buf.WriteString(`\f`)
		case r == '\r':
			buf.WriteString(`\r`)
		case r < 0x20:
			buf.WriteString(`\u00`)
			buf.WriteByte(hex[r>>4])
			buf.WriteByte(hex[r&0xf])
		default:
			buf.WriteRune(r)
		}
	}
	buf.WriteByte('"')
}

// es6Number formats a JSON number literal as RFC 8785 §3.2.2.3 requires:
// the literal's IEEE 754 double, printed as ECMAScript's
// Number.prototype.toString does (ECMA-262 §7.1.12.1): the shortest digits
// that round-trip, plain notation for exponents in [-6, 21), exponential
// ("1e+21", "1.5e-7") outside it, and "0" for negative zero.
func es6Number(lit string) (string, error) {
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return "", fmt.Errorf("number %s is outside the IEEE 754 double range (RFC 8785 §3.2.2.3)", lit)
	}
	if f == 0 {
		return "0", nil
	}
	sign := ""
	if f < 0 {
		sign, f = "-", -f
	}
	// Shortest round-trip digits d1.d2...dk and exponent e: f = 0.d1...dk * 10^n with n = e+1.
	e := strconv.FormatFloat(f, 'e', -1, 64)
	mant, exp, _ := strings.Cut(e, "e")
	digits := strings.Replace(mant, ".", "", 1)
	x, _ := strconv.Atoi(exp)
	k, n := len(digits), x+1
	var out string
	switch {
	case k <= n && n <= 21:
		out = digits + strings.Repeat("0", n-k)
	case 0 < n && n <= 21:
		out = digits[:n] + "." + digits[n:]
	case -6 < n && n <= 0:
		out = "0." + strings.Repeat("0", -n) + digits
	default:
		s := "+"
		if n-1 < 0 {
			s = "-"
		}
		ex := n - 1
		if ex < 0 {
			ex = -ex
		}
		if k == 1 {
			out = digits + "e" + s + strconv.Itoa(ex)
		} else {
			out = digits[:1] + "." + digits[1:] + "e" + s + strconv.Itoa(ex)
		}
	}
	return sign + out, nil
}
