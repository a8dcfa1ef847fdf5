// The limit parameter against pydantic's lax int parsing, and query string decoding.
package main

import (
	"strings"
	"testing"
)

// Expectations recorded from pydantic-core (the FastAPI services) for the same strings.
func TestLaxInt(t *testing.T) {
	ok := func(v string) string { return v }
	tests := []struct {
		in, want string // want: a value, or an error type
	}{
		{"5", ok("5")}, {" 5", ok("5")}, {"5 ", ok("5")}, {"\t5\n", ok("5")}, {"+5", ok("5")},
		{"05", ok("5")}, {"0000000005", ok("5")}, {"1_0", ok("10")}, {"1.00", ok("1")}, {"1.0 ", ok("1")},
		{"1_0.0", ok("10")}, {"0_5", ok("5")}, {"+0_100", ok("100")}, {"-0", ok("0")}, {"-00", ok("0")},
		{"0.00", ok("0")}, {"-1", ok("-1")}, {"-0100", ok("-100")}, {"100.000", ok("100")},
		{"\u00a05\u00a0", ok("5")}, {"\u30005", ok("5")}, {"\u20035", ok("5")}, {"\u00855", ok("5")}, {"5\u2028", ok("5")},
		{"\v5\f", ok("5")},
		// pydantic quirks that the docs' regex does not show: a '-' after leading zeros.
		{"0-5", ok("-5")}, {"00-5", ok("-5")}, {"0_-5", ok("-5")}, {"0-1_0", ok("-10")}, {"0__0", ok("0")},
		{"", "int_parsing"}, {" ", "int_parsing"}, {"1.", "int_parsing"}, {"1.5", "int_parsing"}, {"1e1", "int_parsing"},
		{"0x10", "int_parsing"}, {".0", "int_parsing"}, {".5", "int_parsing"}, {"1__0", "int_parsing"}, {"_1", "int_parsing"},
		{"1_", "int_parsing"}, {"1.0_0", "int_parsing"}, {"+-5", "int_parsing"}, {"-+5", "int_parsing"}, {"--5", "int_parsing"},
		{"++5", "int_parsing"}, {"+ 5", "int_parsing"}, {"- 1", "int_parsing"}, {"5 5", "int_parsing"}, {"5.0.0", "int_parsing"},
		{"\u200b5", "int_parsing"}, {"\ufeff5", "int_parsing"}, {"\x1c5", "int_parsing"}, {"٥", "int_parsing"}, {"５", "int_parsing"},
		{"-0-5", "int_parsing"}, {"0-01", "int_parsing"}, {"0_", "int_parsing"}, {"-_0", "int_parsing"}, {"0_.0", "int_parsing"},
		{"abc", "int_parsing"}, {"5\x00", "int_parsing"}, {"\ufffd", "int_parsing"},
		{strings.Repeat("9", 4300), ok(strings.Repeat("9", 4300))},
		{strings.Repeat("9", 4301), "int_parsing_size"},
		{"-" + strings.Repeat("9", 4301), "int_parsing_size"},
		{strings.Repeat("9", 4301) + ".0", "int_parsing_size"},
		{strings.Repeat("9", 4301) + "x", "int_parsing_size"},
		{" " + strings.Repeat("9", 4301), "int_parsing"},
		{"+" + strings.Repeat("9", 4301), "int_parsing"},
		{"0" + strings.Repeat("9", 4301), "int_parsing"},
		{strings.Repeat("0", 5000) + "1", ok("1")},
		{"1." + strings.Repeat("0", 6000), ok("1")},
		{strings.Repeat("1_", 4299) + "1", ok(strings.Repeat("1", 4300))},
		{strings.Repeat("1_", 4300) + "1", "int_parsing"},
	}
	for _, tt := range tests {
		neg, digits, errType := laxInt(tt.in)
		got := errType
		if got == "" {
			got = digits
			if neg && digits != "0" {
				got = "-" + digits
			}
		}
		if got != tt.want {
			t.Errorf("laxInt(%.40q) = %.40q, want %.40q", tt.in, got, tt.want)
		}
	}
}

func TestParseLimit(t *testing.T) {
	const (
		parsing = "Input should be a valid integer, unable to parse string as an integer"
		size    = "Unable to parse input string as an integer, exceeded maximum size"
		ge      = "Input should be greater than or equal to 1"
		le      = "Input should be less than or equal to 100"
	)
	tests := []struct {
		in       string
		want     int
		typ, msg string
	}{
		{"1", 1, "", ""}, {"100", 100, "", ""}, {" 25 ", 25, "", ""}, {"1_00", 100, "", ""}, {"099.0", 99, "", ""},
		{"0", 0, "greater_than_equal", ge}, {"-0", 0, "greater_than_equal", ge}, {"-5", 0, "greater_than_equal", ge},
		{"-99999999999999999999999", 0, "greater_than_equal", ge},
		{"101", 0, "less_than_equal", le}, {"1000", 0, "less_than_equal", le}, {"101.0", 0, "less_than_equal", le},
		{"99999999999999999999999", 0, "less_than_equal", le}, {"0000000000000000000000000101", 0, "less_than_equal", le},
		{"x", 0, "int_parsing", parsing}, {"", 0, "int_parsing", parsing},
		{strings.Repeat("9", 5000), 0, "int_parsing_size", size},
	}
	for _, tt := range tests {
		got, item := parseLimit(tt.in)
		switch {
		case tt.typ == "" && (item != nil || got != tt.want):
			t.Errorf("parseLimit(%.20q) = %d, %+v; want %d", tt.in, got, item, tt.want)
		case tt.typ != "" && (item == nil || item.Type != tt.typ || item.Msg != tt.msg ||
			strings.Join(item.Loc, ",") != "query,limit"):
			t.Errorf("parseLimit(%.20q) = %+v; want %s %q", tt.in, item, tt.typ, tt.msg)
		}
	}
}

func TestLastQueryValue(t *testing.T) {
	tests := []struct {
		query, key string
		want       string
		found      bool
	}{
		{"", "limit", "", false},
		{"limit=5", "limit", "5", true},
		{"limit=5&limit=7", "limit", "7", true},
		{"limit=5&limit=", "limit", "", true},
		{"limit", "limit", "", true},
		{"limit=5&&x=1&", "limit", "5", true},
		{"limit=5;x=1", "limit", "5;x=1", true},
		{"limit=%zz", "limit", "%zz", true},
		{"limit=%2", "limit", "%2", true},
		{"limit=5%", "limit", "5%", true},
		{"limit=+5", "limit", " 5", true},
		{"limit=%2B5", "limit", "+5", true},
		{"li%6dit=7", "limit", "7", true},
		{"limit=5=6", "limit", "5=6", true},
		{"LIMIT=5", "limit", "", false},
		{"=5", "", "5", true},
		{"limit=%C2%A05", "limit", "\u00a05", true},
		{"limit=%A0", "limit", "\ufffd", true},
		{"limit=%E2%80", "limit", "\ufffd", true},
		{"limit=\xa05", "limit", "\u00a05", true}, // a raw byte is a Latin-1 character
		{"after=a&limit=1&after=b", "after", "b", true},
	}
	for _, tt := range tests {
		got, found := lastQueryValue(tt.query, tt.key)
		if got != tt.want || found != tt.found {
			t.Errorf("lastQueryValue(%q, %q) = %q, %v; want %q, %v", tt.query, tt.key, got, found, tt.want, tt.found)
		}
	}
}
