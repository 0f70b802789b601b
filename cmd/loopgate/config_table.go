package main

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// table is one table (TOML) or object (JSON) of a config file, decoded into a
// map. Its getters check the type and range of a key, report problems to the
// source and remember the key as known, so that finish can report every other
// key as unknown. A missing key leaves the destination alone (the default).
type table struct {
	src   *source
	path  string // "" for the top level
	m     map[string]any
	known []string
	bad   bool // an array element that is not a table; already reported
}

func (t *table) key(k string) string { return joinKey(t.path, k) }

func (t *table) get(k string) (any, bool) {
	t.known = append(t.known, k)
	v, ok := t.m[k]
	return v, ok
}

func (t *table) wrong(k, want string, v any) {
	t.src.errorf(t.key(k), ErrType, "want %s, got %s", want, t.src.describe(v))
}

// str sets *dst to the string at k and reports whether there was one.
func (t *table) str(k string, dst *string) bool {
	v, ok := t.get(k)
	if !ok {
		return false
	}
	s, ok := v.(string)
	if !ok {
		t.wrong(k, "a string", v)
		return false
	}
	*dst = s
	return true
}

func (t *table) boolean(k string, dst *bool) {
	v, ok := t.get(k)
	if !ok {
		return
	}
	b, ok := v.(bool)
	if !ok {
		t.wrong(k, "true or false", v)
		return
	}
	*dst = b
}

// optBool returns the boolean at k, or nil when there is none: the
// default, whatever the caller makes of it.
func (t *table) optBool(k string) *bool {
	v, ok := t.get(k)
	if !ok {
		return nil
	}
	b, ok := v.(bool)
	if !ok {
		t.wrong(k, "true or false", v)
		return nil
	}
	return &b
}

// integer returns the integer at k if there is one in lo..hi.
func (t *table) integer(k string, lo, hi int64) (int64, bool) {
	v, ok := t.get(k)
	if !ok {
		return 0, false
	}
	var n int64
	switch x := v.(type) {
	case int64:
		n = x
	case json.Number:
		i, err := x.Int64()
		if err != nil {
			t.wrong(k, "an integer", v)
			return 0, false
		}
		n = i
	default:
		t.wrong(k, "an integer", v)
		return 0, false
	}
	if n < lo || n > hi {
		if hi >= math.MaxInt32 {
			t.src.errorf(t.key(k), ErrValue, "got %d; want %d or more", n, lo)
		} else {
			t.src.errorf(t.key(k), ErrValue, "got %d; want %d..%d", n, lo, hi)
		}
		return 0, false
	}
	return n, true
}

// setInt sets *dst to the integer at k if there is one in lo..hi.
func (t *table) setInt(k string, dst *int, lo, hi int64) {
	if n, ok := t.integer(k, lo, hi); ok {
		*dst = int(n)
	}
}

// number returns the number at k, written as an integer or a float.
func (t *table) number(k string) (float64, bool) {
	v, ok := t.get(k)
	if !ok {
		return 0, false
	}
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case json.Number:
		if f, err := x.Float64(); err == nil {
			return f, true
		}
	}
	t.wrong(k, "a number", v)
	return 0, false
}

// strList calls each with the key path and value of every element of the
// array of strings at k; elements that are not strings are reported instead.
func (t *table) strList(k string, each func(key, s string)) {
	v, ok := t.get(k)
	if !ok {
		return
	}
	elems, ok := v.([]any)
	if !ok {
		t.wrong(k, "an array of strings", v)
		return
	}
	for i, e := range elems {
		key := indexKey(t.key(k), i)
		if s, ok := e.(string); ok {
			each(key, s)
		} else {
			t.src.errorf(key, ErrType, "want a string, got %s", t.src.describe(e))
		}
	}
}

// duration sets *dst to the duration at k, written as a non-negative Go
// duration string ("3s", "1m30s", "250ms"): TOML has no duration type, and a
// bare number would leave the unit to guess.
func (t *table) duration(k string, dst *time.Duration) {
	v, ok := t.get(k)
	if !ok {
		return
	}
	s, ok := v.(string)
	if !ok {
		t.wrong(k, `a duration string such as "3s"`, v)
		return
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		t.src.errorf(t.key(k), ErrValue, `cannot parse %q as a duration; write it like "3s", "250ms" or "1m30s"`, s)
		return
	}
	if d < 0 {
		t.src.errorf(t.key(k), ErrValue, "got %s; want 0s or more", s)
		return
	}
	*dst = d
}

// seconds sets *dst to the duration at k, written as a non-negative number
// of seconds as the seed configs do.
func (t *table) seconds(k string, dst *time.Duration) {
	v, ok := t.get(k)
	if !ok {
		return
	}
	n, ok := v.(json.Number)
	if !ok {
		t.wrong(k, "a number of seconds", v)
		return
	}
	f, err := n.Float64()
	if err != nil || f < 0 || f > 1e9 {
		t.src.errorf(t.key(k), ErrValue, "got %s; want 0..1e9 seconds", n)
		return
	}
	*dst = time.Duration(f * float64(time.Second))
}

// table returns the table at k; an empty one if there is none.
func (t *table) table(k string) *table {
	sub := &table{src: t.src, path: t.key(k)}
	v, ok := t.get(k)
	if !ok {
		return sub
	}
	if m, ok := v.(map[string]any); ok {
		sub.m = m
	} else {
		t.wrong(k, t.src.aTable(), v)
	}
	return sub
}

// tables returns the array of tables at k, and whether k is an array.
func (t *table) tables(k string) ([]*table, bool) {
	v, ok := t.get(k)
	if !ok {
		return nil, false
	}
	var elems []any
	switch x := v.(type) {
	case []map[string]any: // TOML [[k]]
		for _, m := range x {
			elems = append(elems, m)
		}
	case []any: // TOML k = [{...}], JSON
		elems = x
	default:
		t.wrong(k, "an array of "+t.src.tableName()+"s", v)
		return nil, false
	}
	subs := make([]*table, len(elems))
	for i, e := range elems {
		subs[i] = &table{src: t.src, path: indexKey(t.key(k), i)}
		if m, ok := e.(map[string]any); ok {
			subs[i].m = m
		} else {
			subs[i].bad = true
			t.src.errorf(subs[i].path, ErrType, "want %s, got %s", t.src.aTable(), t.src.describe(e))
		}
	}
	return subs, true
}

// finish reports the keys of t that no getter asked for.
func (t *table) finish() {
	var unknown []string
	for k := range t.m {
		if !slices.Contains(t.known, k) {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		if near := nearest(k, t.known); near != "" {
			t.src.errorf(t.key(k), ErrUnknown, "unknown key (did you mean %q?)", near)
		} else {
			t.src.errorf(t.key(k), ErrUnknown, "unknown key (known here: %s)", strings.Join(t.known, ", "))
		}
	}
}

func (s *source) tableName() string {
	if s.json {
		return "object"
	}
	return "table"
}

func (s *source) aTable() string {
	if s.json {
		return "an object"
	}
	return "a table"
}

// describe names the type and value of v for "want X, got Y" messages.
func (s *source) describe(v any) string {
	switch x := v.(type) {
	case string:
		if len(x) > 40 {
			x = x[:40] + "..."
		}
		return "string " + strconv.Quote(x)
	case int64:
		return "integer " + strconv.FormatInt(x, 10)
	case float64:
		return "float " + strconv.FormatFloat(x, 'g', -1, 64)
	case json.Number:
		return "number " + x.String()
	case bool:
		return "boolean " + strconv.FormatBool(x)
	case nil:
		return "null"
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return s.aTable()
	default:
		return "a date or time" // TOML's datetime types
	}
}

// nearest returns the candidate within edit distance 2 of k (a likely typo),
// or "".
func nearest(k string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := editDistance(k, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, bytewise.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
