// Query string reading and the `limit` check, copying what FastAPI and pydantic do.
package main

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	defaultLimit = 25
	minLimit     = 1
	maxLimit     = 100
	// pydantic refuses integer strings longer than CPython's int/str conversion bound.
	maxIntDigits = 4300
)

// lastQueryValue parses like Python's parse_qsl(keep_blank_values=True), which Starlette
// uses, instead of net/url: url.ParseQuery drops pairs with a bad escape or a ';', so
// "limit=5;x" or "after=%zz" would silently fall back to defaults where the Python
// services answer 422 or 400. A repeated key counts with its last value.
func lastQueryValue(rawQuery, key string) (string, bool) {
	var value string
	found := false
	for rawQuery != "" {
		var pair string
		pair, rawQuery, _ = strings.Cut(rawQuery, "&")
		if pair == "" {
			continue
		}
		name, val, _ := strings.Cut(pair, "=")
		if unquotePlus(name) == key {
			value, found = unquotePlus(val), true
		}
	}
	return value, found
}

// unquotePlus mirrors urllib.parse.unquote_plus on a query that Starlette decoded as
// Latin-1: '+' is a space, %XX runs are UTF-8 (bad bytes become U+FFFD), a malformed
// escape stays literal, and a raw non-ASCII byte stands for its Latin-1 character.
func unquotePlus(s string) string {
	if !strings.ContainsAny(s, "+%") && isASCII(s) {
		return s
	}
	var out strings.Builder
	var pending []byte // bytes from escapes, decoded together as UTF-8
	flush := func() {
		if len(pending) > 0 {
			out.WriteString(strings.ToValidUTF8(string(pending), "\uFFFD"))
			pending = pending[:0]
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			pending = append(pending, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		case c == '+':
			pending = append(pending, ' ')
		case c >= utf8.RuneSelf:
			flush()
			out.WriteRune(rune(c))
		default:
			pending = append(pending, c)
		}
	}
	flush()
	return out.String()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// parseLimit returns the page size or the one validation item FastAPI would report.
func parseLimit(raw string) (int, *ValidationItem) {
	loc := []string{"query", "limit"}
	neg, digits, errType := laxInt(raw)
	switch {
	case errType == "int_parsing":
		return 0, &ValidationItem{errType, loc, "Input should be a valid integer, unable to parse string as an integer"}
	case errType == "int_parsing_size":
		return 0, &ValidationItem{errType, loc, "Unable to parse input string as an integer, exceeded maximum size"}
	case neg || digits == "0":
		return 0, &ValidationItem{"greater_than_equal", loc, "Input should be greater than or equal to 1"}
	case len(digits) > 3:
		return 0, &ValidationItem{"less_than_equal", loc, "Input should be less than or equal to 100"}
	}
	n := 0
	for i := 0; i < len(digits); i++ {
		n = n*10 + int(digits[i]-'0')
	}
	if n > maxLimit {
		return 0, &ValidationItem{"less_than_equal", loc, "Input should be less than or equal to 100"}
	}
	return n, nil
}

// laxInt reproduces pydantic's lax str -> int rules (measured against pydantic-core with
// an exhaustive differential test, see query_test.go). It returns the sign and the
// canonical digits (no leading zeros), so numbers of any length compare without overflow.
//
// pydantic first reads the untouched string as a JSON integer; only that first attempt
// reports "int_parsing_size". Otherwise it cleans the string (whitespace, a leading '+',
// leading zeros, a ".000" tail, single underscores between digits) and tries once more.
func laxInt(s string) (neg bool, digits, errType string) {
	if jsonIntTooLong(s) {
		return false, "", "int_parsing_size"
	}
	if neg, digits, ok := jsonInt(s); ok {
		return neg, digits, ""
	}
	if cleaned, ok := cleanIntString(s); ok {
		if neg, digits, ok := jsonInt(cleaned); ok {
			return neg, digits, ""
		}
	}
	return false, "", "int_parsing"
}

// jsonInt accepts exactly -?(0|[1-9][0-9]*) with at most maxIntDigits digits.
func jsonInt(s string) (neg bool, digits string, ok bool) {
	if strings.HasPrefix(s, "-") {
		neg, s = true, s[1:]
	}
	if s == "" || len(s) > maxIntDigits || s[0] == '0' && len(s) > 1 {
		return false, "", false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false, "", false
		}
	}
	return neg, s, true
}

// jsonIntTooLong reports a string that opens with a JSON integer of more than
// maxIntDigits digits, whatever follows it.
func jsonIntTooLong(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" || s[0] < '1' || s[0] > '9' {
		return false
	}
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n > maxIntDigits
}

func cleanIntString(orig string) (string, bool) {
	// Rust's str::trim and unicode.IsSpace both use the Unicode White_Space property.
	s := strings.TrimFunc(orig, unicode.IsSpace)
	if rest, ok := strings.CutPrefix(s, "+"); ok {
		if strings.HasPrefix(rest, "-") {
			return "", false
		}
		s = rest
	}
	sign := ""
	if rest, ok := strings.CutPrefix(s, "-"); ok {
		if strings.HasPrefix(rest, "-") || strings.HasPrefix(rest, "+") {
			return "", false
		}
		sign, s = "-", rest
	}
	s, ok := skipLeadingZeros(s)
	if !ok {
		return "", false
	}
	if i := strings.IndexByte(s, '.'); i >= 0 {
		if frac := s[i+1:]; frac != "" && strings.Trim(frac, "0") == "" {
			s = s[:i]
		}
	}
	if strings.Contains(s, "_") && !strings.HasPrefix(s, "_") && !strings.HasSuffix(s, "_") && !strings.Contains(s, "__") {
		return sign + strings.ReplaceAll(s, "_", ""), true
	}
	if len(s) == len(orig) {
		// Nothing was cleaned, so the first attempt already said no.
		return "", false
	}
	return sign + s, true
}

// skipLeadingZeros drops zeros (and underscores among them) before the first other
// digit, keeps one zero before a '.' or for an all-zero string, and refuses a string
// that does not start with a digit. A '-' ends the zeros too: pydantic accepts "0-5"
// as -5, and so do we.
func skipLeadingZeros(s string) (string, bool) {
	if s == "" {
		return "", false
	}
	switch c := s[0]; {
	case c == '0':
	case c >= '1' && c <= '9' || c == '-':
		return s, true
	default:
		return "", false
	}
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '0' || c == '_':
		case c >= '1' && c <= '9' || c == '-':
			return s[i:], true
		case c == '.':
			return s[i-1:], true
		default:
			return "", false
		}
	}
	return s[len(s)-1:], true
}
