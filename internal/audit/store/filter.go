package store

import (
	"strings"
	"time"
)

// filter builds the WHERE clause of a search from the fields a query sets;
// a field left empty does not filter. Values are always bound as
// parameters, never spliced into the SQL.
type filter struct {
	conds []string
	args  []any
}

// add appends a condition with its parameters.
func (f *filter) add(cond string, args ...any) {
	f.conds = append(f.conds, cond)
	f.args = append(f.args, args...)
}

// eq filters col = v when v is set.
func (f *filter) eq(col, v string) {
	if v != "" {
		f.add(col+" = ?", v)
	}
}

// contains filters rows where any of cols contains text, when text is set.
func (f *filter) contains(text string, cols ...string) {
	if text == "" {
		return
	}
	like := "%" + text + "%"
	ors := make([]string, len(cols))
	args := make([]any, len(cols))
	for i, c := range cols {
		ors[i], args[i] = c+" LIKE ?", like
	}
	f.add("("+strings.Join(ors, " OR ")+")", args...)
}

// within filters from <= col < to for the bounds that are set; unit turns
// a time into the column's integer (seconds or nanoseconds).
func (f *filter) within(col string, from, to time.Time, unit func(time.Time) int64) {
	if !from.IsZero() {
		f.add(col+" >= ?", unit(from))
	}
	if !to.IsZero() {
		f.add(col+" < ?", unit(to))
	}
}

// where is " WHERE ..." or "" when nothing filters.
func (f *filter) where() string {
	if len(f.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(f.conds, " AND ")
}

// pageSize is limit, or def when limit is unset or beyond max: one page of
// a listing never reads the whole table.
func pageSize(limit, def, max int) int {
	if limit <= 0 || limit > max {
		return def
	}
	return limit
}

func unixSeconds(t time.Time) int64 { return t.Unix() }
func unixNanos(t time.Time) int64   { return t.UnixNano() }
