// Opaque pagination cursors, byte-compatible with services/taskapi/cursor.py.
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"math"
)

const (
	cursorTagBytes  = 8
	cursorRawBytes  = 8 + cursorTagBytes
	cursorTokenSize = 22 // 16 raw bytes in unpadded base64
)

// DefaultCursorKey is shared with the Python services so a cursor from one works on all.
const DefaultCursorKey = "fastapi-load-cursor-v1"

var errInvalidCursor = errors.New("invalid cursor")

// Strict rejects stray low bits in the last character, so one id has exactly one token.
var cursorEncoding = base64.RawURLEncoding.Strict()

// CursorCodec seals page boundaries with a truncated HMAC so that only ids this API
// handed out ever reach SQL.
type CursorCodec struct {
	key []byte
}

func NewCursorCodec(key []byte) *CursorCodec {
	return &CursorCodec{key: append([]byte(nil), key...)}
}

func (c *CursorCodec) tag(payload []byte) []byte {
	mac := hmac.New(sha256.New, c.key)
	mac.Write(payload)
	return mac.Sum(nil)[:cursorTagBytes]
}

func (c *CursorCodec) Encode(id int64) string {
	var raw [cursorRawBytes]byte
	binary.BigEndian.PutUint64(raw[:8], uint64(id))
	copy(raw[8:], c.tag(raw[:8]))
	return cursorEncoding.EncodeToString(raw[:])
}

func (c *CursorCodec) Decode(token string) (int64, error) {
	if len(token) != cursorTokenSize {
		return 0, errInvalidCursor
	}
	// Go's decoder skips CR and LF, which Python's does not; refusing every byte outside
	// the alphabet keeps both implementations agreeing on what a token is.
	for i := 0; i < len(token); i++ {
		if !isBase64URLChar(token[i]) {
			return 0, errInvalidCursor
		}
	}
	raw, err := cursorEncoding.DecodeString(token)
	if err != nil || len(raw) != cursorRawBytes {
		return 0, errInvalidCursor
	}
	if !hmac.Equal(raw[8:], c.tag(raw[:8])) {
		return 0, errInvalidCursor
	}
	id := binary.BigEndian.Uint64(raw[:8])
	if id == 0 || id > math.MaxInt64 {
		return 0, errInvalidCursor
	}
	return int64(id), nil
}

func isBase64URLChar(b byte) bool {
	return b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '-' || b == '_'
}
