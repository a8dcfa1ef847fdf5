// Cursor vectors shared with the Python services, and the tokens that must be refused.
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"math"
	"strings"
	"testing"
)

var cursorVectors = []struct {
	id    int64
	token string
}{
	{1, "AAAAAAAAAAFLXbj69ojgmQ"},
	{25, "AAAAAAAAABmNhRKWoMJjDQ"},
	{1000, "AAAAAAAAA-ji0vKNSOZx4g"},
	{math.MaxInt64, "f_________8sF1B_bdnmVA"},
}

func TestCursorVectors(t *testing.T) {
	codec := NewCursorCodec([]byte(DefaultCursorKey))
	for _, v := range cursorVectors {
		if got := codec.Encode(v.id); got != v.token {
			t.Errorf("Encode(%d) = %q, want %q", v.id, got, v.token)
		}
		got, err := codec.Decode(v.token)
		if err != nil || got != v.id {
			t.Errorf("Decode(%q) = %d, %v; want %d", v.token, got, err, v.id)
		}
	}
}

// sealed builds a token for any 8-byte payload, including ids Encode never makes.
func sealed(key string, id uint64) string {
	var raw [16]byte
	binary.BigEndian.PutUint64(raw[:8], id)
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write(raw[:8])
	copy(raw[8:], mac.Sum(nil))
	return base64.RawURLEncoding.EncodeToString(raw[:])
}

func TestCursorRejects(t *testing.T) {
	codec := NewCursorCodec([]byte(DefaultCursorKey))
	good := "AAAAAAAAABmNhRKWoMJjDQ"
	// 'Q' -> 'R' keeps the decoded bytes but sets a stray low bit.
	nonCanonical := good[:21] + "R"
	tests := map[string]string{
		"empty":            "",
		"garbage":          "not-a-cursor",
		"truncated":        good[:21],
		"too long":         good + "A",
		"padded":           good + "==",
		"tampered tag":     good[:21] + "A",
		"tampered id":      "AAAAAAAAABqNhRKWoMJjDQ",
		"other key":        NewCursorCodec([]byte("other-key")).Encode(25),
		"non canonical":    nonCanonical,
		"std alphabet":     strings.ReplaceAll(cursorVectors[2].token, "-", "+"),
		"newline inside":   good[:10] + "\n" + good[11:],
		"non ascii":        "é" + good[2:],
		"id zero":          sealed(DefaultCursorKey, 0),
		"id above int64":   sealed(DefaultCursorKey, 1<<63),
		"id max uint64":    sealed(DefaultCursorKey, math.MaxUint64),
		"lowercased token": strings.ToLower(good),
	}
	for name, token := range tests {
		if id, err := codec.Decode(token); err == nil {
			t.Errorf("%s: Decode(%q) = %d, want an error", name, token, id)
		}
	}
	if sealed(DefaultCursorKey, 25) != good {
		t.Fatal("test helper sealed() disagrees with the vectors")
	}
}

func TestCursorRoundTrip(t *testing.T) {
	codec := NewCursorCodec([]byte("k"))
	for _, id := range []int64{1, 2, 255, 256, 1 << 32, math.MaxInt64 - 1, math.MaxInt64} {
		got, err := codec.Decode(codec.Encode(id))
		if err != nil || got != id {
			t.Errorf("round trip of %d gave %d, %v", id, got, err)
		}
	}
}
