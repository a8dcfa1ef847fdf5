// Request body reading and the POST /tasks/ checks, spelled as FastAPI and pydantic spell them.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"
)

const (
	maxBodyBytes     = 65536
	maxTitle         = 200
	maxDescription   = 2000
	msgFieldRequired = "Field required"
	msgNotObject     = "Input should be a valid dictionary or object to extract fields from"
	msgNotString     = "Input should be a valid string"
	msgNotUnicode    = "Input should be a valid string, unable to parse raw data as a unicode string"
	msgHasNUL        = `String should match pattern '^[^\x00]*$'`
)

// ValidationItem is one pydantic error trimmed to the keys the contract keeps.
type ValidationItem struct {
	Type string   `json:"type"`
	Loc  []string `json:"loc"`
	Msg  string   `json:"msg"`
}

type TaskInput struct {
	Title       string
	Description string
}

var errBodyTooLarge = errors.New("request body too large")

// readBody stops reading one byte past the limit, so a chunked 10 MB upload costs at
// most 64 KiB of memory. bodyLimit already refuses a declared oversize body before
// routing; checking it here too keeps readBody safe on its own.
func readBody(r *http.Request) ([]byte, error) {
	if r.ContentLength > maxBodyBytes {
		return nil, errBodyTooLarge
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	if _, err := buf.ReadFrom(io.LimitReader(r.Body, maxBodyBytes+1)); err != nil {
		return nil, err
	}
	if buf.Len() > maxBodyBytes {
		return nil, errBodyTooLarge
	}
	return buf.Bytes(), nil
}

// ValidateTaskBody applies FastAPI's body handling (empty body, content type, JSON
// decoding) and then TaskIn's field rules. Every failing field is reported, in order.
func ValidateTaskBody(contentType string, body []byte) (TaskInput, []ValidationItem) {
	bodyLoc := []string{"body"}
	if len(body) == 0 {
		return TaskInput{}, []ValidationItem{{"missing", bodyLoc, msgFieldRequired}}
	}
	if !isJSONContentType(contentType) {
		// FastAPI hands the raw bytes to the model, which refuses anything but a mapping.
		// That includes a missing Content-Type: FastAPI's strict_content_type default,
		// which the Python services keep and tests/contract checks.
		return TaskInput{}, []ValidationItem{{"model_attributes_type", bodyLoc, msgNotObject}}
	}
	fields, item := decodeObject(body)
	if item != nil {
		return TaskInput{}, []ValidationItem{*item}
	}

	var in TaskInput
	var items []ValidationItem
	title, present := fields["title"]
	if !present {
		items = append(items, ValidationItem{"missing", []string{"body", "title"}, msgFieldRequired})
	} else if s, item := checkString("title", title, 1, maxTitle); item != nil {
		items = append(items, *item)
	} else {
		in.Title = s
	}
	if description, present := fields["description"]; present {
		if s, item := checkString("description", description, 0, maxDescription); item != nil {
			items = append(items, *item)
		} else {
			in.Description = s
		}
	}
	return in, items
}

// decodeObject parses the body as Python's json.loads(bytes) would for a UTF-8 body: one
// leading BOM is allowed, trailing data is not. The fields stay raw so that a missing
// field, null and a wrong type remain distinguishable.
func decodeObject(body []byte) (map[string]json.RawMessage, *ValidationItem) {
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
	invalid := &ValidationItem{"json_invalid", []string{"body"}, "JSON decode error"}
	if !utf8.Valid(body) {
		return nil, invalid
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		if json.Valid(body) {
			return nil, &ValidationItem{"model_attributes_type", []string{"body"}, msgNotObject}
		}
		return nil, invalid
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return nil, invalid
	}
	return fields, nil
}

// checkString applies, in pydantic's order, the type, unicode, length and pattern rules
// of one string field; pydantic reports only the first failure of a field.
func checkString(field string, raw json.RawMessage, minChars, maxChars int) (string, *ValidationItem) {
	loc := []string{"body", field}
	if len(raw) == 0 || raw[0] != '"' {
		return "", &ValidationItem{"string_type", loc, msgNotString}
	}
	// encoding/json turns a lone surrogate escape into U+FFFD; Python keeps it and
	// pydantic then refuses the string, so look at the escapes before decoding.
	if hasLoneSurrogate(raw) {
		return "", &ValidationItem{"string_unicode", loc, msgNotUnicode}
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", &ValidationItem{"string_type", loc, msgNotString}
	}
	switch n := utf8.RuneCountInString(s); {
	case n < minChars:
		return "", &ValidationItem{"string_too_short", loc, fmt.Sprintf("String should have at least %d %s", minChars, plural(minChars, "character"))}
	case n > maxChars:
		return "", &ValidationItem{"string_too_long", loc, fmt.Sprintf("String should have at most %d %s", maxChars, plural(maxChars, "character"))}
	}
	if strings.IndexByte(s, 0) >= 0 {
		return "", &ValidationItem{"string_pattern_mismatch", loc, msgHasNUL}
	}
	return s, nil
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// hasLoneSurrogate scans a JSON string token that already passed the JSON parser, so
// every \u escape is followed by four hex digits. A high surrogate escape pairs only with
// an immediately following low one, as in Python's json module.
func hasLoneSurrogate(tok []byte) bool {
	for i := 0; i < len(tok); i++ {
		if tok[i] != '\\' {
			continue
		}
		i++
		if tok[i] != 'u' {
			continue
		}
		r := hex4(tok[i+1 : i+5])
		i += 4
		switch {
		case r >= 0xD800 && r < 0xDC00:
			if i+6 < len(tok) && tok[i+1] == '\\' && tok[i+2] == 'u' {
				if low := hex4(tok[i+3 : i+7]); low >= 0xDC00 && low < 0xE000 {
					i += 6
					continue
				}
			}
			return true
		case r >= 0xDC00 && r < 0xE000:
			return true
		}
	}
	return false
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		r = r<<4 | rune(unhex(c))
	}
	return r
}

// isJSONContentType follows FastAPI, which asks email.message for the media type: the
// part before ';', stripped and lowercased, must hold exactly one '/', with maintype
// "application" and subtype "json" or "*+json".
func isJSONContentType(value string) bool {
	mediaType, _, _ := strings.Cut(value, ";")
	mediaType = asciiLower(trimLatin1Space(mediaType))
	main, sub, ok := strings.Cut(mediaType, "/")
	if !ok || strings.Contains(sub, "/") {
		return false
	}
	return main == "application" && (sub == "json" || strings.HasSuffix(sub, "+json"))
}

// trimLatin1Space is Python's str.strip on a header that Starlette decoded as Latin-1,
// so the single bytes 0x85 and 0xA0 count as whitespace too. It works on bytes because
// such a header is not valid UTF-8.
func trimLatin1Space(s string) string {
	isSpace := func(c byte) bool {
		switch c {
		case '\t', '\n', '\v', '\f', '\r', ' ', 0x1c, 0x1d, 0x1e, 0x1f, 0x85, 0xa0:
			return true
		}
		return false
	}
	for len(s) > 0 && isSpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}
