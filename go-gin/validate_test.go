// POST /tasks/ body rules: each case's pydantic items, content types and surrogate escapes.
package main

import (
	"reflect"
	"strings"
	"testing"
)

func item(typ string, loc []string, msg string) ValidationItem { return ValidationItem{typ, loc, msg} }

var (
	locBody  = []string{"body"}
	locTitle = []string{"body", "title"}
	locDesc  = []string{"body", "description"}

	missingBody  = item("missing", locBody, msgFieldRequired)
	jsonInvalid  = item("json_invalid", locBody, "JSON decode error")
	notObject    = item("model_attributes_type", locBody, msgNotObject)
	missingTitle = item("missing", locTitle, msgFieldRequired)
	titleType    = item("string_type", locTitle, msgNotString)
	descType     = item("string_type", locDesc, msgNotString)
	titleShort   = item("string_too_short", locTitle, "String should have at least 1 character")
	titleLong    = item("string_too_long", locTitle, "String should have at most 200 characters")
	descLong     = item("string_too_long", locDesc, "String should have at most 2000 characters")
	titleNUL     = item("string_pattern_mismatch", locTitle, `String should match pattern '^[^\x00]*$'`)
	descNUL      = item("string_pattern_mismatch", locDesc, `String should match pattern '^[^\x00]*$'`)
	titleUnicode = item("string_unicode", locTitle, msgNotUnicode)
	descUnicode  = item("string_unicode", locDesc, msgNotUnicode)
)

type bodyCase struct {
	name, contentType, body string // contentType "" means application/json; see absentType
	want                    []ValidationItem
	title, description      string // the accepted input when want is empty
}

// absentType marks a case sent without a Content-Type header.
const absentType = "(none)"

func (c bodyCase) header() string {
	switch c.contentType {
	case "":
		return "application/json"
	case absentType:
		return ""
	}
	return c.contentType
}

// bodyCases is shared with the HTTP tests in router_test.go.
var bodyCases = []bodyCase{
	{name: "minimal", body: `{"title":"x"}`, title: "x"},
	{name: "both fields", body: `{"title":"write docs","description":"soon"}`, title: "write docs", description: "soon"},
	{name: "unknown fields ignored", body: `{"title":"x","done":true,"id":7}`, title: "x"},
	{name: "title 200 chars", body: `{"title":"` + strings.Repeat("é", 200) + `"}`, title: strings.Repeat("é", 200)},
	{name: "astral chars count once", body: `{"title":"` + strings.Repeat(`\ud83d\ude00`, 200) + `"}`, title: strings.Repeat("😀", 200)},
	{name: "description 2000 chars", body: `{"title":"x","description":"` + strings.Repeat("d", 2000) + `"}`, title: "x", description: strings.Repeat("d", 2000)},
	{name: "empty description", body: `{"title":"x","description":""}`, title: "x"},
	{name: "escapes decoded", body: `{"title":"a\/b\u00e9\n"}`, title: "a/bé\n"},
	{name: "escaped key", body: `{"\u0074itle":"x"}`, title: "x"},
	{name: "repeated key, last wins", body: `{"title":1,"title":"x"}`, title: "x"},
	{name: "leading BOM", body: "\ufeff{\"title\":\"x\"}", title: "x"},
	{name: "surrounding whitespace", body: " \r\n\t{\"title\":\"x\"} \n", title: "x"},
	{name: "charset parameter", contentType: "application/json; charset=utf-8", body: `{"title":"x"}`, title: "x"},
	{name: "upper case type", contentType: "APPLICATION/JSON", body: `{"title":"x"}`, title: "x"},
	{name: "vendor +json", contentType: "application/vnd.api+json", body: `{"title":"x"}`, title: "x"},
	{name: "padded type", contentType: " application/json\t;x=1", body: `{"title":"x"}`, title: "x"},

	{name: "empty body", body: "", want: []ValidationItem{missingBody}},
	{name: "empty body, other type", contentType: "text/plain", body: "", want: []ValidationItem{missingBody}},
	{name: "empty body, no type", contentType: absentType, body: "", want: []ValidationItem{missingBody}},
	{name: "no content type", contentType: absentType, body: `{"title":"x"}`, want: []ValidationItem{notObject}},
	{name: "empty content type", contentType: " ", body: `{"title":"x"}`, want: []ValidationItem{notObject}},
	{name: "whitespace only", body: " ", want: []ValidationItem{jsonInvalid}},
	{name: "not json", body: "title=x", want: []ValidationItem{jsonInvalid}},
	{name: "truncated", body: `{"title":"x"`, want: []ValidationItem{jsonInvalid}},
	{name: "trailing data", body: `{"title":"x"} x`, want: []ValidationItem{jsonInvalid}},
	{name: "two values", body: `{"title":"x"}{}`, want: []ValidationItem{jsonInvalid}},
	{name: "trailing comma", body: `{"title":"x",}`, want: []ValidationItem{jsonInvalid}},
	{name: "single quotes", body: `{'title':'x'}`, want: []ValidationItem{jsonInvalid}},
	{name: "raw tab in string", body: "{\"title\":\"a\tb\"}", want: []ValidationItem{jsonInvalid}},
	{name: "bad escape", body: `{"title":"\u00"}`, want: []ValidationItem{jsonInvalid}},
	{name: "form feed is not json whitespace", body: "\f{}", want: []ValidationItem{jsonInvalid}},
	{name: "BOM only", body: "\ufeff", want: []ValidationItem{jsonInvalid}},
	{name: "two BOMs", body: "\ufeff\ufeff{}", want: []ValidationItem{jsonInvalid}},
	{name: "invalid UTF-8", body: "{\"title\":\"\xff\"}", want: []ValidationItem{jsonInvalid}},
	{name: "UTF-8 encoded surrogate", body: "{\"title\":\"\xed\xa0\x80\"}", want: []ValidationItem{jsonInvalid}},
	{name: "NaN", body: `{"title":NaN}`, want: []ValidationItem{jsonInvalid}},
	{name: "array", body: `[]`, want: []ValidationItem{notObject}},
	{name: "string", body: `"x"`, want: []ValidationItem{notObject}},
	{name: "number", body: `1`, want: []ValidationItem{notObject}},
	{name: "null", body: `null`, want: []ValidationItem{notObject}},
	{name: "bool", body: ` true `, want: []ValidationItem{notObject}},
	{name: "text/plain", contentType: "text/plain", body: `{"title":"x"}`, want: []ValidationItem{notObject}},
	{name: "form", contentType: "application/x-www-form-urlencoded", body: `title=x`, want: []ValidationItem{notObject}},
	{name: "json suffix is not +json", contentType: "application/json+x", body: `{"title":"x"}`, want: []ValidationItem{notObject}},
	{name: "two slashes", contentType: "application/json/x", body: `{"title":"x"}`, want: []ValidationItem{notObject}},
	{name: "space before slash", contentType: "application /json", body: `{"title":"x"}`, want: []ValidationItem{notObject}},
	{name: "no slash", contentType: "json", body: `{"title":"x"}`, want: []ValidationItem{notObject}},
	{name: "not json, other type", contentType: "text/plain", body: `nope`, want: []ValidationItem{notObject}},

	{name: "title missing", body: `{}`, want: []ValidationItem{missingTitle}},
	{name: "title null", body: `{"title":null}`, want: []ValidationItem{titleType}},
	{name: "title number", body: `{"title":1}`, want: []ValidationItem{titleType}},
	{name: "title float", body: `{"title":1e999}`, want: []ValidationItem{titleType}},
	{name: "title bool", body: `{"title":false}`, want: []ValidationItem{titleType}},
	{name: "title array", body: `{"title":["x"]}`, want: []ValidationItem{titleType}},
	{name: "title object", body: `{"title":{}}`, want: []ValidationItem{titleType}},
	{name: "title empty", body: `{"title":""}`, want: []ValidationItem{titleShort}},
	{name: "title 201 chars", body: `{"title":"` + strings.Repeat("y", 201) + `"}`, want: []ValidationItem{titleLong}},
	{name: "title NUL", body: `{"title":"a\u0000"}`, want: []ValidationItem{titleNUL}},
	{name: "title only NUL", body: `{"title":"\u0000"}`, want: []ValidationItem{titleNUL}},
	{name: "length before pattern", body: `{"title":"` + strings.Repeat("y", 201) + `\u0000"}`, want: []ValidationItem{titleLong}},
	{name: "lone high surrogate", body: `{"title":"\ud800"}`, want: []ValidationItem{titleUnicode}},
	{name: "lone low surrogate", body: `{"title":"\udc00x"}`, want: []ValidationItem{titleUnicode}},
	{name: "high then non-low", body: `{"title":"\ud800\u0041"}`, want: []ValidationItem{titleUnicode}},
	{name: "two highs", body: `{"title":"\ud800\ud800\udc00"}`, want: []ValidationItem{titleUnicode}},
	{name: "unicode before length", body: `{"title":"\ud800` + strings.Repeat("y", 300) + `"}`, want: []ValidationItem{titleUnicode}},
	{name: "unicode before pattern", body: `{"title":"\ud800\u0000"}`, want: []ValidationItem{titleUnicode}},
	{name: "description null", body: `{"title":"x","description":null}`, want: []ValidationItem{descType}},
	{name: "description number", body: `{"title":"x","description":0}`, want: []ValidationItem{descType}},
	{name: "description 2001 chars", body: `{"title":"x","description":"` + strings.Repeat("d", 2001) + `"}`, want: []ValidationItem{descLong}},
	{name: "description NUL", body: `{"title":"x","description":"\u0000"}`, want: []ValidationItem{descNUL}},
	{name: "description surrogate", body: `{"title":"x","description":"\udfff"}`, want: []ValidationItem{descUnicode}},
	{name: "both fields fail", body: `{"title":"","description":1}`, want: []ValidationItem{titleShort, descType}},
	{name: "title order first", body: `{"description":[],"title":{}}`, want: []ValidationItem{titleType, descType}},
	{name: "missing and bad description", body: `{"description":null}`, want: []ValidationItem{missingTitle, descType}},
	{name: "surrogate and NUL", body: `{"title":"\ud800","description":"\u0000"}`, want: []ValidationItem{titleUnicode, descNUL}},
}

func TestValidateTaskBody(t *testing.T) {
	for _, tt := range bodyCases {
		t.Run(tt.name, func(t *testing.T) {
			in, items := ValidateTaskBody(tt.header(), []byte(tt.body))
			if !reflect.DeepEqual(items, tt.want) {
				t.Fatalf("items = %+v\nwant    %+v", items, tt.want)
			}
			if len(tt.want) == 0 && (in.Title != tt.title || in.Description != tt.description) {
				t.Fatalf("input = %+v, want title %q description %q", in, tt.title, tt.description)
			}
		})
	}
}

func TestIsJSONContentType(t *testing.T) {
	tests := map[string]bool{
		"application/json":                 true,
		"application/json; charset=utf-8":  true,
		"Application/JSON;charset=latin-1": true,
		"application/problem+json":         true,
		"application/+json":                true,
		" application/json ":               true,
		"application/json\xa0":             true, // Latin-1 NBSP is whitespace to Python
		"application/json ;x=1":            true,
		"text/json":                        false,
		"application/json+x":               false,
		"application/jsonx":                false,
		"application/ json":                false,
		"application/":                     false,
		"/json":                            false,
		"application":                      false,
		"application/json/x":               false,
		"application/json\u00a0":           false, // two bytes, the first is 'Â' to Python
		"multipart/form-data; boundary=x":  false,
	}
	for ct, want := range tests {
		if got := isJSONContentType(ct); got != want {
			t.Errorf("isJSONContentType(%q) = %v, want %v", ct, got, want)
		}
	}
}

func TestHasLoneSurrogate(t *testing.T) {
	tests := map[string]bool{
		`"plain"`:                false,
		`"\ud83d\ude00"`:         false,
		`"\\ud800"`:              false, // an escaped backslash, then text
		`"\\\ud800"`:             true,
		`"\ud800"`:               true,
		`"x\udbff"`:              true,
		`"\udc00"`:               true,
		`"\ud800\n"`:             true,
		`"\ud800\ud800"`:         true,
		`"\ud83d\ude00\udc00"`:   true,
		`"\uD83D\uDE00"`:         false,
		`"\ue000\uffff\u0000"`:   false,
		`"\ud7ff\ud83d\ude00\/"`: false,
	}
	for tok, want := range tests {
		if got := hasLoneSurrogate([]byte(tok)); got != want {
			t.Errorf("hasLoneSurrogate(%s) = %v, want %v", tok, got, want)
		}
	}
}
