package cert

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// A small strict JSON parser. encoding/json is lenient in ways that let two
// readers of one signed payload see different things: it accepts duplicate
// keys (the last wins; other parsers keep the first), matches keys to
// fields case-insensitively, and replaces invalid UTF-8 and lone surrogate
// escapes with U+FFFD. Every signed payload lethe reads is parsed here
// first, and anything such a difference could hide is refused (RFC 8259
// §4, RFC 7493 I-JSON §2.1-2.3). The same tree feeds the RFC 8785
// canonical form.

// kind is the type of a JSON value.
type kind uint8

const (
	kindNull kind = iota
	kindBool
	kindNumber
	kindString
	kindArray
	kindObject
)

// value is one parsed JSON value. Numbers keep their literal text.
type value struct {
	kind    kind
	b       bool
	text    string // number literal or decoded string
	items   []value
	members []member
}

type member struct {
	key string
	val value
}

// maxDepth bounds nesting; certificates nest about six levels deep.
const maxDepth = 64

// SyntaxError is a JSON document refused by the strict parser.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("JSON at byte %d: %s", e.Offset, e.Msg) }

type parser struct {
	s   []byte
	pos int
}

// parseStrict parses one JSON document: valid UTF-8, no duplicate keys,
// no keys that differ only in case (Unicode simple case folding, as
// encoding/json matches them), no lone surrogates, nothing after the value.
func parseStrict(data []byte) (value, error) {
	if !utf8.Valid(data) {
		return value{}, &SyntaxError{firstInvalidUTF8(data), "invalid UTF-8"}
	}
	p := &parser{s: data}
	p.space()
	v, err := p.value(0)
	if err != nil {
		return value{}, err
	}
	p.space()
	if p.pos != len(p.s) {
		return value{}, p.errf("data after the JSON value")
	}
	return v, nil
}

func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

func (p *parser) errf(format string, args ...any) error {
	return &SyntaxError{p.pos, fmt.Sprintf(format, args...)}
}

func (p *parser) space() {
	for p.pos < len(p.s) {
		switch p.s[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) value(depth int) (value, error) {
	if depth > maxDepth {
		return value{}, p.errf("nested more than %d levels", maxDepth)
	}
	if p.pos >= len(p.s) {
		return value{}, p.errf("unexpected end of input")
	}
	switch c := p.s[p.pos]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		s, err := p.str()
		return value{kind: kindString, text: s}, err
	case c == 't':
		return value{kind: kindBool, b: true}, p.literal("true")
	case c == 'f':
		return value{kind: kindBool}, p.literal("false")
	case c == 'n':
		return value{kind: kindNull}, p.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	}
	return value{}, p.errf("unexpected character %q", p.s[p.pos])
}

func (p *parser) literal(word string) error {
	if !strings.HasPrefix(string(p.s[p.pos:min(len(p.s), p.pos+len(word))]), word) {
		return p.errf("invalid literal")
	}
	p.pos += len(word)
	return nil
}

func (p *parser) object(depth int) (value, error) {
	p.pos++ // {
	v := value{kind: kindObject}
	seen := map[string]string{} // folded key -> key as written
	p.space()
	if p.pos < len(p.s) && p.s[p.pos] == '}' {
		p.pos++
		return v, nil
	}
	for {
		p.space()
		if p.pos >= len(p.s) || p.s[p.pos] != '"' {
			return value{}, p.errf("expected an object key")
		}
		at := p.pos
		k, err := p.str()
		if err != nil {
			return value{}, err
		}
		f := foldKey(k)
		if prev, dup := seen[f]; dup {
			if prev == k {
				return value{}, &SyntaxError{at, fmt.Sprintf("duplicate key %q", k)}
			}
			return value{}, &SyntaxError{at, fmt.Sprintf("keys %q and %q differ only in case", prev, k)}
		}
		seen[f] = k
		p.space()
		if p.pos >= len(p.s) || p.s[p.pos] != ':' {
			return value{}, p.errf("expected ':' after key %q", k)
		}
		p.pos++
		p.space()
		val, err := p.value(depth + 1)
		if err != nil {
			return value{}, err
		}
		v.members = append(v.members, member{k, val})
		p.space()
		if p.pos >= len(p.s) {
			return value{}, p.errf("unexpected end of input in an object")
		}
		switch p.s[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			return v, nil
		default:
			return value{}, p.errf("expected ',' or '}' in an object")
		}
	}
}

func (p *parser) array(depth int) (value, error) {
	p.pos++ // [
	v := value{kind: kindArray}
	p.space()
	if p.pos < len(p.s) && p.s[p.pos] == ']' {
		p.pos++
		return v, nil
	}
	for {
		p.space()
		item, err := p.value(depth + 1)
		if err != nil {
			return value{}, err
		}
		v.items = append(v.items, item)
		p.space()
		if p.pos >= len(p.s) {
			return value{}, p.errf("unexpected end of input in an array")
		}
		switch p.s[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			return v, nil
		default:
			return value{}, p.errf("expected ',' or ']' in an array")
		}
	}
}

// str parses a string literal (RFC 8259 §7) and refuses lone surrogates.
func (p *parser) str() (string, error) {
	p.pos++ // opening quote
	var b strings.Builder
	for {
		if p.pos >= len(p.s) {
			return "", p.errf("unterminated string")
		}
		c := p.s[p.pos]
		switch {
		case c == '"':
			p.pos++
			return b.String(), nil
		case c < 0x20:
			return "", p.errf("control character 0x%02x in a string", c)
		case c == '\\':
			if p.pos+1 >= len(p.s) {
				return "", p.errf("unterminated escape")
			}
			e := p.s[p.pos+1]
			p.pos += 2
			switch e {
			case '"', '\\', '/':
				b.WriteByte(e)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				r, err := p.hex4()
				if err != nil {
					return "", err
				}
				if utf16.IsSurrogate(r) {
					if r >= 0xDC00 || p.pos+6 > len(p.s) || p.s[p.pos] != '\\' || p.s[p.pos+1] != 'u' {
						return "", p.errf("lone surrogate \\u%04x", r)
					}
					p.pos += 2
					r2, err := p.hex4()
					if err != nil {
						return "", err
					}
					if r2 < 0xDC00 || r2 > 0xDFFF {
						return "", p.errf("lone surrogate \\u%04x", r)
					}
					r = utf16.DecodeRune(r, r2)
				}
				b.WriteRune(r)
			default:
				return "", p.errf("invalid escape \\%c", e)
			}
		default:
			// Valid UTF-8 was checked for the whole document.
			_, n := utf8.DecodeRune(p.s[p.pos:])
			b.Write(p.s[p.pos : p.pos+n])
			p.pos += n
		}
	}
}

func (p *parser) hex4() (rune, error) {
	if p.pos+4 > len(p.s) {
		return 0, p.errf("short \\u escape")
	}
	n, err := strconv.ParseUint(string(p.s[p.pos:p.pos+4]), 16, 16)
	if err != nil {
		return 0, p.errf("invalid \\u escape")
	}
	p.pos += 4
	return rune(n), nil
}

// number parses a number literal (RFC 8259 §6) and keeps its text.
func (p *parser) number() (value, error) {
	start := p.pos
	if p.s[p.pos] == '-' {
		p.pos++
	}
	digits := func() int {
		n := 0
		for p.pos < len(p.s) && p.s[p.pos] >= '0' && p.s[p.pos] <= '9' {
			p.pos++
			n++
		}
		return n
	}
	if p.pos < len(p.s) && p.s[p.pos] == '0' {
		p.pos++
	} else if digits() == 0 {
		return value{}, p.errf("invalid number")
	}
	if p.pos < len(p.s) && p.s[p.pos] == '.' {
		p.pos++
		if digits() == 0 {
			return value{}, p.errf("invalid number: no digits after '.'")
		}
	}
	if p.pos < len(p.s) && (p.s[p.pos] == 'e' || p.s[p.pos] == 'E') {
		p.pos++
		if p.pos < len(p.s) && (p.s[p.pos] == '+' || p.s[p.pos] == '-') {
			p.pos++
		}
		if digits() == 0 {
			return value{}, p.errf("invalid number: no exponent digits")
		}
	}
	return value{kind: kindNumber, text: string(p.s[start:p.pos])}, nil
}

// foldKey maps a key to a form equal for every key encoding/json would
// match to the same field: each rune replaced by the smallest rune of its
// Unicode simple case folding orbit (so "K", "k" and the Kelvin sign U+212A
// fold alike).
func foldKey(k string) string {
	var b strings.Builder
	for _, r := range k {
		b.WriteRune(foldRune(r))
	}
	return b.String()
}
