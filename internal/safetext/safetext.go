// Package safetext keeps text that ends up in a certificate from posing as
// something else. Certificates are shown on terminals, in PDFs and in web
// pages; a newline or an ANSI escape sequence in an operator's name could
// otherwise print a fake "Status ERASED" line, and a bidirectional override
// could reorder what a reader sees. Input is refused (Check); text already
// in a signed certificate is shown escaped (Escape).
package safetext

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// unsafe reports whether r may not appear in certificate text: C0 and C1
// control characters and DEL (Unicode category Cc, which includes newline,
// tab and ESC), the line and paragraph separators, and the bidirectional
// formatting characters (Unicode TR #9: embeddings, overrides, isolates
// and marks), which reorder displayed text.
func unsafe(r rune) bool {
	switch {
	case unicode.IsControl(r):
		return true
	case r == '\u2028', r == '\u2029':
		return true
	case r == '\u061c', r == '\u200e', r == '\u200f':
		return true
	case r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069':
		return true
	}
	return false
}

// Check returns an error naming the first character of s that may not
// appear in certificate text, or s's invalid UTF-8.
func Check(s string) error {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(s[i:]); n <= 1 {
				return fmt.Errorf("invalid UTF-8 at byte %d", i)
			}
		}
		if unsafe(r) {
			return fmt.Errorf("control character %U at byte %d (newlines, tabs, escape sequences and bidirectional controls are not allowed)", r, i)
		}
	}
	return nil
}

// Escape returns s with every character Check refuses written as a visible
// Go-style escape (\n, \t, \x1b, \u202e) and invalid UTF-8 bytes as \xNN,
// and backslashes doubled so that an escape cannot be forged: what a
// reader sees is exactly what the certificate holds.
func Escape(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case unsafe(r) && r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafe(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
		i += n
	}
	return b.String()
}

func needsEscape(s string) bool {
	if !utf8.ValidString(s) {
		return true
	}
	for _, r := range s {
		if r == '\\' || unsafe(r) {
			return true
		}
	}
	return false
}
