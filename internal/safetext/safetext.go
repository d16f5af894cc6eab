// Package safetext keeps text that ends up in a certificate from posing as
// something else. Certificates are shown on terminals, in PDFs and in web
// pages; a newline or an ANSI escape sequence in an operator's name could
// otherwise print a fake "Status ERASED" line, and a bidirectional override
// could reorder what a reader sees. Input is refused (Check); text already
// in a signed certificate is shown escaped (Escape).
package safetext

import (
	"fmt"
	"reflect"
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

// EscapeAll escapes, in place, every exported string reachable from ptr
// (struct fields, pointers, slices, arrays, map values), for handing a
// certificate's data to a template engine that escapes HTML but not
// control characters. Each string is escaped once, however many pointers
// reach it; unexported fields are left alone.
func EscapeAll(ptr any) {
	escapeValue(reflect.ValueOf(ptr), &visited{ptrs: map[uintptr]bool{}, strs: map[uintptr]bool{}})
}

// visited are the pointers followed and the strings escaped (apart: a
// struct's address is its first field's).
type visited struct{ ptrs, strs map[uintptr]bool }

func escapeValue(v reflect.Value, seen *visited) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() || seen.ptrs[v.Pointer()] {
			return
		}
		seen.ptrs[v.Pointer()] = true
		escapeValue(v.Elem(), seen)
	case reflect.Interface:
		if !v.IsNil() && v.Elem().Kind() == reflect.Pointer {
			escapeValue(v.Elem(), seen)
		}
	case reflect.String:
		if !v.CanSet() {
			return
		}
		// A string reached twice (through two pointers to one struct)
		// is escaped once.
		if a := v.UnsafeAddr(); !seen.strs[a] {
			seen.strs[a] = true
			v.SetString(Escape(v.String()))
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				escapeValue(v.Field(i), seen)
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8 {
			return // bytes, not text
		}
		for i := range v.Len() {
			escapeValue(v.Index(i), seen)
		}
	case reflect.Map:
		if v.Type().Elem().Kind() != reflect.String || v.IsNil() {
			return
		}
		for _, k := range v.MapKeys() {
			v.SetMapIndex(k, reflect.ValueOf(Escape(v.MapIndex(k).String())).Convert(v.Type().Elem()))
		}
	}
}
